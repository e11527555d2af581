package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"dlpguard/review"
)

// TestTokensCLI: add prints a token once that then authenticates with the
// role and departments given; list shows it without the secret; revoke
// makes it fail.
func TestTokensCLI(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := runTokens([]string{"add", "--data", dir, "--name", "kacho", "--actor", "Kacho@City.example.lg.jp",
		"--role", "approver", "--department", "福祉課", "--department", "介護課"}, &out, &errb)
	tok := strings.TrimSpace(out.String())
	if code != 0 || !strings.HasPrefix(tok, "dlpg_") {
		t.Fatalf("add: %d %q %q", code, tok, errb.String())
	}
	if code := runTokens([]string{"add", "--data", dir, "--name", "x", "--actor", "x@example.jp", "--role", "root"}, &out, &errb); code != 1 {
		t.Errorf("unknown role accepted: %d", code)
	}
	ctx := context.Background()
	db, err := review.OpenDB(ctx, filepath.Join(review.PathsIn(dir).Review, "review.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Authenticate(ctx, tok)
	if err != nil || got.Actor != "kacho@city.example.lg.jp" || got.Role != review.RoleApprover || strings.Join(got.Departments, ",") != "福祉課,介護課" {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	out.Reset()
	if code := runTokens([]string{"list", "--data", dir}, &out, &errb); code != 0 || !strings.Contains(out.String(), "kacho@city.example.lg.jp") || strings.Contains(out.String(), tok) {
		t.Fatalf("list: %d %q", code, out.String())
	}
	if code := runTokens([]string{"revoke", "kacho", "--data", dir}, &out, &errb); code != 0 {
		t.Fatalf("revoke: %d %q", code, errb.String())
	}
	if _, err := db.Authenticate(ctx, tok); !errors.Is(err, review.ErrNoToken) {
		t.Fatalf("revoked token still works: %v", err)
	}
	if code := runTokens([]string{"revoke", "nobody", "--data", dir}, &out, &errb); code != 1 {
		t.Errorf("revoke unknown: %d, want 1", code)
	}
}
