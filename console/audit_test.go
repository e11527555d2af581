package console

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"dlpguard/audit"
	"dlpguard/review"
)

// auditFixture writes entries on three days (local time) with details
// as the review service writes them.
func auditFixture(t *testing.T) *fixture {
	f := newFixture(t)
	ctx := context.Background()
	var at time.Time
	f.stores.Audit.SetClock(func() time.Time { return at })
	entries := []struct {
		day           int
		actor, action string
		subject       string
		details       any
	}{
		{1, "relay", audit.Hold, "H1", map[string]any{"level": "I", "reason": "個人番号 123456789018 を含む",
			"rules": []map[string]any{{"id": "mynumber-hold", "clause": "3.3.5"}}}},
		{2, "kacho@city.example.lg.jp", audit.Release, "H1", map[string]any{"reason": "=HYPERLINK(\"x\") 承認済み", "encryption": "openpgp", "size": 25000000}},
		{2, "zei-kacho@city.example.lg.jp", audit.Reject, "H2", map[string]any{"reason": "宛先誤り"}},
		{3, "anonymous", "login-failed", "console", map[string]any{"remote": "127.0.0.1:5555", "error": "bad login"}},
	}
	for _, e := range entries {
		at = time.Date(2026, 4, e.day, 10, 0, 0, 0, time.Local)
		if _, err := f.stores.Audit.Append(ctx, e.actor, e.action, e.subject, e.details); err != nil {
			t.Fatal(err)
		}
	}
	f.stores.Audit.SetClock(time.Now)
	return f
}

// TestAuditPage: the audit page decodes details into labelled fields
// (not raw JSON), masks identifiers, filters by date range and kind, and
// refuses a date it cannot read.
func TestAuditPage(t *testing.T) {
	f := auditFixture(t)
	adm := f.client()
	adm.signIn("admin")
	r := adm.get("/console/audit")
	if r.status != 200 {
		t.Fatalf("audit page: %d", r.status)
	}
	for _, want := range []string{"<dt>理由</dt>", "<dd>個人番号 ********9018 を含む</dd>", "<dt>規則</dt>", "<dd>mynumber-hold [3.3.5]</dd>",
		"送信許可（解除）", "却下", "サインイン失敗", "<dd>25000000</dd>", `id="export-csv"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	for _, leak := range []string{"123456789018", `{&#34;`, `{"level"`} {
		if strings.Contains(r.body, leak) {
			t.Errorf("audit page shows %q", leak)
		}
	}
	tests := []struct {
		name, query string
		want, not   []string
	}{
		{"one day", "?from=2026-04-02&to=2026-04-02", []string{"宛先誤り", "承認済み"}, []string{"個人番号 ****", "127.0.0.1"}},
		{"from a day on", "?from=2026-04-02", []string{"宛先誤り", "127.0.0.1"}, []string{"個人番号 ****"}},
		{"until a day", "?to=2026-04-01", []string{"個人番号 ****"}, []string{"宛先誤り"}},
		{"kind", "?action=reject", []string{"宛先誤り"}, []string{"承認済み", "個人番号 ****"}},
		{"kind and range", "?action=release&from=2026-04-01&to=2026-04-02", []string{"承認済み"}, []string{"宛先誤り"}},
		{"hold ID", "?subject=H1", []string{"承認済み", "個人番号 ****"}, []string{"宛先誤り"}},
	}
	for _, tc := range tests {
		r := adm.get("/console/audit" + tc.query)
		if r.status != 200 {
			t.Errorf("%s: %d", tc.name, r.status)
			continue
		}
		_, table, _ := strings.Cut(r.body, `id="audit"`)
		for _, w := range tc.want {
			if !strings.Contains(table, w) {
				t.Errorf("%s: lacks %q", tc.name, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(table, n) {
				t.Errorf("%s: shows %q", tc.name, n)
			}
		}
	}
	if r := adm.get("/console/audit?from=2026-4-2"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "YYYY-MM-DD") {
		t.Errorf("bad date: %d", r.status)
	}
	if r := adm.get("/console/audit?lang=en"); !strings.Contains(r.body, "<dt>reason</dt>") || !strings.Contains(r.body, "rejected") {
		t.Error("English labels missing")
	}
}

// TestAuditExport: CSV and JSON exports carry every entry matching the
// page's filters, masked, with prev and hash; the CSV opens in a
// spreadsheet (BOM, no formula); only administrators export, and the
// export is itself audited.
func TestAuditExport(t *testing.T) {
	f := auditFixture(t)
	ap := f.client()
	ap.signIn("kacho")
	for _, p := range []string{"/console/audit.csv", "/console/audit.json"} {
		if r := ap.get(p); r.status != http.StatusForbidden {
			t.Errorf("approver %s: %d, want 403", p, r.status)
		}
	}
	adm := f.client()
	adm.signIn("admin")

	r := adm.get("/console/audit.csv?from=2026-04-01&to=2026-04-02")
	if r.status != 200 || !strings.HasPrefix(r.body, "\ufeff") {
		t.Fatalf("csv: %d %.80q", r.status, r.body)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(r.body, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0][0] != "seq" || rows[1][3] != audit.Hold || rows[3][3] != audit.Reject {
		t.Fatalf("csv rows: %q", rows)
	}
	if !strings.Contains(rows[1][6], "理由: 個人番号 ********9018 を含む") || len(rows[1][8]) != 64 {
		t.Errorf("csv hold row: %q", rows[1])
	}
	if !strings.HasPrefix(rows[2][6], "暗号化: openpgp") || strings.Contains(r.body, ",=HYPERLINK") {
		t.Errorf("csv release row: %q", rows[2])
	}
	if strings.Contains(r.body, "123456789018") {
		t.Error("csv shows the My Number")
	}

	r = adm.get("/console/audit.json?action=login-failed")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("json: %d %s", r.status, r.header.Get("Content-Type"))
	}
	var ents []struct {
		Seq     int64          `json:"seq"`
		Action  string         `json:"action"`
		Details map[string]any `json:"details"`
		Hash    string         `json:"hash"`
	}
	if err := json.Unmarshal([]byte(r.body), &ents); err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Action != "login-failed" || ents[0].Details["remote"] != "127.0.0.1:5555" || ents[0].Hash == "" {
		t.Fatalf("json: %+v", ents)
	}
	r = adm.get("/console/audit.json?subject=H1")
	if strings.Contains(r.body, "123456789018") || !strings.Contains(r.body, "********9018") || !strings.Contains(r.body, "25000000") {
		t.Errorf("json masking: %s", r.body)
	}
	// Both exports were audited, with their filters.
	exp, n, err := f.stores.Audit.List(context.Background(), audit.Filter{Action: "audit-export"})
	if err != nil || n != 3 || !strings.Contains(string(exp[len(exp)-1].Details), "from=2026-04-01") {
		t.Errorf("exports audited: %d %v %v", n, exp, err)
	}
	if b, err := f.stores.Audit.Verify(context.Background()); b != nil || err != nil {
		t.Errorf("chain after exports: %v %v", b, err)
	}
}

// TestAuditPageShowsCutEnd: entries deleted from the end of the log with
// SQL are reported on the audit page (the signed head checkpoint), with
// no head kept by hand.
func TestAuditPageShowsCutEnd(t *testing.T) {
	f := auditFixture(t)
	adm := f.client()
	adm.signIn("admin") // appends a login entry
	db, err := sql.Open("sqlite", "file:"+review.PathsIn(f.dir).Audit)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM audit WHERE seq > 3`); err != nil {
		t.Fatal(err)
	}
	r := adm.get("/console/audit")
	if !strings.Contains(r.body, `class="error" id="chain"`) || !strings.Contains(r.body, "entries 4 to 5 were removed from the end") {
		t.Fatalf("cut end not shown:\n%s", r.body)
	}
}
