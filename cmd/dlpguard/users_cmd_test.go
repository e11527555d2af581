package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"dlpguard/console"
)

func TestUsersCommand(t *testing.T) {
	dir := t.TempDir()
	pol := deptPolicyFile(t, "福祉課")
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := runUsers(append(args, "--data", dir, "--policy", pol), strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errb := run("", "add", "someone", "--email", "someone@city.example.lg.jp", "--department", "市民課"); code != 1 || out != "" || !strings.Contains(errb, "市民課") {
		t.Fatalf("unknown department: exit %d %q %q", code, out, errb)
	}
	if code, _, _ := run("", "add", "kacho", "--email", "kacho@city.example.lg.jp", "--role", "approver"); code != 1 {
		t.Fatalf("approver without department: exit %d", code)
	}
	code, out, _ := run("", "add", "kacho", "--email", "kacho@city.example.lg.jp", "--department", "福祉課", "--name", "福祉課長")
	pw := strings.TrimSpace(out)
	if code != 0 || len(pw) < 16 {
		t.Fatalf("add: exit %d, password %q", code, pw)
	}
	if code, out, _ := run("a password from stdin\n", "add", "admin", "--email", "admin@city.example.lg.jp", "--role", "admin", "--password-stdin"); code != 0 || out != "" {
		t.Fatalf("add from stdin: exit %d, out %q", code, out)
	}
	check := func(user, pw string) error {
		u, err := console.OpenUsers(context.Background(), console.UsersPath(dir))
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		_, err = u.Authenticate(context.Background(), user, pw, time.Now())
		return err
	}
	if err := check("kacho", pw); err != nil {
		t.Fatalf("generated password: %v", err)
	}
	if err := check("admin", "a password from stdin"); err != nil {
		t.Fatalf("stdin password: %v", err)
	}
	if code, _, _ := run("another long password\n", "passwd", "kacho", "--password-stdin"); code != 0 {
		t.Fatal("passwd")
	}
	if err := check("kacho", "another long password"); err != nil {
		t.Fatalf("after passwd: %v", err)
	}
	if code, _, _ := run("", "disable", "kacho"); code != 0 {
		t.Fatal("disable")
	}
	if err := check("kacho", "another long password"); err == nil {
		t.Fatal("disabled account signs in")
	}
	code, out, _ = run("", "list")
	if code != 0 || !strings.Contains(out, "kacho") || !strings.Contains(out, "disabled") || !strings.Contains(out, "福祉課") {
		t.Fatalf("list: %d %s", code, out)
	}
	if code, _, _ := run("", "disable", "nobody"); code != 1 {
		t.Fatal("disable unknown user")
	}
	if code, _, _ := run("", "frobnicate"); code != 2 {
		t.Fatal("unknown subcommand")
	}
}
