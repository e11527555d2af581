package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"dlpguard/internal/mailtest"
	"dlpguard/policy"
	"dlpguard/spool"
)

var delayLinkRE = regexp.MustCompile(`http://[^\s]+/api/v1/delays/[^\s]+`)

// TestCrashDuringDelay: delayed messages are queue entries with their due
// time, so a kill -9 while they wait loses none: after the restart one is
// delivered when due (not before), and the sender's cancel link, made
// before the kill, still cancels the other.
func TestCrashDuringDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	up := mailtest.StartUpstream(t)
	smtpAddr, httpAddr := freePort(t), freePort(t)
	polPath := filepath.Join(dir, "policy.yaml")
	pol := strings.Replace(string(policy.DefaultYAML()), "\nrules:\n", `
rules:
  - id: test-delay
    when: {recipient_domain: "delay.example"}
    action: delay
    delay_minutes: 5
    clause: "3.3.5"
    message: {ja: 誤送信防止のため5分後に送信します, en: sent in 5 minutes}
`, 1)
	if err := os.WriteFile(polPath, []byte(pol), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "dlpguard.yaml")
	cfg := binaryConfig(filepath.Join(dir, "data"), smtpAddr, up.Addr, httpAddr, polPath)
	logf := writeConfig(t, dir, cfgPath, cfg)

	const from = "user1@city.example.lg.jp"
	cmd := startBinary(t, bin, cfgPath, smtpAddr, logf)
	ids := map[string]string{}
	for _, rcpt := range []string{"due@delay.example", "cancel@delay.example"} {
		se, text := smtpSend(t, smtpAddr, from, rcpt, []byte("From: <"+from+">\r\nTo: <"+rcpt+">\r\nSubject: later\r\n\r\nbody\r\n"))
		if se != nil || !strings.Contains(text, "delayed as ") {
			t.Fatalf("reply %v %q", se, text)
		}
		ids[rcpt] = text[strings.LastIndex(text, " ")+1:]
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	// Both wait in the queue, due in 5 minutes. Time passes for one: its
	// due time is moved to shortly after the restart.
	store, err := spool.Open(filepath.Join(dir, "data", "spool"))
	if err != nil {
		t.Fatal(err)
	}
	for rcpt, id := range ids {
		env, err := store.Envelope(spool.AreaQueue, id)
		if err != nil {
			t.Fatalf("%s lost in the kill: %v", rcpt, err)
		}
		if d := time.Until(env.NextAttempt); d < 4*time.Minute || d > 5*time.Minute {
			t.Fatalf("%s due in %v, want 5 minutes", rcpt, d)
		}
		if rcpt == "due@delay.example" {
			env.NextAttempt = time.Now().Add(3 * time.Second)
			if err := store.UpdateEnvelope(spool.AreaQueue, env); err != nil {
				t.Fatal(err)
			}
		}
	}

	startBinary(t, bin, cfgPath, smtpAddr, logf)
	waitHTTP(t, "http://"+httpAddr+"/healthz") // bound after the SMTP listener
	// The notices were queued before the kill: the cancel link reaches the
	// sender.
	var cancel string
	mailtest.WaitFor(t, "the sender's notice with links", func() bool {
		for _, m := range up.To(from) {
			text := decodeNotice(t, m.Data)
			for _, l := range delayLinkRE.FindAllString(text, -1) {
				if strings.Contains(l, "/"+ids["cancel@delay.example"]+"/cancel?") {
					cancel = l
				}
			}
		}
		return cancel != ""
	})
	if n := len(up.To("due@delay.example")); n != 0 {
		t.Fatalf("delivered before it was due (%d)", n)
	}
	resp, err := http.Post(cancel, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("cancel link after the restart: %d", resp.StatusCode)
	}
	mailtest.WaitFor(t, "the due message", func() bool { return len(up.To("due@delay.example")) == 1 })
	if _, err := store.Envelope(spool.AreaQueue, ids["cancel@delay.example"]); err == nil {
		t.Fatal("cancelled message still queued")
	}
	if n := len(up.To("cancel@delay.example")); n != 0 {
		t.Fatalf("cancelled message delivered (%d)", n)
	}
}
