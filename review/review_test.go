package review

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dlpguard/audit"
	"dlpguard/hold"
	"dlpguard/release"
	"dlpguard/spool"
)

const (
	sender17  = "user521@city.example.lg.jp" // p017's sender, department 福祉課
	rcpt17    = "contact19@example.org"
	kacho     = "kacho@city.example.lg.jp"
	kakaricho = "kakaricho@city.example.lg.jp"
	zeiKacho  = "zei-kacho@city.example.lg.jp"
)

// checkNotice asserts what every notice must be: from the null sender,
// Japanese before English, naming the hold ID, and carrying neither the
// held content nor any identifier of the message.
func checkNotice(t testing.TB, m got, id string, raw []byte, wantJA string) string {
	t.Helper()
	if m.From != "" {
		t.Errorf("notice envelope sender %q, want the null sender", m.From)
	}
	subj, text := noticeText(t, m.Data)
	all := subj + "\n" + text
	if !strings.Contains(all, id) {
		t.Errorf("notice does not name the hold ID %s:\n%s", id, all)
	}
	ja, en := strings.Index(text, wantJA), strings.Index(text, "English")
	if ja < 0 || en < 0 || ja > en {
		t.Errorf("notice not Japanese first (want %q before English):\n%s", wantJA, text)
	}
	flat := digitsOnly(all)
	ids := identifiers(t, raw)
	if len(ids) == 0 {
		t.Fatal("test message has no identifiers to look for")
	}
	for _, idf := range ids {
		if strings.Contains(flat, idf) {
			t.Errorf("notice contains the identifier digits %s:\n%s", idf, all)
		}
	}
	return all
}

func TestHoldReleaseEndToEnd(t *testing.T) {
	f := newFixture(t, "", nil, nil)
	ctx := context.Background()
	g := newGPG(t, "Contact <"+rcpt17+">")
	if _, err := f.stores.Keys.Import(bytes.NewReader(g.Export())); err != nil {
		t.Fatal(err)
	}

	id, v, raw := f.hold("p017_personal_list.eml", sender17, rcpt17)
	if v.Department != "福祉課" || string(v.Level) != "I" {
		t.Fatalf("verdict department %q level %q", v.Department, v.Level)
	}

	// Notices: the sender and both approvers, through the real queue.
	var senderNotice, approverNotice string
	waitFor(t, "hold notices", func() bool {
		return len(f.up.To(sender17)) == 1 && len(f.up.To(kacho)) == 1 && len(f.up.To(kakaricho)) == 1
	})
	senderNotice = checkNotice(t, f.up.To(sender17)[0], id, raw, "保留")
	approverNotice = checkNotice(t, f.up.To(kacho)[0], id, raw, "承認")
	checkNotice(t, f.up.To(kakaricho)[0], id, raw, "承認")
	for _, want := range []string{"personal-list-hold", "3.3.5", kacho, kakaricho, "個人情報の一覧"} {
		if !strings.Contains(senderNotice, want) {
			t.Errorf("sender notice lacks %q:\n%s", want, senderNotice)
		}
	}
	if !strings.Contains(approverNotice, f.srv.URL+"/console/holds/"+id) || !strings.Contains(approverNotice, sender17) {
		t.Errorf("approver notice lacks the console link or the sender:\n%s", approverNotice)
	}
	_, origParts := leaves(t, raw)
	bodyLine := ""
	for _, l := range strings.Split(string(origParts[0].body), "\n") {
		if l = strings.TrimSpace(l); len(l) > len(bodyLine) {
			bodyLine = l
		}
	}
	if len(bodyLine) < 12 || strings.Contains(senderNotice, bodyLine) || strings.Contains(approverNotice, bodyLine) {
		t.Errorf("notice contains the held body (%q)", bodyLine)
	}

	admin := f.token("admin", "admin@city.example.lg.jp", RoleAdmin)
	tKacho := f.token("kacho", kacho, RoleApprover)
	tKakaricho := f.token("kakaricho", kakaricho, RoleApprover)
	tZei := f.token("zei", zeiKacho, RoleApprover, "税務課")
	tSelf := f.token("self", sender17, RoleApprover, "福祉課")

	// List and show.
	code, page := f.api("GET", "/api/v1/holds?status=held&department=福祉課", tKacho, nil)
	if code != 200 || page["total"].(float64) != 1 {
		t.Fatalf("list: %d %v", code, page)
	}
	code, page = f.api("GET", "/api/v1/holds", tZei, nil)
	if code != 200 || page["total"].(float64) != 0 {
		t.Fatalf("other department's approver sees %v (%d)", page["total"], code)
	}
	code, show := f.api("GET", "/api/v1/holds/"+id, tKakaricho, nil)
	if code != 200 || show["id"] != id || len(show["parts"].([]any)) != 1 || show["required_approvals"].(float64) != 2 {
		t.Fatalf("show: %d %v", code, show)
	}

	// Authorisation.
	for _, c := range []struct {
		name, tok string
		body      any
		code      int
		errCode   string
	}{
		{"no token", "", map[string]string{"reason": "x"}, 401, "unauthorized"},
		{"bad token", "dlpg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", map[string]string{"reason": "x"}, 401, "invalid_token"},
		{"other department", tZei, map[string]string{"reason": "x"}, 403, "wrong_department"},
		{"self approval", tSelf, map[string]string{"reason": "x"}, 403, "self_approval"},
		{"no reason", tKacho, map[string]string{}, 400, "reason_required"},
		{"blank reason", tKacho, map[string]string{"reason": "  "}, 400, "reason_required"},
	} {
		code, out := f.api("POST", "/api/v1/holds/"+id+"/release", c.tok, c.body)
		e, _ := out["error"].(map[string]any)
		if code != c.code || e == nil || e["code"] != c.errCode || e["message_ja"] == "" || e["message_en"] == "" {
			t.Errorf("%s: %d %v, want %d %s", c.name, code, out, c.code, c.errCode)
		}
	}
	for _, path := range []string{"/reject", "/false-positive"} {
		if code, _ := f.api("POST", "/api/v1/holds/"+id+path, tKacho, map[string]string{"detector": "phone_number"}); code != 400 {
			t.Errorf("%s without reason: %d, want 400", path, code)
		}
	}
	code, _ = f.api("POST", "/api/v1/holds/"+id+"/false-positive", tKacho, map[string]string{"detector": "phone_number", "reason": "代表番号"})
	if code != 200 {
		t.Fatalf("false positive: %d", code)
	}

	// Four-eyes: level I needs two different approvers.
	code, out := f.api("POST", "/api/v1/holds/"+id+"/release", tKacho, map[string]string{"reason": "相手先確認済み"})
	if code != 200 || out["status"] != "approved" || out["approvals"].(float64) != 1 {
		t.Fatalf("first approval: %d %v", code, out)
	}
	code, out = f.api("POST", "/api/v1/holds/"+id+"/release", tKacho, map[string]string{"reason": "again"})
	if code != 409 {
		t.Fatalf("same approver twice: %d %v", code, out)
	}
	if got := f.up.To(rcpt17); len(got) != 0 {
		t.Fatal("delivered after one approval")
	}
	code, out = f.api("POST", "/api/v1/holds/"+id+"/release", tKakaricho, map[string]string{"reason": "二人目の承認"})
	if code != 200 || out["status"] != "released" || out["method"] != "public-key" || out["passphrase"] != nil {
		t.Fatalf("release: %d %v", code, out)
	}
	code, _ = f.api("POST", "/api/v1/holds/"+id+"/reject", tKacho, map[string]string{"reason": "late"})
	if code != 409 {
		t.Fatalf("reject after release: %d, want 409", code)
	}
	// Administrators see everything but decide only with
	// review.admins_approve (3.3.5: the department's manager decides).
	if code, _ := f.api("GET", "/api/v1/holds/"+id, admin, nil); code != 200 {
		t.Fatalf("admin show: %d", code)
	}

	// Delivered with the attachment encrypted; GnuPG opens it.
	waitFor(t, "released message", func() bool { return len(f.up.To(rcpt17)) == 1 })
	m := f.up.To(rcpt17)[0]
	if m.From != sender17 {
		t.Errorf("released message from %q", m.From)
	}
	_, parts := leaves(t, m.Data)
	var orig []byte
	for _, p := range origParts {
		if p.name == "要支援者名簿.xlsx" {
			orig = p.body
		}
	}
	found := false
	for _, p := range parts {
		if p.name == "要支援者名簿.xlsx" {
			t.Error("the plaintext attachment was sent")
		}
		if p.name == "要支援者名簿.xlsx.pgp" {
			plain, err := g.Decrypt(p.body, "")
			if err != nil || !bytes.Equal(plain, orig) || len(orig) == 0 {
				t.Fatalf("gpg cannot open the attachment to the original bytes: %v", err)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no .pgp attachment in the released message")
	}
	waitFor(t, "release notice", func() bool { return len(f.up.To(sender17)) == 2 })
	checkNotice(t, f.up.To(sender17)[1], id, raw, "送信されました")

	// Audit: the chain verifies; the release records the proof hashes.
	if brk, err := f.stores.Audit.Verify(ctx); brk != nil || err != nil {
		t.Fatalf("audit chain: %v %v", brk, err)
	}
	all, _, err := f.stores.Audit.List(ctx, audit.Filter{Subject: id, Action: audit.Release})
	// Every attempt is an entry with its outcome and reason code.
	codes := map[string]int{}
	var entries []audit.Entry
	for _, e := range all {
		var d struct{ Outcome, ReasonCode string }
		json.Unmarshal(e.Details, &struct {
			O *string `json:"outcome"`
			R *string `json:"reason_code"`
		}{&d.Outcome, &d.ReasonCode})
		codes[d.Outcome+"/"+d.ReasonCode]++
		if d.Outcome == "granted" {
			entries = append(entries, e)
		}
	}
	if err != nil || len(entries) != 1 {
		t.Fatalf("release audit: %v %d granted of %d", err, len(entries), len(all))
	}
	for _, want := range []string{"refused/bad_token", "refused/wrong_department", "refused/self_approval", "refused/reason_required", "refused/state"} {
		if codes[want] == 0 {
			t.Errorf("no %s release attempt in the audit log: %v", want, codes)
		}
	}
	var det struct {
		Parts []release.Part `json:"parts"`
	}
	json.Unmarshal(entries[0].Details, &det)
	proof := false
	for _, p := range det.Parts {
		if p.SentName == "要支援者名簿.xlsx.pgp" && p.OriginalSHA256 == sha256Hex(orig) && p.SentSHA256 != "" && p.SentSHA256 != p.OriginalSHA256 {
			proof = true
		}
	}
	if !proof {
		t.Errorf("release audit lacks the proof hashes: %s", entries[0].Details)
	}
	for _, a := range []string{audit.Hold, audit.Approve, audit.FalsePositive, audit.Login} {
		subject := id
		if a == audit.Login {
			subject = "api"
		}
		if _, n, _ := f.stores.Audit.List(ctx, audit.Filter{Subject: subject, Action: a}); n == 0 {
			t.Errorf("no %s audit entry", a)
		}
	}
	rec, _ := f.stores.Holds.Get(ctx, id)
	if rec.Status != hold.Released || rec.Actor != kakaricho || len(rec.FalsePositives) != 1 {
		t.Errorf("record after release: %+v", rec)
	}
}

// TestPassphraseRelease: a recipient without a key gets the attachment
// encrypted with a passphrase that only the API answer carries.
func TestPassphraseRelease(t *testing.T) {
	f := newFixture(t, "", nil, func(c *Config) { c.NoKeyMode = release.PassphraseWithoutKey; c.FourEyesLevelI = false })
	id, _, raw := f.hold("p017_personal_list.eml", sender17, rcpt17)
	tok := f.token("kacho", kacho, RoleApprover)
	code, out := f.api("POST", "/api/v1/holds/"+id+"/release", tok, map[string]string{"reason": "パスワード方式"})
	pass, _ := out["passphrase"].(string)
	if code != 200 || out["status"] != "released" || out["method"] != "passphrase" || len(pass) < 20 {
		t.Fatalf("release: %d %v", code, out)
	}
	waitFor(t, "released message", func() bool { return len(f.up.To(rcpt17)) == 1 && len(f.up.To(sender17)) == 2 })
	for _, m := range f.up.All() {
		if bytes.Contains(m.Data, []byte(pass)) {
			t.Fatalf("the passphrase was mailed (to %v)", m.Rcpts)
		}
	}
	if n, _ := grepDir(t, f.dir, []byte(pass)); n > 0 {
		t.Fatal("the passphrase is stored in the data folder")
	}
	_, origParts := leaves(t, raw)
	_, parts := leaves(t, f.up.To(rcpt17)[0].Data)
	g := newGPG(t, "")
	ok := false
	for _, p := range parts {
		if p.name == "要支援者名簿.xlsx.pgp" {
			plain, err := g.Decrypt(p.body, pass)
			if err != nil || !bytes.Equal(plain, origParts[1].body) {
				t.Fatalf("gpg with the passphrase: %v", err)
			}
			ok = true
		}
	}
	if !ok {
		t.Fatal("no .pgp attachment")
	}
}

// TestRefuseWithoutKey: in refuse mode a missing key stops the release
// with the recipients named, and the message stays held.
func TestRefuseWithoutKey(t *testing.T) {
	f := newFixture(t, "", nil, func(c *Config) { c.FourEyesLevelI = false })
	id, _, _ := f.hold("p017_personal_list.eml", sender17, rcpt17)
	tok := f.token("kacho", kacho, RoleApprover)
	code, out := f.api("POST", "/api/v1/holds/"+id+"/release", tok, map[string]string{"reason": "送信"})
	e, _ := out["error"].(map[string]any)
	if code != 409 || e["code"] != "no_key" || !strings.Contains(e["message_ja"].(string), rcpt17) || !strings.Contains(e["message_en"].(string), rcpt17) {
		t.Fatalf("release without key: %d %v", code, out)
	}
	rec, err := f.stores.Holds.Get(context.Background(), id)
	if err != nil || rec.Status != hold.Held {
		t.Fatalf("after refused release: %v %v", rec.Status, err)
	}
	// Once the key is there the same approver can retry.
	g := newGPG(t, "Contact <"+rcpt17+">")
	f.stores.Keys.Import(bytes.NewReader(g.Export()))
	if code, out = f.api("POST", "/api/v1/holds/"+id+"/release", tok, map[string]string{"reason": "鍵を登録したので送信"}); code != 200 || out["status"] != "released" {
		t.Fatalf("retry: %d %v", code, out)
	}
}

// grepDir counts the files under dir that contain needle.
func grepDir(t testing.TB, dir string, needle []byte) (int, []string) {
	t.Helper()
	var hits []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, needle) {
			hits = append(hits, p)
		}
		return nil
	})
	return len(hits), hits
}

// TestRestartNothingLost: messages held, everything closed and reopened:
// all still held, content encrypted on disk, still releasable.
func TestRestartNothingLost(t *testing.T) {
	dir := t.TempDir()
	up := startUpstream(t)
	f := newFixture(t, dir, up, func(c *Config) {
		c.FourEyesLevelI = false
		c.NoKeyMode = release.PassphraseWithoutKey
		c.AdminsApprove = true
	})
	id1, _, raw1 := f.hold("p017_personal_list.eml", sender17, rcpt17)
	id2, _, raw2 := f.hold("p011_other_id.eml", "user660@city.example.lg.jp", "contact78@example.net")
	f.stop()

	// Plaintext of either message (its attachment's encoded lines, the
	// decoded body) appears nowhere in the data folder.
	_, p1 := leaves(t, raw1)
	_, p2 := leaves(t, raw2)
	for _, needle := range [][]byte{p1[1].body[:64], raw1[len(raw1)-400 : len(raw1)-300], p2[0].body[:40]} {
		if n, hits := grepDir(t, dir, needle); n > 0 {
			t.Fatalf("plaintext in the data folder: %v", hits)
		}
	}

	f2 := newFixture(t, dir, up, func(c *Config) {
		c.FourEyesLevelI = false
		c.NoKeyMode = release.PassphraseWithoutKey
		c.AdminsApprove = true
	})
	admin := f2.token("admin", "admin@city.example.lg.jp", RoleAdmin)
	code, page := f2.api("GET", "/api/v1/holds?status=held", admin, nil)
	if code != 200 || page["total"].(float64) != 2 {
		t.Fatalf("after restart: %d %v", code, page)
	}
	for q, want := range map[string]float64{"limit=1": 2, "level=I": 2, "level=II": 0, "age=1h": 0, "age=0d": 2,
		"rule=personal-list-hold": 1, "status=released": 0} {
		code, page := f2.api("GET", "/api/v1/holds?"+q, admin, nil)
		if code != 200 || page["total"].(float64) != want {
			t.Errorf("list ?%s: %d total %v, want %v", q, code, page["total"], want)
		}
		if q == "limit=1" && len(page["records"].([]any)) != 1 {
			t.Errorf("limit=1 gave %d records", len(page["records"].([]any)))
		}
	}
	if code, _ := f2.api("GET", "/api/v1/holds?age=soon", admin, nil); code != 400 {
		t.Errorf("bad age: %d, want 400", code)
	}
	code, out := f2.api("POST", "/api/v1/holds/"+id2+"/release", admin, map[string]string{"reason": "再起動後"})
	if code != 200 || out["status"] != "released" {
		t.Fatalf("release after restart: %d %v", code, out)
	}
	waitFor(t, "delivery after restart", func() bool { return len(up.To("contact78@example.net")) == 1 })
	r, err := f2.stores.Holds.Content(context.Background(), id1)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(r)
	r.Close()
	if !bytes.Equal(b.Bytes(), raw1) {
		t.Fatal("content changed across the restart")
	}
}

// TestAuditTamperDetected: changing a row of the audit log after the
// workflow breaks the chain.
func TestAuditTamperDetected(t *testing.T) {
	f := newFixture(t, "", nil, nil)
	id, _, _ := f.hold("p011_other_id.eml", "user660@city.example.lg.jp", "contact78@example.net")
	tok := f.token("kacho", kacho, RoleApprover)
	if code, _ := f.api("POST", "/api/v1/holds/"+id+"/reject", tok, map[string]string{"reason": "不要"}); code != 200 {
		t.Fatal("reject failed")
	}
	ctx := context.Background()
	if brk, err := f.stores.Audit.Verify(ctx); brk != nil || err != nil {
		t.Fatalf("chain: %v %v", brk, err)
	}
	db := auditDB(t, f.dir)
	if _, err := db.Exec(`UPDATE audit SET actor = 'someone-else' WHERE action = 'reject'`); err != nil {
		t.Fatal(err)
	}
	if brk, err := f.stores.Audit.Verify(ctx); err != nil || brk == nil {
		t.Fatalf("tampering not detected: %v %v", brk, err)
	}
}

// TestExpiry: a message nobody acts on expires; the sender is told.
func TestExpiry(t *testing.T) {
	f := newFixture(t, "", nil, nil)
	id, _, raw := f.hold("p011_other_id.eml", "user660@city.example.lg.jp", "contact78@example.net")
	f.svc.Tick(context.Background())
	if rec, _ := f.stores.Holds.Get(context.Background(), id); rec.Status != hold.Held {
		t.Fatalf("expired too early: %s", rec.Status)
	}
	f.clock.Add(hold.DefaultHoldFor + 1)
	f.svc.Tick(context.Background())
	rec, _ := f.stores.Holds.Get(context.Background(), id)
	if rec.Status != hold.Expired {
		t.Fatalf("status %s, want expired", rec.Status)
	}
	waitFor(t, "expiry notice", func() bool { return len(f.up.To("user660@city.example.lg.jp")) == 2 })
	checkNotice(t, f.up.To("user660@city.example.lg.jp")[1], id, raw, "期限")
	if _, n, _ := f.stores.Audit.List(context.Background(), audit.Filter{Subject: id, Action: audit.Expire}); n != 1 {
		t.Error("no expiry audit entry")
	}
	if len(f.up.To("contact78@example.net")) != 0 {
		t.Error("an expired message was delivered")
	}
	tok := f.token("kacho", kacho, RoleApprover)
	if code, _ := f.api("POST", "/api/v1/holds/"+id+"/release", tok, map[string]string{"reason": "late"}); code != http.StatusConflict {
		t.Errorf("release after expiry: %d, want 409", code)
	}
}

// TestEncryptedAttachmentPassesUnchanged: a message held because the
// sender's attachment is encrypted (p027, AES-256 zip) goes out with that
// attachment byte for byte.
func TestEncryptedAttachmentPassesUnchanged(t *testing.T) {
	f := newFixture(t, "", nil, func(c *Config) { c.NoKeyMode = release.PassphraseWithoutKey })
	raw := readSample(t, "p027_encrypted.eml")
	_, orig := leaves(t, raw)
	from := "user300@city.example.lg.jp"
	id, _, _ := f.hold("p027_encrypted.eml", from, "partner@example.com")
	tok := f.token("kacho", kacho, RoleApprover)
	code, out := f.api("POST", "/api/v1/holds/"+id+"/release", tok, map[string]string{"reason": "送信者がパスワードを別送"})
	if code != 200 || out["status"] != "released" {
		t.Fatalf("release: %d %v", code, out)
	}
	waitFor(t, "delivery", func() bool { return len(f.up.To("partner@example.com")) == 1 })
	_, sent := leaves(t, f.up.To("partner@example.com")[0].Data)
	ok := false
	for _, o := range orig {
		if o.name == "report.zip" {
			for _, s := range sent {
				if s.name == "report.zip" && bytes.Equal(s.body, o.body) {
					ok = true
				}
			}
		}
	}
	if !ok {
		t.Fatal("the sender's encrypted zip did not pass unchanged")
	}
}

// TestReleaseRejectRace: a release and a reject at once: exactly one
// wins, and a message is delivered if and only if the release won.
func TestReleaseRejectRace(t *testing.T) {
	for i := 0; i < 3; i++ {
		f := newFixture(t, "", nil, func(c *Config) {
			c.NoKeyMode = release.PassphraseWithoutKey
			c.FourEyesLevelI = false
			c.AdminsApprove = true
		})
		id, _, _ := f.hold("p011_other_id.eml", "user660@city.example.lg.jp", "contact78@example.net")
		a1, a2 := f.token("a1", "a1@city.example.lg.jp", RoleAdmin), f.token("a2", "a2@city.example.lg.jp", RoleAdmin)
		codes := make(chan [2]int, 2)
		go func() {
			c, _ := f.api("POST", "/api/v1/holds/"+id+"/release", a1, map[string]string{"reason": "ok"})
			codes <- [2]int{0, c}
		}()
		go func() {
			c, _ := f.api("POST", "/api/v1/holds/"+id+"/reject", a2, map[string]string{"reason": "no"})
			codes <- [2]int{1, c}
		}()
		var won []int
		for j := 0; j < 2; j++ {
			c := <-codes
			if c[1] == 200 {
				won = append(won, c[0])
			} else if c[1] != http.StatusConflict {
				t.Fatalf("unexpected status %d", c[1])
			}
		}
		if len(won) != 1 {
			t.Fatalf("winners: %v", won)
		}
		rec, _ := f.stores.Holds.Get(context.Background(), id)
		if won[0] == 0 {
			waitFor(t, "delivery", func() bool { return len(f.up.To("contact78@example.net")) == 1 })
			if rec.Status != hold.Released {
				t.Fatalf("release won but status %s", rec.Status)
			}
		} else {
			if rec.Status != hold.Rejected {
				t.Fatalf("reject won but status %s", rec.Status)
			}
			waitFor(t, "queue drained", func() bool { ids, _ := f.spool.List(spool.AreaQueue); return len(ids) == 0 })
			if len(f.up.To("contact78@example.net")) != 0 {
				t.Fatal("a rejected message was delivered")
			}
		}
		f.stop()
	}
}
