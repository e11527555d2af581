package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dlpguard/config"
	"dlpguard/smtpproxy"
	"dlpguard/spool"
)

// TestRelayDemoMailbox runs the demo configuration in-process (on free
// ports): a message sent over SMTP arrives in the local Maildir, the
// operations endpoints answer, and a drain leaves the relay not ready.
func TestRelayDemoMailbox(t *testing.T) {
	cfg := config.Demo()
	cfg.DataDir = t.TempDir()
	cfg.ICAP.Listen = "" // tested on its own (TestRelayICAP)
	cfg.SMTP.Listen = []string{"127.0.0.1:0"}
	cfg.HTTP.Listen = "127.0.0.1:0"
	var logBuf syncBuffer
	r, err := startRelay(cfg, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.shutdown(time.Second)

	c, err := smtp.Dial(r.smtpAddrs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Error("demo does not offer STARTTLS")
	}
	id, err := sendOne(c, "From: a@city.example.lg.jp\r\nTo: b@example.jp\r\nSubject: demo\r\n\r\nこんにちは\r\n")
	if err != nil {
		t.Fatal(err)
	}
	c.Quit()

	newDir := filepath.Join(cfg.DataDir, "mailbox", "b@example.jp", "new")
	var files []os.DirEntry
	for range 200 {
		files, _ = os.ReadDir(newDir)
		if len(files) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(files) != 1 {
		t.Fatalf("mailbox %s has %d messages; log:\n%s", newDir, len(files), logBuf.String())
	}
	b, _ := os.ReadFile(filepath.Join(newDir, files[0].Name()))
	if !strings.Contains(string(b), "こんにちは") || !strings.Contains(string(b), "id "+id) {
		t.Fatalf("delivered message:\n%s", b)
	}
	if !strings.Contains(logBuf.String(), "id="+id) {
		t.Error("message ID missing from the log")
	}

	base := "http://" + r.ops.Addr().String()
	for path, want := range map[string]string{
		"/healthz": "policy: built-in default version ",
		"/readyz":  "ready",
		"/metrics": "dlpguard_messages_queued_total 1",
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %q, want %q", path, resp.StatusCode, body, want)
		}
	}
	if err := r.shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if r.ready() == nil {
		t.Error("ready after shutdown")
	}
}

// TestServeReloadAndDrain runs the binary: SIGHUP applies a new client
// network list, a broken file keeps the running configuration, SIGTERM
// exits 0.
func TestServeReloadAndDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	smtpAddr := freePort(t)
	cfgPath := filepath.Join(dir, "dlpguard.yaml")
	write := func(networks, extra string) {
		cfg := "hostname: relay.test\ndata_dir: data\nsmtp:\n  listen: [\"" + smtpAddr + "\"]\n  networks: " + networks + "\nhttp:\n  listen: \"\"\n" + extra
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("[127.0.0.0/8]", "")
	logf, _ := os.Create(filepath.Join(dir, "log"))
	defer logf.Close()
	cmd := startBinary(t, bin, cfgPath, smtpAddr, logf)

	rcpt := func() error {
		c, err := smtp.Dial(smtpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Mail("a@x.jp", nil); err != nil {
			t.Fatal(err)
		}
		return c.Rcpt("b@y.jp", nil)
	}
	if err := rcpt(); err != nil {
		t.Fatalf("before reload: %v", err)
	}
	// The networks apply at once; an upstream timeout needs a restart,
	// which the reload says.
	write("[192.0.2.0/24]", "upstream:\n  connect_timeout: 7s\n")
	cmd.Process.Signal(syscall.SIGHUP)
	var err error
	for range 100 {
		if err = rcpt(); err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if se, ok := err.(*smtp.SMTPError); !ok || se.Code != 550 {
		t.Fatalf("after reload to another network: %v", err)
	}
	// A broken file is reported and the running configuration stays.
	os.WriteFile(cfgPath, []byte("smtp:\n  networks: [nonsense/99]\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	for range 100 {
		b, _ := os.ReadFile(logf.Name())
		if strings.Contains(string(b), "reload failed") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := rcpt(); err == nil {
		t.Fatal("broken reload opened the relay")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	b, _ := os.ReadFile(logf.Name())
	for _, want := range []string{"configuration reloaded", "need a restart", "upstream.connect_timeout", "reload failed", "line 2", "draining", "stopped"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("log lacks %q:\n%s", want, b)
		}
	}
}

func TestServeUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "--config", "x.yaml", "--demo"}, nil, &out, &errb); code != 1 {
		t.Errorf("--config with --demo: exit %d", code)
	}
	if code := run([]string{"serve", "--bogus"}, nil, &out, &errb); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
	if code := run([]string{"serve", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, nil, &out, &errb); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
	out.Reset()
	if code := run([]string{"hash-password"}, strings.NewReader("pw\n"), &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "$argon2id$v=19$") ||
		!smtpproxy.VerifyPassword(strings.TrimSpace(out.String()), "pw") {
		t.Errorf("hash-password: %d %q", code, out.String())
	}
}

// buildBinary builds dlpguard into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "dlpguard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// syncBuffer is a bytes.Buffer safe for the relay's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPostfixToolsEndToEnd relays between two independent
// implementations: Postfix's smtp-source as the client and smtp-sink as
// the upstream, through the whole relay (spool, queue, delivery).
func TestPostfixToolsEndToEnd(t *testing.T) {
	source, sink := "/usr/sbin/smtp-source", "/usr/sbin/smtp-sink"
	for _, b := range []string{source, sink} {
		if _, err := os.Stat(b); err != nil {
			t.Skipf("%s not installed (Debian package postfix)", b)
		}
	}
	// smtp-sink drops privileges to nobody when run as root, so its dump
	// folder must be reachable for nobody.
	dump, err := os.MkdirTemp("", "dlpguard-sink-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dump)
	os.Chmod(dump, 0o777)
	sinkAddr := freePort(t)
	args := []string{"-d", dump + "/%M.", sinkAddr, "64"}
	if os.Getuid() == 0 {
		args = append([]string{"-u", "nobody"}, args...)
	}
	sinkCmd := exec.Command(sink, args...)
	if err := sinkCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sinkCmd.Process.Kill(); sinkCmd.Wait() }()
	for range 100 {
		if c, err := net.Dial("tcp", sinkAddr); err == nil {
			c.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	cfg := config.Default()
	cfg.Hostname = "relay.test"
	cfg.DataDir = t.TempDir()
	cfg.SMTP.Listen = []string{"127.0.0.1:0"}
	cfg.HTTP.Listen = ""
	cfg.Upstream.Address = sinkAddr
	cfg.Upstream.StartTLS = "none"
	r, err := startRelay(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.shutdown(time.Second)

	const n = 30
	out, err := exec.Command(source, "-s", "5", "-m", strconv.Itoa(n), "-l", "3000",
		"-f", "a@city.example.lg.jp", "-t", "b@example.jp", r.smtpAddrs[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("smtp-source: %v\n%s", err, out)
	}
	var files []os.DirEntry
	for range 250 {
		files, _ = os.ReadDir(dump)
		if len(files) >= n {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(files) != n {
		t.Fatalf("smtp-sink received %d messages, want %d", len(files), n)
	}
	b, err := os.ReadFile(filepath.Join(dump, files[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "by relay.test (dlpguard) with ESMTP id") || !strings.Contains(string(b), "b@example.jp") {
		t.Fatalf("relayed message:\n%.2000s", b)
	}
	for range 100 {
		if ids, _ := r.store.List(spool.AreaQueue); len(ids) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("queue not empty after delivery")
}

// TestRelayPolicyActions sends samples through the whole relay with the
// built-in default policy: a My Number is refused in the session (550
// 5.7.1 with rule and clause), a class I marking is held, a benign message
// is delivered.
func TestRelayPolicyActions(t *testing.T) {
	cfg := config.Demo()
	cfg.DataDir = t.TempDir()
	cfg.ICAP.Listen = "" // tested on its own (TestRelayICAP)
	cfg.SMTP.Listen = []string{"127.0.0.1:0"}
	cfg.HTTP.Listen = ""
	var logBuf syncBuffer
	r, err := startRelay(cfg, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.shutdown(time.Second)

	tests := []struct {
		file     string
		wantCode int    // 0: 250
		want     string // in the reply text
		area     spool.Area
	}{
		{"p001_mynumber.eml", 550, "clause 3.3.5", ""},
		{"p021_marking.eml", 0, "held as", spool.AreaHold},
		{"p038_benign.eml", 0, "queued as", ""}, // delivered: the queue is empty again
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			msg, err := os.ReadFile(filepath.Join("..", "..", "testdata", "samples", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			c, err := smtp.Dial(r.smtpAddrs[0])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Hello("client.test")
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
			resp, err := w.CloseWithResponse()
			var text string
			if tc.wantCode != 0 {
				se, ok := err.(*smtp.SMTPError)
				if !ok || se.Code != tc.wantCode || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
					t.Fatalf("reply %v, want %d 5.7.1", err, tc.wantCode)
				}
				text = se.Message
			} else {
				if err != nil {
					t.Fatalf("reply %v, want 250", err)
				}
				text = resp.StatusText
			}
			if !strings.Contains(text, tc.want) {
				t.Fatalf("reply %q lacks %q", text, tc.want)
			}
			f := strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '(' || r == ')' })
			id := ""
			for _, w := range f {
				if spool.ValidID(w) {
					id = w
				}
			}
			if id == "" {
				t.Fatalf("no message ID in %q", text)
			}
			if tc.area == spool.AreaHold {
				// Held messages go to the encrypted hold store, never to
				// the plaintext spool (3.3.4).
				if _, err := r.stores.Holds.Get(context.Background(), id); err != nil {
					t.Fatalf("held message not in the hold store: %v", err)
				}
				if _, err := r.store.Envelope(spool.AreaHold, id); err == nil {
					t.Fatalf("held message %s left in the plaintext spool", id)
				}
			}
			if tc.wantCode == 550 {
				for _, a := range []spool.Area{spool.AreaQueue, spool.AreaHold} {
					if _, err := r.store.Envelope(a, id); err == nil {
						t.Fatalf("rejected message kept in %s", a)
					}
				}
			}
		})
	}
	// The benign message reaches the local mailbox.
	newDir := filepath.Join(cfg.DataDir, "mailbox", "someone@example.com", "new")
	for range 200 {
		if files, _ := os.ReadDir(newDir); len(files) == 1 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("benign message not delivered; log:\n%s", logBuf.String())
}

// TestRelayICAP checks that serve starts the ICAP service on the same
// policy: OPTIONS answers with an ISTag, and an upload of a CSV with My
// Numbers is refused with the Japanese 403 page.
func TestRelayICAP(t *testing.T) {
	cfg := config.Demo()
	cfg.DataDir = t.TempDir()
	cfg.SMTP.Listen = []string{"127.0.0.1:0"}
	cfg.HTTP.Listen = ""
	cfg.ICAP.Listen = "127.0.0.1:0"
	r, err := startRelay(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.shutdown(time.Second)

	roundTrip := func(req string) string {
		c, err := net.Dial("tcp", r.icapAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(c)
		return string(b)
	}
	opts := roundTrip("OPTIONS icap://" + r.icapAddr + "/reqmod ICAP/1.0\r\nHost: " + r.icapAddr + "\r\nConnection: close\r\n\r\n")
	if !strings.HasPrefix(opts, "ICAP/1.0 200") || !strings.Contains(opts, "ISTag:") {
		t.Fatalf("OPTIONS answer:\n%s", opts)
	}

	body := "氏名,個人番号\r\n山田太郎,123456789018\r\n鈴木花子,176749365367\r\n"
	httpHdr := "PUT http://upload.example.com/files/meibo.csv HTTP/1.1\r\nHost: upload.example.com\r\n" +
		"Content-Type: text/csv\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	req := "REQMOD icap://" + r.icapAddr + "/reqmod ICAP/1.0\r\nHost: " + r.icapAddr + "\r\n" +
		"Allow: 204\r\nConnection: close\r\n" +
		"Encapsulated: req-hdr=0, req-body=" + strconv.Itoa(len(httpHdr)) + "\r\n\r\n" +
		httpHdr + strconv.FormatInt(int64(len(body)), 16) + "\r\n" + body + "\r\n0\r\n\r\n"
	resp := roundTrip(req)
	if !strings.HasPrefix(resp, "ICAP/1.0 200") || !strings.Contains(resp, "HTTP/1.1 403") {
		t.Fatalf("upload with My Numbers not blocked:\n%.1500s", resp)
	}
	if strings.Contains(resp, "123456789018") || strings.Contains(resp, "176749365367") {
		t.Fatal("the block page shows a whole My Number")
	}
}

// TestRelayBcc sends a message with many external To/Cc recipients through
// a policy whose rule says bcc (3.3.5 mis-sending): every recipient still
// gets it, but the external addresses are gone from the headers.
func TestRelayBcc(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(`version: 1
organisation:
  domains: [city.example.lg.jp]
rules:
  - id: many-external-bcc
    when:
      external_recipients: 3
    action: bcc
    clause: "3.3.5"
    message: {ja: 外部の宛先が多いため宛先を Bcc にしました。, en: Many external recipients were moved to Bcc.}
allow_without: [my_number]
allow_without_reason: a test of the bcc rule alone
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Demo()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.SMTP.Listen = []string{"127.0.0.1:0"}
	cfg.HTTP.Listen = ""
	cfg.ICAP.Listen = ""
	cfg.Policy.File = pol
	r, err := startRelay(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.shutdown(time.Second)

	rcpts := []string{"a@x.example", "b@y.example", "c@z.example", "k@city.example.lg.jp"}
	msg := "From: s@city.example.lg.jp\r\nTo: a@x.example, b@y.example, k@city.example.lg.jp\r\n" +
		"Cc: c@z.example\r\nSubject: hi\r\n\r\nhello\r\n"
	c, err := smtp.Dial(r.smtpAddrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("s@city.example.lg.jp", rcpts, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcpts {
		newDir := filepath.Join(cfg.DataDir, "mailbox", rc, "new")
		var files []os.DirEntry
		for range 200 {
			if files, _ = os.ReadDir(newDir); len(files) == 1 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(files) != 1 {
			t.Fatalf("%s: %d messages delivered", rc, len(files))
		}
		b, err := os.ReadFile(filepath.Join(newDir, files[0].Name()))
		if err != nil {
			t.Fatal(err)
		}
		got := string(b)
		for _, ext := range []string{"a@x.example", "b@y.example", "c@z.example"} {
			if strings.Contains(got, ext) {
				t.Fatalf("%s sees the external address %s:\n%s", rc, ext, got)
			}
		}
		if !strings.Contains(got, "To: <k@city.example.lg.jp>") || strings.Contains(got, "\r\nCc:") {
			t.Fatalf("%s: headers not rewritten as expected:\n%s", rc, got)
		}
	}
}
