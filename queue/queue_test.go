package queue

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"dlpguard/spool"
)

func TestDeliverMultipleRecipients(t *testing.T) {
	u := startUpstream(t, upstreamOpts{})
	e := newEnv(t, testConfig(u.addr), "")
	e.start()
	data := msgText("hello", "本文 body line\r\n.leading dot\r\nend")
	e.commit("yamada@city.example.lg.jp", []string{"a@example.com", "b@example.com", "c@example.com"}, data, true)
	e.waitEmpty()
	got := u.received()
	if len(got) != 1 {
		t.Fatalf("upstream got %d transactions, want 1", len(got))
	}
	m := got[0]
	if m.From != "yamada@city.example.lg.jp" || strings.Join(m.Rcpts, ",") != "a@example.com,b@example.com,c@example.com" {
		t.Errorf("envelope %q → %q", m.From, m.Rcpts)
	}
	if string(m.Data) != data {
		t.Errorf("data changed in transit:\n got %q\nwant %q", m.Data, data)
	}
	if m.HELO != "relay.test" {
		t.Errorf("EHLO name %q", m.HELO)
	}
	if e.m.delivered.Load() != 3 || e.m.latencies.Load() != 3 {
		t.Errorf("metrics delivered=%d latencies=%d", e.m.delivered.Load(), e.m.latencies.Load())
	}
}

func TestLargeMessageStreamed(t *testing.T) {
	u := startUpstream(t, upstreamOpts{})
	e := newEnv(t, testConfig(u.addr), "")
	e.start()
	var b strings.Builder
	b.WriteString("Subject: large\r\n\r\n")
	line := strings.Repeat("0123456789", 7) + "\r\n"
	for b.Len() < 8<<20 {
		b.WriteString(line)
		b.WriteString(".dot-stuffed line\r\n")
	}
	data := b.String()
	e.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, data, true)
	e.waitEmpty()
	got := u.byRcpt("a@example.com")
	if len(got) != 1 || len(got[0].Data) != len(data) || string(got[0].Data) != data {
		t.Fatalf("large message changed in transit (%d transactions)", len(got))
	}
}

// dsnFor parses a DSN the upstream received and returns its parts.
type parsedDSN struct {
	subject  string
	human    string
	perRcpt  []textproto.MIMEHeader
	headers  string
	envTo    []string
	envFrom  string
	rawParts int
}

func parseDSN(t *testing.T, r received) parsedDSN {
	t.Helper()
	ent, err := message.Read(bytes.NewReader(r.Data))
	if err != nil {
		t.Fatalf("DSN does not parse: %v", err)
	}
	p := parsedDSN{envTo: r.Rcpts, envFrom: r.From}
	mh := mail.Header{Header: ent.Header}
	p.subject, _ = mh.Subject()
	mt, params, _ := ent.Header.ContentType()
	if mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("DSN content type %s %v", mt, params)
	}
	mr := ent.MultipartReader()
	for i := 0; ; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(part.Body)
		ct, _, _ := part.Header.ContentType()
		p.rawParts++
		switch ct {
		case "text/plain":
			p.human = string(b)
		case "message/delivery-status":
			for j, blk := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n\n") {
				if j == 0 || strings.TrimSpace(blk) == "" {
					continue
				}
				h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(strings.TrimSpace(blk) + "\n\n"))).ReadMIMEHeader()
				if err != nil {
					t.Fatal(err)
				}
				p.perRcpt = append(p.perRcpt, h)
			}
		case "text/rfc822-headers":
			p.headers = string(b)
		default:
			t.Errorf("unexpected part %s", ct)
		}
	}
	return p
}

func TestPartialRecipientFailure(t *testing.T) {
	u := startUpstream(t, upstreamOpts{})
	u.setRcpt(func(addr string, n int) error {
		if addr == "nobody@example.com" {
			return reply(550, smtp.EnhancedCode{5, 1, 1}, "no such user here")
		}
		return nil
	})
	e := newEnv(t, testConfig(u.addr), "")
	e.start()
	id := e.commit("yamada@city.example.lg.jp", []string{"a@example.com", "nobody@example.com"},
		msgText("会議", "BODY-SECRET マイナンバー"), true)
	e.waitEmpty()

	if got := u.byRcpt("a@example.com"); len(got) != 1 {
		t.Fatalf("a@example.com got %d copies", len(got))
	}
	dsns := u.byRcpt("yamada@city.example.lg.jp")
	if len(dsns) != 1 {
		t.Fatalf("sender got %d DSNs, want 1", len(dsns))
	}
	d := parseDSN(t, dsns[0])
	if d.envFrom != "" {
		t.Errorf("DSN reverse-path %q, want null", d.envFrom)
	}
	if len(d.perRcpt) != 1 || d.perRcpt[0].Get("Final-Recipient") != "rfc822; nobody@example.com" ||
		d.perRcpt[0].Get("Action") != "failed" || d.perRcpt[0].Get("Status") != "5.1.1" ||
		!strings.Contains(d.perRcpt[0].Get("Diagnostic-Code"), "smtp; 550 5.1.1 no such user here") {
		t.Errorf("status fields %v", d.perRcpt)
	}
	if !strings.Contains(d.human, "配送できませんでした") || !strings.Contains(d.human, "could not be delivered") || !strings.Contains(d.human, id) {
		t.Errorf("human part:\n%s", d.human)
	}
	if !strings.Contains(d.headers, "Message-ID:") || strings.Contains(string(dsns[0].Data), "BODY-SECRET") {
		t.Errorf("DSN must carry the headers and never the body:\n%s", dsns[0].Data)
	}
	if !strings.HasPrefix(d.subject, "配信不能通知") {
		t.Errorf("subject %q", d.subject)
	}
	if e.m.bounced.Load() != 1 || e.m.delivered.Load() != 2 { // a@ and the DSN
		t.Errorf("metrics bounced=%d delivered=%d", e.m.bounced.Load(), e.m.delivered.Load())
	}
}

func TestTemporaryThenSuccess(t *testing.T) {
	u := startUpstream(t, upstreamOpts{})
	u.setRcpt(func(addr string, n int) error {
		if addr == "slow@example.com" && n <= 2 {
			return reply(451, smtp.EnhancedCode{4, 3, 0}, "try again later")
		}
		return nil
	})
	e := newEnv(t, testConfig(u.addr), "")
	e.start()
	e.commit("yamada@city.example.lg.jp", []string{"a@example.com", "slow@example.com"}, msgText("x", "y"), true)
	e.waitEmpty()
	if n := len(u.byRcpt("a@example.com")); n != 1 {
		t.Errorf("a@example.com received %d copies; a delivered recipient must never be resent", n)
	}
	if n := len(u.byRcpt("slow@example.com")); n != 1 {
		t.Errorf("slow@example.com received %d copies", n)
	}
	if n := len(u.byRcpt("yamada@city.example.lg.jp")); n != 0 {
		t.Errorf("%d DSNs for a message that was delivered", n)
	}
	if e.m.deferred.Load() != 2 {
		t.Errorf("deferred = %d, want 2", e.m.deferred.Load())
	}
}

func TestTemporaryThenPermanent(t *testing.T) {
	u := startUpstream(t, upstreamOpts{})
	u.setRcpt(func(addr string, n int) error {
		if addr == "gone@example.com" {
			if n == 1 {
				return reply(450, smtp.EnhancedCode{4, 2, 1}, "mailbox busy")
			}
			return reply(550, smtp.EnhancedCode{5, 1, 6}, "mailbox has moved")
		}
		return nil
	})
	e := newEnv(t, testConfig(u.addr), "")
	e.start()
	e.commit("yamada@city.example.lg.jp", []string{"gone@example.com", "a@example.com"}, msgText("moved", "BODY-SECRET"), true)
	e.waitEmpty()
	if n := len(u.byRcpt("a@example.com")); n != 1 {
		t.Errorf("a@example.com got %d copies", n)
	}
	dsns := u.byRcpt("yamada@city.example.lg.jp")
	if len(dsns) != 1 {
		t.Fatalf("%d DSNs", len(dsns))
	}
	d := parseDSN(t, dsns[0])
	if len(d.perRcpt) != 1 || d.perRcpt[0].Get("Final-Recipient") != "rfc822; gone@example.com" ||
		d.perRcpt[0].Get("Status") != "5.1.6" || !strings.Contains(d.perRcpt[0].Get("Diagnostic-Code"), "550 5.1.6 mailbox has moved") {
		t.Errorf("status fields %v", d.perRcpt)
	}
	if strings.Contains(string(dsns[0].Data), "BODY-SECRET") || !strings.Contains(d.human, "受け取りを拒否") {
		t.Errorf("DSN body leak or missing Japanese reason:\n%s", d.human)
	}
	if u.triesOf("gone@example.com") != 2 {
		t.Errorf("gone@example.com tried %d times, want 2", u.triesOf("gone@example.com"))
	}
}

func TestTemporaryUntilExpiry(t *testing.T) {
	u := startUpstream(t, upstreamOpts{})
	u.setRcpt(func(addr string, n int) error {
		if addr == "full@example.com" {
			return reply(452, smtp.EnhancedCode{4, 2, 2}, "mailbox full")
		}
		return nil
	})
	cfg := testConfig(u.addr)
	cfg.MaxAge = 300 * time.Millisecond
	e := newEnv(t, cfg, "")
	e.start()
	id := e.commit("yamada@city.example.lg.jp", []string{"full@example.com"}, msgText("expiring", "BODY-SECRET"), true)
	e.waitEmpty()
	dsns := u.byRcpt("yamada@city.example.lg.jp")
	if len(dsns) != 1 {
		t.Fatalf("sender got %d DSNs, want 1", len(dsns))
	}
	d := parseDSN(t, dsns[0])
	if len(d.perRcpt) != 1 {
		t.Fatalf("status blocks %v", d.perRcpt)
	}
	f := d.perRcpt[0]
	if f.Get("Final-Recipient") != "rfc822; full@example.com" || f.Get("Action") != "failed" || f.Get("Status") != "5.4.7" ||
		!strings.Contains(f.Get("Diagnostic-Code"), "452 4.2.2 mailbox full") {
		t.Errorf("status fields %v", f)
	}
	if !strings.Contains(d.human, "再送の期限を過ぎた") || !strings.Contains(d.human, "retry period expired") || !strings.Contains(d.human, id) {
		t.Errorf("human part:\n%s", d.human)
	}
	if !strings.Contains(d.headers, "Subject: expiring") || strings.Contains(string(dsns[0].Data), "BODY-SECRET") {
		t.Errorf("headers part wrong or body leaked")
	}
	if n := u.triesOf("full@example.com"); n < 2 {
		t.Errorf("only %d attempts before giving up", n)
	}
}

func TestDelayWarning(t *testing.T) {
	u := startUpstream(t, upstreamOpts{})
	u.setRcpt(func(addr string, n int) error {
		if addr == "slow@example.com" && n <= 3 {
			return reply(451, smtp.EnhancedCode{4, 4, 1}, "no answer from host")
		}
		return nil
	})
	cfg := testConfig(u.addr)
	cfg.DelayWarnAfter = 2
	e := newEnv(t, cfg, "")
	e.start()
	e.commit("yamada@city.example.lg.jp", []string{"slow@example.com"}, msgText("delayed", "BODY-SECRET"), true)
	e.waitEmpty()
	if n := len(u.byRcpt("slow@example.com")); n != 1 {
		t.Fatalf("slow@example.com got %d copies", n)
	}
	dsns := u.byRcpt("yamada@city.example.lg.jp")
	if len(dsns) != 1 {
		t.Fatalf("%d notices, want exactly one delay warning", len(dsns))
	}
	d := parseDSN(t, dsns[0])
	if len(d.perRcpt) != 1 || d.perRcpt[0].Get("Action") != "delayed" || d.perRcpt[0].Get("Status") != "4.4.1" ||
		d.perRcpt[0].Get("Will-Retry-Until") == "" {
		t.Errorf("status fields %v", d.perRcpt)
	}
	if !strings.HasPrefix(d.subject, "配信遅延通知") || !strings.Contains(d.human, "配送が遅れています") || strings.Contains(string(dsns[0].Data), "BODY-SECRET") {
		t.Errorf("subject %q human:\n%s", d.subject, d.human)
	}
}

func TestExpiredGetsOneLastAttempt(t *testing.T) {
	// The relay was down for a week: its queue is delivered, not bounced.
	u := startUpstream(t, upstreamOpts{})
	dir := t.TempDir()
	e := newEnv(t, testConfig(u.addr), dir)
	e.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, msgText("old", "x"), false, func(en *spool.Envelope) {
		en.Received = time.Now().Add(-7 * 24 * time.Hour)
		en.Expires = en.Received.Add(5 * 24 * time.Hour)
		en.Recipients[0].Attempts = 3
	})
	e.start()
	e.waitEmpty()
	if n := len(u.byRcpt("a@example.com")); n != 1 {
		t.Errorf("expired message delivered %d times, want 1", n)
	}
	if n := len(u.byRcpt("yamada@city.example.lg.jp")); n != 0 {
		t.Errorf("%d DSNs for a delivered message", n)
	}
}

func TestTooManyRecipientsSplit(t *testing.T) {
	// The upstream takes two recipients per transaction (452 4.5.3 for the
	// third, RFC 5321 4.5.3.1.10): the rest goes at once in more
	// transactions, not after a retry delay.
	u := startUpstream(t, upstreamOpts{})
	u.maxRcpts = 2
	cfg := testConfig(u.addr)
	cfg.Retry = []time.Duration{time.Hour}
	e := newEnv(t, cfg, "")
	e.start()
	rcpts := []string{"r1@example.com", "r2@example.com", "r3@example.com", "r4@example.com", "r5@example.com"}
	e.commit("yamada@city.example.lg.jp", rcpts, msgText("many", "x"), true)
	e.waitEmpty()
	got := u.received()
	if len(got) != 3 {
		t.Fatalf("%d transactions, want 3", len(got))
	}
	for _, r := range rcpts {
		if n := len(u.byRcpt(r)); n != 1 {
			t.Errorf("%s got %d copies", r, n)
		}
	}
	if e.m.deferred.Load() != 0 {
		t.Errorf("deferred %d", e.m.deferred.Load())
	}
}

func TestPermanentAtData(t *testing.T) {
	u := startUpstream(t, upstreamOpts{})
	u.data = func(r received) error {
		if r.From != "" {
			return reply(554, smtp.EnhancedCode{5, 7, 1}, "content rejected")
		}
		return nil
	}
	e := newEnv(t, testConfig(u.addr), "")
	e.start()
	e.commit("yamada@city.example.lg.jp", []string{"a@example.com", "b@example.com"}, msgText("x", "y"), true)
	e.waitEmpty()
	dsns := u.byRcpt("yamada@city.example.lg.jp")
	if len(dsns) != 1 {
		t.Fatalf("%d DSNs", len(dsns))
	}
	d := parseDSN(t, dsns[0])
	if len(d.perRcpt) != 2 || d.perRcpt[1].Get("Status") != "5.7.1" {
		t.Errorf("status blocks %v", d.perRcpt)
	}
}

func TestNoDSNForNullSenderOrDSN(t *testing.T) {
	u := startUpstream(t, upstreamOpts{})
	u.setRcpt(func(addr string, n int) error { return reply(550, smtp.EnhancedCode{5, 1, 1}, "no") })
	e := newEnv(t, testConfig(u.addr), "")
	e.start()
	e.commit("", []string{"a@example.com"}, msgText("null sender", "x"), true)
	e.commit("", []string{"b@example.com"}, msgText("a dsn", "x"), true, func(en *spool.Envelope) { en.DSN = true })
	e.commit("c@example.com", []string{"d@example.com"}, msgText("flagged dsn", "x"), true, func(en *spool.Envelope) { en.DSN = true })
	e.waitEmpty()
	if n := len(u.received()); n != 0 {
		t.Errorf("upstream accepted %d messages", n)
	}
	if u.triesOf("c@example.com") != 0 {
		t.Errorf("a DSN was bounced")
	}
}

func TestRestartRecovery(t *testing.T) {
	u := startUpstream(t, upstreamOpts{})
	dir := t.TempDir()
	first := newEnv(t, testConfig(u.addr), dir)
	// Committed before any Run, never announced: as after a crash.
	var ids []string
	for i := range 5 {
		ids = append(ids, first.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, msgText("recover", strings.Repeat("x", i)), false))
	}
	// One was half done: a recipient already delivered must not be resent.
	first.commit("yamada@city.example.lg.jp", []string{"done@example.com", "b@example.com"}, msgText("half", "x"), false,
		func(en *spool.Envelope) {
			en.Recipients[0].Status = spool.Delivered
			en.Recipients[0].Attempts = 1
			en.NextAttempt = time.Now().Add(-time.Minute)
		})
	second := newEnv(t, testConfig(u.addr), dir)
	second.start()
	second.waitEmpty()
	if n := len(u.byRcpt("a@example.com")); n != 5 {
		t.Errorf("a@example.com got %d messages, want 5", n)
	}
	if n := len(u.byRcpt("b@example.com")); n != 1 {
		t.Errorf("b@example.com got %d", n)
	}
	if n := len(u.byRcpt("done@example.com")); n != 0 {
		t.Errorf("a delivered recipient was resent")
	}
}

func TestNextAttemptRecordedBeforeAttempt(t *testing.T) {
	// The upstream blocks in RCPT until released, so the envelope can be
	// read while the attempt is in progress.
	u := startUpstream(t, upstreamOpts{})
	gate := make(chan struct{})
	u.setRcpt(func(addr string, n int) error {
		<-gate
		return nil
	})
	dir := t.TempDir()
	cfg := testConfig(u.addr)
	cfg.Retry = []time.Duration{time.Hour}
	e := newEnv(t, cfg, dir)
	id := e.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, msgText("x", "y"), false)
	e.start() // found by the start-up scan: not fresh
	waitFor(t, "next attempt on disk", func() bool {
		en, err := e.store.Envelope(spool.AreaQueue, id)
		return err == nil && en.NextAttempt.After(time.Now().Add(30*time.Minute))
	})
	close(gate)
	e.waitEmpty()
}

func TestConnectionReuse(t *testing.T) {
	u := startUpstream(t, upstreamOpts{})
	cfg := testConfig(u.addr)
	cfg.Workers = 1
	u.setRcpt(func(addr string, n int) error {
		if addr == "nobody@example.com" {
			return reply(550, smtp.EnhancedCode{5, 1, 1}, "no")
		}
		return nil
	})
	e := newEnv(t, cfg, "")
	e.start()
	for i := range 10 {
		if i == 0 || i == 5 {
			// A failed transaction in the middle (RSET) must leave the
			// connection usable; its DSN goes over it too.
			e.commit("yamada@city.example.lg.jp", []string{"nobody@example.com"}, msgText("x", "y"), true)
		}
		e.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, msgText("reuse", strings.Repeat("y", i)), true)
	}
	e.waitEmpty()
	if n := len(u.byRcpt("yamada@city.example.lg.jp")); n != 2 {
		t.Errorf("%d DSNs, want 2", n)
	}
	if n := len(u.byRcpt("a@example.com")); n != 10 {
		t.Fatalf("got %d messages", n)
	}
	if c := u.conns.Load(); c != 1 {
		t.Errorf("%d connections for 14 messages on one worker, want 1", c)
	}
}

func TestIdleConnectionClosed(t *testing.T) {
	u := startUpstream(t, upstreamOpts{})
	cfg := testConfig(u.addr)
	cfg.Workers = 1
	cfg.IdleTimeout = 50 * time.Millisecond
	e := newEnv(t, cfg, "")
	e.start()
	e.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, msgText("1", "x"), true)
	e.waitEmpty()
	// The worker says QUIT once it has been idle for IdleTimeout.
	waitFor(t, "idle connection closed", func() bool { return u.logouts.Load() == 1 })
	e.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, msgText("2", "x"), true)
	e.waitEmpty()
	if c := u.conns.Load(); c != 2 {
		t.Errorf("%d connections, want 2", c)
	}
	if d := e.m.deferred.Load(); d != 0 {
		t.Errorf("%d deferrals", d)
	}
}

func TestReuseAfterUpstreamDropsIdleConnection(t *testing.T) {
	// The upstream times idle sessions out quickly: the kept connection is
	// dead when the next message comes, which must not defer it.
	u := startUpstream(t, upstreamOpts{readTimeout: 150 * time.Millisecond})
	cfg := testConfig(u.addr)
	cfg.Workers = 1
	e := newEnv(t, cfg, "")
	e.start()
	e.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, msgText("1", "x"), true)
	e.waitEmpty()
	time.Sleep(400 * time.Millisecond)
	e.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, msgText("2", "x"), true)
	e.waitEmpty()
	if n := len(u.byRcpt("a@example.com")); n != 2 {
		t.Fatalf("got %d messages", n)
	}
	if d := e.m.deferred.Load(); d != 0 {
		t.Errorf("%d deferrals caused by a stale connection", d)
	}
	if c := u.conns.Load(); c != 2 {
		t.Errorf("%d connections, want 2", c)
	}
}

func TestSMTPUTF8NotSupported(t *testing.T) {
	u := startUpstream(t, upstreamOpts{utf8: false})
	e := newEnv(t, testConfig(u.addr), "")
	e.start()
	e.commit("yamada@city.example.lg.jp", []string{"田中@example.jp"}, "Subject: 会議\r\nFrom: yamada@city.example.lg.jp\r\n\r\nx\r\n", true,
		func(en *spool.Envelope) { en.UTF8 = true })
	e.waitEmpty()
	dsns := u.byRcpt("yamada@city.example.lg.jp")
	if len(dsns) != 1 {
		t.Fatalf("%d DSNs", len(dsns))
	}
	if n := len(u.byRcpt("田中@example.jp")); n != 0 {
		t.Fatalf("message was sent without SMTPUTF8")
	}
	if !bytes.Contains(dsns[0].Data, []byte("message/global-delivery-status")) {
		t.Errorf("DSN for a UTF-8 recipient should use message/global-delivery-status")
	}
	if dsns[0].UTF8 {
		t.Errorf("DSN to an ASCII sender must not need SMTPUTF8")
	}
}

func TestSMTPUTF8Supported(t *testing.T) {
	u := startUpstream(t, upstreamOpts{utf8: true})
	e := newEnv(t, testConfig(u.addr), "")
	e.start()
	e.commit("山田@city.example.lg.jp", []string{"田中@example.jp"}, "Subject: 会議\r\n\r\nx\r\n", true,
		func(en *spool.Envelope) { en.UTF8 = true })
	e.waitEmpty()
	got := u.byRcpt("田中@example.jp")
	if len(got) != 1 || !got[0].UTF8 {
		t.Fatalf("got %+v", got)
	}
	// An ASCII message must not ask for SMTPUTF8 (vmime #186).
	e.commit("a@city.example.lg.jp", []string{"b@example.jp"}, "Subject: x\r\n\r\nx\r\n", true)
	e.waitEmpty()
	if got := u.byRcpt("b@example.jp"); len(got) != 1 || got[0].UTF8 {
		t.Fatalf("got %+v", got)
	}
}

func TestSTARTTLSAndAuth(t *testing.T) {
	srvTLS, pool := selfSigned(t)
	u := startUpstream(t, upstreamOpts{tls: srvTLS, authUser: "relay", authPass: "s3cret"})
	tests := []struct {
		name      string
		mode      TLSMode
		roots     bool
		skip      bool
		delivered bool
		wantErr   string
	}{
		{"required, verified", TLSRequired, true, false, true, ""},
		{"opportunistic, verified", TLSOpportunistic, true, false, true, ""},
		{"required, unknown CA", TLSRequired, false, false, false, "certificate"},
		{"required, skip verify when configured", TLSRequired, false, true, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(u.addr)
			cfg.TLS = tc.mode
			cfg.TLSServerName = "upstream.test"
			cfg.TLSSkipVerify = tc.skip
			if tc.roots {
				cfg.RootCAs = pool
			}
			cfg.AuthUser, cfg.AuthPassword = "relay", "s3cret"
			cfg.Retry = []time.Duration{time.Hour}
			e := newEnv(t, cfg, "")
			e.start()
			rcpt := strings.ReplaceAll(tc.name, " ", "") + "@example.com"
			rcpt = strings.ReplaceAll(rcpt, ",", ".")
			id := e.commit("yamada@city.example.lg.jp", []string{rcpt}, msgText("tls", "x"), true)
			if tc.delivered {
				e.waitEmpty()
				got := u.byRcpt(rcpt)
				if len(got) != 1 || !got[0].TLS || got[0].Auth != "relay" || got[0].HELO != "relay.test" {
					t.Fatalf("got %+v", got)
				}
				return
			}
			en := e.waitAttempted(id)
			if en.Recipients[0].Status != spool.Pending || !strings.Contains(en.Recipients[0].LastError, tc.wantErr) {
				t.Errorf("recipient %+v", en.Recipients[0])
			}
		})
	}
}

func TestTLSRequiredButNotOffered(t *testing.T) {
	u := startUpstream(t, upstreamOpts{})
	cfg := testConfig(u.addr)
	cfg.TLS = TLSRequired
	cfg.Retry = []time.Duration{time.Hour}
	e := newEnv(t, cfg, "")
	e.start()
	id := e.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, msgText("x", "y"), true)
	en := e.waitAttempted(id)
	if en.Recipients[0].Status != spool.Pending || !strings.Contains(en.Recipients[0].LastError, "STARTTLS") {
		t.Errorf("recipient %+v", en.Recipients[0])
	}
	if len(u.received()) != 0 {
		t.Errorf("sent in clear text although TLS is required")
	}
}

func TestAuthNeverInClearText(t *testing.T) {
	// Opportunistic TLS, but the upstream offers none: the password must
	// not be sent, so delivery waits.
	u := startUpstream(t, upstreamOpts{authUser: "relay", authPass: "s3cret"})
	cfg := testConfig(u.addr)
	cfg.TLS = TLSOpportunistic
	cfg.AuthUser, cfg.AuthPassword = "relay", "s3cret"
	cfg.Retry = []time.Duration{time.Hour}
	e := newEnv(t, cfg, "")
	e.start()
	id := e.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, msgText("x", "y"), true)
	en := e.waitAttempted(id)
	if en.Recipients[0].Status != spool.Pending || !strings.Contains(en.Recipients[0].LastError, "refusing AUTH without TLS") {
		t.Errorf("recipient %+v", en.Recipients[0])
	}
	if len(u.received()) != 0 {
		t.Errorf("delivered without authenticating")
	}
}

func TestAuthNeedsTLS(t *testing.T) {
	cfg := testConfig("127.0.0.1:25")
	cfg.AuthUser, cfg.AuthPassword = "u", "p"
	if _, err := New(cfg, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "auth") {
		t.Fatalf("err = %v", err)
	}
}

func TestUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	cfg := testConfig(addr)
	cfg.Retry = []time.Duration{time.Hour}
	e := newEnv(t, cfg, "")
	e.start()
	id := e.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, msgText("x", "y"), true)
	en := e.waitAttempted(id)
	if en.Recipients[0].Status != spool.Pending || en.Recipients[0].Attempts != 1 || en.NextAttempt.Before(time.Now().Add(30*time.Minute)) {
		t.Errorf("envelope %+v", en)
	}
}

func TestGracefulStopLeavesQueue(t *testing.T) {
	u := startUpstream(t, upstreamOpts{})
	u.setRcpt(func(addr string, n int) error { return reply(421, smtp.EnhancedCode{4, 3, 2}, "shutting down") })
	cfg := testConfig(u.addr)
	cfg.Retry = []time.Duration{time.Hour}
	e := newEnv(t, cfg, "")
	e.start()
	id := e.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, msgText("x", "y"), true)
	waitFor(t, "attempt", func() bool {
		en, err := e.store.Envelope(spool.AreaQueue, id)
		return err == nil && en.Recipients[0].Attempts == 1
	})
	e.stop()
	if ids := e.queued(); len(ids) != 1 || ids[0] != id {
		t.Fatalf("queue after stop: %v", ids)
	}
}

func TestMailbox(t *testing.T) {
	root := t.TempDir()
	cfg := testConfig("")
	cfg.MailboxDir = root
	e := newEnv(t, cfg, "")
	e.start()
	data := msgText("demo", "こんにちは")
	e.commit("yamada@city.example.lg.jp", []string{"Tanaka@Example.com", "../../etc/passwd", "田中@example.jp"}, data, true)
	e.waitEmpty()
	for _, name := range []string{"tanaka@example.com", MailboxName("../../etc/passwd"), "田中@example.jp"} {
		if strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
			t.Fatalf("unsafe mailbox name %q", name)
		}
		files, err := os.ReadDir(filepath.Join(root, name, "new"))
		if err != nil || len(files) != 1 {
			t.Fatalf("%s/new: %v %v", name, files, err)
		}
		b, err := os.ReadFile(filepath.Join(root, name, "new", files[0].Name()))
		if err != nil || string(b) != data {
			t.Errorf("%s: %q %v", name, b, err)
		}
		if tmp, _ := os.ReadDir(filepath.Join(root, name, "tmp")); len(tmp) != 0 {
			t.Errorf("%s/tmp not empty", name)
		}
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 3 {
		t.Errorf("mailbox root holds %d folders", len(ents))
	}
}

func TestMailboxName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"A@B.example", "a@b.example"},
		{"../x", "___x"},
		{"..", "__"},
		{"...", "__."},
		{"", "_"},
		{".hidden@x", "_hidden@x"},
		{"a/b\\c\x00d@x", "a_b_c_d@x"},
		{"\xff@x", "_@x"},
	}
	for _, tc := range tests {
		if got := MailboxName(tc.in); got != tc.want {
			t.Errorf("MailboxName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(MailboxName(tc.in), "/") || strings.Contains(MailboxName(tc.in), "..") {
			t.Errorf("unsafe name for %q", tc.in)
		}
	}
}

func TestBackoff(t *testing.T) {
	base := Config{}.Defaults()
	list := Config{Retry: []time.Duration{time.Second, 10 * time.Second}}.Defaults()
	tests := []struct {
		cfg      Config
		n        int
		min, max time.Duration
	}{
		{base, 1, 5 * time.Minute, 5*time.Minute + 30*time.Second},
		{base, 2, 10 * time.Minute, 11 * time.Minute},
		{base, 4, 40 * time.Minute, 44 * time.Minute},
		{base, 5, time.Hour, 66 * time.Minute}, // capped
		{base, 1000, time.Hour, 66 * time.Minute},
		{list, 1, time.Second, 1100 * time.Millisecond},
		{list, 2, 10 * time.Second, 11 * time.Second},
		{list, 9, 10 * time.Second, 11 * time.Second},
		{list, 0, time.Second, 1100 * time.Millisecond},
	}
	for _, tc := range tests {
		for range 20 {
			if d := tc.cfg.backoff(tc.n); d < tc.min || d > tc.max {
				t.Errorf("backoff(%d) = %s, want %s..%s", tc.n, d, tc.min, tc.max)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Upstream: "mx.example:25"}, ""},
		{Config{MailboxDir: "/tmp/x"}, ""},
		{Config{}, "mailbox"},
		{Config{Upstream: "mx.example"}, "host:port"},
		{Config{Upstream: "mx.example:25", TLS: "sometimes"}, "tls mode"},
		{Config{Upstream: "mx.example:25", Retry: []time.Duration{0}}, "positive"},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// flaky is a transport that misbehaves on its first calls, then delivers.
type flaky struct {
	calls int
	mu    *sync.Mutex
}

func (f *flaky) deliver(ctx context.Context, env *spool.Envelope, rcpts []string, body io.ReadSeeker) []result {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	switch n {
	case 1:
		panic("bug in a transport")
	case 2:
		return nil // wrong number of results
	}
	return allResults(len(rcpts), result{Delivered: true, Code: 250, Status: "2.0.0", Text: "ok"})
}
func (f *flaky) idle(time.Duration) {}
func (f *flaky) close()             {}

func TestBugsDoNotLoseMail(t *testing.T) {
	cfg := testConfig("")
	cfg.MailboxDir = t.TempDir()
	cfg.Workers = 1
	cfg.LocalRetry = 10 * time.Millisecond
	e := newEnv(t, cfg, "")
	f := &flaky{mu: &sync.Mutex{}}
	e.q.newTransport = func() transport { return f }
	e.start()
	e.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, msgText("x", "y"), true)
	e.waitEmpty()
	f.mu.Lock()
	calls := f.calls
	f.mu.Unlock()
	if calls != 3 {
		t.Errorf("%d delivery calls, want 3 (panic, bad result, success)", calls)
	}
	if e.m.delivered.Load() != 1 || e.m.deferred.Load() != 1 {
		t.Errorf("delivered=%d deferred=%d", e.m.delivered.Load(), e.m.deferred.Load())
	}
}
