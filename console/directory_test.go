package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dlpguard/audit"
	"dlpguard/directory"
	"dlpguard/internal/ldaptest"
	"dlpguard/review"
)

const (
	dirTaro  = "taro.yamada@city.example.lg.jp" // 市民課: manager shimin.kacho
	dirKacho = "shimin.kacho"
)

// dirConsole is the console fixture with the city's directory (a real
// slapd): departments and approvers for the review service, sign-in for
// the console.
func dirConsole(t *testing.T) (*fixture, *ldaptest.Server, *testClock) {
	t.Helper()
	s := ldaptest.Start(t, ldaptest.City)
	clk := &testClock{t: time.Now()}
	dc, err := directory.New(directory.Config{URL: s.URL, BindDN: ldaptest.ServiceDN, Password: ldaptest.ServicePW, Now: clk.Now,
		BaseDN: ldaptest.ADBase, Schema: directory.SchemaAD,
		ApproverGroup: ldaptest.ApproverGroup,
		AdminGroup:    ldaptest.AdminGroup,
		AuditorGroup:  ldaptest.AuditorGroup}, logger())
	if err != nil {
		t.Fatal(err)
	}
	// The directory's approvers decide, not the administrators.
	return newFixtureDir(t, func(c *review.Config) { c.AdminsApprove = false }, dc), s, clk
}

// TestDirectorySignIn: directory users sign in with the same form (the
// approver group by sAMAccountName or UPN, the admin group); outside the
// groups, disabled, a wrong password are refused with the reason shown
// and audited; repeated failures lock the name as for local accounts;
// with slapd stopped the directory users cannot sign in and the local
// break-glass account can.
func TestDirectorySignIn(t *testing.T) {
	f, s, clk := dirConsole(t)
	id := f.hold("p020_marking.eml", dirTaro, "partner@example.com")

	for _, tc := range []struct {
		name, user, pw string
		status         int
		want           string
	}{
		{"approver by sAMAccountName", dirKacho, "pw-shimin.kacho", http.StatusSeeOther, ""},
		{"approver by UPN", "hanako.suzuki@city.example", "pw-hanako.suzuki", http.StatusSeeOther, ""},
		{"admin group", "joho.admin", "pw-joho.admin", http.StatusSeeOther, ""},
		{"outside the groups", "ichiro.tanaka", "pw-ichiro.tanaka", http.StatusUnauthorized, "権限がありません"},
		{"auditor only (no console role yet)", "kansa.taro", "pw-kansa.taro", http.StatusUnauthorized, "権限がありません"},
		{"disabled", "ex.staff", "pw-ex.staff", http.StatusUnauthorized, "正しくありません"},
		{"wrong password", "hanako.suzuki", "guess", http.StatusUnauthorized, "正しくありません"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.client().login(tc.user, tc.pw)
			if r.status != tc.status || !strings.Contains(r.body, tc.want) {
				t.Fatalf("%d %.400s, want %d %q", r.status, r.body, tc.status, tc.want)
			}
		})
	}

	// The manager sees the department's message and releases it.
	c := f.client()
	if r := c.login(dirKacho, "pw-shimin.kacho"); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.status)
	}
	list := c.get("/console/holds")
	if list.status != 200 || !strings.Contains(list.body, id) {
		t.Fatalf("list: %d, hold %s not shown", list.status, id)
	}
	tok := csrfOf(t, list.body)
	r := c.do("POST", "/console/holds/"+id+"/release", url.Values{"csrf": {tok}, "reason": {"課長確認済み"}})
	if r.status != 200 || !strings.Contains(r.body, `id="passphrase"`) {
		t.Fatalf("release: %d %.500s", r.status, r.body)
	}
	waitFor(t, "delivery", func() bool { return len(f.up.To("partner@example.com")) == 1 })

	// Disabled in the directory: the session ends once the cache has
	// expired.
	s.Replace("cn=shimin.kacho,ou=Users,ou=ad,dc=city,dc=example", "userAccountControl", "514")
	if r := c.get("/console/holds"); r.status != 200 {
		t.Fatalf("within the TTL: %d", r.status)
	}
	clk.Add(11 * time.Minute)
	if r := c.get("/console/holds"); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "/login") {
		t.Fatalf("disabled account's session: %d %s", r.status, r.header.Get("Location"))
	}

	// Lockout: MaxFailures (3) wrong passwords lock the name, even for
	// the right password.
	for range 3 {
		f.client().login("zeimu.kacho", "guess")
	}
	if r := f.client().login("zeimu.kacho", "pw-zeimu.kacho"); r.status != http.StatusTooManyRequests {
		t.Fatalf("after 3 failures: %d, want 429", r.status)
	}

	// A signed-in approver while the directory is down past its cache:
	// the decision is refused with the reason shown (fail closed, 3.3.5).
	id2 := f.hold("p022_marking.eml", dirTaro, "other@example.com")
	hc := f.client()
	if r := hc.login("hanako.suzuki", "pw-hanako.suzuki"); r.status != http.StatusSeeOther {
		t.Fatalf("hanako: %d", r.status)
	}
	htok := csrfOf(t, hc.get("/console/holds").body)
	s.Stop()
	clk.Add(2 * time.Hour)
	if r := hc.do("POST", "/console/holds/"+id2+"/release", url.Values{"csrf": {htok}, "reason": {"確認済み"}}); r.status != http.StatusServiceUnavailable ||
		!strings.Contains(r.body, "ディレクトリ（AD/LDAP）に接続できないため、承認者を確認できません") {
		t.Fatalf("release with the directory down: %d %.600s", r.status, r.body)
	}
	if n := len(f.up.To("other@example.com")); n != 0 {
		t.Fatalf("delivered %d with the directory down", n)
	}

	// slapd down: directory users are refused with the reason; the local
	// break-glass account signs in.
	if r := f.client().login("hanako.suzuki", "pw-hanako.suzuki"); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "接続できない") {
		t.Fatalf("directory down: %d %.400s", r.status, r.body)
	}
	f.client().signIn("admin")

	// Every sign-in and every refusal is in the audit log.
	entries, _, err := f.stores.Audit.List(context.Background(), audit.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var dirLogins, failures int
	for _, e := range entries {
		switch {
		case e.Action == audit.Login && strings.Contains(string(e.Details), `"source":"directory"`):
			dirLogins++
		case e.Action == "login-failed":
			failures++
		}
	}
	if dirLogins != 5 || failures < 9 {
		t.Errorf("audit: %d directory sign-ins (want 5), %d failures (want ≥ 9)", dirLogins, failures)
	}
}

// TestBrowserDirectoryRelease: in headless Chromium, the 市民課 manager
// signs in with the directory password and releases a message from their
// department (the approver notice went to them, from the directory).
func TestBrowserDirectoryRelease(t *testing.T) {
	f, _, _ := dirConsole(t)
	b := newBrowser(t)
	id := f.hold("p020_marking.eml", dirTaro, "partner@example.com")
	waitFor(t, "approver notice to the directory's manager", func() bool {
		return len(f.up.To("shimin.kacho@city.example.lg.jp")) == 1
	})
	b.do("sign in with the directory",
		chromedp.Navigate(f.srv.URL+"/console/holds"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), dirKacho),
		chromedp.SendKeys(chromedp.ID("password"), "pw-shimin.kacho"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.CSS("h1 .count")),
	)
	if list := b.text("#holds"); !strings.Contains(list, dirTaro) {
		t.Fatalf("list: %s", list)
	}
	b.do("open and release",
		chromedp.Click(chromedp.CSS(`a[href$="/holds/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.ID("release")),
		chromedp.SendKeys(chromedp.ID("release-reason"), "課長確認済み"),
		chromedp.Click(chromedp.ID("release")),
		chromedp.WaitVisible(chromedp.ID("passphrase")),
	)
	waitFor(t, "delivery", func() bool { return len(f.up.To("partner@example.com")) == 1 })
	b.noConsoleErrors()
}
