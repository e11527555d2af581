// Package icap is dlpguard's file-transfer guard: an ICAP service (RFC 3507,
// REQMOD) that a web proxy such as Squid hands upload requests to. Each
// uploaded file and form field goes through the same inspect → classify →
// policy path as mail; the proxy either forwards the upload (204) or returns
// dlpguard's 403 page. Anything that cannot be inspected is blocked, never
// passed (fail closed).
package icap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"dlpguard/audit"
	"dlpguard/inspect"
	"dlpguard/policy"
)

// Config configures the ICAP service. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	Listen         string        // default 127.0.0.1:1344 (loopback: the proxy runs on the same host)
	Service        string        // service path, default "/reqmod"
	MaxConnections int           // concurrent connections, default 100 (advertised in OPTIONS)
	MaxHeaderBytes int64         // ICAP header plus encapsulated HTTP header, default 64 KiB
	MaxBodyBytes   int64         // upload body; larger uploads are blocked, default 100 MiB
	Preview        int           // preview size advertised in OPTIONS, default 4096
	OptionsTTL     time.Duration // default 1h
	IdleTimeout    time.Duration // between requests on a persistent connection, default 2m
	ReadTimeout    time.Duration // for each read within a request, default 60s
	TempDir        string        // where upload bodies are spooled ("" = os.TempDir())
	// Contact is whom staff ask about a block (shown on the 403 page),
	// e.g. "情報政策課 内線 1234 / security@city.example.lg.jp".
	Contact string
	// ApprovedRoute tells staff how to send what may not be uploaded
	// (shown when the policy would hold: uploads cannot wait).
	ApprovedRoute string
	// OCR reads images and scanned PDF pages of uploads as the relay does
	// (the server's inspect.ocr); nil: they are not read (3.3.5).
	OCR inspect.OCR
	// Audit, when set, receives an entry for every block and every
	// allowed upload with findings.
	Audit *audit.Log
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Listen:         "127.0.0.1:1344",
		Service:        "/reqmod",
		MaxConnections: 100,
		MaxHeaderBytes: 64 << 10,
		MaxBodyBytes:   100 << 20,
		Preview:        4096,
		OptionsTTL:     time.Hour,
		IdleTimeout:    2 * time.Minute,
		ReadTimeout:    60 * time.Second,
		Contact:        "情報セキュリティ担当（情報政策課） / the information-security office",
		ApprovedRoute:  "庁内の承認済みファイル転送サービス（情報セキュリティ管理責任者の許可を得て）",
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Listen == "" {
		c.Listen = d.Listen
	}
	if c.Service == "" {
		c.Service = d.Service
	}
	if !strings.HasPrefix(c.Service, "/") {
		c.Service = "/" + c.Service
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = d.MaxConnections
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.Preview <= 0 {
		c.Preview = d.Preview
	}
	if c.OptionsTTL <= 0 {
		c.OptionsTTL = d.OptionsTTL
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.Contact == "" {
		c.Contact = d.Contact
	}
	if c.ApprovedRoute == "" {
		c.ApprovedRoute = d.ApprovedRoute
	}
	return c
}

// Server is the ICAP service. Create it with New.
type Server struct {
	cfg     Config
	engine  func() *policy.Engine
	log     *slog.Logger
	metrics *metrics
	slots   chan struct{}

	mu       sync.Mutex
	lns      map[net.Listener]bool
	conns    map[net.Conn]*connState
	closing  bool
	wg       sync.WaitGroup
	shutdown chan struct{}
}

type connState struct{ busy bool }

// New creates the service. engine returns the current policy (e.g.
// policy.Holder.Engine, so the ISTag follows reloads); logger nil means
// slog.Default(); reg nil means metrics are not registered.
func New(cfg Config, engine func() *policy.Engine, logger *slog.Logger, reg prometheus.Registerer) *Server {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{
		cfg:      cfg,
		engine:   engine,
		log:      logger.With("component", "icap"),
		metrics:  newMetrics(reg),
		slots:    make(chan struct{}, cfg.MaxConnections),
		lns:      map[net.Listener]bool{},
		conns:    map[net.Conn]*connState{},
		shutdown: make(chan struct{}),
	}
}

// Config returns the effective configuration (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("icap: server closed")

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.lns[ln] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			select {
			case <-s.shutdown:
				return ErrServerClosed
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("icap: accept: %w", err)
		}
		delay = 0
		select {
		case s.slots <- struct{}{}:
		default:
			// Over Max-Connections: tell the proxy and close.
			s.metrics.requests.WithLabelValues("none", "503").Inc()
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "ICAP/1.0 503 Service Unavailable\r\nISTag: \""+s.istag()+"\"\r\nEncapsulated: null-body=0\r\nConnection: close\r\n\r\n")
			c.Close()
			continue
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			<-s.slots
			c.Close()
			return ErrServerClosed
		}
		st := &connState{}
		s.conns[c] = st
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
				<-s.slots
				s.wg.Done()
			}()
			s.serveConn(context.Background(), c, st)
		}()
	}
}

// ListenAndServe listens on Config.Listen (TCP) and serves until Shutdown.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("icap: listen %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ln)
}

// Shutdown stops accepting, closes idle connections, and waits for
// requests in progress until ctx is done, then closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.shutdown)
	}
	for ln := range s.lns {
		ln.Close()
	}
	for c, st := range s.conns {
		if !st.busy {
			c.Close()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

func (s *Server) setBusy(c net.Conn, st *connState, busy bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st != nil {
		st.busy = busy
	}
	return !s.closing
}

// istag identifies the policy in force (RFC 3507 4.7): it changes on reload,
// so the proxy drops anything it cached under the old policy.
func (s *Server) istag() string {
	if s.engine != nil {
		if e := s.engine(); e != nil {
			return "dlpg-" + e.Version()
		}
	}
	return "dlpg-none"
}

// deadlineConn sets a read deadline before each read, so a stalled client
// cannot hold a connection slot for ever.
// The timeout is the idle timeout while waiting for a request and the
// read timeout within one.
type deadlineConn struct {
	c       net.Conn
	timeout time.Duration
}

func (d *deadlineConn) Read(p []byte) (int, error) {
	d.c.SetReadDeadline(time.Now().Add(d.timeout))
	return d.c.Read(p)
}

func (s *Server) serveConn(ctx context.Context, c net.Conn, st *connState) {
	dc := &deadlineConn{c: c, timeout: s.cfg.IdleTimeout}
	idle := func() { dc.timeout = s.cfg.IdleTimeout }
	s.handle(ctx, bufio.NewReaderSize(dc, 32<<10), bufio.NewWriterSize(c, 32<<10), func(busy bool) bool {
		if busy {
			dc.timeout = s.cfg.ReadTimeout
		}
		return s.setBusy(c, st, busy)
	}, idle)
}

// handle serves requests from br until the client closes, a request is
// malformed, or the server shuts down. It never panics: a panic in the
// inspection path is answered with 500 and the connection closed.
func (s *Server) handle(ctx context.Context, br *bufio.Reader, bw *bufio.Writer, busy func(bool) bool, idle func()) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("icap: internal error", "panic", fmt.Sprint(p))
			s.metrics.requests.WithLabelValues("none", "500").Inc()
			writeStatus(bw, 500, "Server Error", s.istag(), true)
			bw.Flush()
		}
	}()
	for {
		if idle != nil {
			// Wait for the next request with the idle timeout; the
			// first byte flips the connection to busy.
			idle()
		}
		if _, err := br.Peek(1); err != nil {
			return
		}
		if !busy(true) {
			return
		}
		keep := s.one(ctx, br, bw)
		if err := bw.Flush(); err != nil {
			return
		}
		if !busy(false) || !keep {
			return
		}
	}
}

// one serves one request; it reports whether the connection may be reused.
func (s *Server) one(ctx context.Context, br *bufio.Reader, bw *bufio.Writer) bool {
	req, err := readRequest(br, s.cfg.MaxHeaderBytes)
	if err != nil {
		var pe *protoError
		if errors.As(err, &pe) {
			s.log.Info("icap: malformed request", "status", pe.status, "error", pe.msg)
			s.metrics.requests.WithLabelValues("none", strconv.Itoa(pe.status)).Inc()
			writeStatus(bw, pe.status, statusText(pe.status), s.istag(), true)
		}
		return false
	}
	keep := !strings.EqualFold(req.header.Get("Connection"), "close")
	method := req.method
	switch method {
	case "OPTIONS", "REQMOD", "RESPMOD":
	default:
		method = "other"
	}
	if req.path != s.cfg.Service {
		s.metrics.requests.WithLabelValues(method, "404").Inc()
		writeStatus(bw, 404, "ICAP Service Not Found", s.istag(), true)
		return false // the body, if any, was not read
	}
	switch req.method {
	case "OPTIONS":
		s.metrics.requests.WithLabelValues(method, "200").Inc()
		if err := s.options(br, bw, req); err != nil {
			return false
		}
		return keep
	case "REQMOD":
		status, keep2 := s.reqmod(ctx, br, bw, req)
		s.metrics.requests.WithLabelValues(method, strconv.Itoa(status)).Inc()
		return keep && keep2
	case "RESPMOD":
		s.metrics.requests.WithLabelValues(method, "405").Inc()
		writeStatus(bw, 405, "Method Not Allowed For Service", s.istag(), true)
		return false
	default:
		s.metrics.requests.WithLabelValues(method, "501").Inc()
		writeStatus(bw, 501, "Method Not Implemented", s.istag(), true)
		return false
	}
}

// options answers OPTIONS (RFC 3507 4.10).
func (s *Server) options(br *bufio.Reader, bw *bufio.Writer, req *request) error {
	// An OPTIONS request may carry an opt-body; read and discard it.
	if len(req.encap) > 0 && req.encap[len(req.encap)-1].name == "opt-body" {
		cr := &chunkReader{br: br, budget: s.cfg.MaxHeaderBytes}
		if _, err := io.Copy(io.Discard, io.LimitReader(cr, s.cfg.MaxHeaderBytes)); err != nil {
			return err
		}
	}
	fmt.Fprintf(bw, "ICAP/1.0 200 OK\r\n")
	fmt.Fprintf(bw, "Methods: REQMOD\r\n")
	fmt.Fprintf(bw, "Service: dlpguard file-transfer guard\r\n")
	fmt.Fprintf(bw, "Service-ID: dlpguard\r\n")
	fmt.Fprintf(bw, "ISTag: \"%s\"\r\n", s.istag())
	fmt.Fprintf(bw, "Max-Connections: %d\r\n", s.cfg.MaxConnections)
	fmt.Fprintf(bw, "Options-TTL: %d\r\n", int(s.cfg.OptionsTTL/time.Second))
	fmt.Fprintf(bw, "Allow: 204\r\n")
	fmt.Fprintf(bw, "Preview: %d\r\n", s.cfg.Preview)
	fmt.Fprintf(bw, "Transfer-Preview: *\r\n")
	fmt.Fprintf(bw, "Date: %s\r\n", time.Now().UTC().Format(timeFormat))
	fmt.Fprintf(bw, "Encapsulated: null-body=0\r\n\r\n")
	return nil
}

const timeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

func writeStatus(bw *bufio.Writer, code int, text, istag string, closeConn bool) {
	fmt.Fprintf(bw, "ICAP/1.0 %d %s\r\nISTag: \"%s\"\r\nDate: %s\r\nEncapsulated: null-body=0\r\n", code, text, istag, time.Now().UTC().Format(timeFormat))
	if closeConn {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
}

func statusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 404:
		return "ICAP Service Not Found"
	case 405:
		return "Method Not Allowed For Service"
	case 500:
		return "Server Error"
	case 505:
		return "ICAP Version Not Supported"
	}
	return "Error"
}
