package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dlpguard/policy"
	"dlpguard/review"
)

// TestTokensCLI: add prints a token once that then authenticates with the
// role and departments given; list shows it without the secret; revoke
// makes it fail.
func TestTokensCLI(t *testing.T) {
	dir := t.TempDir()
	pol := deptPolicyFile(t, "福祉課", "介護課")
	var out, errb bytes.Buffer
	// A department the policy does not name is refused: by the policy
	// file, by the configuration's policy.file, and by the built-in
	// policy (which names none).
	cfgFile := filepath.Join(t.TempDir(), "dlpguard.yaml")
	os.WriteFile(cfgFile, []byte("policy:\n  file: "+pol+"\n"), 0o600)
	for _, where := range [][]string{{"--policy", pol}, {"--config", cfgFile}, nil} {
		errb.Reset()
		args := append([]string{"add", "--data", dir, "--name", "someone@city.example.lg.jp", "--department", "市民課"}, where...)
		if code := runTokens(args, &out, &errb); code != 1 || !strings.Contains(errb.String(), "市民課") {
			t.Errorf("unknown department with %v: exit %d %q", where, code, errb.String())
		}
	}
	if out.Len() != 0 {
		t.Fatalf("a token was printed for an unknown department: %q", out.String())
	}
	code := runTokens([]string{"add", "--data", dir, "--name", "kacho", "--actor", "Kacho@City.example.lg.jp",
		"--role", "approver", "--department", "福祉課", "--department", "介護課", "--config", cfgFile}, &out, &errb)
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

// deptPolicyFile writes the default policy with these departments (each
// with a manager) and returns its path.
func deptPolicyFile(t *testing.T, names ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("\ndepartments:\n")
	for i, n := range names {
		fmt.Fprintf(&b, "  - name: %s\n    senders: [\"dept%d-*@city.example.lg.jp\"]\n    manager: manager%d@city.example.lg.jp\n", n, i, i)
	}
	y := strings.Replace(string(policy.DefaultYAML()), "\nrules:\n", b.String()+"rules:\n", 1)
	p := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
