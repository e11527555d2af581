package console

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"dlpguard/audit"
	"dlpguard/hold"
	"dlpguard/inspect"
	"dlpguard/review"
	"dlpguard/spool"
)

func TestAnonymousIsSentToSignIn(t *testing.T) {
	f := newFixture(t)
	id := f.hold("p020_marking.eml", "user1@city.example.lg.jp", "partner@example.com")
	c := f.client()
	for _, p := range []string{"/console/", "/console/holds", "/console/holds/" + id, "/console/history", "/console/audit", "/console/rules", "/console/delivery"} {
		r := c.get(p)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/console/login") {
			t.Errorf("GET %s anonymous: %d %q, want a redirect to sign-in", p, r.status, r.header.Get("Location"))
		}
	}
	for _, p := range []string{"/console/holds/" + id + "/release", "/console/holds/" + id + "/reject", "/console/holds/" + id + "/false-positive", "/console/logout"} {
		r := c.do("POST", p, url.Values{"reason": {"x"}, "detector": {"marking"}})
		if r.status != http.StatusForbidden {
			t.Errorf("POST %s anonymous: %d, want 403", p, r.status)
		}
	}
	if rec, _ := f.stores.Holds.Get(context.Background(), id); rec.Status != hold.Held {
		t.Fatalf("status %s after anonymous posts", rec.Status)
	}
}

func TestSecurityHeadersAndCookies(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	r := c.get("/console/login")
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
	}
	for h, v := range want {
		if !strings.Contains(r.header.Get(h), v) {
			t.Errorf("%s = %q, want %q", h, r.header.Get(h), v)
		}
	}
	if strings.Contains(r.header.Get("Content-Security-Policy"), "unsafe-inline") {
		t.Error("CSP allows inline script")
	}
	if regexp.MustCompile(`(?i)<script>|<script [^>]*>[^<]|on(click|load|submit)=|style=`).MatchString(r.body) {
		t.Errorf("inline script or style in the page: %s", r.body)
	}
	pw := c.login("kacho", testPassword)
	var sess *http.Cookie
	for _, ck := range (&http.Response{Header: pw.header}).Cookies() {
		if ck.Name == sessionCookie {
			sess = ck
		}
	}
	if sess == nil {
		t.Fatal("no session cookie")
	}
	if !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie HttpOnly=%v SameSite=%v", sess.HttpOnly, sess.SameSite)
	}
	// Static files are embedded and served.
	for _, p := range []string{"/console/static/console.css", "/console/static/console.js"} {
		if r := c.get(p); r.status != 200 || len(r.body) < 100 {
			t.Errorf("%s: %d", p, r.status)
		}
	}
}

func TestLoginNeedsLoginToken(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	// No token and no cookie: a cross-site sign-in attempt.
	r := c.do("POST", "/console/login", url.Values{"username": {"kacho"}, "password": {testPassword}})
	if r.status != http.StatusForbidden {
		t.Fatalf("sign-in without token: %d", r.status)
	}
	c.get("/console/login") // sets the cookie
	r = c.do("POST", "/console/login", url.Values{"csrf": {"forged"}, "username": {"kacho"}, "password": {testPassword}})
	if r.status != http.StatusForbidden {
		t.Fatalf("sign-in with a wrong token: %d", r.status)
	}
	if g := c.get("/console/holds"); g.status != http.StatusSeeOther {
		t.Fatalf("signed in without a valid token: %d", g.status)
	}
}

func TestLockoutAfterFailures(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	for i := 0; i < 2; i++ {
		if r := c.login("kacho", "wrong password!"); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, r.status)
		}
	}
	// The third failure locks (MaxFailures 3 in the fixture) …
	if r := c.login("kacho", "wrong password!"); r.status != http.StatusTooManyRequests {
		t.Fatalf("third failure: %d, want 429", r.status)
	}
	// … and then even the right password is refused.
	r := c.login("kacho", testPassword)
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "ロック") {
		t.Fatalf("right password while locked: %d", r.status)
	}
	if g := c.get("/console/holds"); g.status != http.StatusSeeOther {
		t.Fatal("a locked account got a session")
	}
	// Failures are audited; an unknown user is refused the same way.
	if r := c.login("nobody", testPassword); r.status != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d", r.status)
	}
	ents, n, err := f.stores.Audit.List(context.Background(), audit.Filter{Action: "login-failed"})
	if err != nil || n != 5 {
		t.Fatalf("audit of failures: %d entries, err %v", n, err)
	}
	byActor := map[string]int{}
	for _, e := range ents {
		byActor[e.Actor]++
	}
	if byActor["kacho"] != 4 || byActor["nobody"] != 1 {
		t.Fatalf("audit of failures by actor: %v", byActor)
	}
	// An administrator's reset unlocks.
	if err := f.con.Users().SetPassword(context.Background(), "kacho", "a new long password"); err != nil {
		t.Fatal(err)
	}
	if r := c.login("kacho", "a new long password"); r.status != http.StatusSeeOther {
		t.Fatalf("after reset: %d", r.status)
	}
	if _, n, _ := f.stores.Audit.List(context.Background(), audit.Filter{Action: audit.Login}); n != 1 {
		t.Fatalf("%d login entries, want 1", n)
	}
}

func TestDepartmentAuthorization(t *testing.T) {
	f := newFixture(t)
	id := f.hold("p020_marking.eml", "user2@city.example.lg.jp", "partner@example.com") // 福祉課
	other := f.client()
	tok := other.signIn("zei") // 税務課
	if r := other.get("/console/holds"); strings.Contains(r.body, id) {
		t.Error("another department's message in the list")
	}
	if r := other.get("/console/holds?department=" + url.QueryEscape("福祉課")); r.status != http.StatusForbidden {
		t.Errorf("list of another department: %d", r.status)
	}
	if r := other.get("/console/holds/" + id); r.status != http.StatusNotFound && r.status != http.StatusForbidden {
		t.Errorf("view by another department: %d", r.status)
	}
	for _, a := range []string{"release", "reject", "false-positive"} {
		r := other.do("POST", "/console/holds/"+id+"/"+a, url.Values{"csrf": {tok}, "reason": {"ok"}, "detector": {"marking"}})
		if r.status != http.StatusNotFound && r.status != http.StatusForbidden {
			t.Errorf("%s by another department: %d", a, r.status)
		}
	}
	rec, _ := f.stores.Holds.Get(context.Background(), id)
	if rec.Status != hold.Held || len(rec.FalsePositives) != 0 || len(rec.Approvals) != 0 {
		t.Fatalf("changed by another department: %+v", rec)
	}
	// The department's approver and an admin see it.
	own := f.client()
	own.signIn("kacho")
	if r := own.get("/console/holds"); !strings.Contains(r.body, id) {
		t.Error("the department's approver does not see it in the list")
	}
	if r := own.get("/console/holds/" + id); r.status != 200 || !strings.Contains(r.body, `id="release"`) {
		t.Errorf("department approver view: %d", r.status)
	}
	adm := f.client()
	adm.signIn("admin")
	if r := adm.get("/console/holds/" + id); r.status != 200 || !strings.Contains(r.body, `id="release"`) {
		t.Errorf("admin view: %d", r.status)
	}
	// Unknown IDs are 404.
	if r := adm.get("/console/holds/01ABCDEFGHJKMNPQRSTVWXYZ00"); r.status != http.StatusNotFound {
		t.Errorf("unknown id: %d", r.status)
	}
}

func TestSelfApprovalRefused(t *testing.T) {
	f := newFixture(t)
	id := f.hold("p020_marking.eml", "user1@city.example.lg.jp", "partner@example.com")
	c := f.client()
	tok := c.signIn("user1") // an approver of 福祉課 who sent it
	r := c.get("/console/holds/" + id)
	if r.status != 200 || strings.Contains(r.body, `id="release"`) || !strings.Contains(r.body, "ご自身が送信") {
		t.Fatalf("own message view: %d", r.status)
	}
	for _, a := range []string{"release", "reject"} {
		r := c.do("POST", "/console/holds/"+id+"/"+a, url.Values{"csrf": {tok}, "reason": {"mine"}})
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "3.3.5") {
			t.Errorf("%s of own message: %d", a, r.status)
		}
	}
	if rec, _ := f.stores.Holds.Get(context.Background(), id); rec.Status != hold.Held || len(rec.Approvals) != 0 {
		t.Fatalf("own message changed: %s", rec.Status)
	}
}

func TestCSRFChecked(t *testing.T) {
	f := newFixture(t)
	id := f.hold("p020_marking.eml", "user2@city.example.lg.jp", "partner@example.com")
	c := f.client()
	tok := c.signIn("kacho")
	for name, form := range map[string]url.Values{
		"missing": {"reason": {"ok"}},
		"wrong":   {"reason": {"ok"}, "csrf": {tok + "x"}},
		"empty":   {"reason": {"ok"}, "csrf": {""}},
	} {
		for _, a := range []string{"release", "reject", "false-positive"} {
			form.Set("detector", "marking")
			if r := c.do("POST", "/console/holds/"+id+"/"+a, form); r.status != http.StatusForbidden {
				t.Errorf("%s CSRF token on %s: %d", name, a, r.status)
			}
		}
		if r := c.do("POST", "/console/logout", form); r.status != http.StatusForbidden {
			t.Errorf("%s CSRF token on logout: %d", name, r.status)
		}
	}
	// Another session's token does not work either.
	c2 := f.client()
	tok2 := c2.signIn("kacho")
	if r := c.do("POST", "/console/holds/"+id+"/reject", url.Values{"reason": {"ok"}, "csrf": {tok2}}); r.status != http.StatusForbidden {
		t.Errorf("another session's token: %d", r.status)
	}
	if rec, _ := f.stores.Holds.Get(context.Background(), id); rec.Status != hold.Held {
		t.Fatalf("changed without CSRF: %s", rec.Status)
	}
}

func TestAdminPages(t *testing.T) {
	f := newFixture(t)
	f.hold("p020_marking.eml", "user2@city.example.lg.jp", "partner@example.com")
	ap := f.client()
	ap.signIn("kacho")
	for _, p := range []string{"/console/audit", "/console/rules", "/console/delivery"} {
		if r := ap.get(p); r.status != http.StatusForbidden {
			t.Errorf("approver GET %s: %d, want 403", p, r.status)
		}
	}
	adm := f.client()
	adm.signIn("admin")
	r := adm.get("/console/audit")
	if r.status != 200 || !strings.Contains(r.body, `id="chain"`) || !strings.Contains(r.body, "改ざんはありません") {
		t.Errorf("audit page: %d", r.status)
	}
	r = adm.get("/console/rules")
	if r.status != 200 || !strings.Contains(r.body, "marking") || !strings.Contains(r.body, "policy.yaml") {
		t.Errorf("rules page: %d", r.status)
	}
	if r := adm.get("/console/delivery"); r.status != 200 || !strings.Contains(r.body, `id="queue-len"`) {
		t.Errorf("delivery page: %d", r.status)
	}
	// English on request, remembered.
	if r := adm.get("/console/rules?lang=en"); !strings.Contains(r.body, "Policy in force") {
		t.Error("no English page")
	}
	if r := adm.get("/console/holds"); !strings.Contains(r.body, "Held messages") {
		t.Error("language not remembered")
	}
}

func TestReleaseAndRejectThroughConsole(t *testing.T) {
	f := newFixture(t)
	id := f.hold("p020_marking.eml", "user2@city.example.lg.jp", "partner@example.com")
	id2 := f.hold("p022_marking.eml", "user3@city.example.lg.jp", "other@example.com")
	c := f.client()
	tok := c.signIn("kacho")
	// A reason is required.
	if r := c.do("POST", "/console/holds/"+id+"/release", url.Values{"csrf": {tok}}); r.status != http.StatusBadRequest {
		t.Fatalf("release without reason: %d", r.status)
	}
	r := c.do("POST", "/console/holds/"+id+"/release", url.Values{"csrf": {tok}, "reason": {"業務上必要"}})
	if r.status != 200 || !strings.Contains(r.body, `id="passphrase"`) || !strings.Contains(r.body, `id="passphrase-handoff"`) || !strings.Contains(r.body, "partner@example.com") {
		t.Fatalf("release: %d %.500s", r.status, r.body)
	}
	waitFor(t, "delivery to the upstream", func() bool { return len(f.up.To("partner@example.com")) == 1 })
	// The passphrase is shown once: not on the next view.
	if r := c.get("/console/holds/" + id); strings.Contains(r.body, `id="passphrase"`) {
		t.Error("passphrase shown again")
	}
	r = c.do("POST", "/console/holds/"+id2+"/reject", url.Values{"csrf": {tok}, "reason": {"宛先誤り"}})
	if r.status != 200 || !strings.Contains(r.body, "送信を拒否しました") {
		t.Fatalf("reject: %d", r.status)
	}
	if rec, _ := f.stores.Holds.Get(context.Background(), id2); rec.Status != hold.Rejected || rec.Actor != "kacho@city.example.lg.jp" {
		t.Fatalf("after reject: %s by %s", rec.Status, rec.Actor)
	}
	// Acting twice is a conflict, not a second delivery.
	if r := c.do("POST", "/console/holds/"+id+"/release", url.Values{"csrf": {tok}, "reason": {"again"}}); r.status != http.StatusConflict {
		t.Errorf("second release: %d", r.status)
	}
	// History shows both decisions.
	h := c.get("/console/history")
	if !strings.Contains(h.body, id) || !strings.Contains(h.body, id2) {
		t.Error("history lacks the decisions")
	}
	// False positive marks are recorded per finding and counted on the rules page.
	id3 := f.hold("p021_marking.eml", "user4@city.example.lg.jp", "x@example.com")
	if r := c.do("POST", "/console/holds/"+id3+"/false-positive", url.Values{"csrf": {tok}, "detector": {"marking"}, "reason": {"社内の定型文"}}); r.status != 200 {
		t.Fatalf("false positive: %d", r.status)
	}
	stats, fps, n, err := RuleStats(context.Background(), f.stores.Holds)
	if err != nil || n != 3 || fps["marking"] != 1 {
		t.Fatalf("rule stats: %v %v %d %v", stats, fps, n, err)
	}
	var released, rejected, fp int
	for _, s := range stats {
		released += s.Released
		rejected += s.Rejected
		fp += s.FalsePositives
	}
	if released == 0 || rejected == 0 || fp == 0 {
		t.Fatalf("stats %+v", stats)
	}
}

// TestNoIdentifierShown: the detail page of a message full of My Numbers
// (held by a changed policy, say) shows none of them whole, nor any other
// long digit string of the message.
func TestNoIdentifierShown(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"p001_mynumber.eml", "p003_mynumber.eml", "p004_mynumber.eml", "p002_mynumber.eml", "p011_other_id.eml", "p017_personal_list.eml"} {
		raw := readSample(t, name)
		id := f.putRaw(raw, "user2@city.example.lg.jp", "福祉課", hold.Verdict{Action: "hold",
			Rules:    []hold.Rule{{ID: "mynumber-reject", Action: "hold", Clause: "3.3.5, 4", Reason: "個人番号"}},
			Findings: []hold.Finding{{Detector: "my_number", Count: 1, Locations: []string{"body"}, Samples: []string{"**** **** 1234"}}}})
		c := f.client()
		c.signIn("admin")
		r := c.get("/console/holds/" + id)
		if r.status != 200 {
			t.Fatalf("%s: %d", name, r.status)
		}
		ids := identifiers(t, raw)
		if len(ids) == 0 {
			t.Fatalf("%s: no identifiers found in the sample: the test would prove nothing", name)
		}
		pageDigits := digitRuns(r.body)
		for _, want := range ids {
			for _, pd := range pageDigits {
				if strings.Contains(pd, want) {
					t.Errorf("%s: identifier %s shown whole", name, want)
				}
			}
		}
		if !strings.Contains(r.body, "****") {
			t.Errorf("%s: nothing masked", name)
		}
		if !strings.Contains(r.body, "特定個人情報等の取扱い") {
			t.Errorf("%s: clause 4 text missing", name)
		}
	}
}

type textSinkAll struct{ b strings.Builder }

func (s *textSinkAll) Chunk(c inspect.Chunk) { s.b.WriteString(c.Text + "\n") }

// identifiers are the digit strings (separators removed) of at least 8
// digits in the whole extracted text of a message.
func identifiers(t *testing.T, raw []byte) []string {
	t.Helper()
	var s textSinkAll
	if _, err := inspect.Message(context.Background(), bytes.NewReader(raw), inspect.Limits{}, &s); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range digitRuns(s.b.String()) {
		if len(d) >= 8 {
			out = append(out, d)
		}
	}
	return out
}

var anyRun = regexp.MustCompile(`[0-9０-９][0-9０-９\-−ー－‐ 　.\x{200b}]*[0-9０-９]`)

// digitRuns returns the digits of each number-like run, separators removed.
func digitRuns(s string) []string {
	var out []string
	for _, m := range anyRun.FindAllString(s, -1) {
		var b strings.Builder
		for _, r := range m {
			switch {
			case r >= '0' && r <= '9':
				b.WriteRune(r)
			case r >= '０' && r <= '９':
				b.WriteRune(r - '０' + '0')
			}
		}
		out = append(out, b.String())
	}
	return out
}

func TestSessionEnds(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("kacho")
	f.clock.Add(29 * time.Minute)
	if r := c.get("/console/holds"); r.status != 200 {
		t.Fatalf("within the idle timeout: %d", r.status)
	}
	f.clock.Add(31 * time.Minute)
	if r := c.get("/console/holds"); r.status != http.StatusSeeOther {
		t.Fatalf("after the idle timeout: %d", r.status)
	}
	// A disabled account loses its session at once.
	c.signIn("kacho")
	if err := f.con.Users().SetDisabled(context.Background(), "kacho", true); err != nil {
		t.Fatal(err)
	}
	if r := c.get("/console/holds"); r.status != http.StatusSeeOther {
		t.Fatalf("disabled account: %d", r.status)
	}
	// Sign-out ends the session on the server, not only the cookie.
	f.con.Users().SetDisabled(context.Background(), "kacho", false)
	tok := c.signIn("kacho")
	jarCookies := c.http.Jar.Cookies(mustURL(t, f.srv.URL+"/console/"))
	if r := c.do("POST", "/console/logout", url.Values{"csrf": {tok}}); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	replay := f.client()
	replay.http.Jar.SetCookies(mustURL(t, f.srv.URL+"/console/"), jarCookies)
	if r := replay.get("/console/holds"); r.status != http.StatusSeeOther {
		t.Fatalf("old session cookie after sign-out: %d", r.status)
	}
	if _, n, _ := f.stores.Audit.List(context.Background(), audit.Filter{Action: "logout"}); n != 1 {
		t.Fatalf("%d logout entries", n)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestPaging: thousands of holds are listed 50 at a time, newest first,
// with the total.
func TestPaging(t *testing.T) {
	f := newFixture(t)
	raw := []byte("From: user2@city.example.lg.jp\r\nSubject: x\r\n\r\nhello\r\n")
	var ids []string
	for i := 0; i < 120; i++ {
		ids = append(ids, f.putRaw(raw, "user2@city.example.lg.jp", "福祉課", hold.Verdict{Action: "hold", Rules: []hold.Rule{{ID: "marking-i-hold", Action: "hold", Clause: "3.3.5"}}}))
	}
	c := f.client()
	c.signIn("kacho")
	r := c.get("/console/holds")
	if n := strings.Count(r.body, `class="subject"`); n != pageSize {
		t.Fatalf("first page: %d rows", n)
	}
	if !strings.Contains(r.body, `id="total">120<`) || !strings.Contains(r.body, `id="next"`) {
		t.Fatal("no total or next link")
	}
	if !strings.Contains(r.body, ids[len(ids)-1]) || strings.Contains(r.body, ids[0]) {
		t.Fatal("not newest first")
	}
	r = c.get("/console/holds?offset=100")
	if n := strings.Count(r.body, `class="subject"`); n != 20 || strings.Contains(r.body, `id="next"`) || !strings.Contains(r.body, ids[0]) {
		t.Fatalf("last page: %d rows", n)
	}
	// Filters narrow the count.
	r = c.get("/console/holds?rule=personal-list-hold")
	if !strings.Contains(r.body, `id="total">0<`) {
		t.Fatal("rule filter")
	}
}

func TestSignInRedirectStaysInConsole(t *testing.T) {
	f := newFixture(t)
	for next, want := range map[string]string{
		"/console/history?level=I": "/console/history?level=I",
		"//evil.example/console/":  "/console/holds",
		"https://evil.example/":    "/console/holds",
		"/console/login":           "/console/holds",
		"/other/":                  "/console/holds",
	} {
		c := f.client()
		page := c.get("/console/login?next=" + url.QueryEscape(next))
		r := c.do("POST", "/console/login", url.Values{"csrf": {csrfOf(t, page.body)}, "username": {"kacho"}, "password": {testPassword}, "next": {next}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("next %q: %d %q, want %q", next, r.status, r.header.Get("Location"), want)
		}
	}
}

func TestDeliveryPageShowsDeferred(t *testing.T) {
	f := newFixture(t)
	w, err := f.spool.Create()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("From: a@city.example.lg.jp\r\nSubject: x\r\n\r\nx\r\n"))
	// Committed without telling the queue (it rescans hourly in the
	// fixture), as a message waiting for its next attempt.
	env := &spool.Envelope{ID: w.ID(), From: "a@city.example.lg.jp", Received: time.Now(), NextAttempt: time.Now().Add(time.Hour),
		Recipients: []spool.Recipient{{Address: "b@example.com", Status: spool.Pending, Attempts: 3, LastCode: 451, LastError: "4.3.0 upstream busy, try later"},
			{Address: "c@example.com", Status: spool.Delivered, Attempts: 1}}}
	if err := w.Commit(env, spool.AreaQueue); err != nil {
		t.Fatal(err)
	}
	c := f.client()
	c.signIn("admin")
	r := c.get("/console/delivery")
	if r.status != 200 || !strings.Contains(r.body, `id="queue-len">1<`) || !strings.Contains(r.body, "upstream busy") ||
		!strings.Contains(r.body, "b@example.com") || strings.Contains(r.body, "c@example.com") {
		t.Fatalf("delivery page: %d %s", r.status, r.body)
	}
}

// TestCookiesSecureOverTLS: over TLS the cookies are Secure.
func TestCookiesSecureOverTLS(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("/console/", f.con.Handler())
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r, err := hc.Get(srv.URL + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	cks := r.Cookies()
	if len(cks) == 0 {
		t.Fatal("no login cookie")
	}
	for _, ck := range cks {
		if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie %s: Secure=%v HttpOnly=%v SameSite=%v", ck.Name, ck.Secure, ck.HttpOnly, ck.SameSite)
		}
	}
}

// TestFourEyes: with four-eyes for level I, the first approval waits for
// a second, different person; the same person twice is refused.
func TestFourEyes(t *testing.T) {
	f := newFixtureWith(t, func(c *review.Config) { c.FourEyesLevelI = true })
	id := f.hold("p020_marking.eml", "user2@city.example.lg.jp", "partner@example.com")
	c := f.client()
	tok := c.signIn("kacho")
	r := c.do("POST", "/console/holds/"+id+"/release", url.Values{"csrf": {tok}, "reason": {"必要"}})
	if r.status != 200 || !strings.Contains(r.body, "もう一人の承認者") || strings.Contains(r.body, `id="passphrase"`) {
		t.Fatalf("first approval: %d", r.status)
	}
	if r := c.do("POST", "/console/holds/"+id+"/release", url.Values{"csrf": {tok}, "reason": {"再度"}}); r.status != http.StatusConflict {
		t.Fatalf("same approver twice: %d", r.status)
	}
	if rec, _ := f.stores.Holds.Get(context.Background(), id); rec.Status != hold.Held {
		t.Fatalf("released after one approval: %s", rec.Status)
	}
	a := f.client()
	atok := a.signIn("admin")
	if r := a.do("POST", "/console/holds/"+id+"/release", url.Values{"csrf": {atok}, "reason": {"二人目"}}); r.status != 200 || !strings.Contains(r.body, `id="passphrase"`) {
		t.Fatalf("second approval: %d", r.status)
	}
	waitFor(t, "delivery", func() bool { return len(f.up.To("partner@example.com")) == 1 })
}

func TestLanguageSwitchKeepsQuery(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("kacho")
	r := c.get("/console/history?level=I&status=released")
	if !strings.Contains(r.body, `href="/console/history?lang=en&amp;level=I&amp;status=released"`) {
		t.Fatalf("language link: %s", regexp.MustCompile(`class="lang" href="[^"]*"`).FindString(r.body))
	}
}

// TestPersonalListMaskedInTextPane: the text pane of a held personal list
// (p017: an XLSX roster) shows no name, reading, address, birth date or
// phone number of its rows — the heading says identifiers are masked —
// while the column headings stay readable (issue 11 item 8).
func TestPersonalListMaskedInTextPane(t *testing.T) {
	f := newFixture(t)
	raw := readSample(t, "p017_personal_list.eml")
	id := f.hold("p017_personal_list.eml", "user2@city.example.lg.jp", "list@example.com")
	c := f.client()
	c.signIn("admin")
	r := c.get("/console/holds/" + id)
	if r.status != 200 {
		t.Fatalf("detail: %d", r.status)
	}
	_, pane, ok := strings.Cut(r.body, `<h2>本文`)
	if !ok {
		t.Fatalf("no text pane:\n%s", r.body)
	}
	pane, _, _ = strings.Cut(pane, "</section>")
	if !strings.Contains(pane, "＊＊＊") || !strings.Contains(pane, "氏名などすべての欄を伏せています") && !strings.Contains(pane, "すべての欄を伏せています") {
		t.Fatalf("text pane not masked as a list:\n%s", pane)
	}
	// Every cell of every row below the headings, as extracted.
	var s textSinkAll
	if _, err := inspect.Message(context.Background(), bytes.NewReader(raw), inspect.Limits{}, &s); err != nil {
		t.Fatal(err)
	}
	var cells, headings []string
	for _, line := range strings.Split(s.b.String(), "\n") {
		fields := strings.Split(line, "\t")
		if len(fields) < 4 {
			continue
		}
		if headings == nil {
			headings = fields
			continue
		}
		for _, fl := range fields {
			if fl = strings.TrimSpace(fl); utf8.RuneCountInString(fl) >= 2 {
				cells = append(cells, fl)
			}
		}
	}
	if len(cells) < 100 {
		t.Fatalf("only %d cells extracted: the test would prove nothing", len(cells))
	}
	for _, cell := range cells {
		if strings.Contains(pane, html.EscapeString(cell)) {
			t.Errorf("text pane shows %q", cell)
		}
	}
	shown := 0
	for _, h := range headings {
		if h = strings.TrimSpace(h); h != "" && strings.Contains(pane, html.EscapeString(h)) {
			shown++
		}
	}
	if shown < 3 {
		t.Errorf("column headings %q not shown", headings)
	}
}

// TestTextPaneCutKeepsMask: where the text pane's bound cuts a number,
// the cut-off start is dropped rather than masked as a number of its own
// (which would show other digits than the whole number's last four).
func TestTextPaneCutKeepsMask(t *testing.T) {
	var s textSink
	pad := strings.Repeat("あ", (maxShownText-8)/3) + strings.Repeat("x", (maxShownText-8)%3)
	s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: pad + "12345678" + "9018 です"})
	if !s.cut || len(s.blocks) != 1 {
		t.Fatalf("cut %v blocks %d", s.cut, len(s.blocks))
	}
	if got := s.blocks[0].Text; strings.ContainsAny(got[len(pad):], "0123456789") || !strings.HasPrefix(got, pad) {
		t.Fatalf("tail of the cut text: %q", got[len(pad):])
	}
}
