// Package mailtest gives tests real mail peers on loopback: an SMTP
// upstream (go-smtp) that records what it receives, and a throwaway GnuPG
// home (Debian package gnupg) to prove that what dlpguard encrypts opens.
// It is for tests only, like net/http/httptest.
package mailtest

import (
	"bytes"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one transaction the upstream accepted.
type Message struct {
	From  string
	Rcpts []string
	Data  []byte
}

// Upstream is a real SMTP server on 127.0.0.1 that accepts and records
// every message.
type Upstream struct {
	Addr string // host:port to deliver to

	mu   sync.Mutex
	msgs []Message
}

// StartUpstream starts an upstream; it stops when the test ends.
func StartUpstream(t testing.TB) *Upstream {
	t.Helper()
	u := &Upstream{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{u: u}, nil }))
	srv.Domain = "upstream.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.Addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return u
}

// All returns every message received so far.
func (u *Upstream) All() []Message {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Message(nil), u.msgs...)
}

// To returns the messages received for rcpt.
func (u *Upstream) To(rcpt string) []Message {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []Message
	for _, m := range u.msgs {
		for _, r := range m.Rcpts {
			if r == rcpt {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

type session struct {
	u   *Upstream
	cur Message
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.cur.From = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.Rcpts = append(s.cur.Rcpts, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = b
	s.u.mu.Lock()
	s.u.msgs = append(s.u.msgs, s.cur)
	s.u.mu.Unlock()
	s.cur = Message{}
	return nil
}
func (s *session) Reset()        { s.cur = Message{} }
func (s *session) Logout() error { return nil }

// GPG is a throwaway GnuPG home; its agent is stopped and the folder
// removed when the test ends.
type GPG struct {
	Dir string
	t   testing.TB
}

// NewGPG makes an empty GnuPG home. The test fails (it does not skip)
// when gpg is missing: CI installs gnupg.
func NewGPG(t testing.TB) *GPG {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg not found: install the Debian package gnupg")
	}
	dir, err := os.MkdirTemp("", "gpg") // short: the agent socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o700)
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", dir, "--kill", "all").Run()
		os.RemoveAll(dir)
	})
	return &GPG{Dir: dir, t: t}
}

// Error is a failed gpg run with what it printed on standard error.
type Error struct {
	Err    error
	Stderr string
}

func (e *Error) Error() string { return e.Err.Error() + ": " + e.Stderr }
func (e *Error) Unwrap() error { return e.Err }

// Cmd runs gpg in this home, non-interactively, with stdin as input.
func (g *GPG) Cmd(stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.Command("gpg", append([]string{"--homedir", g.Dir, "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &Error{Err: err, Stderr: stderr.String()}
	}
	return out, nil
}

// Run is Cmd that fails the test on error.
func (g *GPG) Run(stdin []byte, args ...string) []byte {
	g.t.Helper()
	out, err := g.Cmd(stdin, args...)
	if err != nil {
		g.t.Fatalf("gpg %v: %v", args, err)
	}
	return out
}

// Gen makes a key pair for uid without a passphrase.
func (g *GPG) Gen(uid string) {
	g.t.Helper()
	g.Run(nil, "--passphrase", "", "--quick-gen-key", uid, "future-default", "default", "1y")
}

// Export returns the home's public keys, armored.
func (g *GPG) Export() []byte {
	g.t.Helper()
	return g.Run(nil, "--armor", "--export")
}

// Decrypt decrypts OpenPGP data with this home's secret key, or with
// passphrase when one is given.
func (g *GPG) Decrypt(ciphertext []byte, passphrase string) ([]byte, error) {
	in := filepath.Join(g.Dir, "in.pgp")
	if err := os.WriteFile(in, ciphertext, 0o600); err != nil {
		return nil, err
	}
	return g.Cmd(nil, "--passphrase", passphrase, "--decrypt", in)
}

// WaitFor polls cond every 10 ms for up to 15 s (deliveries through the
// real queue are asynchronous) and fails the test when it never holds.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 1500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
