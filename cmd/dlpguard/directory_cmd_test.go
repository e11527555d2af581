package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dlpguard/config"
	"dlpguard/internal/ldaptest"
	"dlpguard/policy"
)

// TestDirectoryTestCommand: `dlpguard directory test` prints the
// department, manager and approvers of a sender and their source, from
// the directory (a real slapd) or the policy's patterns; it exits 1 for
// a sender it cannot resolve and when the directory is down.
func TestDirectoryTestCommand(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.City)
	dir := t.TempDir()
	pol := strings.Replace(string(policy.DefaultYAML()), "\nrules:\n", `
departments:
  - name: 市民課
    senders: ["nobody-here@city.example.lg.jp"]
    manager: shimin-deputy@city.example.lg.jp
  - name: 福祉課
    senders: ["*@fukushi.city.example.lg.jp"]
    manager: fukushi-kacho@city.example.lg.jp

rules:
`, 1)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("policy.yaml", pol)
	write("ldap.pw", ldaptest.ServicePW+"\n")
	cfg := "data_dir: data\npolicy:\n  file: policy.yaml\ndirectory:\n  url: " + s.URL + "\n  bind_dn: " + ldaptest.ServiceDN +
		"\n  password_file: ldap.pw\n  base_dn: " + ldaptest.ADBase + "\n  schema: ad\n" +
		"  approver_group: " + ldaptest.ApproverGroup + "\n"
	write("dlpguard.yaml", cfg)
	cfgPath := filepath.Join(dir, "dlpguard.yaml")

	for _, tc := range []struct {
		name, addr string
		code       int
		want       []string
	}{
		{"directory", "taro.yamada@city.example.lg.jp", 0, []string{"市民課", "山田 太郎",
			"上長 / manager:         shimin.kacho@city.example.lg.jp",
			// The policy's approvers of a department of the same name join
			// the directory's.
			"shimin.kacho@city.example.lg.jp, hanako.suzuki@city.example.lg.jp, shimin-deputy@city.example.lg.jp",
			"source:        directory"}},
		{"pattern fallback", "staff@fukushi.city.example.lg.jp", 0, []string{"福祉課", "fukushi-kacho@city.example.lg.jp", "source:        pattern", "not found"}},
		{"unknown", "someone@example.com", 1, []string{"所属 / department:      -", "source:        none"}},
		{"disabled account", "ex.staff@city.example.lg.jp", 1, []string{"disabled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run([]string{"directory", "test", "--config", cfgPath, "--address", tc.addr}, nil, &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out.String(), errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run([]string{"directory", "test", "--config", cfgPath, "--address", "taro.yamada@city.example.lg.jp", "--json"}, nil, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), `"department": "市民課"`) {
		t.Fatalf("--json: %d %s %s", code, out.String(), errb.String())
	}
	s.Stop()
	out.Reset()
	errb.Reset()
	if code := run([]string{"directory", "test", "--config", cfgPath, "--address", "taro.yamada@city.example.lg.jp"}, nil, &out, &errb); code != 1 ||
		!strings.Contains(out.String(), "source:        unavailable") {
		t.Fatalf("directory down: %d\n%s%s", code, out.String(), errb.String())
	}
	if code := run([]string{"directory", "test", "--config", cfgPath}, nil, &out, &errb); code != 2 {
		t.Fatalf("without --address: %d, want 2", code)
	}
}

// TestServeDirectoryOverSMTP: the relay configured with the directory
// holds a message received over SMTP under the sender's department from
// the directory and sends the approver notice to the directory's
// manager, not to the security team.
func TestServeDirectoryOverSMTP(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.City)
	r, cfg, _ := testRelay(t, func(c *config.Config) {
		c.Review.SecurityTeam = []string{"security@city.example.lg.jp"}
		c.Directory.URL, c.Directory.BindDN, c.Directory.Password = s.URL, ldaptest.ServiceDN, ldaptest.ServicePW
		c.Directory.BaseDN, c.Directory.ApproverGroup = ldaptest.ADBase, ldaptest.ApproverGroup
	})
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "samples", "p017_personal_list.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, text := smtpSend(t, r.smtpAddrs[0], "taro.yamada@city.example.lg.jp", "contact19@example.org", raw); !strings.Contains(text, "held as") {
		t.Fatalf("not held: %q", text)
	}
	box := func(addr string) int {
		files, _ := os.ReadDir(filepath.Join(cfg.DataDir, "mailbox", addr, "new"))
		return len(files)
	}
	hkWait(t, "approver notices", func() bool {
		return box("shimin.kacho@city.example.lg.jp") == 1 && box("hanako.suzuki@city.example.lg.jp") == 1
	})
	if n := box("security@city.example.lg.jp"); n != 0 {
		t.Errorf("%d notices to the security team", n)
	}
}
