package smtpproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dlpguard/spool"
)

// harness is a relay front end on loopback with a temp spool.
type harness struct {
	t       *testing.T
	srv     *Server
	store   *spool.Store
	dir     string
	addr    string // plain/STARTTLS listener
	tlsAddr string // implicit TLS listener (when a certificate is set)
	roots   *x509.CertPool
	metrics *Metrics
	notify  *recorder
}

type recorder struct {
	mu  sync.Mutex
	ids []string
}

func (r *recorder) Notify(id string) {
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

type harnessOpt struct {
	cfg      func(*Config)
	disposer Disposer
	auditor  Auditor
	tls      bool
	metrics  *Metrics // the caller's collectors; nil: New's own
}

func newHarness(t *testing.T, o harnessOpt) *harness {
	t.Helper()
	dir := t.TempDir()
	store, err := spool.Open(filepath.Join(dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Hostname: "relay.test",
		Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	}
	h := &harness{t: t, store: store, dir: dir, notify: &recorder{}}
	if o.tls {
		cert, err := SelfSignedCertificate(filepath.Join(dir, "tls"), "relay.test")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificate = &cert
		leaf, _ := x509.ParseCertificate(cert.Certificate[0])
		h.roots = x509.NewCertPool()
		h.roots.AddCert(leaf)
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.srv = New(cfg, store, Options{Logger: logger, Metrics: o.metrics, Disposer: o.disposer, Queue: h.notify, Auditor: o.auditor})
	h.metrics = h.srv.metrics // New's own collectors, read by the tests
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); h.srv.Serve(ln) }()
	if o.tls {
		tln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		h.tlsAddr = tln.Addr().String()
		wg.Add(1)
		go func() { defer wg.Done(); h.srv.ServeTLS(tln) }()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.srv.Shutdown(ctx)
		wg.Wait()
	})
	return h
}

// testWriter sends the relay's log to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// dialFrom connects from a given loopback address ("" = default).
func (h *harness) dialFrom(local, addr string) net.Conn {
	h.t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		h.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

// client returns a go-smtp client from local, after EHLO.
func (h *harness) client(local string) *smtp.Client {
	h.t.Helper()
	c := smtp.NewClient(h.dialFrom(local, h.addr))
	if err := c.Hello("client.test"); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

func (h *harness) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: h.roots, ServerName: "relay.test"}
}

// send runs one transaction and returns the final reply's error (nil for
// 250) and its text.
func send(c *smtp.Client, from string, to []string, msg string) (string, error) {
	if err := c.Mail(from, nil); err != nil {
		return "", err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return "", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	return resp.StatusText, nil
}

func code(err error) int {
	if se, ok := err.(*smtp.SMTPError); ok {
		return se.Code
	}
	return 0
}

// raw is a byte-level SMTP client.
type raw struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (h *harness) raw(local string) *raw {
	h.t.Helper()
	c := h.dialFrom(local, h.addr)
	h.t.Cleanup(func() { c.Close() })
	r := &raw{t: h.t, c: c, r: bufio.NewReader(c)}
	r.expect("220")
	return r
}

func (r *raw) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// reply reads one (possibly multi-line) reply and returns it whole.
func (r *raw) reply() string {
	r.t.Helper()
	var all strings.Builder
	for {
		line, err := r.r.ReadString('\n')
		if err != nil {
			r.t.Fatalf("read reply: %v (so far %q)", err, all.String())
		}
		all.WriteString(line)
		if len(line) < 4 || line[3] != '-' {
			return all.String()
		}
	}
}

// expect reads a reply and checks its prefix (e.g. "250" or "550 5.7.1").
func (r *raw) expect(prefix string) string {
	r.t.Helper()
	rep := r.reply()
	last := rep
	if i := strings.LastIndex(strings.TrimRight(rep, "\r\n"), "\n"); i >= 0 {
		last = rep[i+1:]
	}
	if !strings.HasPrefix(last, prefix) {
		r.t.Fatalf("reply %q, want %q", rep, prefix)
	}
	return rep
}

func (r *raw) cmd(line, prefix string) string {
	r.t.Helper()
	r.send(line + "\r\n")
	return r.expect(prefix)
}

// queued returns the IDs in an area.
func (h *harness) list(area spool.Area) []string {
	h.t.Helper()
	ids, err := h.store.List(area)
	if err != nil {
		h.t.Fatal(err)
	}
	return ids
}

// content reads a committed message.
func (h *harness) content(area spool.Area, id string) string {
	h.t.Helper()
	f, err := h.store.Open(area, id)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return string(b)
}

// assertNoTemp checks that nothing is left in the spool's tmp folder.
func (h *harness) assertNoTemp() {
	h.t.Helper()
	ents, err := os.ReadDir(filepath.Join(h.store.Dir(), "tmp"))
	if err != nil {
		h.t.Fatal(err)
	}
	if len(ents) != 0 {
		h.t.Fatalf("spool tmp not empty: %d files", len(ents))
	}
}

// idFrom extracts the message ID from a reply text.
func idFrom(t *testing.T, text string) string {
	t.Helper()
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '(' || r == ')' || r == '\r' || r == '\n' }) {
		if spool.ValidID(f) {
			return f
		}
	}
	t.Fatalf("no message ID in %q", text)
	return ""
}

func message(subject, body string) string {
	return fmt.Sprintf("From: a@city.example.lg.jp\r\nTo: b@example.jp\r\nSubject: %s\r\nMessage-ID: <%d@test>\r\n\r\n%s", subject, time.Now().UnixNano(), body)
}

// newBenchHarness starts a front end for a benchmark and returns its
// address.
func newBenchHarness(b *testing.B) string {
	b.Helper()
	store, err := spool.Open(filepath.Join(b.TempDir(), "spool"))
	if err != nil {
		b.Fatal(err)
	}
	srv := New(Config{
		Hostname:            "relay.test",
		Networks:            []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		MaxConnectionsPerIP: 100,
	}, store, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
}

// readToEOF reads what the server sends until it closes the connection
// (the test's deadline stops a server that never does).
func (r *raw) readToEOF() (string, error) {
	var b strings.Builder
	_, err := io.Copy(&b, r.r)
	return b.String(), err
}
