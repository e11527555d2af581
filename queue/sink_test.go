package queue

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dlpguard/spool"
)

const smtpSink = "/usr/sbin/smtp-sink"

// startSmtpSink runs Postfix's smtp-sink on a loopback port; with dump, it
// writes every transaction into a file of the returned folder.
func startSmtpSink(t testing.TB, dump bool, extra ...string) (addr, dumpDir string) {
	t.Helper()
	if _, err := os.Stat(smtpSink); err != nil {
		t.Skipf("%s not installed (Debian package postfix): %v", smtpSink, err)
	}
	// The sink drops privileges to nobody, which must be able to write the
	// dump folder (and reach it: t.TempDir's parents are 0700).
	dumpDir, err := os.MkdirTemp("", "dlpguard-sink-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dumpDir) })
	if err := os.Chmod(dumpDir, 0o777); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	args := append(extra, addr, "64")
	if dump {
		args = append([]string{"-d", filepath.Join(dumpDir, "%H%M%S.")}, args...)
	}
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "nobody"}, args...)
	}
	cmd := exec.Command(smtpSink, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start smtp-sink: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	waitFor(t, "smtp-sink listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return addr, dumpDir
}

// TestSmtpSink delivers through a real MTA implementation as the upstream.
func TestSmtpSink(t *testing.T) {
	addr, dump := startSmtpSink(t, true)
	cfg := testConfig(addr)
	cfg.Workers = 4
	cfg.TLS = TLSOpportunistic // smtp-sink offers no STARTTLS: plain text
	e := newEnv(t, cfg, "")
	e.start()
	const n = 20
	for i := range n {
		e.commit("yamada@city.example.lg.jp", []string{"a@example.com", "b@example.com"},
			msgText(fmt.Sprintf("sink-%02d", i), strings.Repeat("20KB of text ", 1500)), true)
	}
	e.waitEmpty()
	if got := e.m.delivered.Load(); got != 2*n {
		t.Fatalf("delivered %d recipients, want %d", got, 2*n)
	}
	var files []os.DirEntry
	waitFor(t, "dump files", func() bool {
		files, _ = os.ReadDir(dump)
		return len(files) >= n
	})
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dump, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if !strings.Contains(s, "X-Mail-Args: <yamada@city.example.lg.jp>") ||
			!strings.Contains(s, "X-Rcpt-Args: <a@example.com>") || !strings.Contains(s, "X-Rcpt-Args: <b@example.com>") ||
			!strings.Contains(s, "X-Helo-Args: relay.test") {
			t.Errorf("%s: envelope not as sent:\n%.400s", f.Name(), s)
		}
		i := strings.Index(s, "Subject: sink-")
		if i < 0 {
			t.Fatalf("%s: no subject", f.Name())
		}
		seen[s[i:i+16]] = true
	}
	if len(seen) != n || len(files) != n {
		t.Errorf("%d distinct messages in %d files, want %d", len(seen), len(files), n)
	}
}

// TestSmtpSinkWithout8BITMIME: an 8-bit message must not be sent to an
// upstream that does not announce 8BITMIME (smtp-sink -8); the sender gets
// a DSN instead.
func TestSmtpSinkWithout8BITMIME(t *testing.T) {
	addr, dump := startSmtpSink(t, true, "-8")
	e := newEnv(t, testConfig(addr), "")
	e.start()
	id := e.commit("yamada@city.example.lg.jp", []string{"a@example.com"},
		"Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nBODY-SECRET 本文\r\n", true,
		func(en *spool.Envelope) { en.EightBit = true })
	e.waitEmpty()
	var files []os.DirEntry
	waitFor(t, "dump file", func() bool {
		files, _ = os.ReadDir(dump)
		return len(files) >= 1
	})
	if len(files) != 1 {
		t.Fatalf("%d transactions at the sink, want only the DSN", len(files))
	}
	b, err := os.ReadFile(filepath.Join(dump, files[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"X-Mail-Args: <>", "X-Rcpt-Args: <yamada@city.example.lg.jp>", "Status: 5.6.3",
		"Final-Recipient: rfc822; a@example.com", "Action: failed", "X-Dlpguard-Queue-ID: " + id} {
		if !strings.Contains(s, want) {
			t.Errorf("DSN lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "BODY-SECRET") {
		t.Errorf("DSN carries the body")
	}
}
