package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"dlpguard/audit"
	"dlpguard/hold"
	"dlpguard/spool"
)

// putHeld stores a held message of the given level, sender, recipient and
// subject directly (as a policy that held it would have).
func (f *fixture) putHeld(level, from, dept, rcpt, subject string) string {
	f.t.Helper()
	raw := "From: " + from + "\r\nTo: " + rcpt + "\r\nSubject: " + subject + "\r\n\r\nbody\r\n"
	rec, err := f.stores.Holds.Put(context.Background(), hold.Record{ID: spool.NewID(),
		Envelope: hold.Envelope{From: from, Recipients: []string{rcpt}, Received: time.Now()},
		Subject:  subject, Department: dept, Level: hold.Level(level), RequiredApprovals: 1,
		Verdict: hold.Verdict{Action: "hold", Rules: []hold.Rule{{ID: "test-hold", Action: "hold", Clause: "3.3.5", Reason: "テスト"}}}},
		strings.NewReader(raw))
	if err != nil {
		f.t.Fatal(err)
	}
	return rec.ID
}

// TestSearch: the list finds held messages by hold ID, sender, recipient
// and subject words (every word must match), within the person's
// departments; the subject is searched as shown (masked), so digits
// hidden by the mask cannot be probed.
func TestSearch(t *testing.T) {
	f := newFixture(t)
	a := f.putHeld("I", "user2@city.example.lg.jp", "福祉課", "partner@example.com", "見積書の送付 123456789018")
	b := f.putHeld("III", "user3@city.example.lg.jp", "福祉課", "kyoten@example.org", "会議資料 送付")
	z := f.putHeld("II", "staff@zei.city.example.lg.jp", "税務課", "partner@example.com", "課税資料 送付")
	kacho := f.client()
	kacho.signIn("kacho")
	adm := f.client()
	adm.signIn("admin")
	tests := []struct {
		name  string
		c     *client
		q     string
		want  []string
		not   []string
		total string
	}{
		{"hold ID", kacho, a, []string{a}, []string{b}, "1"},
		{"sender", kacho, "user3@", []string{b}, []string{a}, "1"},
		{"recipient", kacho, "partner@example.com", []string{a}, []string{b, z}, "1"},
		{"recipient, admin sees both departments", adm, "PARTNER@example.com", []string{a, z}, []string{b}, "2"},
		{"subject word", kacho, "送付", []string{a, b}, []string{z}, "2"},
		{"all words must match", kacho, "会議資料　送付", []string{b}, []string{a}, "1"},
		{"shown digits", kacho, "9018", []string{a}, nil, "1"},
		{"masked digits are not searchable", kacho, "12345678", nil, []string{a}, "0"},
		{"another department's message", kacho, z, nil, []string{z}, "0"},
	}
	for _, tc := range tests {
		r := tc.c.get("/console/holds?q=" + url.QueryEscape(tc.q))
		if r.status != 200 {
			t.Errorf("%s: %d", tc.name, r.status)
			continue
		}
		for _, id := range tc.want {
			if !strings.Contains(r.body, "/holds/"+id+`"`) {
				t.Errorf("%s: %s not found", tc.name, id)
			}
		}
		for _, id := range tc.not {
			if strings.Contains(r.body, "/holds/"+id+`"`) {
				t.Errorf("%s: %s listed", tc.name, id)
			}
		}
		if !strings.Contains(r.body, `id="total">`+tc.total+`<`) {
			t.Errorf("%s: total is not %s", tc.name, tc.total)
		}
	}
	// The search is kept in the paging and language links.
	if r := kacho.get("/console/holds?q=" + url.QueryEscape("送付")); !strings.Contains(r.body, `value="送付"`) {
		t.Error("search box does not keep the words")
	}
	// An administrator picks a department from the policy's list.
	r := adm.get("/console/holds")
	for _, want := range []string{`<select name="department" id="department">`, "<option>福祉課</option>", "<option>税務課</option>"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("admin's department choice lacks %q", want)
		}
	}
	if strings.Contains(r.body, `<input type="text" name="department"`) {
		t.Error("free-text department box still there")
	}
	if r := adm.get("/console/holds?department=" + url.QueryEscape("税務課")); !strings.Contains(r.body, z) || strings.Contains(r.body, a) {
		t.Error("department filter")
	}
}

// TestBulkDecisions: several messages rejected at once with one reason,
// each through the review service (its permission check, audit entry and
// notice): another department's message and the person's own are refused
// and shown as refused; release in bulk only for class III.
func TestBulkDecisions(t *testing.T) {
	f := newFixture(t)
	a := f.putHeld("I", "user2@city.example.lg.jp", "福祉課", "partner@example.com", "資料A")
	b := f.putHeld("II", "user3@city.example.lg.jp", "福祉課", "partner@example.com", "資料B")
	own := f.putHeld("I", "kacho@city.example.lg.jp", "福祉課", "partner@example.com", "自分の送信")
	z := f.putHeld("I", "staff@zei.city.example.lg.jp", "税務課", "partner@example.com", "課税資料")
	c3 := f.putHeld("III", "user4@city.example.lg.jp", "福祉課", "open@example.com", "公開資料")
	c1 := f.putHeld("I", "user5@city.example.lg.jp", "福祉課", "secret@example.com", "個人情報")
	k := f.client()
	tok := k.signIn("kacho")

	r := k.get("/console/holds")
	for _, want := range []string{`id="bulk"`, `name="id" value="` + a + `"`, `id="bulk-reject"`, `id="bulk-release"`} {
		if !strings.Contains(r.body, want) {
			t.Fatalf("list lacks %q", want)
		}
	}
	if !strings.Contains(r.body, `value="`+own+`" class="pick" aria-label="選択 `+own+`" disabled`) {
		t.Error("own message selectable")
	}

	r = k.do("POST", "/console/bulk/reject", url.Values{"csrf": {tok}, "reason": {"宛先誤りのため一括拒否"}, "id": {a, b, own, z, a}})
	if r.status != 200 || !strings.Contains(r.body, `id="bulk-done">2<`) {
		t.Fatalf("bulk reject: %d\n%s", r.status, r.body)
	}
	_, table, _ := strings.Cut(r.body, `id="bulk-results"`)
	if strings.Count(table, "✔") != 2 || strings.Count(table, "✖") != 2 || !strings.Contains(table, "見つかりません") {
		t.Errorf("bulk results:\n%s", table)
	}
	ctx := context.Background()
	for id, want := range map[string]hold.Status{a: hold.Rejected, b: hold.Rejected, own: hold.Held, z: hold.Held} {
		if rec, _ := f.stores.Holds.Get(ctx, id); rec.Status != want {
			t.Errorf("%s: %s, want %s", id, rec.Status, want)
		}
	}
	// Each attempt is the review service's audit entry: two granted with
	// the one reason, two refused with their reason codes.
	ents, _, err := f.stores.Audit.List(ctx, audit.Filter{Action: audit.Reject})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, e := range ents {
		if e.Actor != "kacho@city.example.lg.jp" {
			t.Errorf("audit entry by %s", e.Actor)
		}
		switch d := string(e.Details); {
		case strings.Contains(d, `"outcome":"granted"`) && strings.Contains(d, "宛先誤りのため一括拒否"):
			outcomes["granted"]++
		case strings.Contains(d, `"outcome":"refused"`):
			outcomes["refused"]++
		default:
			t.Errorf("audit entry %s", d)
		}
	}
	if outcomes["granted"] != 2 || outcomes["refused"] != 2 {
		t.Errorf("reject attempts audited: %v", outcomes)
	}

	// Release in bulk: class III goes out, class I is refused.
	r = k.do("POST", "/console/bulk/release", url.Values{"csrf": {tok}, "reason": {"公開情報のため"}, "id": {c3, c1}})
	if r.status != 200 || !strings.Contains(r.body, `id="bulk-done">1<`) || !strings.Contains(r.body, "まとめて送信許可できません") {
		t.Fatalf("bulk release: %d\n%s", r.status, r.body)
	}
	if rec, _ := f.stores.Holds.Get(ctx, c1); rec.Status != hold.Held || len(rec.Approvals) != 0 {
		t.Errorf("class I released in bulk: %+v", rec)
	}
	waitFor(t, "the class III message at the upstream", func() bool { return len(f.up.To("open@example.com")) == 1 })
	if len(f.up.To("secret@example.com")) != 0 {
		t.Fatal("class I message delivered")
	}

	// Refused before anything happens: no reason, nothing chosen, no CSRF.
	for name, form := range map[string]url.Values{
		"no reason": {"csrf": {tok}, "id": {own}},
		"no id":     {"csrf": {tok}, "reason": {"x"}},
		"no csrf":   {"reason": {"x"}, "id": {own}},
	} {
		if r := k.do("POST", "/console/bulk/reject", form); r.status != http.StatusBadRequest && r.status != http.StatusForbidden {
			t.Errorf("%s: %d", name, r.status)
		}
	}
	if r := k.do("POST", "/console/bulk/purge", url.Values{"csrf": {tok}, "reason": {"x"}, "id": {own}}); r.status != http.StatusNotFound {
		t.Errorf("unknown bulk action: %d", r.status)
	}
	if rec, _ := f.stores.Holds.Get(ctx, own); rec.Status != hold.Held {
		t.Errorf("own message: %s", rec.Status)
	}
}
