package smtpproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dlpguard/spool"
)

// session is one SMTP conversation (renewed after STARTTLS). Under BDAT,
// go-smtp runs Data in its own goroutine and may call Reset while Data
// still runs, so the transaction state is guarded by mu; Data holds mu
// throughout, and Reset waits for it (Data sees ErrDataReset first, because
// go-smtp closes the chunk pipe before calling Reset).
type session struct {
	srv      *Server
	conn     net.Conn
	tracked  *countedConn // nil for connections not from our listeners
	ip       netip.Addr
	helo     string
	tls      bool
	log      *slog.Logger
	started  time.Time
	messages int
	ended    atomic.Bool // the session ended the connection (untracked conns)
	inAuth   atomic.Bool // holds a slot of AuthLimits.MaxSessions

	mu       sync.Mutex
	authUser string
	from     string
	fromSet  bool
	utf8     bool
	eightBit bool
	rcpts    []string
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	ss := &session{
		srv:     s,
		conn:    c.Conn(),
		ip:      remoteIP(c.Conn().RemoteAddr()),
		helo:    sanitizeHELO(c.Hostname()),
		started: time.Now(),
	}
	_, ss.tls = c.TLSConnectionState()
	ss.tracked = s.connFor(c.Conn().RemoteAddr())
	ss.log = s.log.With("client", ss.ip.String(), "helo", ss.helo, "tls", ss.tls)
	ss.log.Debug("session start")
	return ss, nil
}

// allowedNetwork reports whether the client may relay without AUTH.
func (ss *session) allowedNetwork() bool {
	for _, p := range ss.srv.config().Networks {
		if p.Contains(ss.ip) {
			return true
		}
	}
	return false
}

func (ss *session) AuthMechanisms() []string {
	if len(ss.srv.config().Accounts) == 0 {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.over() {
		return nil, errSessionOver
	}
	// go-smtp refuses AUTH before TLS (AllowInsecureAuth is false) with
	// 523 5.7.10 (RFC 4954 4); this is a second guard.
	if !ss.tls {
		return nil, &smtp.SMTPError{Code: 523, EnhancedCode: smtp.EnhancedCode{5, 7, 10}, Message: "TLS is required"}
	}
	// A client that abandoned an exchange gives its slot back here.
	ss.leaveAuth()
	if !ss.srv.auth.enter(ss.ip, ss.srv.config().Auth.MaxSessions) {
		ss.srv.metrics.AuthRefused.Inc()
		ss.log.Warn("authentication refused: too many sessions in AUTH")
		return nil, errAuthBusy
	}
	ss.inAuth.Store(true)
	var srv sasl.Server
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		srv = sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return smtp.ErrAuthFailed // no proxy authorization
			}
			return ss.checkAuth(user, pass)
		})
	case sasl.Login:
		srv = &loginServer{check: ss.checkAuth}
	default:
		ss.leaveAuth()
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return &authExchange{Server: srv, ss: ss}, nil
}

// authExchange gives the AUTH slot back when the exchange ends.
type authExchange struct {
	sasl.Server
	ss *session
}

func (a *authExchange) Next(response []byte) ([]byte, bool, error) {
	challenge, done, err := a.Server.Next(response)
	if done || err != nil {
		a.ss.leaveAuth()
	}
	return challenge, done, err
}

func (ss *session) leaveAuth() {
	if ss.inAuth.CompareAndSwap(true, false) {
		ss.srv.auth.leave(ss.ip)
	}
}

var (
	// RFC 4954 6: 454 4.7.0 is a temporary authentication failure.
	errAuthBlocked = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Too many failed authentications, try again later"}
	errAuthBusy = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Too many authentications in progress, try again later"}
)

// authQueueWait bounds the wait for a password check slot.
const authQueueWait = 30 * time.Second

// checkAuth verifies one user name and password under the AuthLimits:
// refused without a check while the address or account is blocked, after
// a delay that grows with their recent failures, and one of a bounded
// number of checks at a time. Failures and blocks go to the log, the
// metrics and the audit log.
func (ss *session) checkAuth(user, pass string) error {
	srv := ss.srv
	cfg := srv.config()
	l := cfg.Auth
	name := asciiOnly(user, 64)
	account := "" // every unknown name shares one counter (bounded table)
	if _, ok := cfg.Accounts[user]; ok {
		account = user
	}
	refused := func(err *smtp.SMTPError, until time.Time) error {
		srv.metrics.AuthRefused.Inc()
		ss.log.Warn("authentication refused", "user", name, "reason", err.Message, "until", until)
		return err
	}
	wait, until := srv.auth.admit(ss.ip, account, &l, time.Now())
	if !until.IsZero() {
		return refused(errAuthBlocked, until)
	}
	if wait > 0 {
		time.Sleep(wait)
	}
	select {
	case srv.auth.checks <- struct{}{}:
	case <-time.After(authQueueWait):
		return refused(errAuthBusy, time.Time{})
	}
	// A block may have started while this attempt waited.
	if _, until := srv.auth.admit(ss.ip, account, &l, time.Now()); !until.IsZero() {
		<-srv.auth.checks
		return refused(errAuthBlocked, until)
	}
	ok := srv.checkPassword(user, pass)
	<-srv.auth.checks
	if ok {
		srv.auth.succeed(ss.ip)
		ss.mu.Lock()
		ss.authUser = user
		ss.mu.Unlock()
		ss.log.Info("authenticated", "user", user)
		return nil
	}
	addrN, userN, addrBlock, userBlock := srv.auth.fail(ss.ip, account, &l, time.Now())
	srv.metrics.AuthFailures.Inc()
	ss.log.Warn("authentication failed", "user", name, "address_failures", addrN, "account_failures", userN)
	srv.audit(AuthEvent{Kind: AuthFailure, Client: ss.ip.String(), User: name, Failures: addrN})
	if !addrBlock.IsZero() {
		srv.metrics.AuthBlocks.WithLabelValues("address").Inc()
		ss.log.Error("client address blocked for AUTH after repeated failures", "failures", addrN, "until", addrBlock)
		srv.audit(AuthEvent{Kind: AuthBlockAddress, Client: ss.ip.String(), User: name, Failures: addrN, Until: addrBlock})
	}
	if !userBlock.IsZero() {
		srv.metrics.AuthBlocks.WithLabelValues("account").Inc()
		ss.log.Error("account blocked for AUTH after repeated failures", "user", name, "failures", userN, "until", userBlock)
		srv.audit(AuthEvent{Kind: AuthBlockAccount, Client: ss.ip.String(), User: name, Failures: userN, Until: userBlock})
	}
	return smtp.ErrAuthFailed
}

// audit hands an event to the Auditor; a failure to record is logged.
func (s *Server) audit(ev AuthEvent) {
	if s.auditor == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.auditor.RecordAuth(ctx, ev); err != nil {
		s.log.Error("audit: AUTH event not recorded", "kind", ev.Kind, "client", ev.Client, "err", err)
	}
}

var errDataTimeout = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Timeout waiting for data"}

var errShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down, try again later"}

// errSessionOver answers a command read after the session ended (a partial
// line go-smtp runs after a timeout, or lines it had buffered).
var errSessionOver = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Session ended, closing connection"}

// RFC 6531 3.5 / RFC 6533: a non-ASCII address needs SMTPUTF8 (and must
// be UTF-8).
var errNeedUTF8 = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 6, 7},
	Message: "Non-ASCII address without SMTPUTF8 (RFC 6531)"}
var errBadUTF8 = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 6, 7},
	Message: "Address is not valid UTF-8 (RFC 6531)"}

// checkAddress refuses an 8-bit address unless the transaction declared
// SMTPUTF8.
func checkAddress(addr string, utf8Declared bool) error {
	for i := 0; i < len(addr); i++ {
		if addr[i] >= 0x80 {
			if !utf8Declared {
				return errNeedUTF8
			}
			if !utf8.ValidString(addr) {
				return errBadUTF8
			}
			return nil
		}
	}
	return nil
}

// over reports whether the session has ended: every command is refused.
func (ss *session) over() bool {
	return ss.ended.Load() || (ss.tracked != nil && ss.tracked.over())
}

// endWith answers a transfer that cannot go on and closes the connection
// after the reply (RFC 5321 3.8 allows the server to close): the rest of
// what the client sends is never read as commands (issue 17: a trickled
// body's MAIL/RCPT/DATA ran after the data timeout). The reply is written
// here rather than by go-smtp, which would go on reading; go-smtp's own
// attempt afterwards fails on the closed connection.
func (ss *session) endWith(e *smtp.SMTPError) error {
	if ss.conn != nil && !ss.ended.Load() && (ss.tracked == nil || !ss.tracked.ended.Load()) {
		ss.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(ss.conn, "%d %d.%d.%d %s\r\n", e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2], e.Message)
	}
	ss.end()
	return e
}

// end closes the connection (after a reply already written).
func (ss *session) end() {
	ss.ended.Store(true)
	switch {
	case ss.tracked != nil:
		ss.tracked.end()
	case ss.conn != nil:
		ss.conn.Close()
	}
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.leaveAuth()
	if ss.over() {
		return errSessionOver
	}
	if ss.srv.draining.Load() {
		return errShuttingDown
	}
	if err := checkAddress(from, opts != nil && opts.UTF8); err != nil {
		ss.log.Warn("sender refused", "reason", err.Error())
		return err
	}
	ss.from, ss.fromSet = from, true
	ss.rcpts = nil
	ss.utf8, ss.eightBit = false, false
	if opts != nil {
		ss.utf8 = opts.UTF8
		ss.eightBit = opts.Body == smtp.Body8BitMIME || opts.Body == smtp.BodyBinaryMIME
		// SIZE= larger than the limit is refused by go-smtp (552 5.3.4).
	}
	return nil
}

var (
	errRelayDenied = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied"}
	errTooManyRcpt = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "Too many recipients"}
)

func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.over() {
		return errSessionOver
	}
	if err := checkAddress(to, ss.utf8); err != nil {
		ss.log.Warn("recipient refused", "reason", err.Error())
		return err
	}
	// Never an open relay: every recipient needs an allowed client
	// network or an authenticated account.
	if ss.authUser == "" && !ss.allowedNetwork() {
		ss.log.Warn("relay denied", "from", ss.from, "rcpt", to)
		return errRelayDenied
	}
	// RFC 5321 4.5.3.1.8: 452 for too many recipients; the client sends
	// the rest in another transaction.
	if len(ss.rcpts) >= ss.srv.config().MaxRecipients {
		return errTooManyRcpt
	}
	for _, r := range ss.rcpts {
		if r == to {
			return nil // a duplicate is delivered once
		}
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

func (ss *session) Reset() {
	ss.leaveAuth()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.from, ss.fromSet, ss.rcpts = "", false, nil
}

func (ss *session) Logout() error {
	ss.leaveAuth()
	ss.log.Debug("session end", "messages", ss.messages, "duration", time.Since(ss.started).Round(time.Millisecond))
	return nil
}

// Data receives the message into a spool temp file, runs the inspection
// hook, commits and replies. Read errors are always returned (go-smtp
// turns ErrDataTooLarge into 552, an abandoned BDAT into no reply), and a
// partial file is never committed.
func (ss *session) Data(r io.Reader) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.tracked != nil {
		// A drain waits for this transfer instead of cutting it.
		ss.tracked.busy.Store(true)
		defer func() {
			ss.tracked.quiet.Store(time.Now().Add(time.Second).UnixNano())
			ss.tracked.busy.Store(false)
		}()
	}
	srv := ss.srv
	cfg := srv.config()
	if ss.over() {
		return errSessionOver
	}
	if !ss.fromSet || len(ss.rcpts) == 0 {
		return &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "Need MAIL and RCPT first"}
	}
	// data_timeout bounds the whole transfer, BDAT chunk commands included.
	end := time.Now().Add(cfg.DataTimeout)
	if ss.tracked != nil {
		ss.tracked.beginTransfer(end) // sets the read deadline too
		defer ss.tracked.endTransfer()
	} else if ss.conn != nil {
		ss.conn.SetReadDeadline(end)
	}
	w, err := srv.store.Create()
	if err != nil {
		ss.log.Error("spool create", "err", err)
		return ss.endWith(localFailure("", err))
	}
	id := w.ID()
	log := ss.log.With("id", id)
	now := time.Now()
	if _, err := io.WriteString(w, ss.receivedHeader(cfg.Hostname, id, now)); err != nil {
		w.Abort()
		log.Error("spool write", "err", err)
		return ss.endWith(localFailure(id, err))
	}
	cw := &checkWriter{w: w, maxHeader: cfg.MaxHeaderSize}
	buf := make([]byte, 32<<10)
	if _, err := io.CopyBuffer(cw, r, buf); err != nil {
		w.Abort()
		// Every error that ends a transfer early ends the session after
		// its reply; only a client's own RSET or abandon keeps it.
		var serr *smtp.SMTPError
		var ne net.Error
		switch {
		case errors.Is(err, smtp.ErrDataReset) && ss.tracked != nil && ss.tracked.expired.Load():
			// BDAT: go-smtp has answered the chunk's timeout (421) and
			// reset the transfer; the session ends here.
			log.Warn("receiving failed: data timeout")
			ss.end()
			return err
		case errors.Is(err, smtp.ErrDataReset):
			log.Info("transfer abandoned by the client")
			return err
		case errors.As(err, &serr):
			log.Warn("message refused while receiving", "code", serr.Code, "reason", serr.Message)
			return ss.endWith(serr)
		case errors.Is(err, smtp.ErrTooLongLine):
			log.Warn("message refused while receiving: line too long")
			return ss.endWith(errLineTooLong)
		case errors.As(err, &ne) && ne.Timeout():
			log.Warn("receiving failed: data timeout")
			return ss.endWith(errDataTimeout)
		default:
			log.Warn("receiving failed", "err", err)
			// No internal detail (addresses, paths) in the reply.
			return ss.endWith(localFailure(id, err))
		}
	}
	if err := cw.finish(); err != nil {
		w.Abort()
		log.Warn("message refused while receiving", "code", err.Code, "reason", err.Message)
		return ss.endWith(err)
	}
	srv.metrics.Received.Inc()
	ss.messages++

	env := &spool.Envelope{
		ID:       id,
		From:     ss.from,
		ClientIP: ss.ip.String(),
		HELO:     ss.helo,
		AuthUser: ss.authUser,
		Received: now,
		Size:     w.Size(),
		UTF8:     ss.utf8,
		EightBit: ss.eightBit,
	}
	env.Recipients = spool.PendingRecipients(ss.rcpts)
	log = log.With("from", env.From, "rcpts", len(env.Recipients), "size", env.Size)

	rep, err := srv.dispose(log, env, w, cfg.InspectTimeout)
	if err != nil {
		// Nothing is kept (the Disposer committed nothing, or its copy is
		// gone with the writer): the client retries (fail closed, 3.3.5).
		log.Error("message not disposed of; 451, nothing kept", "err", err)
		return localFailure(id, err)
	}
	switch rep.Outcome {
	case Queued:
		srv.metrics.Queued.Inc()
	case Held:
		srv.metrics.Held.Inc()
	case Rejected:
		srv.metrics.Rejected.Inc()
	}
	text := replyText(rep.Text, "Ok")
	log.Info(string(rep.Outcome), "rules", rep.Rules, "code", rep.Code, "reply", text)
	return &smtp.SMTPError{Code: rep.Code, EnhancedCode: smtp.EnhancedCode(rep.Enhanced), Message: text}
}

// errDisposeTimeout: the Disposer did not return within twice the
// inspection budget (its own hold of a late verdict included).
var errDisposeTimeout = errors.New("disposer did not return in time")

// dispose runs the Disposer (or queues the message as it is when there is
// none) with the inspection budget, recovering a panic as an error. The
// writer is aborted once the Disposer is done with it, whatever it did.
// A Disposer that overruns twice the budget is answered 451; it finishes
// in the background (a message it queues then may be delivered twice,
// never lost).
func (s *Server) dispose(log *slog.Logger, env *spool.Envelope, w *spool.Writer, budget time.Duration) (Reply, error) {
	d := s.disposer.Load().Disposer
	if d == nil {
		d = DisposerFunc(s.queueAsIs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	envCopy := *env
	envCopy.Recipients = append([]spool.Recipient(nil), env.Recipients...)
	type result struct {
		r   Reply
		err error
	}
	ch := make(chan result, 1)
	go func() {
		res := func() (res result) {
			defer func() {
				if p := recover(); p != nil {
					res = result{err: fmt.Errorf("disposer panic: %v", p)}
				}
			}()
			r, err := d.Dispose(ctx, &envCopy, w)
			if err == nil && r.Code/100 != 2 && r.Code/100 != 5 {
				err = fmt.Errorf("disposer reply code %d", r.Code)
			}
			return result{r, err}
		}()
		cancel()
		// Gone before the reply: only what the Disposer committed stays.
		if err := w.Abort(); err != nil {
			log.Error("spool abort", "err", err)
		}
		ch <- res
	}()
	t := time.NewTimer(2 * budget)
	defer t.Stop()
	select {
	case res := <-ch:
		return res.r, res.err
	case <-t.C:
		return Reply{}, errDisposeTimeout
	}
}

// queueAsIs is the disposal without a Disposer: the message is committed
// to the delivery queue as it was received.
func (s *Server) queueAsIs(_ context.Context, env *spool.Envelope, w *spool.Writer) (Reply, error) {
	if err := w.Commit(env, spool.AreaQueue); err != nil {
		return Reply{}, fmt.Errorf("spool commit: %w", err)
	}
	if s.queue != nil {
		s.queue.Notify(env.ID)
	}
	return Reply{Code: 250, Enhanced: [3]int{2, 0, 0}, Text: "Ok: queued as " + env.ID, Outcome: Queued}, nil
}

// localFailure is the reply for a local problem: 452 4.3.1 when the disk
// is full (RFC 5321 4.2.3, RFC 3463), else 451 4.3.0. The client keeps the
// message and tries again; no internal detail goes into the reply.
func localFailure(id string, err error) *smtp.SMTPError {
	code, ec, msg := 451, smtp.EnhancedCode{4, 3, 0}, "Temporary local failure, try again later"
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		code, ec, msg = 452, smtp.EnhancedCode{4, 3, 1}, "Insufficient system storage, try again later"
	}
	if id != "" {
		msg += " (" + id + ")"
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: msg}
}

// receivedHeader is the trace header the relay prepends (RFC 5321 4.4;
// protocol names from RFC 3848 and RFC 6531). The recipient is named only
// when there is one, so a Bcc recipient is not disclosed to the others.
func (ss *session) receivedHeader(host, id string, t time.Time) string {
	proto := "ESMTP"
	if ss.utf8 {
		proto = "UTF8SMTP"
	}
	if ss.tls {
		proto += "S"
	}
	if ss.authUser != "" {
		proto += "A"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from %s ([%s])\r\n\tby %s (dlpguard) with %s id %s", ss.helo, ss.ip, host, proto, id)
	if len(ss.rcpts) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", ss.rcpts[0])
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", t.Format(time.RFC1123Z))
	return b.String()
}

func sanitizeHELO(h string) string {
	h = asciiOnly(h, 255)
	h = strings.Map(func(r rune) rune {
		if r == ' ' || r == '(' || r == ')' || r == ';' || r == '\\' {
			return '_'
		}
		return r
	}, h)
	if h == "" {
		return "unknown"
	}
	return h
}

// asciiOnly keeps printable ASCII (SMTP replies and trace fields) and cuts
// to max bytes.
func asciiOnly(s string, max int) string {
	b := make([]byte, 0, min(len(s), max))
	for i := 0; i < len(s) && len(b) < max; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b = append(b, c)
		} else {
			b = append(b, '?')
		}
	}
	return string(b)
}

func replyText(s, fallback string) string {
	s = strings.TrimSpace(asciiOnly(s, 400))
	if s == "" {
		return fallback
	}
	return s
}
