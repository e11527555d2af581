package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestDemoChosenPorts runs `serve --demo --smtp --http --icap` on free
// ports (not 2525, 8025, 1344): a message sent over SMTP lands in the demo
// Maildir, the banner names the console's URL and its one-time password,
// the console answers there, and ICAP listens where asked.
func TestDemoChosenPorts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	smtpAddr, httpAddr, icapAddr := freePort(t), freePort(t), freePort(t)
	var out syncBuffer
	cmd := exec.Command(bin, "serve", "--demo", "--smtp", smtpAddr, "--http", httpAddr, "--icap", icapAddr)
	cmd.Dir = dir // the demo keeps its data in ./demo-data
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	consoleURL := "http://" + httpAddr + "/console/"
	for i := 0; !strings.Contains(out.String(), consoleURL); i++ {
		if i == 400 {
			t.Fatalf("no banner with %s:\n%s", consoleURL, out.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	if s := out.String(); !strings.Contains(s, "コンソール / console: "+consoleURL) || !strings.Contains(s, "パスワード / password ") ||
		!strings.Contains(s, "SMTP "+smtpAddr) || !strings.Contains(s, "ICAP "+icapAddr) {
		t.Fatalf("banner:\n%s", s)
	}

	c, err := smtp.Dial(smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: taro@city.example.lg.jp\r\nTo: a@example.com\r\nSubject: demo\r\n\r\nhello\r\n"
	if err := c.SendMail("taro@city.example.lg.jp", []string{"a@example.com"}, strings.NewReader(msg)); err != nil {
		t.Fatalf("send: %v", err)
	}
	c.Close()
	newDir := filepath.Join(dir, "demo-data", "mailbox", "a@example.com", "new")
	var delivered []byte
	for i := 0; delivered == nil; i++ {
		if i == 400 {
			t.Fatalf("nothing in %s:\n%s", newDir, out.String())
		}
		if ents, _ := os.ReadDir(newDir); len(ents) > 0 {
			delivered, _ = os.ReadFile(filepath.Join(newDir, ents[0].Name()))
		}
		time.Sleep(25 * time.Millisecond)
	}
	if !bytes.Contains(delivered, []byte("hello")) {
		t.Fatalf("delivered:\n%s", delivered)
	}

	resp, err := http.Get(consoleURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("console: %d", resp.StatusCode)
	}
	ic, err := net.DialTimeout("tcp", icapAddr, time.Second)
	if err != nil {
		t.Fatalf("icap: %v", err)
	}
	ic.Close()

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, out.String())
	}
}

// TestServeListenFlagsRefused checks that a listen flag that is not
// host:port stops the start with a usage error.
func TestServeListenFlagsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--demo", "--smtp", "2526"},
		{"serve", "--demo", "--http", "localhost"},
		{"serve", "--demo", "--icap", "[::1"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "want host:port") {
			t.Errorf("%v: exit %d, %q", args, code, errb.String())
		}
	}
}
