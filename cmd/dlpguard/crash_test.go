package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dlpguard/spool"
)

// upstream is an in-process SMTP server standing in for the city's mail
// server; it records the X-Seq header of every message it accepts and can
// be told to fail some deliveries temporarily.
type upstream struct {
	mu       sync.Mutex
	got      map[string]int // X-Seq -> times received
	failRate atomic.Int64   // percent of DATA answered with 451
	addr     string
	srv      *smtp.Server
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{got: map[string]int{}}
	u.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &upSession{u: u}, nil }))
	u.srv.Domain = "upstream.test"
	u.srv.ErrorLog = nopLog{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = ln.Addr().String()
	go u.srv.Serve(ln)
	t.Cleanup(func() { u.srv.Close() })
	return u
}

type nopLog struct{}

func (nopLog) Printf(string, ...any) {}
func (nopLog) Println(...any)        {}

type upSession struct{ u *upstream }

func (s *upSession) Reset()                               {}
func (s *upSession) Logout() error                        { return nil }
func (s *upSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *upSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *upSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if rand.Int64N(100) < s.u.failRate.Load() {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}
	seq := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "X-Seq: "); ok {
			seq = v
			break
		}
	}
	s.u.mu.Lock()
	s.u.got[seq]++
	s.u.mu.Unlock()
	return nil
}

func (u *upstream) received() map[string]int {
	u.mu.Lock()
	defer u.mu.Unlock()
	m := make(map[string]int, len(u.got))
	for k, v := range u.got {
		m[k] = v
	}
	return m
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeConfig writes the configuration file for the binary and opens its
// log file in dir (closed at the end of the test).
func writeConfig(t *testing.T, dir, cfgPath, cfg string) *os.File {
	t.Helper()
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "dlpguard.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	return logf
}

// startBinary starts `dlpguard serve --config cfg` and waits until it
// answers SMTP.
func startBinary(t *testing.T, bin, cfg, smtpAddr string, logf *os.File) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 200 {
		c, err := net.DialTimeout("tcp", smtpAddr, time.Second)
		if err == nil {
			c.Close()
			return cmd
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("dlpguard did not start; log in %s", logf.Name())
	return nil
}

// TestCrashNoLoss sends messages concurrently, kills the relay with
// SIGKILL mid-load, restarts it, and checks that every message that got a
// 250 reaches the upstream (at least once: a message delivered but not yet
// marked delivered when the kill came is sent again after the restart).
func TestCrashNoLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	up := newUpstream(t)
	up.failRate.Store(40) // leave work in the queue at the kill
	smtpAddr := freePort(t)
	cfgPath := filepath.Join(dir, "dlpguard.yaml")
	cfg := fmt.Sprintf(`hostname: relay.test
data_dir: %s
log_level: info
smtp:
  listen: ["%s"]
  networks: [127.0.0.0/8]
upstream:
  address: "%s"
  starttls: none
  workers: 4
  retry: [300ms]
http:
  listen: ""
`, filepath.Join(dir, "data"), smtpAddr, up.addr)
	logf := writeConfig(t, dir, cfgPath, cfg)

	cmd := startBinary(t, bin, cfgPath, smtpAddr, logf)

	var (
		mu    sync.Mutex
		acked = map[string]string{} // X-Seq -> queue ID from the 250
		seq   atomic.Int64
		wg    sync.WaitGroup
		stop  atomic.Bool
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				c, err := smtp.Dial(smtpAddr)
				if err != nil {
					return // killed
				}
				for i := 0; i < 5 && !stop.Load(); i++ {
					n := seq.Add(1)
					body := fmt.Sprintf("From: a@city.example.lg.jp\r\nTo: b@example.jp\r\nX-Seq: %d\r\nSubject: load %d\r\n\r\n%s\r\n",
						n, n, strings.Repeat("本文 body line\r\n", 200))
					id, err := sendOne(c, body)
					if err != nil {
						break
					}
					mu.Lock()
					acked[fmt.Sprint(n)] = id
					mu.Unlock()
				}
				c.Close()
			}
		}()
	}
	// Kill mid-load, once a fair number of messages were acknowledged.
	for range 400 {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 150 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	wg.Wait()
	cmd.Wait()

	mu.Lock()
	ackedCopy := make(map[string]string, len(acked))
	for k, v := range acked {
		ackedCopy[k] = v
	}
	mu.Unlock()
	if len(ackedCopy) < 20 {
		t.Fatalf("only %d messages acknowledged before the kill", len(ackedCopy))
	}
	before := up.received()

	// Every acknowledged message not yet at the upstream must be in the
	// spool right now.
	store, err := spool.Open(filepath.Join(dir, "data", "spool"))
	if err != nil {
		t.Fatal(err)
	}
	inSpool := map[string]bool{}
	ids, _ := store.List(spool.AreaQueue)
	for _, id := range ids {
		inSpool[id] = true
	}
	for n, id := range ackedCopy {
		if before[n] == 0 && !inSpool[id] {
			t.Errorf("message %s (%s) acknowledged, not delivered, not in the spool", n, id)
		}
	}
	t.Logf("acknowledged %d, delivered before the kill %d, in the spool after it %d", len(ackedCopy), len(before), len(ids))

	// Restart with a healthy upstream: everything must arrive.
	up.failRate.Store(0)
	cmd2 := startBinary(t, bin, cfgPath, smtpAddr, logf)
	deadline := time.Now().Add(15 * time.Second)
	var missing []string
	for {
		got := up.received()
		missing = missing[:0]
		for n := range ackedCopy {
			if got[n] == 0 {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Fatalf("%d acknowledged messages never reached the upstream, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	dups := 0
	for _, c := range up.received() {
		if c > 1 {
			dups++
		}
	}
	t.Logf("all %d acknowledged messages delivered; %d delivered more than once", len(ackedCopy), dups)

	// SIGTERM drains and exits 0.
	if err := cmd2.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd2.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) || err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	ids, _ = store.List(spool.AreaQueue)
	if len(ids) != 0 {
		t.Errorf("queue not empty after delivery: %d", len(ids))
	}
}

func sendOne(c *smtp.Client, body string) (string, error) {
	text, err := sendReply(c, body)
	if err != nil {
		return "", err
	}
	f := strings.Fields(text)
	return f[len(f)-1], nil
}
