package review

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"dlpguard/audit"
	"dlpguard/hold"
	"dlpguard/policy"
	"dlpguard/release"
	"dlpguard/sqlitedb"
)

// auditAttempts returns the outcome/reason_code of every entry of action
// about id, oldest first, with the officer's reason.
func auditAttempts(t *testing.T, f *fixture, id, action string) []string {
	t.Helper()
	es, _, err := f.stores.Audit.List(context.Background(), audit.Filter{Subject: id, Action: action})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(es) - 1; i >= 0; i-- { // List is newest first
		var d struct {
			Outcome    string `json:"outcome"`
			ReasonCode string `json:"reason_code"`
			Reason     string `json:"reason"`
		}
		json.Unmarshal(es[i].Details, &d)
		out = append(out, d.Outcome+"/"+d.ReasonCode+"/"+d.Reason)
	}
	return out
}

// TestApprovalBoundToPolicy: who may release is the policy's department
// manager and deputies, at the time of the action; a token assigned to
// the department is not enough, and a reload that removes a deputy
// removes the right.
func TestApprovalBoundToPolicy(t *testing.T) {
	f := newFixture(t, "", nil, func(c *Config) { c.FourEyesLevelI = false; c.NoKeyMode = release.PassphraseWithoutKey })
	id, _, _ := f.hold("p017_personal_list.eml", sender17, rcpt17)
	id2, _, _ := f.hold("p020_marking.eml", "user2@city.example.lg.jp", "partner@example.com")
	member := f.token("member", "member@city.example.lg.jp", RoleApprover, "福祉課") // in 福祉課, not an approver
	deputy := f.token("kakaricho", kakaricho, RoleApprover)
	admin := f.token("admin", "admin@city.example.lg.jp", RoleAdmin)

	for _, c := range []struct {
		name, tok, path string
		code            int
		errCode         string
	}{
		{"member release", member, "/release", 403, "not_approver"},
		{"member reject", member, "/reject", 403, "not_approver"},
		{"admin release", admin, "/release", 403, "not_approver"},
	} {
		code, out := f.api("POST", "/api/v1/holds/"+id+c.path, c.tok, map[string]string{"reason": "送ってよい"})
		e, _ := out["error"].(map[string]any)
		if code != c.code || e == nil || e["code"] != c.errCode {
			t.Errorf("%s: %d %v, want %d %s", c.name, code, out, c.code, c.errCode)
		}
	}
	// The member still sees the department's messages (assigned to it).
	if code, _ := f.api("GET", "/api/v1/holds/"+id, member, nil); code != 200 {
		t.Errorf("member show: %d", code)
	}
	if rec, _ := f.stores.Holds.Get(context.Background(), id); rec.Status != hold.Held || len(rec.Approvals) != 0 {
		t.Fatalf("changed by refused attempts: %s %d approvals", rec.Status, len(rec.Approvals))
	}
	if got := auditAttempts(t, f, id, audit.Release); len(got) != 2 || got[0] != "refused/not_approver/送ってよい" {
		t.Errorf("release attempts in the audit log: %v", got)
	}
	if got := auditAttempts(t, f, id, audit.Reject); len(got) != 1 || !strings.HasPrefix(got[0], "refused/not_approver/") {
		t.Errorf("reject attempts in the audit log: %v", got)
	}

	// The deputy lists and may release, until a reload removes them.
	code, page := f.api("GET", "/api/v1/holds?status=held", deputy, nil)
	if code != 200 || page["total"].(float64) != 2 {
		t.Fatalf("deputy list: %d %v", code, page)
	}
	y := strings.Replace(string(policy.DefaultYAML()), "\nrules:\n", "\n"+strings.Replace(testDepartments, "    deputies: [kakaricho@city.example.lg.jp]\n", "", 1)+"\nrules:\n", 1)
	reloaded, err := policy.Parse([]byte(y), "reloaded.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.pol = reloaded
	code, out := f.api("POST", "/api/v1/holds/"+id+"/release", deputy, map[string]string{"reason": "代理で承認"})
	if e, _ := out["error"].(map[string]any); code != 403 || e["code"] != "wrong_department" {
		t.Errorf("removed deputy release: %d %v", code, out)
	}
	if code, page := f.api("GET", "/api/v1/holds", deputy, nil); code != 200 || page["total"].(float64) != 0 {
		t.Errorf("removed deputy still lists %v", page["total"])
	}
	if code, _ := f.api("GET", "/api/v1/holds?department=福祉課", deputy, nil); code != 403 {
		t.Errorf("removed deputy lists the department: %d", code)
	}
	// The manager named by the policy in force releases.
	mgr := f.token("kacho", kacho, RoleApprover)
	if code, out := f.api("POST", "/api/v1/holds/"+id2+"/release", mgr, map[string]string{"reason": "課長承認"}); code != 200 || out["status"] != "released" {
		t.Fatalf("manager release: %d %v", code, out)
	}
}

// TestNoKeyRefusalAudited: a release refused for a missing key is
// audited as refused/no_key (not as an approval) and records no approval;
// the later release records its own reason.
func TestNoKeyRefusalAudited(t *testing.T) {
	f := newFixture(t, "", nil, func(c *Config) { c.FourEyesLevelI = false })
	id, _, _ := f.hold("p017_personal_list.eml", sender17, rcpt17)
	tok := f.token("kacho", kacho, RoleApprover)
	if code, _ := f.api("POST", "/api/v1/holds/"+id+"/release", tok, map[string]string{"reason": "最初の理由"}); code != 409 {
		t.Fatalf("release without key: %d", code)
	}
	rec, _ := f.stores.Holds.Get(context.Background(), id)
	if len(rec.Approvals) != 0 || rec.Status != hold.Held {
		t.Fatalf("refused release left %d approvals, status %s", len(rec.Approvals), rec.Status)
	}
	if got := auditAttempts(t, f, id, audit.Approve); len(got) != 0 {
		t.Errorf("a refused release is in the audit log as approve: %v", got)
	}
	g := newGPG(t, "Contact <"+rcpt17+">")
	f.stores.Keys.Import(strings.NewReader(string(g.Export())))
	if code, out := f.api("POST", "/api/v1/holds/"+id+"/release", tok, map[string]string{"reason": "鍵を登録した"}); code != 200 || out["status"] != "released" {
		t.Fatalf("retry: %d %v", code, out)
	}
	got := auditAttempts(t, f, id, audit.Release)
	if len(got) != 2 || got[0] != "refused/no_key/最初の理由" || got[1] != "granted/granted/鍵を登録した" {
		t.Errorf("release attempts: %v", got)
	}
	rec, _ = f.stores.Holds.Get(context.Background(), id)
	if rec.Reason != "鍵を登録した" || len(rec.Approvals) != 1 || rec.Approvals[0].Note != "鍵を登録した" {
		t.Errorf("record keeps %q, approvals %+v", rec.Reason, rec.Approvals)
	}
}

// TestPassphraseHandoff: the officer is told to whom the passphrase goes
// and how; the sender is told that a passphrase exists and whom to ask,
// never the passphrase.
func TestPassphraseHandoff(t *testing.T) {
	f := newFixture(t, "", nil, func(c *Config) { c.NoKeyMode = release.PassphraseWithoutKey; c.FourEyesLevelI = false })
	id, _, raw := f.hold("p017_personal_list.eml", sender17, rcpt17)
	tok := f.token("kacho", kacho, RoleApprover)
	code, out := f.api("POST", "/api/v1/holds/"+id+"/release", tok, map[string]string{"reason": "送信可"})
	pass, _ := out["passphrase"].(string)
	h, _ := out["passphrase_handoff"].(map[string]any)
	if code != 200 || pass == "" || h == nil {
		t.Fatalf("release: %d %v", code, out)
	}
	if to, _ := h["to"].([]any); len(to) != 1 || to[0] != rcpt17 || !strings.Contains(h["message_ja"].(string), "電話") || !strings.Contains(h["message_ja"].(string), rcpt17) {
		t.Errorf("handoff: %v", h)
	}
	waitFor(t, "release notice", func() bool { return len(f.up.To(sender17)) == 2 })
	text := checkNotice(t, f.up.To(sender17)[1], id, raw, "パスワード")
	for _, want := range []string{"パスワードが必要", kacho, "passphrase"} {
		if !strings.Contains(text, want) {
			t.Errorf("sender's release notice lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, pass) {
		t.Fatal("the passphrase is in the sender's notice")
	}
	es, _, _ := f.stores.Audit.List(context.Background(), audit.Filter{Subject: id, Action: audit.Release})
	if len(es) != 1 || strings.Contains(string(es[0].Details), pass) || !strings.Contains(string(es[0].Details), `"passphrase_to"`) {
		t.Errorf("release audit: %s", es[0].Details)
	}
}

// TestReminderOnce: the approvers are reminded once, RemindBefore ahead of
// the expiry, naming the console page and the time in JST.
func TestReminderOnce(t *testing.T) {
	f := newFixture(t, "", nil, nil)
	id, _, raw := f.hold("p017_personal_list.eml", sender17, rcpt17)
	waitFor(t, "approver notices", func() bool { return len(f.up.To(kacho)) == 1 && len(f.up.To(kakaricho)) == 1 })
	ctx := context.Background()
	f.svc.Tick(ctx)
	f.clock.Add(hold.DefaultHoldFor - 25*time.Hour)
	f.svc.Tick(ctx)
	time.Sleep(100 * time.Millisecond)
	if n := len(f.up.To(kacho)); n != 1 {
		t.Fatalf("reminded more than a day before the expiry: %d", n)
	}
	f.clock.Add(2 * time.Hour) // now 23h before
	f.svc.Tick(ctx)
	f.svc.Tick(ctx)
	waitFor(t, "reminders", func() bool { return len(f.up.To(kacho)) == 2 && len(f.up.To(kakaricho)) == 2 })
	text := checkNotice(t, f.up.To(kacho)[1], id, raw, "期限")
	for _, want := range []string{f.srv.URL + "/console/holds/" + id, " JST", "Reminder"} {
		if !strings.Contains(text, want) {
			t.Errorf("reminder lacks %q:\n%s", want, text)
		}
	}
	f.clock.Add(time.Hour)
	f.svc.Tick(ctx)
	time.Sleep(100 * time.Millisecond)
	if n := len(f.up.To(kacho)); n != 2 {
		t.Errorf("reminded %d times, want once", n-1)
	}
	if _, n, _ := f.stores.Audit.List(ctx, audit.Filter{Subject: id, Action: ActionRemind}); n != 1 {
		t.Errorf("%d reminder audit entries, want 1", n)
	}
	// The sender was not reminded (their notice is the hold notice).
	if n := len(f.up.To(sender17)); n != 1 {
		t.Errorf("sender got %d notices", n)
	}
}

// TestHoldMetaMigrated: a data folder of the earlier layout (the facts in
// review.db's hold_meta, none in the record) is imported once at start.
func TestHoldMetaMigrated(t *testing.T) {
	dir := t.TempDir()
	up := startUpstream(t)
	f := newFixture(t, dir, up, func(c *Config) { c.FourEyesLevelI = false; c.NoKeyMode = release.PassphraseWithoutKey })
	id, _, _ := f.hold("p011_other_id.eml", "user660@city.example.lg.jp", "contact78@example.net")
	ctx := context.Background()
	// Make it an old record: no Handling, the facts in hold_meta.
	if _, err := f.stores.Holds.SetHandling(ctx, id, hold.Handling{}); err != nil {
		t.Fatal(err)
	}
	f.stop()
	db, err := sqlitedb.Open(ctx, PathsIn(dir).Review+"/review.db", "")
	if err != nil {
		t.Fatal(err)
	}
	old := `{"approvers":["kacho@city.example.lg.jp"],"require_encryption":true,"smtputf8":true,"reasons_en":{"personal-id-hold":"held (old)"}}`
	for _, row := range [][2]string{{id, old}, {"ORPHAN0000000000000001", old}} {
		if _, err := db.ExecContext(ctx, `INSERT INTO hold_meta (id, data) VALUES (?, ?)`, row[0], row[1]); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	f2 := newFixture(t, dir, up, func(c *Config) { c.FourEyesLevelI = false; c.NoKeyMode = release.PassphraseWithoutKey })
	rec, err := f2.stores.Holds.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	h := rec.Handling
	if !h.RequireEncryption || !h.SMTPUTF8 || len(h.Approvers) != 1 || h.Approvers[0] != kacho || h.ReasonsEN["personal-id-hold"] != "held (old)" {
		t.Fatalf("imported handling: %+v", h)
	}
	var n int
	local, err := OpenDB(ctx, PathsIn(dir).Review+"/review.db") // the node's own file, whatever the storage
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	if err := local.db.QueryRowContext(ctx, `SELECT count(*) FROM hold_meta`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("hold_meta rows left: %d %v", n, err)
	}
	// Imported once: a later change to the record is not overwritten at
	// the next start.
	f2.stop()
	f3 := newFixture(t, dir, up, func(c *Config) { c.FourEyesLevelI = false; c.NoKeyMode = release.PassphraseWithoutKey })
	if rec, _ := f3.stores.Holds.Get(ctx, id); !rec.Handling.SMTPUTF8 {
		t.Fatal("handling lost at the next start")
	}
	tok := f3.token("kacho", kacho, RoleApprover)
	if code, out := f3.api("POST", "/api/v1/holds/"+id+"/release", tok, map[string]string{"reason": "移行後"}); code != 200 || out["method"] != "passphrase" {
		t.Fatalf("release of a migrated hold: %d %v", code, out)
	}
}
