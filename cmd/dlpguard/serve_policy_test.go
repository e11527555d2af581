package main

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dlpguard/config"
	"dlpguard/policy"
)

// emptyPolicies are the files issue 17 found loading as a policy that
// passes everything.
var emptyPolicies = map[string]string{
	"zero bytes":   "",
	"rules: []":    "version: 1\nrules: []\n",
	"marking only": "rules:\n  - {id: m, when: {marking: I}, action: hold, clause: \"3.3.5\", message: {ja: 秘}}\n",
}

// TestPolicyCheckEssentials: `policy check` refuses a policy without a
// hold or reject rule for my_number (3.3.5), and accepts one that says
// allow_without with a reason, with a warning.
func TestPolicyCheckEssentials(t *testing.T) {
	dir := t.TempDir()
	for name, y := range emptyPolicies {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		os.WriteFile(path, []byte(y), 0o644)
		code, out, _ := runCmd("", "policy", "check", path)
		if code != 1 || !strings.Contains(out, "error: rules: 個人番号（my_number）を保留・拒否するルールがありません") || !strings.Contains(out, "allow_without") {
			t.Errorf("%s: exit %d\n%s", name, code, out)
		}
	}
	allowed := filepath.Join(dir, "allowed.yaml")
	os.WriteFile(allowed, []byte(emptyPolicies["marking only"]+"allow_without: [my_number]\nallow_without_reason: 試験環境\n"), 0o644)
	code, out, _ := runCmd("", "policy", "check", allowed)
	if code != 0 || !strings.Contains(out, "warning: allow_without") || !strings.Contains(out, "試験環境") {
		t.Errorf("allowed: exit %d\n%s", code, out)
	}
	// scan refuses it too: it would show what a relay never runs
	empty := filepath.Join(dir, "zero_bytes.yaml")
	if code, _, errOut := runCmd("", "scan", "--policy", empty, samples); code != 2 || !strings.Contains(errOut, "my_number") {
		t.Errorf("scan --policy empty: exit %d %s", code, errOut)
	}
}

// TestServeRefusesEmptyPolicy: serve with such a policy does not start
// (exit 1, the reason in the log), and never listens.
func TestServeRefusesEmptyPolicy(t *testing.T) {
	for name, y := range emptyPolicies {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			pol := filepath.Join(dir, "policy.yaml")
			os.WriteFile(pol, []byte(y), 0o644)
			smtpAddr := freePort(t)
			cfgPath := filepath.Join(dir, "dlpguard.yaml")
			os.WriteFile(cfgPath, []byte("hostname: relay.test\ndata_dir: data\nsmtp:\n  listen: [\""+smtpAddr+"\"]\nhttp:\n  listen: \"\"\nicap:\n  listen: \"\"\npolicy:\n  file: policy.yaml\n"), 0o600)
			code, _, errOut := runCmd("", "serve", "--config", cfgPath)
			if code != 1 || !strings.Contains(errOut, "start failed") || !strings.Contains(errOut, "my_number") || !strings.Contains(errOut, "policy.yaml") {
				t.Fatalf("exit %d, stderr:\n%s", code, errOut)
			}
			if c, err := smtp.Dial(smtpAddr); err == nil {
				c.Close()
				t.Fatal("the relay listens after a refused start")
			}
		})
	}
}

// TestRelayKeepsPolicyOnEmptyReload: a running relay whose policy file is
// emptied (in place, as a truncating editor leaves it, or by a rename)
// keeps the policy in force: My Number mail is still refused over SMTP,
// and /healthz names the failed reload.
func TestRelayKeepsPolicyOnEmptyReload(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, policy.DefaultYAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Demo()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.ICAP.Listen = ""
	cfg.SMTP.Listen = []string{"127.0.0.1:0"}
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Policy.File = pol
	var logBuf syncBuffer
	r, err := startRelay(cfg, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.shutdown(time.Second)
	v1 := r.policy.Version()
	health := "http://" + r.ops.Addr().String() + "/healthz"
	msg, err := os.ReadFile(filepath.Join(samples, "p001_mynumber.eml"))
	if err != nil {
		t.Fatal(err)
	}
	// one plain session (smtp.SendMail insists on STARTTLS, and the demo
	// certificate is self-signed)
	send := func() error {
		c, err := smtp.Dial(r.smtpAddrs[0])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Mail("sender@city.example.lg.jp", nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("someone@example.com", nil); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		w.Write(msg)
		return w.Close()
	}
	for i, edit := range []func(){
		func() { os.WriteFile(pol, nil, 0o644) }, // truncated in place
		func() { // rules: [] renamed into place
			tmp := pol + ".new"
			os.WriteFile(tmp, []byte("version: 1\nrules: []\n"), 0o644)
			os.Rename(tmp, pol)
		},
	} {
		edit()
		// The relay's own poller (every 2 s) reloads; wait for /healthz
		// to name the failure (the bound only stops a hang).
		var body string
		for range 300 {
			body = get(t, health)
			if strings.Contains(body, "FAILED") {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(body, "FAILED") || !strings.Contains(body, "my_number") || !strings.Contains(body, v1) {
			t.Fatalf("edit %d: /healthz %q", i, body)
		}
		if r.policy.Version() != v1 {
			t.Fatalf("edit %d: the empty policy was applied", i)
		}
		se, ok := send().(*smtp.SMTPError)
		if !ok || se.Code != 550 || !strings.Contains(se.Message, "mynumber-reject") {
			t.Fatalf("edit %d: My Number mail: %v, want 550 mynumber-reject", i, se)
		}
		// a good file again clears the error
		tmp := pol + ".good"
		os.WriteFile(tmp, append(policy.DefaultYAML(), []byte("# "+string(rune('a'+i))+"\n")...), 0o644)
		os.Rename(tmp, pol)
		for range 300 {
			if body = get(t, health); !strings.Contains(body, "FAILED") {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if strings.Contains(body, "FAILED") {
			t.Fatalf("edit %d: good file not reloaded: %q", i, body)
		}
		v1 = r.policy.Version()
	}
	if !strings.Contains(logBuf.String(), "policy not reloaded") {
		t.Errorf("no error logged:\n%s", logBuf.String())
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
