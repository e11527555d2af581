package queue

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dlpguard/spool"
)

// received is one transaction the test upstream accepted.
type received struct {
	From  string
	Rcpts []string
	Data  []byte
	UTF8  bool
	TLS   bool
	Auth  string
	HELO  string
}

// testUpstream is a real SMTP server on loopback that records what it
// receives and answers per recipient as the test says.
type testUpstream struct {
	t    testing.TB
	addr string
	srv  *smtp.Server

	conns   atomic.Int64 // connections accepted
	logouts atomic.Int64 // sessions ended (QUIT or close)

	mu    sync.Mutex
	msgs  []received
	tries map[string]int // RCPT commands seen per address
	// rcpt decides the reply to RCPT TO (nil: accept); n counts from 1.
	rcpt func(addr string, n int) error
	// data decides the reply to the end of DATA (nil: accept).
	data func(r received) error
	// maxRcpts answers 452 4.5.3 beyond this many recipients (0: no limit).
	maxRcpts int
}

type upstreamOpts struct {
	utf8     bool
	tls      *tls.Config
	authUser string
	authPass string
	// readTimeout closes idle sessions (default 10s).
	readTimeout time.Duration
}

func startUpstream(t testing.TB, o upstreamOpts) *testUpstream {
	t.Helper()
	u := &testUpstream{t: t, tries: map[string]int{}}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &upSession{u: u, o: o, tls: isTLS, helo: c.Hostname()}, nil
	}))
	s.Domain = "upstream.test"
	s.EnableSMTPUTF8 = o.utf8
	s.TLSConfig = o.tls
	s.ReadTimeout = 10 * time.Second
	if o.readTimeout > 0 {
		s.ReadTimeout = o.readTimeout
	}
	s.WriteTimeout = 10 * time.Second
	s.MaxMessageBytes = 10 << 20
	s.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = ln.Addr().String()
	u.srv = s
	go s.Serve(&countingListener{Listener: ln, n: &u.conns})
	t.Cleanup(func() { s.Close() })
	return u
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func (u *testUpstream) received() []received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]received(nil), u.msgs...)
}

func (u *testUpstream) triesOf(addr string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.tries[addr]
}

func (u *testUpstream) setRcpt(f func(addr string, n int) error) {
	u.mu.Lock()
	u.rcpt = f
	u.mu.Unlock()
}

// byRcpt returns the transactions that included addr.
func (u *testUpstream) byRcpt(addr string) []received {
	var out []received
	for _, m := range u.received() {
		for _, r := range m.Rcpts {
			if r == addr {
				out = append(out, m)
			}
		}
	}
	return out
}

type upSession struct {
	u    *testUpstream
	o    upstreamOpts
	tls  bool
	helo string
	auth string
	cur  received
}

func (s *upSession) AuthMechanisms() []string {
	if s.o.authUser == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *upSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.o.authUser || pass != s.o.authPass {
			return smtp.ErrAuthFailed
		}
		s.auth = user
		return nil
	}), nil
}

func (s *upSession) Mail(from string, opts *smtp.MailOptions) error {
	if s.o.authUser != "" && s.auth == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = received{From: from, UTF8: opts != nil && opts.UTF8, TLS: s.tls, Auth: s.auth, HELO: s.helo}
	return nil
}

func (s *upSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.u.mu.Lock()
	s.u.tries[to]++
	n, f, limit := s.u.tries[to], s.u.rcpt, s.u.maxRcpts
	s.u.mu.Unlock()
	if limit > 0 && len(s.cur.Rcpts) >= limit {
		return reply(452, smtp.EnhancedCode{4, 5, 3}, "too many recipients")
	}
	if f != nil {
		if err := f(to, n); err != nil {
			return err
		}
	}
	s.cur.Rcpts = append(s.cur.Rcpts, to)
	return nil
}

func (s *upSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = b
	s.u.mu.Lock()
	f := s.u.data
	s.u.mu.Unlock()
	if f != nil {
		if err := f(s.cur); err != nil {
			return err
		}
	}
	s.u.mu.Lock()
	s.u.msgs = append(s.u.msgs, s.cur)
	s.u.mu.Unlock()
	return nil
}

func (s *upSession) Reset() { s.cur = received{} }
func (s *upSession) Logout() error {
	s.u.logouts.Add(1)
	return nil
}

func reply(code int, enh smtp.EnhancedCode, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

// env is a test queue with its spool.
type env struct {
	t      testing.TB
	store  *spool.Store
	q      *Queue
	cancel context.CancelFunc
	done   chan error
	m      *countMetrics
}

// testConfig is a fast configuration for tests: short retries.
func testConfig(upstream string) Config {
	return Config{
		Upstream:     upstream,
		TLS:          TLSNone,
		Workers:      2,
		Retry:        []time.Duration{20 * time.Millisecond},
		Hostname:     "relay.test",
		DrainTimeout: 5 * time.Second,
		Rescan:       time.Hour, // tests use Notify or the start-up scan
	}
}

func newEnv(t testing.TB, cfg Config, dir string) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := spool.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := &countMetrics{}
	var logger *slog.Logger
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	q, err := New(cfg, st, logger, m)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: st, q: q, m: m}
}

func (e *env) start() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan error, 1)
	go func() { e.done <- e.q.Run(ctx) }()
	e.t.Cleanup(e.stop)
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		e.t.Errorf("Run: %v", err)
	}
	e.cancel = nil
}

// commit spools a message as the listener would; notify also announces it.
func (e *env) commit(from string, rcpts []string, data string, notify bool, mod ...func(*spool.Envelope)) string {
	e.t.Helper()
	w, err := e.store.Create()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := w.Write([]byte(data)); err != nil {
		e.t.Fatal(err)
	}
	en := &spool.Envelope{From: from, Received: time.Now()}
	en.Recipients = spool.PendingRecipients(rcpts)
	for _, f := range mod {
		f(en)
	}
	if err := w.Commit(en, spool.AreaQueue); err != nil {
		e.t.Fatal(err)
	}
	if notify {
		e.q.Notify(en.ID)
	}
	return en.ID
}

// waitFor polls cond until it holds or a generous deadline passes (a
// liveness bound, not a speed assertion).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitAttempted waits until the message's first recipient has had an
// attempt and returns the envelope as it then is.
func (e *env) waitAttempted(id string) *spool.Envelope {
	e.t.Helper()
	var en *spool.Envelope
	waitFor(e.t, "an attempt", func() bool {
		var err error
		en, err = e.store.Envelope(spool.AreaQueue, id)
		return err == nil && en.Recipients[0].Attempts > 0
	})
	return en
}

func (e *env) queued() []string {
	ids, err := e.store.List(spool.AreaQueue)
	if err != nil {
		e.t.Fatal(err)
	}
	return ids
}

func (e *env) waitEmpty() {
	e.t.Helper()
	// Len first: listing a big spool folder every few ms would cost more
	// than the deliveries being waited for.
	waitFor(e.t, "empty queue", func() bool { return e.q.Len() == 0 && len(e.queued()) == 0 })
}

type countMetrics struct {
	delivered, deferred, bounced, length atomic.Int64
	latencies                            atomic.Int64
}

func (c *countMetrics) Delivered(n int)                 { c.delivered.Add(int64(n)) }
func (c *countMetrics) Deferred(n int)                  { c.deferred.Add(int64(n)) }
func (c *countMetrics) Bounced(n int)                   { c.bounced.Add(int64(n)) }
func (c *countMetrics) QueueLength(n int)               { c.length.Store(int64(n)) }
func (c *countMetrics) DeliveryLatency(d time.Duration) { c.latencies.Add(1) }

// selfSigned returns a server certificate for 127.0.0.1 / "upstream.test"
// and a pool that trusts it.
func selfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "upstream.test"},
		DNSNames:              []string{"upstream.test"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

func msgText(subject, body string) string {
	return fmt.Sprintf("From: Yamada <yamada@city.example.lg.jp>\r\nTo: a@example.com\r\nSubject: %s\r\nMessage-ID: <%d@city.example.lg.jp>\r\n\r\n%s\r\n",
		subject, time.Now().UnixNano(), body)
}
