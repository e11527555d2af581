package main

import (
	"bytes"
	"context"
	"database/sql"
	"strings"
	"testing"

	"dlpguard/audit"
	"dlpguard/review"
)

// TestAuditVerifyCLI: `dlpguard audit verify` passes an intact chain and
// fails (exit 1) once a row was changed or removed.
func TestAuditVerifyCLI(t *testing.T) {
	for _, tamper := range []string{
		`UPDATE audit SET actor = 'mallory' WHERE seq = 2`,
		`DELETE FROM audit WHERE seq = 2`,
		`UPDATE audit SET details = '{"reason":"changed"}' WHERE seq = 3`,
		// Cutting the end: found by the signed head checkpoint, with no
		// head kept by hand (issue 11 item 7).
		`DELETE FROM audit WHERE seq > 2`,
		`DELETE FROM audit WHERE seq = 4`,
	} {
		dir := t.TempDir()
		ctx := context.Background()
		al, err := audit.Open(ctx, review.PathsIn(dir).Audit)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range []string{audit.Hold, audit.Approve, audit.Release, audit.Reject} {
			if _, err := al.Append(ctx, "kacho@city.example.lg.jp", a, "H1", map[string]any{"n": i, "reason": "ok"}); err != nil {
				t.Fatal(err)
			}
		}
		al.Close()
		var out, errb bytes.Buffer
		if code := runAudit([]string{"verify", "--data", dir}, &out, &errb); code != 0 || !strings.Contains(out.String(), "ok: 4 entries") {
			t.Fatalf("intact chain: %d %q %q", code, out.String(), errb.String())
		}
		db, err := sql.Open("sqlite", "file:"+review.PathsIn(dir).Audit)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(tamper); err != nil {
			t.Fatal(err)
		}
		db.Close()
		out.Reset()
		if code := runAudit([]string{"verify", "--data", dir}, &out, &errb); code != 1 || !strings.Contains(out.String(), "tampered") {
			t.Errorf("%s: not detected: %d %q", tamper, code, out.String())
		}
		if strings.HasPrefix(tamper, "DELETE FROM audit WHERE seq >") && !strings.Contains(out.String(), "entries 3 to 4 were removed from the end") {
			t.Errorf("%s: message does not say what was cut: %q", tamper, out.String())
		}
	}
	var out, errb bytes.Buffer
	if code := runAudit(nil, &out, &errb); code != 2 {
		t.Errorf("no subcommand: %d, want 2", code)
	}
}

// TestAuditReanchorCLI: after the end was cut, `audit verify` keeps
// failing (appends do not hide it) until `audit reanchor --reason` records
// the decision; then verify passes and the log holds the break.
func TestAuditReanchorCLI(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	al, err := audit.Open(ctx, review.PathsIn(dir).Audit)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := al.Append(ctx, "kacho@city.example.lg.jp", audit.Hold, "H1", map[string]any{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+review.PathsIn(dir).Audit)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM audit WHERE seq > 3`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := al.Append(ctx, "relay", audit.Hold, "H2", nil); err != nil {
		t.Fatal(err)
	}
	al.Close()
	var out, errb bytes.Buffer
	if code := runAudit([]string{"verify", "--data", dir}, &out, &errb); code != 1 {
		t.Fatalf("verify after the cut and an append: %d %q", code, out.String())
	}
	if code := runAudit([]string{"reanchor", "--data", dir}, &out, &errb); code != 2 {
		t.Fatalf("reanchor without a reason: %d", code)
	}
	out.Reset()
	if code := runAudit([]string{"reanchor", "--data", dir, "--reason", "障害対応で確認済み", "--actor", "admin"}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "entry 5") {
		t.Fatalf("reanchor: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := runAudit([]string{"verify", "--data", dir}, &out, &errb); code != 0 {
		t.Fatalf("verify after reanchor: %d %q", code, out.String())
	}
	out.Reset()
	runAudit([]string{"list", "--data", dir, "--action", audit.AnchorStart}, &out, &errb)
	if !strings.Contains(out.String(), "障害対応で確認済み") || !strings.Contains(out.String(), `"actor":"admin"`) {
		t.Fatalf("the reanchor entry: %q", out.String())
	}
}
