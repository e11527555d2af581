package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dlpguard/spool"
)

// upstream delivers to the smarthost over SMTP, keeping one connection
// open between messages.
type upstream struct {
	cfg  Config
	log  *slog.Logger
	host string // host part of cfg.Upstream

	c        *smtp.Client
	tls      bool      // c runs over TLS
	sent     int       // messages sent on c
	lastUsed time.Time // end of the last transaction on c (or its dial)
}

func newUpstream(cfg Config, log *slog.Logger) *upstream {
	host, _, _ := net.SplitHostPort(cfg.Upstream)
	return &upstream{cfg: cfg, log: log, host: host}
}

func (u *upstream) close() {
	if u.c == nil {
		return
	}
	// QUIT is a courtesy (RFC 5321 4.1.1.10); bound it.
	u.c.CommandTimeout = 5 * time.Second
	if err := u.c.Quit(); err != nil {
		u.c.Close()
	}
	u.c = nil
}

func (u *upstream) drop() {
	if u.c != nil {
		u.c.Close()
		u.c = nil
	}
}

func (u *upstream) idle(since time.Duration) {
	if u.c != nil && since >= u.cfg.IdleTimeout {
		u.close()
	}
}

// errNoTLS is returned when STARTTLS is required but not offered.
var errNoTLS = errors.New("upstream does not offer STARTTLS")

// connect returns the open connection, or dials a new one.
func (u *upstream) connect(ctx context.Context) (reused bool, err error) {
	if u.c != nil {
		if !u.cfg.NoReuse && u.sent < u.cfg.MaxMessagesPerConn && time.Since(u.lastUsed) < u.cfg.IdleTimeout {
			return true, nil
		}
		u.close()
	}
	c, isTLS, err := u.dial(ctx)
	if err != nil {
		return false, err
	}
	c.CommandTimeout = u.cfg.CommandTimeout
	c.SubmissionTimeout = u.cfg.DataTimeout
	if u.cfg.AuthUser != "" {
		if !isTLS {
			c.Close()
			// RFC 4954 4: never send a password in clear text.
			return false, fmt.Errorf("refusing AUTH without TLS to %s", u.cfg.Upstream)
		}
		if err := c.Auth(sasl.NewPlainClient("", u.cfg.AuthUser, u.cfg.AuthPassword)); err != nil {
			c.Close()
			return false, fmt.Errorf("auth to %s: %w", u.cfg.Upstream, err)
		}
	}
	u.c, u.tls, u.sent, u.lastUsed = c, isTLS, 0, time.Now()
	u.log.Debug("upstream connected", "upstream", u.cfg.Upstream, "tls", isTLS, "auth", u.cfg.AuthUser != "")
	return false, nil
}

// dial connects and greets. For STARTTLS it speaks the first EHLO itself
// (go-smtp's client would say "localhost" there), then hands the
// connection to go-smtp with the greeting replayed.
func (u *upstream) dial(ctx context.Context) (*smtp.Client, bool, error) {
	d := net.Dialer{Timeout: u.cfg.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", u.cfg.Upstream)
	if err != nil {
		return nil, false, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if u.cfg.TLS == TLSNone {
		c := smtp.NewClient(conn)
		c.CommandTimeout = u.cfg.CommandTimeout
		if err := c.Hello(u.cfg.Hostname); err != nil {
			c.Close()
			return nil, false, err
		}
		return c, false, nil
	}

	_ = conn.SetDeadline(time.Now().Add(u.cfg.CommandTimeout))
	tp := textproto.NewConn(conn)
	fail := func(err error) (*smtp.Client, bool, error) {
		conn.Close()
		return nil, false, err
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fail(smtpErr(err))
	}
	id, err := tp.Cmd("EHLO %s", u.cfg.Hostname)
	if err != nil {
		return fail(err)
	}
	tp.StartResponse(id)
	_, msg, err := tp.ReadResponse(250)
	tp.EndResponse(id)
	if err != nil {
		return fail(smtpErr(err))
	}
	if !hasExtension(msg, "STARTTLS") {
		if u.cfg.TLS == TLSRequired {
			return fail(errNoTLS)
		}
		_ = conn.SetDeadline(time.Time{})
		c, err := u.resume(&replayConn{Conn: conn, r: tp.R})
		return c, false, err
	}
	id, err = tp.Cmd("STARTTLS")
	if err != nil {
		return fail(err)
	}
	tp.StartResponse(id)
	_, _, err = tp.ReadResponse(220)
	tp.EndResponse(id)
	if err != nil {
		return fail(fmt.Errorf("STARTTLS: %w", smtpErr(err)))
	}
	if tp.R.Buffered() > 0 {
		// Bytes sent before the handshake would be taken as if they came
		// over TLS (the STARTTLS injection flaw, CVE-2011-0411).
		return fail(errors.New("upstream sent data after STARTTLS reply"))
	}
	name := u.cfg.TLSServerName
	if name == "" {
		name = u.host
	}
	tc := tls.Client(conn, &tls.Config{
		ServerName:         name,
		InsecureSkipVerify: u.cfg.TLSSkipVerify, // only when configured
		RootCAs:            u.cfg.RootCAs,
		MinVersion:         tls.VersionTLS12,
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		return fail(fmt.Errorf("TLS handshake with %s: %w", u.cfg.Upstream, err))
	}
	_ = conn.SetDeadline(time.Time{})
	c, err := u.resume(&replayConn{Conn: tc, r: tc})
	return c, err == nil, err
}

// resume starts go-smtp's client on a connection whose greeting was already
// read: a greeting is replayed so that the client sends EHLO (again, as RFC
// 3207 4.2 requires after TLS).
func (u *upstream) resume(rc *replayConn) (*smtp.Client, error) {
	rc.r = io.MultiReader(strings.NewReader("220 resumed\r\n"), rc.r)
	c := smtp.NewClient(rc)
	c.CommandTimeout = u.cfg.CommandTimeout
	if err := c.Hello(u.cfg.Hostname); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// replayConn reads from r instead of the connection itself.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func hasExtension(ehlo, ext string) bool {
	lines := strings.Split(ehlo, "\n")
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) > 0 && strings.EqualFold(f[0], ext) {
			return true
		}
	}
	return false
}

// smtpErr converts a textproto reply error into go-smtp's form.
func smtpErr(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		se := &smtp.SMTPError{Code: te.Code, Message: te.Msg}
		if f := strings.SplitN(te.Msg, " ", 2); len(f) == 2 && looksEnhanced(f[0]) {
			se.Message = f[1]
			fmt.Sscanf(f[0], "%d.%d.%d", &se.EnhancedCode[0], &se.EnhancedCode[1], &se.EnhancedCode[2])
		}
		return se
	}
	return err
}

func looksEnhanced(s string) bool {
	p := strings.Split(s, ".")
	return len(p) == 3 && len(s) >= 5 && (s[0] == '2' || s[0] == '4' || s[0] == '5') && strings.Trim(s, "0123456789.") == ""
}

// resultOf turns an error from the client into a recipient result. ok is
// false for a protocol or network error after which the connection cannot
// be trusted.
func (u *upstream) resultOf(err error) (r result, connOK bool) {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		r = result{Code: se.Code, Text: strings.ReplaceAll(se.Message, "\n", " "), Remote: u.host}
		if se.EnhancedCode != smtp.NoEnhancedCode && se.EnhancedCode != smtp.EnhancedCodeNotSet {
			r.Status = fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		// RFC 5321 4.2.1: 5yz is permanent, 4yz transient.
		r.Permanent = se.Code >= 500
		if r.Status == "" {
			r.Status = fmt.Sprintf("%d.0.0", se.Code/100)
		}
		// 421: the server is closing the channel (RFC 5321 3.8).
		return r, se.Code != 421 && se.Code >= 400
	}
	return tempLocal("%s: %v", u.cfg.Upstream, err), false
}

func (u *upstream) deliver(ctx context.Context, env *spool.Envelope, rcpts []string, body io.ReadSeeker) []result {
	res := u.transaction(ctx, env, rcpts, body)
	// RFC 5321 4.5.3.1.10: a server may take fewer recipients per message
	// (452 4.5.3, too many recipients); send the rest in further
	// transactions at once, as long as each makes progress.
	for range len(rcpts) {
		var rest []int
		progress := false
		for i, r := range res {
			if r.Code == 452 && r.Status == "4.5.3" {
				rest = append(rest, i)
			} else if r.Delivered {
				progress = true
			}
		}
		if len(rest) == 0 || !progress || ctx.Err() != nil {
			break
		}
		sub := make([]string, len(rest))
		for k, i := range rest {
			sub[k] = rcpts[i]
		}
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			break
		}
		more := u.transaction(ctx, env, sub, body)
		moved := false
		for k, i := range rest {
			if more[k].Delivered {
				moved = true
			}
			res[i] = more[k]
		}
		if !moved {
			break
		}
	}
	return res
}

// transaction sends the message to rcpts in one SMTP transaction.
func (u *upstream) transaction(ctx context.Context, env *spool.Envelope, rcpts []string, body io.ReadSeeker) []result {
	res, retry := u.attempt(ctx, env, rcpts, body)
	u.lastUsed = time.Now() // failed transactions too: the session is alive
	if retry && ctx.Err() == nil {
		// A reused connection failed before anything was accepted: the
		// upstream most likely closed it while idle. Try once on a new one.
		if _, err := body.Seek(0, io.SeekStart); err == nil {
			res, _ = u.attempt(ctx, env, rcpts, body)
		}
	}
	return res
}

// attempt runs one SMTP transaction. retry reports a failure on a reused
// connection before any recipient was accepted.
func (u *upstream) attempt(ctx context.Context, env *spool.Envelope, rcpts []string, body io.ReadSeeker) (res []result, retry bool) {
	reused, err := u.connect(ctx)
	if err != nil {
		if errors.Is(err, errNoTLS) {
			return allResults(len(rcpts), result{Status: "4.7.10", Text: err.Error() + " (tls: required)", Remote: u.host}), false
		}
		r, _ := u.resultOf(err)
		if r.Code == 0 {
			r = tempLocal("connect to %s: %v", u.cfg.Upstream, err)
		}
		return allResults(len(rcpts), r), false
	}
	c := u.c
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	needUTF8 := env.UTF8 || !ascii(env.From)
	for _, r := range rcpts {
		needUTF8 = needUTF8 || !ascii(r)
	}
	if ok, _ := c.Extension("SMTPUTF8"); needUTF8 && !ok {
		// RFC 6531 3.2: no downgrade; the message cannot be relayed as is.
		return allResults(len(rcpts), result{Permanent: true, Status: "5.6.7",
			Text: "upstream " + u.cfg.Upstream + " does not support SMTPUTF8", Remote: u.host}), false
	}
	if ok, _ := c.Extension("8BITMIME"); env.EightBit && !ok {
		// RFC 6152 3: 8-bit data must not go to a server without 8BITMIME.
		return allResults(len(rcpts), result{Permanent: true, Status: "5.6.3",
			Text: "upstream " + u.cfg.Upstream + " does not support 8BITMIME", Remote: u.host}), false
	}

	// broken ends the connection after a failure the session cannot
	// recover from.
	broken := func(r result) []result {
		u.drop()
		return allResults(len(rcpts), r)
	}
	reset := func() {
		if err := c.Reset(); err != nil {
			u.drop()
		}
	}

	if err := c.Mail(env.From, &smtp.MailOptions{Size: env.Size, UTF8: needUTF8}); err != nil {
		r, ok := u.resultOf(err)
		if !ok {
			return broken(r), reused && r.Code == 0 || reused && r.Code == 421
		}
		reset()
		return allResults(len(rcpts), r), false
	}
	res = make([]result, len(rcpts))
	var accepted []int
	for i, rc := range rcpts {
		if err := c.Rcpt(rc, nil); err != nil {
			r, ok := u.resultOf(err)
			if !ok {
				return broken(r), reused && len(accepted) == 0
			}
			res[i] = r
			continue
		}
		accepted = append(accepted, i)
	}
	if len(accepted) == 0 {
		reset()
		return res, false
	}
	setAccepted := func(r result) []result {
		for _, i := range accepted {
			res[i] = r
		}
		return res
	}
	dc, err := c.Data()
	if err != nil {
		r, ok := u.resultOf(err)
		if !ok {
			u.drop()
			return setAccepted(r), false
		}
		reset()
		return setAccepted(r), false
	}
	if _, err := io.Copy(dc, body); err != nil {
		u.drop()
		return setAccepted(tempLocal("sending data to %s: %v", u.cfg.Upstream, err)), false
	}
	resp, err := dc.CloseWithResponse()
	if err != nil {
		r, ok := u.resultOf(err)
		if !ok {
			u.drop()
		}
		// After the final dot the transaction is over either way (RFC
		// 5321 4.1.1.4); no RSET is needed.
		return setAccepted(r), false
	}
	u.sent++
	ok := result{Delivered: true, Code: 250, Status: "2.0.0", Text: resp.StatusText, Remote: u.host}
	if f := strings.SplitN(ok.Text, " ", 2); len(f) == 2 && looksEnhanced(f[0]) {
		ok.Status, ok.Text = f[0], f[1]
	}
	return setAccepted(ok), false
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
