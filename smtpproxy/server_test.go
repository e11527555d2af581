package smtpproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"dlpguard/internal/mailtest"
	"dlpguard/spool"
)

func TestPassThroughMultipleRecipients(t *testing.T) {
	h := newHarness(t, harnessOpt{})
	c := h.client("127.0.0.1")
	msg := message("hello", "本文です。\r\nline two\r\n")
	text, err := send(c, "a@city.example.lg.jp", []string{"b@example.jp", "c@example.com", "b@example.jp"}, msg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, "2.0.0 Ok: queued as ") {
		t.Fatalf("reply %q", text)
	}
	id := idFrom(t, text)
	if ids := h.list(spool.AreaQueue); !slices.Equal(ids, []string{id}) {
		t.Fatalf("queue = %v, want [%s]", ids, id)
	}
	env, err := h.store.Envelope(spool.AreaQueue, id)
	if err != nil {
		t.Fatal(err)
	}
	var rcpts []string
	for _, r := range env.Recipients {
		rcpts = append(rcpts, r.Address)
		if r.Status != spool.Pending {
			t.Errorf("recipient %s status %q", r.Address, r.Status)
		}
	}
	if env.From != "a@city.example.lg.jp" || !slices.Equal(rcpts, []string{"b@example.jp", "c@example.com"}) ||
		env.ClientIP != "127.0.0.1" || env.HELO != "client.test" || env.Received.IsZero() {
		t.Fatalf("envelope = %+v", env)
	}
	got := h.content(spool.AreaQueue, id)
	if !strings.HasPrefix(got, "Received: from client.test ([127.0.0.1])\r\n\tby relay.test (dlpguard) with ESMTP id "+id) {
		t.Fatalf("no Received header first:\n%s", got)
	}
	if strings.Contains(got, "\tfor <") {
		t.Error("Received names a recipient of a multi-recipient message")
	}
	if !strings.HasSuffix(got, msg) {
		t.Fatalf("content changed:\n%q\nwant suffix\n%q", got, msg)
	}
	if env.Size != int64(len(got)) {
		t.Errorf("size %d, want %d", env.Size, len(got))
	}
	if n := h.notify.list(); !slices.Equal(n, []string{id}) {
		t.Errorf("queue notified %v", n)
	}
	if v := metricValue(h.metrics.Queued); v != 1 {
		t.Errorf("queued metric %v", v)
	}
	h.assertNoTemp()

	// A second transaction on the same connection.
	text2, err := send(c, "", []string{"d@example.jp"}, message("second", "x\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	id2 := idFrom(t, text2)
	if id2 == id {
		t.Fatal("same ID twice")
	}
	env2, _ := h.store.Envelope(spool.AreaQueue, id2)
	if env2.From != "" || !strings.Contains(h.content(spool.AreaQueue, id2), "\tfor <d@example.jp>;") {
		t.Fatalf("null sender / single recipient trace wrong: %+v", env2)
	}
}

func TestSMTPUTF8And8BitMIME(t *testing.T) {
	h := newHarness(t, harnessOpt{})
	c := h.client("127.0.0.1")
	if ok, _ := c.Extension("SMTPUTF8"); !ok {
		t.Fatal("SMTPUTF8 not advertised")
	}
	if ok, _ := c.Extension("8BITMIME"); !ok {
		t.Fatal("8BITMIME not advertised")
	}
	if err := c.Mail("職員@city.example.lg.jp", &smtp.MailOptions{UTF8: true, Body: smtp.Body8BitMIME}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("宛先@example.jp", nil); err != nil {
		t.Fatal(err)
	}
	w, _ := c.Data()
	io.WriteString(w, "Subject: テスト\r\n\r\n8bit 本文\r\n")
	resp, err := w.CloseWithResponse()
	if err != nil {
		t.Fatal(err)
	}
	id := idFrom(t, resp.StatusText)
	env, _ := h.store.Envelope(spool.AreaQueue, id)
	if !env.UTF8 || !env.EightBit || env.From != "職員@city.example.lg.jp" || env.Recipients[0].Address != "宛先@example.jp" {
		t.Fatalf("envelope = %+v", env)
	}
	if !strings.Contains(h.content(spool.AreaQueue, id), "with UTF8SMTP id") {
		t.Error("Received protocol not UTF8SMTP")
	}
}

func TestSizeLimit(t *testing.T) {
	h := newHarness(t, harnessOpt{cfg: func(c *Config) { c.MaxMessageSize = 10000 }})
	c := h.client("127.0.0.1")
	if ok, v := c.Extension("SIZE"); !ok || v != "10000" {
		t.Fatalf("SIZE = %v %q", ok, v)
	}
	_, err := send(c, "a@x.jp", []string{"b@y.jp"}, message("big", strings.Repeat("0123456789012345678\r\n", 1000)))
	if code(err) != 552 || !strings.Contains(err.Error(), "5.3.4") && err.(*smtp.SMTPError).EnhancedCode != (smtp.EnhancedCode{5, 3, 4}) {
		t.Fatalf("oversize DATA: %v", err)
	}
	// Declared too large at MAIL.
	r := h.raw("127.0.0.1")
	r.cmd("EHLO client.test", "250")
	r.cmd("MAIL FROM:<a@x.jp> SIZE=20000", "552 5.3.4")
	// A refusal at MAIL keeps the session; one during DATA ended it
	// (issue 17), so the client sends on a new connection.
	r.cmd("MAIL FROM:<a@x.jp> SIZE=2000", "250")
	if _, err := send(h.client("127.0.0.1"), "a@x.jp", []string{"b@y.jp"}, message("small", "ok\r\n")); err != nil {
		t.Fatalf("after oversize: %v", err)
	}
	if n := len(h.list(spool.AreaQueue)); n != 1 {
		t.Fatalf("queue has %d messages, want 1", n)
	}
	h.assertNoTemp()
}

func TestRecipientLimit(t *testing.T) {
	h := newHarness(t, harnessOpt{cfg: func(c *Config) { c.MaxRecipients = 3 }})
	r := h.raw("127.0.0.1")
	r.cmd("EHLO client.test", "250")
	r.cmd("MAIL FROM:<a@x.jp>", "250")
	for _, to := range []string{"1@y.jp", "2@y.jp", "3@y.jp"} {
		r.cmd("RCPT TO:<"+to+">", "250")
	}
	r.cmd("RCPT TO:<4@y.jp>", "452 4.5.3")
	r.cmd("DATA", "354")
	rep := r.cmd("Subject: x\r\n\r\nbody\r\n.", "250 2.0.0")
	env, _ := h.store.Envelope(spool.AreaQueue, idFrom(t, rep))
	if len(env.Recipients) != 3 {
		t.Fatalf("recipients %v", env.Recipients)
	}
}

func TestHeaderSizeLimit(t *testing.T) {
	h := newHarness(t, harnessOpt{cfg: func(c *Config) { c.MaxHeaderSize = 2048 }})
	c := h.client("127.0.0.1")
	long := "Subject: x\r\n" + strings.Repeat("X-Filler: "+strings.Repeat("a", 60)+"\r\n", 40) + "\r\nbody\r\n"
	_, err := send(c, "a@x.jp", []string{"b@y.jp"}, long)
	if code(err) != 552 || !strings.Contains(err.Error(), "header too large") {
		t.Fatalf("big header: %v", err)
	}
	// A big body with a small header is fine (a new connection: the
	// refusal ended the last one).
	c = h.client("127.0.0.1")
	if _, err := send(c, "a@x.jp", []string{"b@y.jp"}, "Subject: x\r\n\r\n"+strings.Repeat(strings.Repeat("b", 70)+"\r\n", 100)); err != nil {
		t.Fatalf("big body: %v", err)
	}
	// A line over the line limit.
	if _, err := send(c, "a@x.jp", []string{"b@y.jp"}, "Subject: x\r\n\r\n"+strings.Repeat("b", 5000)+"\r\n"); code(err) != 500 {
		t.Fatalf("long line: %v", err)
	}
	h.assertNoTemp()
}

func TestNotOpenRelay(t *testing.T) {
	h := newHarness(t, harnessOpt{})
	// 127.0.0.2 is outside the allowed 127.0.0.1/32 and not authenticated.
	r := h.raw("127.0.0.2")
	r.cmd("EHLO outsider.test", "250")
	r.cmd("MAIL FROM:<spam@outsider.test>", "250")
	r.cmd("RCPT TO:<victim@example.com>", "550 5.7.1")
	r.cmd("RCPT TO:<postmaster@city.example.lg.jp>", "550 5.7.1")
	r.cmd("DATA", "502") // no recipients
	r.cmd("QUIT", "221")
	// The allowed address relays.
	c := h.client("127.0.0.1")
	if _, err := send(c, "a@x.jp", []string{"b@y.jp"}, message("ok", "x\r\n")); err != nil {
		t.Fatal(err)
	}
	if n := len(h.list(spool.AreaQueue)); n != 1 {
		t.Fatalf("queue %d", n)
	}
	// Reload: 127.0.0.2 allowed now.
	cfg := *h.srv.config()
	cfg.Networks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/30")}
	if restart := h.srv.Reload(cfg); len(restart) != 0 {
		t.Fatalf("reload needs restart for %v", restart)
	}
	r2 := h.raw("127.0.0.2")
	r2.cmd("EHLO outsider.test", "250")
	r2.cmd("MAIL FROM:<a@x.jp>", "250")
	r2.cmd("RCPT TO:<b@y.jp>", "250")
}

const testUser, testPass = "mfp-3f", "s3cret-pw"

// testHash is bcrypt("s3cret-pw").
const testHash = "$2a$10$qq71CGmWjRepb.F2iQ9X8uef0Dw4g8SWA0yFOtZAtOcZo8j9XOt6S"

func TestAuth(t *testing.T) {
	h := newHarness(t, harnessOpt{tls: true, cfg: func(c *Config) {
		c.Accounts = map[string]string{testUser: testHash}
	}})
	// Before TLS: AUTH is neither advertised nor accepted.
	r := h.raw("127.0.0.2")
	rep := r.cmd("EHLO mfp.test", "250")
	if strings.Contains(rep, "AUTH") || !strings.Contains(rep, "STARTTLS") {
		t.Fatalf("EHLO before TLS: %q", rep)
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPass))
	r.cmd("AUTH PLAIN "+plain, "523 5.7.10")
	r.cmd("MAIL FROM:<a@x.jp>", "250")
	r.cmd("RCPT TO:<b@y.jp>", "550 5.7.1")

	tests := []struct {
		name    string
		auth    func(*smtp.Client) error
		wantErr int
	}{
		{"plain ok", func(c *smtp.Client) error { return c.Auth(sasl.NewPlainClient("", testUser, testPass)) }, 0},
		{"login ok", func(c *smtp.Client) error { return c.Auth(sasl.NewLoginClient(testUser, testPass)) }, 0},
		{"plain wrong password", func(c *smtp.Client) error { return c.Auth(sasl.NewPlainClient("", testUser, "nope")) }, 535},
		{"login wrong password", func(c *smtp.Client) error { return c.Auth(sasl.NewLoginClient(testUser, "nope")) }, 535},
		{"unknown user", func(c *smtp.Client) error { return c.Auth(sasl.NewPlainClient("", "ghost", testPass)) }, 535},
		{"proxy identity", func(c *smtp.Client) error { return c.Auth(sasl.NewPlainClient("other", testUser, testPass)) }, 535},
		{"no auth", func(c *smtp.Client) error { return nil }, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := smtp.NewClientStartTLS(h.dialFrom("127.0.0.2", h.addr), h.tlsConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Hello("mfp.test"); err != nil {
				t.Fatal(err)
			}
			if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "PLAIN") || !strings.Contains(mechs, "LOGIN") {
				t.Fatalf("AUTH after TLS: %v %q", ok, mechs)
			}
			err = tc.auth(c)
			if code(err) != tc.wantErr {
				t.Fatalf("auth: %v, want code %d", err, tc.wantErr)
			}
			text, err := send(c, "mfp@city.example.lg.jp", []string{"b@y.jp"}, message("scan", "x\r\n"))
			authed := tc.wantErr == 0 && tc.name != "no auth"
			if authed {
				if err != nil {
					t.Fatalf("send after auth: %v", err)
				}
				env, _ := h.store.Envelope(spool.AreaQueue, idFrom(t, text))
				if env.AuthUser != testUser {
					t.Fatalf("auth user %q", env.AuthUser)
				}
				if !strings.Contains(h.content(spool.AreaQueue, env.ID), "with ESMTPSA id") {
					t.Error("Received protocol not ESMTPSA")
				}
			} else if code(err) != 550 {
				t.Fatalf("unauthenticated relay from 127.0.0.2: %v", err)
			}
		})
	}
}

func TestLoginInitialResponse(t *testing.T) {
	h := newHarness(t, harnessOpt{tls: true, cfg: func(c *Config) {
		c.Accounts = map[string]string{testUser: testHash}
	}})
	conn := h.dialFrom("127.0.0.2", h.tlsAddr)
	tc := tls.Client(conn, h.tlsConfig())
	r := &raw{t: t, c: tc, r: nil}
	r.r = newReader(tc)
	r.expect("220")
	r.cmd("EHLO mfp.test", "250")
	r.cmd("AUTH LOGIN "+base64.StdEncoding.EncodeToString([]byte(testUser)), "334 UGFzc3dvcmQ6") // "Password:"
	r.cmd(base64.StdEncoding.EncodeToString([]byte(testPass)), "235")
	r.cmd("MAIL FROM:<a@x.jp>", "250")
	r.cmd("RCPT TO:<b@y.jp>", "250")
	// Cancelled exchange.
	r2c := tls.Client(h.dialFrom("127.0.0.2", h.tlsAddr), h.tlsConfig())
	r2 := &raw{t: t, c: r2c, r: newReader(r2c)}
	r2.expect("220")
	r2.cmd("EHLO mfp.test", "250")
	r2.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6") // "Username:"
	r2.cmd("*", "501")
	r2.cmd("MAIL FROM:<a@x.jp>", "250")
	r2.cmd("RCPT TO:<b@y.jp>", "550 5.7.1")
}

func TestSTARTTLSAndImplicitTLS(t *testing.T) {
	h := newHarness(t, harnessOpt{tls: true})
	c, err := smtp.NewClientStartTLS(h.dialFrom("127.0.0.1", h.addr), h.tlsConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if st, ok := c.TLSConnectionState(); !ok || st.Version < tls.VersionTLS12 {
		t.Fatal("not TLS 1.2+")
	}
	text, err := send(c, "a@x.jp", []string{"b@y.jp"}, message("tls", "secret\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.content(spool.AreaQueue, idFrom(t, text)), "with ESMTPS id") {
		t.Error("Received protocol not ESMTPS")
	}
	// Implicit TLS (RFC 8314).
	tc := tls.Client(h.dialFrom("127.0.0.1", h.tlsAddr), h.tlsConfig())
	c2 := smtp.NewClient(tc)
	defer c2.Close()
	c2.Hello("client.test")
	if ok, _ := c2.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered inside TLS")
	}
	if _, err := send(c2, "a@x.jp", []string{"b@y.jp"}, message("tls2", "x\r\n")); err != nil {
		t.Fatal(err)
	}
	if n := len(h.list(spool.AreaQueue)); n != 2 {
		t.Fatalf("queue %d", n)
	}
}

func TestBDAT(t *testing.T) {
	h := newHarness(t, harnessOpt{cfg: func(c *Config) { c.MaxMessageSize = 4096 }})
	r := h.raw("127.0.0.1")
	if rep := r.cmd("EHLO client.test", "250"); !strings.Contains(rep, "CHUNKING") {
		t.Fatalf("no CHUNKING: %q", rep)
	}
	part1 := "Subject: chunks\r\n\r\nfirst "
	part2 := "and last\r\n"
	for range 2 { // two transactions on one connection
		r.cmd("MAIL FROM:<a@x.jp>", "250")
		r.cmd("RCPT TO:<b@y.jp>", "250")
		r.send("BDAT " + itoa(len(part1)) + "\r\n" + part1)
		r.expect("250")
		r.send("BDAT " + itoa(len(part2)) + " LAST\r\n" + part2)
		rep := r.expect("250 2.0.0 Ok: queued as")
		if got := h.content(spool.AreaQueue, idFrom(t, rep)); !strings.HasSuffix(got, part1+part2) {
			t.Fatalf("content %q", got)
		}
	}
	// An empty last chunk ends the message.
	r.cmd("MAIL FROM:<a@x.jp>", "250")
	r.cmd("RCPT TO:<b@y.jp>", "250")
	r.send("BDAT 20\r\nSubject: e\r\n\r\nbody\r\n")
	r.expect("250")
	r.send("BDAT 0 LAST\r\n")
	r.expect("250 2.0.0 Ok: queued")

	// Aborted transfers, each on its own connection: go-smtp v0.25.1's
	// BDAT goroutine reads the connection's result channel after Data
	// returns, which races with the next BDAT on the same connection (an
	// upstream bug); a following DATA transaction is unaffected.
	aborts := []struct {
		name   string
		run    func(r *raw)
		closes bool // a refused transfer ends the session (issue 17)
	}{
		{"RSET mid-transfer", func(r *raw) {
			r.send("BDAT 10\r\n0123456789")
			r.expect("250")
			r.cmd("RSET", "250")
		}, false},
		{"oversize across chunks", func(r *raw) {
			chunk := strings.Repeat("x", 3000)
			r.send("BDAT 3000\r\n" + chunk)
			r.expect("250")
			r.send("BDAT 3000 LAST\r\n" + chunk)
			// go-smtp refuses the chunk before it reaches the session and
			// reads it away exactly, so the stream stays in step and the
			// session goes on.
			r.expect("552 5.3.4")
		}, false},
		{"bare LF", func(r *raw) {
			bad := "Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@x>\r\n"
			r.send("BDAT " + itoa(len(bad)) + " LAST\r\n" + bad)
			r.expect("554 5.6.0")
		}, true},
	}
	for _, tc := range aborts {
		t.Run(tc.name, func(t *testing.T) {
			r := h.raw("127.0.0.1")
			r.t = t
			r.cmd("EHLO client.test", "250")
			r.cmd("MAIL FROM:<a@x.jp>", "250")
			r.cmd("RCPT TO:<b@y.jp>", "250")
			tc.run(r)
			if tc.closes {
				if rest, _ := r.readToEOF(); rest != "" {
					t.Fatalf("after the refusal: %q, want the close", rest)
				}
				r = h.raw("127.0.0.1")
				r.t = t
				r.cmd("EHLO client.test", "250")
			}
			// The client goes on with a fresh transaction.
			r.cmd("MAIL FROM:<a@x.jp>", "250")
			r.cmd("RCPT TO:<b@y.jp>", "250")
			r.cmd("DATA", "354")
			r.cmd("Subject: after\r\n\r\nok\r\n.", "250 2.0.0 Ok: queued")
		})
	}

	// Connection closed mid-transfer.
	r2 := h.raw("127.0.0.1")
	r2.cmd("EHLO client.test", "250")
	r2.cmd("MAIL FROM:<a@x.jp>", "250")
	r2.cmd("RCPT TO:<b@y.jp>", "250")
	r2.send("BDAT 100\r\n0123456789")
	r2.c.Close()
	r.cmd("NOOP", "250") // the first session still works

	// 3 BDAT messages and one DATA after each abort.
	if n := len(h.list(spool.AreaQueue)); n != 3+len(aborts) {
		t.Fatalf("queue %d, want %d", n, 3+len(aborts))
	}
	waitNoTemp(t, h)
}

// waitNoTemp waits (bounded) for a session cut off by a closed connection
// to clean up, then checks that nothing is left.
func waitNoTemp(t *testing.T, h *harness) {
	t.Helper()
	for range 100 {
		if ents, _ := os.ReadDir(h.store.Dir() + "/tmp"); len(ents) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.assertNoTemp()
}

func TestSmuggling(t *testing.T) {
	h := newHarness(t, harnessOpt{})
	tests := []struct {
		name, data string
	}{
		{"LF dot LF", "Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nevil\r\n"},
		{"LF dot CRLF", "Subject: x\r\n\r\nhello\n.\r\nMAIL FROM:<evil@x>\r\n"},
		{"CR dot CR", "Subject: x\r\n\r\nhello\r.\rMAIL FROM:<evil@x>\r\n"},
		{"bare CR", "Subject: x\r\n\r\nhel\rlo\r\n"},
		{"bare LF in header", "Subject: x\nX-A: y\r\n\r\nhello\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.raw("127.0.0.1")
			r.cmd("EHLO client.test", "250")
			r.cmd("MAIL FROM:<a@x.jp>", "250")
			r.cmd("RCPT TO:<b@y.jp>", "250")
			r.cmd("DATA", "354")
			r.send(tc.data + ".\r\n")
			r.expect("554 5.6.0")
			// Nothing smuggled is taken as a command: the session ends
			// after the reply.
			if rest, _ := r.readToEOF(); rest != "" {
				t.Fatalf("after the refusal: %q, want the close", rest)
			}
		})
	}
	if n := len(h.list(spool.AreaQueue)); n != 0 {
		t.Fatalf("queue %d, want 0", n)
	}
	h.assertNoTemp()
}

func TestDataInterrupted(t *testing.T) {
	h := newHarness(t, harnessOpt{})
	r := h.raw("127.0.0.1")
	r.cmd("EHLO client.test", "250")
	r.cmd("MAIL FROM:<a@x.jp>", "250")
	r.cmd("RCPT TO:<b@y.jp>", "250")
	r.cmd("DATA", "354")
	r.send("Subject: half\r\n\r\nthe first half")
	r.c.Close()
	waitNoTemp(t, h)
	if n := len(h.list(spool.AreaQueue)); n != 0 {
		t.Fatalf("partial message committed")
	}
}

func TestConnectionLimits(t *testing.T) {
	h := newHarness(t, harnessOpt{cfg: func(c *Config) {
		c.MaxConnectionsPerIP = 2
		c.MaxConnections = 3
	}})
	a1 := h.raw("127.0.0.1")
	a2 := h.raw("127.0.0.1")
	// Third from the same address: 421 at connect.
	c3 := h.dialFrom("127.0.0.1", h.addr)
	b := make([]byte, 200)
	n, _ := c3.Read(b)
	if !strings.HasPrefix(string(b[:n]), "421 4.7.0") {
		t.Fatalf("per-IP limit: %q", b[:n])
	}
	c3.Close()
	// Another address still gets in, until the total is reached.
	b1 := h.raw("127.0.0.2")
	c4 := h.dialFrom("127.0.0.3", h.addr)
	n, _ = c4.Read(b)
	if !strings.HasPrefix(string(b[:n]), "421 4.7.0") {
		t.Fatalf("total limit: %q", b[:n])
	}
	c4.Close()
	// Closing one frees a slot.
	a1.cmd("QUIT", "221")
	a1.c.Close()
	var ok bool
	for range 100 {
		c := h.dialFrom("127.0.0.1", h.addr)
		n, _ = c.Read(b)
		c.Close()
		if strings.HasPrefix(string(b[:n]), "220") {
			ok = true
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !ok {
		t.Fatal("slot not freed after QUIT")
	}
	a2.cmd("NOOP", "250")
	b1.cmd("NOOP", "250")
	if v := metricValue(h.metrics.Refused); v < 2 {
		t.Errorf("refused metric %v", v)
	}
}

// TestDisposer: the front end answers what the Disposer says, after it,
// and fails closed around it: an error, a panic or a Disposer that never
// returns is 451 (452 for a full disk) with nothing kept, above all not in
// clear in the spool (issue 11); the writer is gone afterwards whatever
// the Disposer did, and only what it committed stays.
func TestDisposer(t *testing.T) {
	var seen atomic.Value
	reply := func(code int, text string, o Outcome) Reply {
		return Reply{Code: code, Enhanced: [3]int{code / 100, 0, 0}, Text: text, Outcome: o}
	}
	tests := []struct {
		name     string
		dispose  func(ctx context.Context, env *spool.Envelope, w *spool.Writer) (Reply, error)
		wantCode string // reply prefix
		wantText string
		queued   bool // the message is in the queue area
		metric   func(h *harness) prometheus.Counter
	}{
		{"queue", func(_ context.Context, env *spool.Envelope, w *spool.Writer) (Reply, error) {
			if err := w.Commit(env, spool.AreaQueue); err != nil {
				return Reply{}, err
			}
			return reply(250, "Ok: queued as "+env.ID, Queued), nil
		}, "250 2.0.0", "queued as", true, func(h *harness) prometheus.Counter { return h.metrics.Queued }},
		{"reject", func(_ context.Context, env *spool.Envelope, _ *spool.Writer) (Reply, error) {
			return Reply{Code: 550, Enhanced: [3]int{5, 7, 1}, Text: "My Number found (3.3.5) (" + env.ID + ")", Outcome: Rejected}, nil
		}, "550 5.7.1", "My Number found (3.3.5) (", false, func(h *harness) prometheus.Counter { return h.metrics.Rejected }},
		{"non-ascii reply", func(_ context.Context, env *spool.Envelope, _ *spool.Writer) (Reply, error) {
			return Reply{Code: 550, Enhanced: [3]int{5, 7, 1}, Text: "個人番号\r\nX (" + env.ID + ")", Outcome: Rejected}, nil
		}, "550 5.7.1", "??????", false, nil},
		{"held elsewhere", func(_ context.Context, env *spool.Envelope, _ *spool.Writer) (Reply, error) {
			return reply(250, "Held for review (3.3.5): held as "+env.ID, Held), nil
		}, "250 2.0.0", "Held for review (3.3.5): held as", false, func(h *harness) prometheus.Counter { return h.metrics.Held }},
		{"error", func(context.Context, *spool.Envelope, *spool.Writer) (Reply, error) {
			return Reply{}, errors.New("hold store down")
		}, "451 4.3.0", "Temporary local failure", false, nil},
		{"disk full", func(context.Context, *spool.Envelope, *spool.Writer) (Reply, error) {
			return Reply{}, fmt.Errorf("hold: %w", syscall.ENOSPC)
		}, "452 4.3.1", "Insufficient system storage", false, nil},
		{"panic", func(context.Context, *spool.Envelope, *spool.Writer) (Reply, error) {
			panic("boom")
		}, "451 4.3.0", "Temporary local failure", false, nil},
		{"no verdict code", func(context.Context, *spool.Envelope, *spool.Writer) (Reply, error) {
			return Reply{}, nil
		}, "451 4.3.0", "Temporary local failure", false, nil},
		{"never returns", func(ctx context.Context, env *spool.Envelope, w *spool.Writer) (Reply, error) {
			<-ctx.Done() // the inspection budget
			time.Sleep(time.Second)
			return reply(250, "late", Held), nil
		}, "451 4.3.0", "Temporary local failure", false, nil},
		{"budget", func(ctx context.Context, env *spool.Envelope, w *spool.Writer) (Reply, error) {
			if _, ok := ctx.Deadline(); !ok {
				return Reply{}, errors.New("no deadline")
			}
			<-ctx.Done() // a Disposer holds what it could not inspect in time
			return reply(250, "Held for review: held as "+env.ID, Held), nil
		}, "250 2.0.0", "held as", false, nil},
		{"sees content", func(_ context.Context, env *spool.Envelope, w *spool.Writer) (Reply, error) {
			b, err := io.ReadAll(io.NewSectionReader(w.File(), 0, env.Size))
			seen.Store(string(b))
			if err != nil {
				return Reply{}, err
			}
			if err := w.Commit(env, spool.AreaQueue); err != nil {
				return Reply{}, err
			}
			return reply(250, "Ok: queued as "+env.ID, Queued), nil
		}, "250 2.0.0", "queued as", true, nil},
		{"uncommitted is dropped", func(_ context.Context, env *spool.Envelope, _ *spool.Writer) (Reply, error) {
			return reply(250, "Ok: queued as "+env.ID, Queued), nil
		}, "250 2.0.0", "queued as", false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpt{
				disposer: DisposerFunc(tc.dispose),
				cfg:      func(c *Config) { c.InspectTimeout = 200 * time.Millisecond },
			})
			r := h.raw("127.0.0.1")
			r.cmd("EHLO client.test", "250")
			r.cmd("MAIL FROM:<a@x.jp>", "250")
			r.cmd("RCPT TO:<b@y.jp>", "250")
			r.cmd("DATA", "354")
			rep := r.cmd("Subject: hook\r\n\r\nsecret body text\r\n.", tc.wantCode)
			if !strings.Contains(rep, tc.wantText) {
				t.Fatalf("reply %q, want %q", rep, tc.wantText)
			}
			ids := h.list(spool.AreaQueue)
			if tc.queued {
				id := idFrom(t, rep)
				if len(ids) != 1 || ids[0] != id {
					t.Fatalf("queue holds %v, want %s", ids, id)
				}
				env, _ := h.store.Envelope(spool.AreaQueue, id)
				if len(env.Recipients) != 1 {
					t.Errorf("recipients %v", env.Recipients)
				}
			} else {
				if len(ids) != 0 {
					t.Errorf("queue holds %v", ids)
				}
				mailtest.NoClearText(t, h.dir, "secret body")
			}
			if ids := h.list(spool.AreaHold); len(ids) != 0 {
				t.Errorf("plaintext spool hold area has %v", ids)
			}
			if tc.metric != nil {
				if v := metricValue(tc.metric(h)); v != 1 {
					t.Errorf("metric = %v, want 1", v)
				}
			}
			if tc.name == "sees content" {
				if s, _ := seen.Load().(string); !strings.HasPrefix(s, "Received: ") || !strings.HasSuffix(s, "body text\r\n") {
					t.Errorf("disposer saw %q", s)
				}
			}
			if tc.name == "never returns" {
				time.Sleep(1500 * time.Millisecond) // it finishes in the background
			}
			h.assertNoTemp()
		})
	}
}

// TestSmtpSource drives the relay with Postfix's smtp-source, a real,
// independent client with pipelining.
func TestSmtpSource(t *testing.T) {
	bin, err := exec.LookPath("smtp-source")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/smtp-source"); err2 != nil {
			t.Skip("smtp-source not installed (Debian package postfix)")
		}
		bin = "/usr/sbin/smtp-source"
	}
	h := newHarness(t, harnessOpt{})
	cmd := exec.Command(bin, "-s", "5", "-m", "40", "-l", "4000", "-f", "a@city.example.lg.jp", "-t", "b@example.jp", h.addr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("smtp-source: %v\n%s", err, out)
	}
	ids := h.list(spool.AreaQueue)
	if len(ids) != 40 {
		t.Fatalf("queue %d, want 40 (%s)", len(ids), out)
	}
	env, _ := h.store.Envelope(spool.AreaQueue, ids[0])
	if env.From != "a@city.example.lg.jp" || env.Recipients[0].Address != "b@example.jp" || env.Size < 4000 {
		t.Fatalf("envelope %+v", env)
	}
}

func TestVerifyPassword(t *testing.T) {
	tests := []struct {
		hash, pw string
		ok       bool
	}{
		{testHash, testPass, true},
		{testHash, "wrong", false},
		// argon2id("password"), salt "somesalt", m=64 t=1 p=1, 32 bytes.
		{"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$" + argonRef, "password", true},
		{"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$" + argonRef, "Password", false},
		{"$argon2id$v=19$m=99999999,t=1,p=1$c29tZXNhbHQ$" + argonRef, "password", false},
		{"$argon2id$v=19$garbage", "password", false},
		{"plain", "plain", false},
	}
	for _, tc := range tests {
		if got := VerifyPassword(tc.hash, tc.pw); got != tc.ok {
			t.Errorf("VerifyPassword(%q, %q) = %v", tc.hash, tc.pw, got)
		}
	}
	h, err := HashPassword("x")
	if err != nil || !VerifyPassword(h, "x") {
		t.Fatalf("HashPassword round trip: %v", err)
	}
}

func FuzzCheckWriter(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\nbody\r\n"), 64)
	f.Add([]byte("a\nb"), 10)
	f.Add([]byte("a\r\r\n"), 10)
	f.Add([]byte("Subject: a\x00b\r\n\r\n3016\x006613\r\n"), 64)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < 1 {
			max = 1
		}
		var sink strings.Builder
		cw := &checkWriter{w: &sink, maxHeader: int64(max)}
		// Feed in two pieces to exercise state across writes.
		cut := len(data) / 2
		_, err1 := cw.Write(data[:cut])
		var err2, err3 error
		if err1 == nil {
			_, err2 = cw.Write(data[cut:])
		}
		if err1 == nil && err2 == nil {
			if e := cw.finish(); e != nil { // a typed nil is no error
				err3 = e
			}
		}
		accepted := err1 == nil && err2 == nil && err3 == nil
		if accepted {
			if sink.String() != string(data) {
				t.Fatal("content altered")
			}
			s := strings.ReplaceAll(string(data), "\r\n", "")
			if strings.ContainsAny(s, "\r\n") {
				t.Fatalf("bare CR/LF accepted in %q", data)
			}
			if strings.IndexByte(s, 0) >= 0 {
				t.Fatalf("NUL accepted in %q", data)
			}
		}
	})
}

// argonRef is the hash part of argon2id("password", "somesalt", t=1,
// m=64 KiB, p=1, 32 bytes) from the reference implementation (the argon2
// command-line tool).
const argonRef = "cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70"

func itoa(n int) string { return strconv.Itoa(n) }

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return -1
}

func TestMailLoop(t *testing.T) {
	h := newHarness(t, harnessOpt{})
	c := h.client("127.0.0.1")
	hops := func(n int) string {
		return strings.Repeat("Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0900\r\n", n) + "Subject: loop\r\n\r\nbody\r\n"
	}
	if _, err := send(c, "a@x.jp", []string{"b@y.jp"}, hops(maxHops)); code(err) != 554 {
		t.Fatalf("%d hops: %v", maxHops, err)
	}
	c = h.client("127.0.0.1") // the refusal ended the session
	// RECEIVED in the body or as another header's value does not count.
	body := hops(maxHops-1) + strings.Repeat("Received: body text\r\n", 100)
	if _, err := send(c, "a@x.jp", []string{"b@y.jp"}, "X-Note: Received: x\r\n"+body); err != nil {
		t.Fatalf("%d hops: %v", maxHops-1, err)
	}
}

// TestShutdownDrain: a drain closes idle sessions at once, lets a transfer
// in progress finish with its 250, refuses a new transaction with 421 and
// accepts no new connections.
func TestShutdownDrain(t *testing.T) {
	h := newHarness(t, harnessOpt{})
	idle := h.raw("127.0.0.1")
	idle.cmd("EHLO idle.test", "250")
	busy := h.raw("127.0.0.1")
	busy.cmd("EHLO busy.test", "250")
	busy.cmd("MAIL FROM:<a@x.jp>", "250")
	busy.cmd("RCPT TO:<b@y.jp>", "250")
	busy.cmd("DATA", "354")
	busy.send("Subject: in flight\r\n\r\nfirst part\r\n")
	// Wait until Data runs (the transfer is marked busy).
	for range 200 {
		if c := h.srv.connFor(busy.c.LocalAddr()); c != nil && c.busy.Load() {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- h.srv.Shutdown(ctx)
	}()
	// The idle session is closed.
	idle.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.r.ReadString('\n'); err == nil {
		t.Fatal("idle session still open")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("idle session not closed by the drain")
	}
	// The transfer finishes and is acknowledged.
	busy.send("second part\r\n.\r\n")
	rep := busy.expect("250 2.0.0 Ok: queued as")
	busy.cmd("MAIL FROM:<a@x.jp>", "421 4.3.2")
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", h.addr, time.Second); err == nil {
		t.Error("listener still accepting after shutdown")
	}
	if got := h.content(spool.AreaQueue, idFrom(t, rep)); !strings.HasSuffix(got, "first part\r\nsecond part\r\n") {
		t.Fatalf("content %q", got)
	}
}

// TestTimeouts: an idle client is dropped with 421 after the command
// timeout; a stalled DATA is abandoned after the data timeout and nothing
// is committed.
func TestTimeouts(t *testing.T) {
	h := newHarness(t, harnessOpt{cfg: func(c *Config) {
		c.CommandTimeout = time.Second
		c.DataTimeout = time.Second
	}})
	idle := h.raw("127.0.0.1")
	idle.cmd("EHLO idle.test", "250")
	idle.expect("421 4.4.2")

	stall := h.raw("127.0.0.1")
	stall.cmd("EHLO stall.test", "250")
	stall.cmd("MAIL FROM:<a@x.jp>", "250")
	stall.cmd("RCPT TO:<b@y.jp>", "250")
	stall.cmd("DATA", "354")
	stall.send("Subject: stalled\r\n\r\nnever finished")
	stall.expect("421 4.4.2")
	waitNoTemp(t, h)
	if n := len(h.list(spool.AreaQueue)); n != 0 {
		t.Fatalf("stalled message committed")
	}
}

// TestCommitFailureNotAcknowledged: when the spool cannot commit, the
// client gets a 4xx (it keeps the message) and nothing is left behind.
func TestCommitFailureNotAcknowledged(t *testing.T) {
	h := newHarness(t, harnessOpt{})
	queueDir := filepath.Join(h.store.Dir(), "queue")
	if err := os.RemoveAll(queueDir); err != nil {
		t.Fatal(err)
	}
	c := h.client("127.0.0.1")
	_, err := send(c, "a@x.jp", []string{"b@y.jp"}, message("fail", "x\r\n"))
	if code(err) != 451 {
		t.Fatalf("commit into a missing folder: %v", err)
	}
	h.assertNoTemp()
	if err := os.Mkdir(queueDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := send(c, "a@x.jp", []string{"b@y.jp"}, message("ok", "x\r\n")); err != nil {
		t.Fatalf("after repair: %v", err)
	}
}

func TestLocalFailureCodes(t *testing.T) {
	tests := []struct {
		err  error
		code int
		ec   smtp.EnhancedCode
	}{
		{fmt.Errorf("spool commit X: %w", &os.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}), 452, smtp.EnhancedCode{4, 3, 1}},
		{syscall.EDQUOT, 452, smtp.EnhancedCode{4, 3, 1}},
		{errors.New("disk on fire"), 451, smtp.EnhancedCode{4, 3, 0}},
	}
	for _, tc := range tests {
		se := localFailure("ID1", tc.err)
		if se.Code != tc.code || se.EnhancedCode != tc.ec || !strings.HasSuffix(se.Message, "(ID1)") || strings.Contains(se.Message, "/x") {
			t.Errorf("%v -> %d %v %q", tc.err, se.Code, se.EnhancedCode, se.Message)
		}
	}
}

// lineSource yields n bytes of CRLF-terminated text without holding them.
type lineSource struct{ left int }

func (s *lineSource) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	const line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuv\r\n"
	n := 0
	for n+len(line) <= len(p) && s.left >= len(line) {
		n += copy(p[n:], line)
		s.left -= len(line)
	}
	if n == 0 { // tail shorter than a line, or p too small
		k := min(len(p), s.left, len(line)-2)
		n = copy(p, line[:k])
		s.left -= k
	}
	return n, nil
}

// TestLargeMessageBoundedMemory: a 20 MB message is streamed to the spool;
// the process allocates a small fraction of the message size for it (the
// client in this process included).
func TestLargeMessageBoundedMemory(t *testing.T) {
	h := newHarness(t, harnessOpt{})
	c := h.client("127.0.0.1")
	const size = 20 << 20
	if err := c.Mail("a@x.jp", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@y.jp", nil); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: big\r\n\r\n")
	if _, err := io.Copy(w, &lineSource{left: size}); err != nil {
		t.Fatal(err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	env, _ := h.store.Envelope(spool.AreaQueue, idFrom(t, resp.StatusText))
	if env.Size < size {
		t.Fatalf("stored %d bytes, want > %d", env.Size, size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
		t.Fatalf("allocated %d bytes for a %d-byte message", alloc, size)
	} else {
		t.Logf("allocated %d KiB for a %d MiB message", alloc>>10, size>>20)
	}
}

// TestShutdownBeforeServe: a Shutdown that runs before a Serve goroutine
// has started must still stop it (serve's drain waits for every Serve).
func TestShutdownBeforeServe(t *testing.T) {
	store, err := spool.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Hostname: "relay.test", MaxMessageSize: 1 << 20, MaxRecipients: 10, MaxLineLength: 1000,
		MaxHeaderSize: 1 << 16, CommandTimeout: time.Second, DataTimeout: time.Second,
		MaxConnections: 10, MaxConnectionsPerIP: 10}, store, Options{})
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve kept accepting after Shutdown")
	}
}
