package smtpproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dlpguard/smtpproxy/spool"
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
	// go-smtp refuses AUTH before TLS (AllowInsecureAuth is false) with
	// 523 5.7.10 (RFC 4954 4); this is a second guard.
	if !ss.tls {
		return nil, &smtp.SMTPError{Code: 523, EnhancedCode: smtp.EnhancedCode{5, 7, 10}, Message: "TLS is required"}
	}
	check := func(user, pass string) error {
		if !ss.srv.checkPassword(user, pass) {
			ss.log.Warn("authentication failed", "user", asciiOnly(user, 64))
			// Slow down guessing; the session is this client's alone.
			time.Sleep(300 * time.Millisecond)
			return smtp.ErrAuthFailed
		}
		ss.mu.Lock()
		ss.authUser = user
		ss.mu.Unlock()
		ss.log.Info("authenticated", "user", user)
		return nil
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return smtp.ErrAuthFailed // no proxy authorization
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

var errDataTimeout = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Timeout waiting for data"}

var errShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down, try again later"}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.srv.draining.Load() {
		return errShuttingDown
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
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.from, ss.fromSet, ss.rcpts = "", false, nil
}

func (ss *session) Logout() error {
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
	if !ss.fromSet || len(ss.rcpts) == 0 {
		return &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "Need MAIL and RCPT first"}
	}
	if ss.conn != nil {
		ss.conn.SetReadDeadline(time.Now().Add(cfg.DataTimeout))
	}
	w, err := srv.store.Create()
	if err != nil {
		ss.log.Error("spool create", "err", err)
		return localFailure("", err)
	}
	id := w.ID()
	log := ss.log.With("id", id)
	now := time.Now()
	if _, err := io.WriteString(w, ss.receivedHeader(cfg.Hostname, id, now)); err != nil {
		w.Abort()
		log.Error("spool write", "err", err)
		return localFailure(id, err)
	}
	cw := &checkWriter{w: w, maxHeader: cfg.MaxHeaderSize}
	buf := make([]byte, 32<<10)
	if _, err := io.CopyBuffer(cw, r, buf); err != nil {
		w.Abort()
		var serr *smtp.SMTPError
		switch {
		case errors.Is(err, smtp.ErrDataReset):
			log.Info("transfer abandoned by the client")
		case errors.As(err, &serr):
			log.Warn("message refused while receiving", "code", serr.Code, "reason", serr.Message)
		case errors.Is(err, smtp.ErrTooLongLine):
			log.Warn("message refused while receiving: line too long")
			return errLineTooLong
		default:
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				log.Warn("receiving failed: data timeout")
				return errDataTimeout
			}
			log.Warn("receiving failed", "err", err)
			// No internal detail (addresses, paths) in the reply.
			return localFailure(id, err)
		}
		return err
	}
	if err := cw.finish(); err != nil {
		w.Abort()
		log.Warn("message refused while receiving", "err", err)
		return err
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

	d := srv.inspect(log, env, w.File(), cfg.InspectTimeout)
	switch d.Action {
	case ActionReject:
		if err := w.Abort(); err != nil {
			log.Error("spool abort", "err", err)
		}
		srv.metrics.Rejected.Inc()
		text := replyText(d.Reply, "Message refused by policy")
		log.Info("rejected", "rules", d.Rules, "reply", text)
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: text + " (" + id + ")"}
	case ActionHold, ActionDelay:
		if srv.keeper != nil {
			kid, err := srv.keep(d, env, w, cfg.InspectTimeout)
			if err == nil {
				w.Abort() // the keeper has its own durable copy
				srv.metrics.Held.Inc()
				log.Info("kept", "action", d.Action, "rules", d.Rules, "keeper_id", kid)
				verb := "held"
				if d.Action == ActionDelay {
					verb = "delayed"
				}
				return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0},
					Message: replyText(d.Reply, "Ok") + ": " + verb + " as " + asciiOnly(kid, 64)}
			}
			// Fail closed and keep the message: the spool's hold area
			// is durable and staff find it there.
			log.Error("keeper failed; holding in the spool", "action", d.Action, "err", err)
		}
		if err := w.Commit(env, spool.AreaHold); err != nil {
			log.Error("spool commit", "area", spool.AreaHold, "err", err)
			return localFailure(id, err)
		}
		srv.metrics.Held.Inc()
		log.Info("held", "rules", d.Rules)
		return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: replyText(d.Reply, "Ok") + ": held as " + id}
	case ActionBcc:
		// 3.3.5 (mis-sending): the recipients stay, but they no longer see
		// each other. The rewritten copy replaces the received one; if it
		// cannot be made, the message waits for staff (fail closed).
		bw, err := srv.store.Create()
		if err != nil {
			w.Abort()
			log.Error("spool create", "err", err)
			return localFailure(id, err)
		}
		if err := rewriteHidden(bw, io.NewSectionReader(w.File(), 0, env.Size), d.Hide); err != nil {
			bw.Abort()
			log.Error("bcc rewrite failed; holding", "err", err)
			if err := w.Commit(env, spool.AreaHold); err != nil {
				log.Error("spool commit", "area", spool.AreaHold, "err", err)
				return localFailure(id, err)
			}
			srv.metrics.Held.Inc()
			return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Message held for review: held as " + id}
		}
		w.Abort()
		benv := *env
		benv.ID, benv.Size = bw.ID(), bw.Size()
		if err := bw.Commit(&benv, spool.AreaQueue); err != nil {
			log.Error("spool commit", "area", spool.AreaQueue, "err", err)
			return localFailure(id, err)
		}
		srv.metrics.Queued.Inc()
		log.Info("queued with recipients hidden", "rules", d.Rules, "hidden", len(d.Hide), "queue_id", benv.ID)
		if srv.queue != nil {
			srv.queue.Notify(benv.ID)
		}
		return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: recipients hidden, queued as " + benv.ID}
	default: // pass
		if err := w.Commit(env, spool.AreaQueue); err != nil {
			log.Error("spool commit", "area", spool.AreaQueue, "err", err)
			return localFailure(id, err)
		}
		srv.metrics.Queued.Inc()
		log.Info("queued", "rules", d.Rules)
		if srv.queue != nil {
			srv.queue.Notify(id)
		}
		return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as " + id}
	}
}

// keep hands a message to the keeper, recovering a panic as an error.
func (s *Server) keep(d Decision, env *spool.Envelope, w *spool.Writer, timeout time.Duration) (id string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("keeper panic: %v", p)
		}
	}()
	envCopy := *env
	envCopy.Recipients = append([]spool.Recipient(nil), env.Recipients...)
	id, err = s.keeper.Keep(ctx, d.Action, &envCopy, io.NewSectionReader(w.File(), 0, env.Size), d)
	if err == nil && id == "" {
		id = env.ID
	}
	return id, err
}

// localFailure is the reply for a local problem: 452 4.3.1 when the disk
// is full (RFC 5321 4.2.3, RFC 3463), else 451 4.3.0. The client keeps the
// message and tries again; no internal detail goes into the reply.
func localFailure(id string, err error) error {
	code, ec, msg := 451, smtp.EnhancedCode{4, 3, 0}, "Temporary local failure, try again later"
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		code, ec, msg = 452, smtp.EnhancedCode{4, 3, 1}, "Insufficient system storage, try again later"
	}
	if id != "" {
		msg += " (" + id + ")"
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: msg}
}

// inspect runs the hook with a timeout and turns every failure into hold:
// a message is never passed uninspected (fail closed, 3.3.5).
func (s *Server) inspect(log *slog.Logger, env *spool.Envelope, f *os.File, timeout time.Duration) Decision {
	box := s.inspector.Load()
	if box == nil || box.Inspector == nil {
		return Decision{Action: ActionPass}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	envCopy := *env
	envCopy.Recipients = append([]spool.Recipient(nil), env.Recipients...)
	type result struct {
		d   Decision
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- result{err: fmt.Errorf("inspector panic: %v", p)}
			}
		}()
		d, err := box.Inspect(ctx, &envCopy, f)
		ch <- result{d, err}
	}()
	var res result
	select {
	case res = <-ch:
	case <-ctx.Done():
		res.err = fmt.Errorf("inspection: %w", ctx.Err())
	}
	if res.err != nil {
		log.Error("inspection failed; holding the message", "err", res.err)
		return Decision{Action: ActionHold, Reply: "Message held for review", Rules: []string{"inspect-error"}}
	}
	switch res.d.Action {
	case ActionPass, ActionHold, ActionReject, ActionDelay, ActionBcc:
		return res.d
	default:
		// Anything unknown: the message waits for staff rather than
		// leaving.
		log.Warn("unsupported action; holding the message", "action", res.d.Action)
		d := res.d
		d.Action = ActionHold
		return d
	}
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
