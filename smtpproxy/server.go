// Package smtpproxy is the relay's SMTP front end: it accepts submissions
// from the city's clients and MTAs (allowed networks, or AUTH over TLS),
// enforces the limits and streams DATA into the spool. What happens to a
// received message is not its business: it hands the spooled message to
// one Disposer (package dispose: reject, queue, bcc, hold or delay, and
// the reply text), answers what the Disposer says, and fails closed around
// it (an error, a panic or an overrun is 451, nothing kept). A 250 is
// given only after the message is durably on disk.
package smtpproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"dlpguard/spool"
)

// Outcome is what became of a message, for the metrics and the log.
type Outcome string

// Outcomes of a disposal.
const (
	Queued   Outcome = "queued"   // committed to the delivery queue (pass, bcc, delay)
	Held     Outcome = "held"     // in the encrypted hold store (3.3.5)
	Rejected Outcome = "rejected" // refused; nothing kept
)

// Reply is the relay's answer to DATA, made by the Disposer.
type Reply struct {
	Code     int    // 250 or 550 (a 4xx is returned as an error instead)
	Enhanced [3]int // RFC 3463 status, e.g. {2, 0, 0}
	Text     string // ASCII; anything else is replaced by "?"
	Outcome  Outcome
	Rules    []string // rule IDs, for the log
}

// Disposer decides what happens to a received message and does it: the
// front end receives and spools, the Disposer inspects, commits msg to the
// queue, hands it to the hold store or refuses it, and says what to answer
// (package dispose is the relay's). The message is msg.File() (Received
// header included; read it with ReadAt or io.NewSectionReader), env its
// envelope (a copy the Disposer may keep). ctx's deadline is the
// inspection budget (InspectTimeout); a message whose verdict is not made
// by then is the Disposer's to hold, for which it has as long again. Only
// what Dispose committed survives it: the front end aborts msg afterwards.
// An error is answered 451 4.3.0 (452 4.3.1 for a full disk) and nothing
// is kept: the client retries (fail closed, 3.3.5).
type Disposer interface {
	Dispose(ctx context.Context, env *spool.Envelope, msg *spool.Writer) (Reply, error)
}

// DisposerFunc adapts a function to Disposer.
type DisposerFunc func(ctx context.Context, env *spool.Envelope, msg *spool.Writer) (Reply, error)

// Dispose calls f.
func (f DisposerFunc) Dispose(ctx context.Context, env *spool.Envelope, msg *spool.Writer) (Reply, error) {
	return f(ctx, env, msg)
}

// Notifier is told about every message committed to the delivery queue
// (engineer B's *queue.Queue).
type Notifier interface {
	Notify(id string)
}

// Config is what the front end needs; cmd/dlpguard maps config.Config
// onto it.
type Config struct {
	Hostname string
	// Networks may relay without AUTH.
	Networks []netip.Prefix
	// Accounts maps a user name to its bcrypt or argon2id hash.
	Accounts map[string]string
	// Certificate enables STARTTLS and the implicit-TLS listener.
	Certificate *tls.Certificate

	MaxMessageSize int64
	MaxRecipients  int
	MaxLineLength  int
	MaxHeaderSize  int64
	CommandTimeout time.Duration
	DataTimeout    time.Duration
	MaxConnections int
	// MaxConnectionsPerIP caps one address's sessions so that slow
	// clients from one address cannot take every connection (default: a
	// quarter of MaxConnections, at most 50, at least 1).
	MaxConnectionsPerIP int
	InspectTimeout      time.Duration
	// Auth are the brakes on password guessing.
	Auth AuthLimits
}

// Defaults of Config's limits: the one place they are written (package
// config's Default reads them).
const (
	DefaultMaxMessageSize = 25 << 20
	DefaultMaxRecipients  = 100
	DefaultMaxLineLength  = 4096
	DefaultMaxHeaderSize  = 1 << 20
	DefaultCommandTimeout = 5 * time.Minute
	DefaultDataTimeout    = 10 * time.Minute
	DefaultMaxConnections = 500
	DefaultInspectTimeout = 2 * time.Minute
)

func (c *Config) setDefaults() {
	if c.Hostname == "" {
		c.Hostname = "localhost"
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxRecipients == 0 {
		c.MaxRecipients = DefaultMaxRecipients
	}
	if c.MaxLineLength == 0 {
		c.MaxLineLength = DefaultMaxLineLength
	}
	if c.MaxHeaderSize == 0 {
		c.MaxHeaderSize = DefaultMaxHeaderSize
	}
	if c.CommandTimeout == 0 {
		c.CommandTimeout = DefaultCommandTimeout
	}
	if c.DataTimeout == 0 {
		c.DataTimeout = DefaultDataTimeout
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxConnectionsPerIP == 0 {
		c.MaxConnectionsPerIP = DefaultConnectionsPerIP(c.MaxConnections)
	}
	if c.InspectTimeout == 0 {
		c.InspectTimeout = DefaultInspectTimeout
	}
	c.Auth.setDefaults(c.MaxConnections)
}

// DefaultConnectionsPerIP is the per-address cap when none is configured:
// a quarter of the connections, at most 50, at least 1, so that one
// address never holds them all.
func DefaultConnectionsPerIP(maxConnections int) int {
	return max(1, min(50, maxConnections/4))
}

// Options are the front end's collaborators; all are optional.
type Options struct {
	Logger  *slog.Logger
	Metrics *Metrics // nil: counted nowhere
	// Disposer decides and applies the verdict; nil: every message is
	// queued as it is (tests and tools only: serve always sets one).
	Disposer Disposer
	Queue    Notifier // told of messages queued without a Disposer; nil: nobody
	// Auditor records AUTH failures and blocks (the audit log); nil: only
	// the log and the metrics have them.
	Auditor Auditor
}

// Server is the SMTP front end. One Server may serve several listeners.
type Server struct {
	store   *spool.Store
	log     *slog.Logger
	metrics *Metrics // complete: no nil field
	queue   Notifier
	auditor Auditor
	auth    *authGuard

	cfg      atomic.Pointer[Config] // reloadable settings
	disposer atomic.Pointer[disposerBox]
	startCfg Config // settings fixed at start (go-smtp server fields)

	conns    connLimiter
	draining atomic.Bool

	mu      sync.Mutex
	servers []*smtp.Server
	open    map[string]*countedConn // by remote address, for the drain
}

type disposerBox struct{ Disposer }

// New creates a front end over store.
func New(cfg Config, store *spool.Store, opts Options) *Server {
	cfg.setDefaults()
	s := &Server{
		store:    store,
		log:      opts.Logger,
		metrics:  opts.Metrics.complete(),
		queue:    opts.Queue,
		auditor:  opts.Auditor,
		startCfg: cfg,
		auth:     newAuthGuard(cfg.Auth.MaxChecks),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.cfg.Store(&cfg)
	s.SetDisposer(opts.Disposer)
	s.open = map[string]*countedConn{}
	return s
}

// SetDisposer replaces the Disposer (nil: queue everything as it is).
func (s *Server) SetDisposer(d Disposer) {
	s.disposer.Store(&disposerBox{d})
}

// Reload applies new settings to new sessions. Listener addresses and the
// settings go-smtp fixes per server (message size as advertised, line
// length, command timeout) need a restart; the names of those that
// changed are returned for the log.
func (s *Server) Reload(cfg Config) (needRestart []string) {
	cfg.setDefaults()
	old := s.startCfg
	if cfg.MaxMessageSize != old.MaxMessageSize {
		needRestart = append(needRestart, "max_message_size")
		cfg.MaxMessageSize = old.MaxMessageSize
	}
	if cfg.MaxLineLength != old.MaxLineLength {
		needRestart = append(needRestart, "max_line_length")
		cfg.MaxLineLength = old.MaxLineLength
	}
	if cfg.Auth.MaxChecks != old.Auth.MaxChecks {
		needRestart = append(needRestart, "auth_limits.max_checks")
		cfg.Auth.MaxChecks = old.Auth.MaxChecks
	}
	if cfg.CommandTimeout != old.CommandTimeout {
		needRestart = append(needRestart, "command_timeout")
		cfg.CommandTimeout = old.CommandTimeout
	}
	if (cfg.Certificate == nil) != (old.Certificate == nil) {
		// STARTTLS is advertised by go-smtp only if it had a TLS config
		// at start; a changed certificate is picked up, adding or
		// removing TLS is not.
		needRestart = append(needRestart, "tls")
		cfg.Certificate = old.Certificate
	}
	s.cfg.Store(&cfg)
	return needRestart
}

func (s *Server) config() *Config { return s.cfg.Load() }

// newSMTPServer builds a go-smtp server for one listener.
func (s *Server) newSMTPServer() *smtp.Server {
	c := s.startCfg
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = c.Hostname
	srv.MaxMessageBytes = c.MaxMessageSize
	srv.MaxLineLength = c.MaxLineLength
	// Recipients are limited in Session.Rcpt (reloadable).
	srv.MaxRecipients = 0
	srv.ReadTimeout = c.CommandTimeout
	srv.WriteTimeout = c.CommandTimeout
	srv.EnableSMTPUTF8 = true // RFC 6531
	srv.AllowInsecureAuth = false
	srv.ErrorLog = slogErrorLog{s.log}
	if c.Certificate != nil {
		srv.TLSConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			// The certificate is read per handshake so that a reload
			// can replace it.
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				if cert := s.config().Certificate; cert != nil {
					return cert, nil
				}
				return nil, errors.New("no certificate")
			},
		}
	}
	s.mu.Lock()
	s.servers = append(s.servers, srv)
	s.mu.Unlock()
	return srv
}

// Serve accepts submissions on ln (plain, STARTTLS offered when a
// certificate is configured) until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	srv := s.newSMTPServer()
	if s.draining.Load() {
		// Shutdown ran before this server was registered, so it could
		// not stop it: never start accepting.
		ln.Close()
		return nil
	}
	err := srv.Serve(&limitListener{Listener: ln, s: s})
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// ServeTLS accepts implicit-TLS submissions (RFC 8314) on ln.
func (s *Server) ServeTLS(ln net.Listener) error {
	srv := s.newSMTPServer()
	if srv.TLSConfig == nil {
		return errors.New("smtpproxy: implicit TLS needs a certificate")
	}
	if s.draining.Load() { // see Serve
		ln.Close()
		return nil
	}
	err := srv.Serve(tls.NewListener(&limitListener{Listener: ln, s: s}, srv.TLSConfig))
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and lets the sessions in progress
// end: a session between transactions is closed, one in a transaction may
// finish it (a new MAIL gets 421), until ctx expires; then what is left is
// closed. Nothing acknowledged is lost either way: a session cut off before
// its 250 was never acknowledged.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.mu.Lock()
	servers := s.servers
	s.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
				srv.Close()
				errs[i] = err
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		s.closeIdle()
		select {
		case <-done:
			return errors.Join(errs...)
		case <-tick.C:
		}
	}
}

// closeIdle closes the connections not inside DATA/BDAT.
func (s *Server) closeIdle() {
	now := time.Now()
	s.mu.Lock()
	var idle []*countedConn
	for _, c := range s.open {
		if c.idle(now) {
			idle = append(idle, c)
		}
	}
	s.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// track registers an open connection; the returned func forgets it.
func (s *Server) track(c *countedConn) {
	s.mu.Lock()
	s.open[c.RemoteAddr().String()] = c
	s.mu.Unlock()
}

func (s *Server) untrack(c *countedConn) {
	s.mu.Lock()
	if s.open[c.RemoteAddr().String()] == c {
		delete(s.open, c.RemoteAddr().String())
	}
	s.mu.Unlock()
}

// connFor finds the tracked connection of a session.
func (s *Server) connFor(remote net.Addr) *countedConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open[remote.String()]
}

// slogErrorLog routes go-smtp's internal errors to slog.
type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Printf(format string, v ...any) {
	l.log.Warn("smtp", "detail", fmt.Sprintf(format, v...))
}

func (l slogErrorLog) Println(v ...any) { l.log.Warn("smtp", "detail", fmt.Sprint(v...)) }

// connLimiter counts open connections (or sessions in AUTH) per client
// address and in total.
type connLimiter struct {
	mu     sync.Mutex
	total  int
	counts map[netip.Addr]int
}

func (l *connLimiter) acquire(ip netip.Addr, max, maxPer int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= max || l.counts[ip] >= maxPer {
		return false
	}
	if l.counts == nil {
		l.counts = map[netip.Addr]int{}
	}
	l.total++
	l.counts[ip]++
	return true
}

func (l *connLimiter) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.counts[ip]--; l.counts[ip] <= 0 {
		delete(l.counts, ip)
	}
}

// limitListener refuses connections over the limits with 421 at connect
// (RFC 5321 3.8: a server may refuse with 421 instead of the greeting).
type limitListener struct {
	net.Listener
	s *Server
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c.RemoteAddr())
		cfg := l.s.config()
		if !l.s.conns.acquire(ip, cfg.MaxConnections, cfg.MaxConnectionsPerIP) {
			l.s.metrics.Refused.Inc()
			l.s.log.Warn("connection refused: too many connections", "client", ip.String())
			go func() {
				c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				fmt.Fprintf(c, "421 4.7.0 %s Too many connections, try again later\r\n", cfg.Hostname)
				c.Close()
			}()
			continue
		}
		l.s.metrics.Sessions.Inc()
		l.s.metrics.SessionsTotal.Inc()
		cc := &countedConn{Conn: c}
		cc.release = func() {
			l.s.untrack(cc)
			l.s.conns.release(ip)
			l.s.metrics.Sessions.Dec()
		}
		l.s.track(cc)
		return cc, nil
	}
}

func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
