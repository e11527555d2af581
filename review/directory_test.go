package review

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"dlpguard/audit"
	"dlpguard/directory"
	"dlpguard/internal/ldaptest"
)

const (
	dirTaro     = "taro.yamada@city.example.lg.jp" // 市民課, manager shimin.kacho
	dirKacho    = "shimin.kacho@city.example.lg.jp"
	dirHanako   = "hanako.suzuki@city.example.lg.jp" // 市民課, approver group
	dirIchiro   = "ichiro.tanaka@city.example.lg.jp" // 市民課, no group
	dirZeimu    = "zeimu.kacho@city.example.lg.jp"   // 税務課's approver
	dirShin     = "shin.kacho@city.example.lg.jp"
	dirSecurity = "security@city.example.lg.jp"
)

// dirFixture is the review fixture with the city's directory (a real
// slapd) as the source of departments and approvers.
func dirFixture(t *testing.T) (*fixture, *ldaptest.Server) {
	t.Helper()
	s := ldaptest.Start(t, ldaptest.City)
	f := newFixture(t, "", nil, func(c *Config) { c.SecurityTeam = []string{dirSecurity} })
	c, err := directory.New(directory.Config{URL: s.URL, BindDN: ldaptest.ServiceDN, Password: ldaptest.ServicePW,
		BaseDN: ldaptest.ADBase, Schema: directory.SchemaAD, ApproverGroup: ldaptest.ApproverGroup,
		CacheTTL: 10 * time.Minute, StaleFor: 20 * time.Minute, Now: f.clock.Now}, logger())
	if err != nil {
		t.Fatal(err)
	}
	f.svc.dir = c
	return f, s
}

// TestDirectoryHoldAndApprove: a sender the policy's patterns do not know
// is held under the directory's department; the approver notice goes to
// the directory's manager and the approver group's member of the
// department; they approve and release (four eyes) through the API; a
// colleague outside the group, another department's approver and the
// sender are refused.
func TestDirectoryHoldAndApprove(t *testing.T) {
	f, _ := dirFixture(t)
	g := newGPG(t, "Contact <"+rcpt17+">")
	if _, err := f.stores.Keys.Import(bytes.NewReader(g.Export())); err != nil {
		t.Fatal(err)
	}
	id, v, raw := f.hold("p017_personal_list.eml", dirTaro, rcpt17)
	if v.Department != "" {
		t.Fatalf("the policy's patterns name %q: the test needs a sender they do not know", v.Department)
	}
	rec, err := f.stores.Holds.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Department != "市民課" || !slices.Equal(rec.Handling.Approvers, []string{dirKacho, dirHanako}) {
		t.Fatalf("held under %q approvers %q, want 市民課 [%s %s]", rec.Department, rec.Handling.Approvers, dirKacho, dirHanako)
	}
	waitFor(t, "notices", func() bool { return len(f.up.To(dirKacho)) == 1 && len(f.up.To(dirHanako)) == 1 })
	checkNotice(t, f.up.To(dirKacho)[0], id, raw, "承認")
	if n := len(f.up.To(dirSecurity)) + len(f.up.To(dirIchiro)); n != 0 {
		t.Errorf("%d notices to the security team or a colleague", n)
	}
	entries, _, err := f.stores.Audit.List(context.Background(), audit.Filter{Subject: id, Action: audit.Hold})
	if err != nil || len(entries) != 1 || !strings.Contains(string(entries[0].Details), `"department_source":"directory"`) {
		t.Fatalf("hold audit entry: %v %+v", err, entries)
	}

	for _, c := range []struct {
		name, actor, errCode string
	}{
		// Tokens assigned to the department: seeing is not deciding.
		{"colleague outside the group", dirIchiro, "not_approver"},
		{"other department's approver", dirZeimu, "not_approver"},
		{"the sender", dirTaro, "self_approval"},
	} {
		tok := f.token(c.name, c.actor, RoleApprover, "市民課")
		code, out := f.api("POST", "/api/v1/holds/"+id+"/release", tok, map[string]string{"reason": "x"})
		e, _ := out["error"].(map[string]any)
		if code != 403 || e == nil || e["code"] != c.errCode {
			t.Errorf("%s: %d %v, want 403 %s", c.name, code, out, c.errCode)
		}
	}
	code, out := f.api("POST", "/api/v1/holds/"+id+"/release", f.token("kacho", dirKacho, RoleApprover), map[string]string{"reason": "確認済み"})
	if code != 200 || out["status"] != "approved" {
		t.Fatalf("manager's approval: %d %v", code, out)
	}
	code, out = f.api("POST", "/api/v1/holds/"+id+"/release", f.token("hanako", dirHanako, RoleApprover), map[string]string{"reason": "二人目"})
	if code != 200 || out["status"] != "released" {
		t.Fatalf("approver group's release: %d %v", code, out)
	}
	waitFor(t, "released message", func() bool { return len(f.up.To(rcpt17)) == 1 })
}

// TestDirectoryDownFailsClosed: with slapd stopped the cached approvers
// still decide within the TTL and the stale window; past it the
// directory's approvers decide nothing and the security team does; a new
// hold from an unknown sender goes to the security team; a new manager
// decides once the TTL has passed.
func TestDirectoryDownFailsClosed(t *testing.T) {
	f, s := dirFixture(t)
	ctx := context.Background()
	id, _, _ := f.hold("p017_personal_list.eml", dirTaro, rcpt17)
	kacho := Actor{Address: dirKacho, Role: RoleApprover}
	security := Actor{Address: dirSecurity, Role: RoleApprover}
	can := func(a Actor) error { return f.svc.Can(ctx, a, id, OpDecide) }
	if err := can(kacho); err != nil {
		t.Fatalf("manager, directory up: %v", err)
	}
	s.Stop()
	f.clock.Add(25 * time.Minute) // past the TTL, within the stale window
	if err := can(kacho); err != nil {
		t.Fatalf("manager, stale cache: %v", err)
	}
	if err := can(security); err == nil {
		t.Fatal("security team decides while the directory's answer stands")
	}
	f.clock.Add(10 * time.Minute) // past TTL + stale_for
	var e *Error
	if err := can(kacho); !errors.As(err, &e) || e.Code != "directory_unavailable" || e.Status != 503 || !strings.Contains(e.JA, "ディレクトリ") {
		t.Fatalf("manager past the cache: %v, want refused as directory_unavailable", err)
	}
	// Seeing stays as it was (the department assigned to the account).
	if err := f.svc.Can(ctx, Actor{Address: dirKacho, Role: RoleApprover, Departments: []string{"市民課"}}, id, OpView); err != nil {
		t.Fatalf("view with the directory down: %v", err)
	}
	if err := can(security); err != nil {
		t.Fatalf("security team, directory down: %v", err)
	}
	id2, _, _ := f.hold("p017_personal_list.eml", dirIchiro, rcpt17)
	rec, err := f.stores.Holds.Get(ctx, id2)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Department != "" || len(rec.Handling.Approvers) != 0 {
		t.Fatalf("held with the directory down: %q %q, want no department", rec.Department, rec.Handling.Approvers)
	}
	waitFor(t, "security team notice", func() bool { return len(f.up.To(dirSecurity)) == 1 })

	// A personnel change: the new manager decides once the directory
	// is back (asked again after its retry pause) and the TTL has passed.
	s.Restart()
	f.clock.Add(time.Minute)
	s.Replace("cn=taro.yamada,ou=Users,ou=ad,dc=city,dc=example", "manager", "cn=shin.kacho,ou=Users,ou=ad,dc=city,dc=example")
	shin := Actor{Address: dirShin, Role: RoleApprover}
	if err := can(shin); err != nil {
		t.Fatalf("new manager once the directory is back (the cache was past its TTL): %v", err)
	}
}
