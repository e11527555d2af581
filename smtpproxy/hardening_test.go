package smtpproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dlpguard/spool"
)

// injected is what a client hides behind a transfer that fails: if the
// connection stayed open, these lines would run as commands and queue a
// second message (issue 17).
const injected = "MAIL FROM:<evil@x.jp>\r\nRCPT TO:<victim@y.jp>\r\nDATA\r\nSubject: injected\r\n\r\nsmuggled\r\n.\r\n"

// trickle writes s one byte per gap until done or the connection fails.
func trickle(c net.Conn, s string, gap time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < len(s); i++ {
			if _, err := c.Write([]byte{s[i]}); err != nil {
				return
			}
			time.Sleep(gap)
		}
	}()
	return done
}

// TestTrickledBodyInjection: a body trickled past data_timeout gets 421
// and the connection closes; the MAIL/RCPT/DATA lines in the rest of the
// body never run (DATA, a BDAT chunk, and between BDAT chunks, where the
// chunk commands are held to the transfer's deadline too).
func TestTrickledBodyInjection(t *testing.T) {
	tests := []struct {
		name  string
		start string // after EHLO, MAIL, RCPT
		want  string // reply expected before the trickle
		close string // the reply before the close
	}{
		{"DATA", "DATA\r\n", "354", "421 4.4.2"},
		{"BDAT chunk", "BDAT 4000 LAST\r\n", "", "421 4.4.2"},
		// go-smtp answers a failed command read itself: 421 4.4.0.
		{"between BDAT chunks", "BDAT 5\r\nfirst", "250", "421 4.4."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpt{cfg: func(c *Config) {
				c.DataTimeout = time.Second
				// Longer than the whole trickle: only data_timeout can
				// stop it, also between BDAT chunks.
				c.CommandTimeout = 30 * time.Second
			}})
			r := h.raw("127.0.0.1")
			r.cmd("EHLO trickle.test", "250")
			r.cmd("MAIL FROM:<a@x.jp>", "250")
			r.cmd("RCPT TO:<b@y.jp>", "250")
			r.send(tc.start)
			if tc.want != "" {
				r.expect(tc.want)
			}
			body := "Subject: slow\r\n\r\nfirst line\r\n.\r\n" + injected + injected
			if tc.name == "between BDAT chunks" {
				body = bdatLast("Subject: slow\r\n\r\nx\r\n") + injected
			}
			done := trickle(r.c, body, 40*time.Millisecond)
			rest, _ := r.readToEOF()
			<-done
			if !strings.HasPrefix(rest, tc.close) || strings.Count(rest, "\r\n") != 1 {
				t.Fatalf("after the data timeout the server sent %q, want one %s and the close", rest, tc.close)
			}
			if ids := h.list(spool.AreaQueue); len(ids) != 0 {
				t.Fatalf("queued %v: a command inside the trickled body ran", ids)
			}
			if n := len(h.notify.list()); n != 0 {
				t.Fatalf("%d messages notified", n)
			}
			waitNoTemp(t, h)
		})
	}
}

// TestTransferErrorsClose: every reply that ends a transfer early (NUL,
// bare LF, header or message too large, mail loop) is followed by the
// close, so the commands pipelined behind the refused message never run.
func TestTransferErrorsClose(t *testing.T) {
	loop := strings.Repeat("Received: from a by b\r\n", 60)
	tests := []struct {
		name string
		data string // the transfer, DATA or BDAT, with the end marker
		want string // the reply
	}{
		{"NUL in header", "DATA\r\nSubject: a\x00b\r\n\r\nbody\r\n.\r\n", "554 5.6.0"},
		{"NUL in body", "DATA\r\nSubject: a\r\n\r\n3016\x006613\x001860\r\n.\r\n", "554 5.6.0"},
		{"NUL in BDAT", bdatLast("Subject: a\r\n\r\nbo\x00dy 1234\r\n"), "554 5.6.0"},
		{"bare CR in BDAT", bdatLast("Subject: a\r\n\r\nbody\rmore\r\n"), "554 5.6.0"},
		{"bare LF", "DATA\r\nSubject: a\r\n\r\nbody\nmore\r\n.\r\n", "554 5.6.0"},
		{"header too large", "DATA\r\nSubject: " + strings.Repeat("x", 3000) + "\r\n\r\nbody\r\n.\r\n", "552 5.3.4"},
		{"message too large", "DATA\r\nSubject: a\r\n\r\n" + strings.Repeat("0123456789\r\n", 1000) + ".\r\n", "552 5.3.4"},
		{"mail loop", "DATA\r\n" + loop + "\r\nbody\r\n.\r\n", "554 5.4.6"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpt{cfg: func(c *Config) {
				c.MaxHeaderSize = 2048
				c.MaxMessageSize = 8000
			}})
			r := h.raw("127.0.0.1")
			r.cmd("EHLO client.test", "250")
			r.cmd("MAIL FROM:<a@x.jp>", "250")
			r.cmd("RCPT TO:<b@y.jp>", "250")
			data := tc.data
			if strings.HasPrefix(data, "DATA") {
				r.send("DATA\r\n")
				r.expect("354")
				data = strings.TrimPrefix(data, "DATA\r\n")
			}
			// The refused message and the next transaction in one write,
			// as a pipelining client (or a smuggler) sends them.
			r.send(data + injected)
			rest, _ := r.readToEOF()
			if !strings.HasPrefix(rest, tc.want) || strings.Count(rest, "\r\n") != 1 {
				t.Fatalf("server sent %q, want one %s reply and the close", rest, tc.want)
			}
			if ids := h.list(spool.AreaQueue); len(ids) != 0 {
				t.Fatalf("queued %v after a refused transfer", ids)
			}
			waitNoTemp(t, h)
		})
	}
}

func bdatLast(chunk string) string {
	return "BDAT " + itoa(len(chunk)) + " LAST\r\n" + chunk
}

// TestCommandTimeoutWholeLine: command_timeout bounds a whole command
// line; a client sending one byte at a time is cut with 421 4.4.2 before
// its line ends. (go-smtp runs the partial line once, as a bad command,
// before the 421; the session refuses every command by then.)
func TestCommandTimeoutWholeLine(t *testing.T) {
	h := newHarness(t, harnessOpt{cfg: func(c *Config) { c.CommandTimeout = time.Second }})
	r := h.raw("127.0.0.1")
	line := "EHLO one-byte-at-a-time.example.jp\r\n" // 36 bytes: 7 s at 200 ms each
	done := trickle(r.c, line, 200*time.Millisecond)
	rest, _ := r.readToEOF()
	select {
	case <-done:
		t.Fatalf("the connection stayed open until the whole line was sent (%q)", rest)
	default:
	}
	<-done
	// At the timeout go-smtp runs the part of the line that arrived once
	// (a 501, or a 250 when "EHLO x" happened to be complete on a slow
	// machine) before the 421; the session is then over either way.
	if !strings.HasSuffix(rest, "421 4.4.2 Idle timeout, bye bye\r\n") || strings.Contains(rest, "one-byte-at-a-time") {
		t.Fatalf("slow client got %q, want 421 4.4.2 and the close before its line ends", rest)
	}
}

// TestSlowClientsDoNotLockOut: trickling clients from one address take at
// most their address's share of max_connections; a sender on another
// address still gets in and sends.
func TestSlowClientsDoNotLockOut(t *testing.T) {
	tests := []struct {
		name      string
		perIP     int // 0: the default (a quarter of max_connections)
		wantSlots int
	}{
		{"default share", 0, 1},
		{"configured", 3, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpt{cfg: func(c *Config) {
				c.MaxConnections = 6
				c.MaxConnectionsPerIP = tc.perIP
				c.CommandTimeout = 30 * time.Second
			}})
			accepted := 0
			for range 6 {
				c := h.dialFrom("127.0.0.2", h.addr)
				defer c.Close()
				greeting, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case strings.HasPrefix(greeting, "220"):
					accepted++
					trickle(c, "EHLO slow.test\r\n", time.Second)
				case strings.HasPrefix(greeting, "421 4.7.0"):
				default:
					t.Fatalf("greeting %q", greeting)
				}
			}
			if accepted != tc.wantSlots {
				t.Fatalf("127.0.0.2 holds %d sessions, want %d", accepted, tc.wantSlots)
			}
			c := h.client("127.0.0.1")
			if _, err := send(c, "a@x.jp", []string{"b@y.jp"}, message("through", "ok\r\n")); err != nil {
				t.Fatalf("sender on 127.0.0.1 locked out: %v", err)
			}
		})
	}
}

// auditRecorder is the Auditor of the tests.
type auditRecorder struct {
	mu     sync.Mutex
	events []AuthEvent
}

func (a *auditRecorder) RecordAuth(_ context.Context, ev AuthEvent) error {
	a.mu.Lock()
	a.events = append(a.events, ev)
	a.mu.Unlock()
	return nil
}

func (a *auditRecorder) count(kind, client string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, ev := range a.events {
		if ev.Kind == kind && ev.Client == client {
			n++
		}
	}
	return n
}

// authHarness is a TLS relay with one account and brisk AUTH limits.
func authHarness(t *testing.T, limits AuthLimits) (*harness, *auditRecorder) {
	t.Helper()
	hash, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	rec := &auditRecorder{}
	h := newHarness(t, harnessOpt{tls: true, auditor: rec, cfg: func(c *Config) {
		c.Accounts = map[string]string{"alice": hash}
		c.Auth = limits
	}})
	return h, rec
}

// tlsClient is a go-smtp client from local after STARTTLS.
func (h *harness) tlsClient(local string) *smtp.Client {
	h.t.Helper()
	c, err := smtp.NewClientStartTLS(h.dialFrom(local, h.addr), h.tlsConfig())
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

// TestAuthGuessingFlood: a guessing flood from one address is slowed, then
// blocked without password checks; every failure and the block are in the
// audit log and the metrics; the account's owner on another address still
// logs in (per-account delay, not lock).
func TestAuthGuessingFlood(t *testing.T) {
	h, rec := authHarness(t, AuthLimits{
		MaxChecks:         1,
		AddressDelay:      5 * time.Millisecond,
		AddressMaxDelay:   20 * time.Millisecond,
		AddressBlockAfter: 6,
		AddressBlockFor:   time.Hour,
		AccountDelay:      5 * time.Millisecond,
		AccountMaxDelay:   20 * time.Millisecond,
	})
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	// go-smtp's client answers a failed AUTH with "*", which the server
	// counts as a protocol error, so each guess takes a new connection.
	guess := func(pw string) error {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		nc, err := d.Dial("tcp", h.addr)
		if err != nil {
			return err
		}
		nc.SetDeadline(time.Now().Add(30 * time.Second))
		c, err := smtp.NewClientStartTLS(nc, h.tlsConfig())
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Auth(sasl.NewPlainClient("", "alice", pw))
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6 {
				err := guess("guess" + itoa(i))
				mu.Lock()
				codes[code(err)]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if codes[535] < 6 || codes[454] == 0 || codes[535]+codes[454] != 24 {
		t.Fatalf("replies to 24 guesses: %v; want at least 6 × 535, then 454 (blocked)", codes)
	}
	if got := rec.count(AuthFailure, "127.0.0.2"); got != codes[535] {
		t.Errorf("audit has %d failures, %d were answered 535", got, codes[535])
	}
	if got := rec.count(AuthBlockAddress, "127.0.0.2"); got != 1 {
		t.Errorf("audit has %d address blocks, want 1", got)
	}
	if got := metricValue(h.metrics.AuthFailures); int(got) != codes[535] {
		t.Errorf("metric auth failures %v, want %d", got, codes[535])
	}
	if got := metricValue(h.metrics.AuthBlocks.WithLabelValues("address")); got != 1 {
		t.Errorf("metric address blocks %v, want 1", got)
	}
	if got := metricValue(h.metrics.AuthRefused); int(got) != codes[454] {
		t.Errorf("metric refused %v, want %d", got, codes[454])
	}
	// The blocked address is refused even with the right password …
	if err := h.tlsClient("127.0.0.2").Auth(sasl.NewPlainClient("", "alice", "correct horse")); code(err) != 454 {
		t.Fatalf("blocked address with the right password: %v, want 454", err)
	}
	// … while the owner on another address gets in and sends.
	c := h.tlsClient("127.0.0.1")
	if err := c.Auth(sasl.NewPlainClient("", "alice", "correct horse")); err != nil {
		t.Fatalf("owner on another address: %v", err)
	}
	if _, err := send(c, "alice@city.example.lg.jp", []string{"b@example.jp"}, message("after flood", "ok\r\n")); err != nil {
		t.Fatal(err)
	}
}

// TestAuthAccountBlock: with account_block_after set, an account is
// blocked from every address; the default (0) only slows it.
func TestAuthAccountBlock(t *testing.T) {
	h, rec := authHarness(t, AuthLimits{
		AddressDelay: time.Millisecond, AddressMaxDelay: time.Millisecond, AddressBlockAfter: 100,
		AccountDelay: time.Millisecond, AccountMaxDelay: time.Millisecond, AccountBlockAfter: 3, AccountBlockFor: time.Hour,
	})
	for i := range 3 {
		if err := h.tlsClient("127.0.0.2").Auth(sasl.NewPlainClient("", "alice", "guess"+itoa(i))); code(err) != 535 {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if err := h.tlsClient("127.0.0.1").Auth(sasl.NewPlainClient("", "alice", "correct horse")); code(err) != 454 {
		t.Fatalf("blocked account from another address: %v, want 454", err)
	}
	if rec.count(AuthBlockAccount, "127.0.0.2") != 1 {
		t.Errorf("account block not audited: %+v", rec.events)
	}
}

// TestAuthSessionsCap: the sessions inside an AUTH exchange are capped over
// all clients; a slot comes back when the exchange ends.
func TestAuthSessionsCap(t *testing.T) {
	h, _ := authHarness(t, AuthLimits{MaxSessions: 1})
	// A raw client stops at the user name prompt of AUTH LOGIN.
	r := h.raw("127.0.0.2")
	r.cmd("EHLO slow.test", "250")
	r.cmd("STARTTLS", "220")
	tc := tls.Client(r.c, h.tlsConfig())
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	r.c, r.r = tc, bufio.NewReader(tc)
	r.cmd("EHLO slow.test", "250")
	r.cmd("AUTH LOGIN", "334")

	c := h.tlsClient("127.0.0.1")
	if err := c.Auth(sasl.NewPlainClient("", "alice", "correct horse")); code(err) != 454 {
		t.Fatalf("AUTH while the only slot is taken: %v, want 454", err)
	}
	r.cmd("*", "501") // the slow client gives up its exchange
	r.cmd("NOOP", "250")
	r.cmd("QUIT", "221")
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := c.Auth(sasl.NewPlainClient("", "alice", "correct horse"))
		if err == nil {
			break
		}
		if code(err) != 454 || time.Now().After(deadline) {
			t.Fatalf("AUTH after the slot came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEightBitEnvelope: a non-ASCII address needs SMTPUTF8 (RFC 6531) and
// valid UTF-8.
func TestEightBitEnvelope(t *testing.T) {
	tests := []struct {
		name       string
		mail, rcpt string
		mailWant   string
		rcptWant   string // "" when MAIL failed
	}{
		{"ascii", "MAIL FROM:<a@x.jp>", "RCPT TO:<b@y.jp>", "250", "250"},
		{"8-bit sender without SMTPUTF8", "MAIL FROM:<職員@x.jp>", "", "553 5.6.7", ""},
		{"8-bit recipient without SMTPUTF8", "MAIL FROM:<a@x.jp>", "RCPT TO:<宛先@y.jp>", "250", "553 5.6.7"},
		{"8-bit with SMTPUTF8", "MAIL FROM:<職員@x.jp> SMTPUTF8", "RCPT TO:<宛先@y.jp>", "250", "250"},
		{"invalid UTF-8", "MAIL FROM:<a\xff\xfe@x.jp> SMTPUTF8", "", "553 5.6.7", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpt{})
			r := h.raw("127.0.0.1")
			r.cmd("EHLO client.test", "250")
			r.cmd(tc.mail, tc.mailWant)
			if tc.rcpt != "" {
				r.cmd(tc.rcpt, tc.rcptWant)
			}
		})
	}
}

// TestAuthGuard: the counters behind AUTH's brakes, step by step.
func TestAuthGuard(t *testing.T) {
	l := AuthLimits{Window: time.Minute, AddressDelay: time.Second, AddressMaxDelay: 5 * time.Second, AddressBlockAfter: 4,
		AddressBlockFor: time.Hour, AccountDelay: time.Second, AccountMaxDelay: 3 * time.Second}
	l.setDefaults(100)
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{0, 0}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 5 * time.Second}, {60, 5 * time.Second}} {
		if got := delayFor(tc.n, l.AddressDelay, l.AddressMaxDelay); got != tc.want {
			t.Errorf("delayFor(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	g := newAuthGuard(1)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	now := time.Unix(1e9, 0)
	steps := []struct {
		ip        netip.Addr
		wantWait  time.Duration // before this attempt
		wantBlock bool          // this attempt is refused
		startsBlk bool          // its failure starts a block
	}{
		{a, 0, false, false},
		{a, time.Second, false, false},     // address 1, account 1
		{a, 2 * time.Second, false, false}, // 2, 2
		{b, 3 * time.Second, false, false}, // another address: the account's delay only
		{a, 4 * time.Second, false, true},  // the 4th failure from a blocks a
		{a, 0, true, false},                // blocked
		{b, 3 * time.Second, false, false}, // b: slowed by the account, not locked
	}
	for i, st := range steps {
		wait, until := g.admit(st.ip, "alice", &l, now)
		if blocked := !until.IsZero(); blocked != st.wantBlock || (!blocked && wait != st.wantWait) {
			t.Fatalf("step %d: wait %v blocked %v, want %v %v", i, wait, blocked, st.wantWait, st.wantBlock)
		}
		if st.wantBlock {
			continue
		}
		_, _, addrBlock, userBlock := g.fail(st.ip, "alice", &l, now)
		if !addrBlock.IsZero() != st.startsBlk || !userBlock.IsZero() {
			t.Fatalf("step %d: blocks %v %v", i, addrBlock, userBlock)
		}
	}
	// Failures age out after the window; a block lasts its time.
	later := now.Add(2 * time.Minute)
	if wait, until := g.admit(b, "alice", &l, later); wait != 0 || !until.IsZero() {
		t.Errorf("after the window: wait %v until %v", wait, until)
	}
	if _, until := g.admit(a, "alice", &l, later); until.IsZero() {
		t.Error("block ended before its time")
	}
	// Sessions in AUTH: 100/5 = 20 in all, 2 per address.
	if l.MaxSessions != 20 {
		t.Fatalf("MaxSessions default %d", l.MaxSessions)
	}
	if !g.enter(a, 20) || !g.enter(a, 20) || g.enter(a, 20) || !g.enter(b, 20) {
		t.Fatal("per-address share of AUTH sessions not kept")
	}
	g.leave(a)
	if !g.enter(a, 20) {
		t.Fatal("slot not given back")
	}
	// IPv6 counts by /64: rotating addresses inside it does not help.
	v6a, v6b, v6other := netip.MustParseAddr("2001:db8:1:2::1"), netip.MustParseAddr("2001:db8:1:2:ffff::9"), netip.MustParseAddr("2001:db8:1:3::1")
	for range l.AddressBlockAfter {
		g.fail(v6a, "", &l, now)
	}
	if _, until := g.admit(v6b, "", &l, now); until.IsZero() {
		t.Error("another address of a blocked /64 is not blocked")
	}
	if _, until := g.admit(v6other, "", &l, now); !until.IsZero() {
		t.Error("a neighbouring /64 is blocked too")
	}
}
