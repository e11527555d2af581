package dispose_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dlpguard/audit"
	"dlpguard/dispose"
	"dlpguard/internal/mailtest"
	"dlpguard/policy"
	"dlpguard/queue"
	"dlpguard/review"
	"dlpguard/smtpproxy"
	"dlpguard/spool"
)

const sender = "user7@city.example.lg.jp"

// testRules are added to the default policy: a delay for one domain and a
// bcc for many external domains (administrators' rules, 3.3.5 mis-sending).
const testRules = `departments:
  - name: 福祉課
    senders: ["user*@city.example.lg.jp"]
    manager: kacho@city.example.lg.jp
rules:
  - id: test-delay
    when: {recipient_domain: "delay.example"}
    action: delay
    delay_minutes: 7
    clause: "3.3.5"
    message: {ja: 誤送信防止のため7分後に送信します, en: sent in 7 minutes}
  - id: test-bcc
    when: {external_domains: 3}
    action: bcc
    clause: "3.3.5"
    message: {ja: Bccに変換, en: rewritten to Bcc}
`

// relay is the whole relay in process over loopback: the SMTP front end,
// the Disposer, the spool, the delivery queue to a recording upstream and
// the review service with its API (the delay links).
type relay struct {
	dir    string
	addr   string
	up     *mailtest.Upstream
	spool  *spool.Store
	stores *review.Stores
	svc    *review.Service
	pol    *policy.Engine
	d      *dispose.Disposer
}

func startRelay(t testing.TB, pol func() *policy.Engine) *relay {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	r := &relay{dir: t.TempDir(), up: mailtest.StartUpstream(t)}
	y := strings.Replace(string(policy.DefaultYAML()), "\nrules:\n", "\n"+testRules, 1)
	var err error
	if r.pol, err = policy.Parse([]byte(y), "test.yaml"); err != nil {
		t.Fatal(err)
	}
	if pol == nil {
		pol = func() *policy.Engine { return r.pol }
	}
	if r.stores, err = review.OpenStores(ctx, r.dir, review.StoreOptions{Logger: log}); err != nil {
		t.Fatal(err)
	}
	if r.spool, err = spool.Open(review.PathsIn(r.dir).Spool); err != nil {
		t.Fatal(err)
	}
	q, err := queue.New(queue.Config{Upstream: r.up.Addr, TLS: queue.TLSNone, Workers: 2, Retry: []time.Duration{50 * time.Millisecond},
		Hostname: "relay.test", Rescan: time.Hour, DrainTimeout: 5 * time.Second}, r.spool, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	qdone := make(chan struct{})
	go func() { q.Run(ctx); close(qdone) }()
	var api http.Handler = http.NotFoundHandler()
	hsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { api.ServeHTTP(w, req) }))
	r.svc, err = review.New(review.Config{DataDir: review.PathsIn(r.dir).Review, Hostname: "relay.test",
		NoticeFrom: "dlpguard@city.example.lg.jp", BaseURL: hsrv.URL},
		review.Deps{Holds: r.stores.Holds, Audit: r.stores.Audit, Keys: r.stores.Keys, Policy: func() *policy.Engine { return r.pol },
			Spool: r.spool, Notify: q.Notify, Schedule: q.NotifyAt, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	api = r.svc.Handler()
	r.d, err = dispose.New(dispose.Config{Policy: pol, Spool: r.spool, Queue: q, Review: r.svc, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := smtpproxy.New(smtpproxy.Config{Hostname: "relay.test", Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		InspectTimeout: 30 * time.Second}, r.spool, smtpproxy.Options{Logger: log, Queue: q, Disposer: r.d})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		hsrv.Close()
		cancel()
		<-qdone
		r.svc.Close()
		r.stores.Close()
	})
	return r
}

// send submits one message over SMTP and returns the reply to DATA.
func (r *relay) send(t *testing.T, rcpts []string, raw string) (code int, text string) {
	t.Helper()
	c, err := smtp.Dial(r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	code, text, err = transact(c, rcpts, raw)
	if err != nil {
		t.Fatal(err)
	}
	c.Quit()
	return code, text
}

// transact sends one message on an open session: the reply to DATA, or
// an error for anything but an SMTP reply.
func transact(c *smtp.Client, rcpts []string, raw string) (int, string, error) {
	if err := c.Mail(sender, nil); err != nil {
		return 0, "", err
	}
	for _, rc := range rcpts {
		if err := c.Rcpt(rc, nil); err != nil {
			return 0, "", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return 0, "", err
	}
	io.WriteString(w, raw)
	resp, err := w.CloseWithResponse()
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code, se.Message, nil
	} else if err != nil {
		return 0, "", err
	}
	return 250, resp.StatusText, nil
}

// idOf is the ID at the end of a reply ("… as ID" or "… (ID)").
func idOf(t *testing.T, text string) string {
	t.Helper()
	f := strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(text))
	if len(f) == 0 || !spool.ValidID(f[len(f)-1]) {
		t.Fatalf("no ID in %q", text)
	}
	return f[len(f)-1]
}

func msg(to, subject, body string) string {
	return "From: <" + sender + ">\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
}

// subject is the decoded Subject of a raw message.
func subject(t *testing.T, raw []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// auditActions are the audit entries about id, oldest first.
func auditActions(t *testing.T, st *review.Stores, id string) []string {
	t.Helper()
	es, _, err := st.Audit.List(context.Background(), audit.Filter{Subject: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(es) - 1; i >= 0; i-- { // List is newest first
		out = append(out, es[i].Action)
	}
	return out
}

// TestRelayActions runs each action of the policy through the relay over
// SMTP: the reply, what is queued, held or delivered, and the audit trail.
func TestRelayActions(t *testing.T) {
	r := startRelay(t, nil)
	const canary = "CANARY-31f7"
	tests := []struct {
		name     string
		rcpts    []string
		raw      string
		code     int
		text     []string // the reply contains each
		check    func(t *testing.T, id string)
		noneLeft bool // the canary is nowhere in clear under the data folder afterwards
	}{
		{"pass", []string{"b@example.jp"}, msg("<b@example.jp>", "hello", "会議の件です。"), 250, []string{"Ok: queued as "},
			func(t *testing.T, id string) {
				mailtest.WaitFor(t, "delivery", func() bool { return len(r.up.To("b@example.jp")) == 1 })
				if m := r.up.To("b@example.jp")[0]; !bytes.Contains(m.Data, []byte("Subject: hello")) || m.From != sender {
					t.Errorf("delivered %q from %q", m.Data, m.From)
				}
			}, false},
		{"reject", []string{"c@example.jp"}, msg("<c@example.jp>", "numbers", "個人番号 1234 5678 9018 "+canary), 550,
			[]string{"Message refused by policy: rule mynumber-reject, clause 3.3.5", "("},
			func(t *testing.T, id string) {
				if got := auditActions(t, r.stores, id); len(got) != 1 || got[0] != review.ActionSMTPReject {
					t.Errorf("audit %v, want one %s", got, review.ActionSMTPReject)
				}
				time.Sleep(200 * time.Millisecond)
				if n := len(r.up.To("c@example.jp")); n != 0 {
					t.Errorf("a refused message was delivered (%d)", n)
				}
			}, true},
		{"hold", []string{"d@example.jp"}, msg("<d@example.jp>", "report", "極秘\r\n"+canary), 250,
			[]string{"Held for review (rule marking-i-hold, clause 3.3.5): held as "},
			func(t *testing.T, id string) {
				rec, err := r.stores.Holds.Get(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if rec.Envelope.From != sender || rec.Department != "福祉課" || rec.Verdict.Action != "hold" {
					t.Errorf("record %+v %s %+v", rec.Envelope, rec.Department, rec.Verdict)
				}
				if n := len(r.up.To("d@example.jp")); n != 0 {
					t.Errorf("a held message was delivered (%d)", n)
				}
			}, true},
		{"bcc", []string{"e@one.example", "f@two.example", "g@three.example"},
			msg("<e@one.example>, <f@two.example>, <g@three.example>", "many", "ご案内です。"), 250,
			[]string{"Ok: recipients hidden, queued as "},
			func(t *testing.T, id string) {
				for _, rc := range []string{"e@one.example", "f@two.example", "g@three.example"} {
					mailtest.WaitFor(t, "delivery to "+rc, func() bool { return len(r.up.To(rc)) == 1 })
					m := r.up.To(rc)[0]
					head, _, _ := bytes.Cut(m.Data, []byte("\r\n\r\n"))
					if bytes.Contains(head, []byte("@one.example")) || bytes.Contains(head, []byte("@three.example")) ||
						!bytes.Contains(head, []byte("To: undisclosed-recipients:;")) {
						t.Errorf("%s got the header\n%s", rc, head)
					}
				}
			}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, text := r.send(t, tc.rcpts, tc.raw)
			if code != tc.code {
				t.Fatalf("reply %d %s, want %d", code, text, tc.code)
			}
			for _, want := range tc.text {
				if !strings.Contains(text, want) {
					t.Fatalf("reply %q, want %q", text, want)
				}
			}
			tc.check(t, idOf(t, text))
			if tc.noneLeft {
				mailtest.NoClearText(t, r.dir, canary)
			}
		})
	}
}

// TestRelayDelay: a delayed message is a queue entry due later; the
// sender's signed links cancel it (never delivered) or send it at once.
func TestRelayDelay(t *testing.T) {
	r := startRelay(t, nil)
	delayed := func(rcpt string) (id string, due time.Time) {
		t.Helper()
		start := time.Now()
		code, text := r.send(t, []string{rcpt}, msg("<"+rcpt+">", "later", "資料を送ります。"))
		if code != 250 || !strings.Contains(text, "Kept 7 minutes against mis-sending (rule test-delay, clause 3.3.5): delayed as ") {
			t.Fatalf("reply %d %q", code, text)
		}
		id = idOf(t, text)
		env, err := r.spool.Envelope(spool.AreaQueue, id)
		if err != nil {
			t.Fatalf("delayed message not in the queue: %v", err)
		}
		if d := env.NextAttempt.Sub(start); d < 7*time.Minute || d > 7*time.Minute+time.Minute {
			t.Fatalf("due in %v, want 7 minutes", d)
		}
		mailtest.WaitFor(t, "the sender's notice", func() bool {
			for _, m := range r.up.To(sender) {
				if strings.HasPrefix(subject(t, m.Data), "【送信待ち】7 分後に送信されます（"+id+"）") {
					return true
				}
			}
			return false
		})
		return id, env.NextAttempt
	}
	post := func(url string) int {
		t.Helper()
		resp, err := http.Post(url, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	idSend, dueSend := delayed("now@delay.example")
	idCancel, dueCancel := delayed("never@delay.example")
	time.Sleep(300 * time.Millisecond)
	if n := len(r.up.To("now@delay.example")) + len(r.up.To("never@delay.example")); n != 0 {
		t.Fatalf("delivered before the delay ended (%d)", n)
	}
	if ids, _ := r.svc.Delayed(); len(ids) != 2 {
		t.Fatalf("delayed %v, want 2", ids)
	}
	if code := post(r.svc.DelayLink("send", idSend, dueSend)); code != 200 {
		t.Fatalf("send now: %d", code)
	}
	mailtest.WaitFor(t, "the message sent now", func() bool { return len(r.up.To("now@delay.example")) == 1 })
	if code := post(r.svc.DelayLink("cancel", idCancel, dueCancel)); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	if _, err := r.spool.Envelope(spool.AreaQueue, idCancel); !errors.Is(err, spool.ErrNotFound) {
		t.Fatalf("cancelled message still queued: %v", err)
	}
	if code := post(r.svc.DelayLink("cancel", idSend, dueSend)); code != http.StatusNotFound {
		t.Errorf("cancel after send: %d, want 404", code)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(r.up.To("never@delay.example")); n != 0 {
		t.Fatalf("cancelled message delivered (%d)", n)
	}
	for id, want := range map[string]string{idSend: "delay-send", idCancel: "delay-cancel"} {
		if got := auditActions(t, r.stores, id); len(got) != 2 || got[0] != "delay" || got[1] != want {
			t.Errorf("audit of %s: %v, want [delay %s]", id, got, want)
		}
	}
}

// TestFailClosed: a message that cannot be inspected (here: no policy in
// force) is held as class I, encryption required, under the rule
// inspect-error, never passed; with no hold store the client gets 451.
func TestFailClosed(t *testing.T) {
	heldUninspected := func(t *testing.T, r *relay, code int, text string) {
		t.Helper()
		if code != 250 || !strings.Contains(text, "(rule inspect-error, clause 3.3.5): held as ") {
			t.Fatalf("reply %d %q", code, text)
		}
		rec, err := r.stores.Holds.Get(context.Background(), idOf(t, text))
		if err != nil {
			t.Fatal(err)
		}
		if rec.Level != "I" || !rec.Handling.RequireEncryption || len(rec.Verdict.Rules) != 1 || rec.Verdict.Rules[0].ID != "inspect-error" {
			t.Fatalf("record level %q handling %+v verdict %+v", rec.Level, rec.Handling, rec.Verdict)
		}
		time.Sleep(200 * time.Millisecond)
		if n := len(r.up.To("b@example.jp")); n != 0 {
			t.Fatalf("delivered uninspected (%d)", n)
		}
	}
	for _, tc := range []struct {
		name string
		pol  func() *policy.Engine
	}{
		{"no policy in force", func() *policy.Engine { return nil }},
		{"inspection panics", func() *policy.Engine { return &policy.Engine{} }}, // no classifier
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startRelay(t, tc.pol)
			code, text := r.send(t, []string{"b@example.jp"}, msg("<b@example.jp>", "hello", "本文"))
			heldUninspected(t, r, code, text)
		})
	}
	t.Run("inspection budget spent", func(t *testing.T) {
		r := startRelay(t, nil)
		w, err := r.spool.Create()
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		io.WriteString(w, msg("<b@example.jp>", "hello", "本文"))
		env := &spool.Envelope{ID: w.ID(), From: sender, Recipients: spool.PendingRecipients([]string{"b@example.jp"}), Size: w.Size()}
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		rep, err := r.d.Dispose(ctx, env, w)
		if err != nil || rep.Outcome != smtpproxy.Held {
			t.Fatalf("Dispose = %+v, %v; want held", rep, err)
		}
		heldUninspected(t, r, rep.Code, rep.Text)
	})

	// Without a hold store nothing is kept: 451, the client retries.
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := dispose.New(dispose.Config{Policy: func() *policy.Engine { return pol }, Spool: sp})
	if err != nil {
		t.Fatal(err)
	}
	w, err := sp.Create()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	io.WriteString(w, msg("<d@example.jp>", "report", "極秘"))
	env := &spool.Envelope{ID: w.ID(), From: sender, Recipients: spool.PendingRecipients([]string{"d@example.jp"}), Size: w.Size()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if rep, err := d.Dispose(ctx, env, w); err == nil {
		t.Fatalf("held without a hold store: %+v", rep)
	}
	if ids, _ := sp.List(spool.AreaQueue); len(ids) != 0 {
		t.Fatalf("queued %v", ids)
	}
}

// TestOf: every verdict becomes one of the five dispositions; an unknown
// action is held (fail closed).
func TestOf(t *testing.T) {
	for _, tc := range []struct {
		v     policy.Verdict
		want  policy.Action
		delay time.Duration
	}{
		{policy.Verdict{Action: policy.Pass}, policy.Pass, 0},
		{policy.Verdict{Action: policy.Reject}, policy.Reject, 0},
		{policy.Verdict{Action: policy.Hold}, policy.Hold, 0},
		{policy.Verdict{Action: policy.Bcc, Hide: []string{"x@y"}}, policy.Bcc, 0},
		{policy.Verdict{Action: policy.Delay, DelayMinutes: 3}, policy.Delay, 3 * time.Minute},
		{policy.Verdict{Action: policy.Delay}, policy.Delay, dispose.DefaultDelay},
		{policy.Verdict{Action: "teleport"}, policy.Hold, 0},
		{policy.Verdict{}, policy.Hold, 0},
	} {
		d := dispose.Of(&tc.v)
		if d.Action != tc.want || d.Delay != tc.delay || d.Verdict != &tc.v {
			t.Errorf("Of(%q) = %s %v, want %s %v", tc.v.Action, d.Action, d.Delay, tc.want, tc.delay)
		}
	}
}

// TestImportLegacyHolds: plaintext holds left in spool/hold by older
// versions are inspected again and held whatever the new verdict (with a
// rule that names it), then removed; one the hold store cannot take stays
// and is named in the error, never lost.
func TestImportLegacyHolds(t *testing.T) {
	r := startRelay(t, nil)
	legacy := func(body string) string {
		w, err := r.spool.Create()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, msg("<b@example.jp>", "old", body))
		env := &spool.Envelope{ID: w.ID(), From: sender, Recipients: spool.PendingRecipients([]string{"b@example.jp"}), Size: w.Size()}
		if err := w.Commit(env, spool.AreaHold); err != nil {
			t.Fatal(err)
		}
		return env.ID
	}
	tests := []struct {
		name, body string
		rules      []string
	}{
		{"still held", "極秘", []string{"marking-i-hold"}},
		{"would pass now: held for staff", "こんにちは", []string{"legacy-plaintext-hold"}},
		{"would be refused now: held for staff", "個人番号 1234 5678 9018", []string{"mynumber-reject", "legacy-plaintext-hold"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := legacy(tc.body)
			if n, err := r.d.ImportLegacyHolds(context.Background()); n != 1 || err != nil {
				t.Fatalf("import = %d, %v", n, err)
			}
			rec, err := r.stores.Holds.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			var rules []string
			for _, h := range rec.Verdict.Rules {
				rules = append(rules, h.ID)
			}
			if rec.Verdict.Action != "hold" || strings.Join(rules, ",") != strings.Join(tc.rules, ",") {
				t.Errorf("verdict %s rules %v, want hold %v", rec.Verdict.Action, rules, tc.rules)
			}
			if ids, _ := r.spool.List(spool.AreaHold); len(ids) != 0 {
				t.Errorf("left in spool/hold: %v", ids)
			}
		})
	}
	r.stores.Holds.Close() // the hold store fails from now on
	id := legacy("極秘")
	if n, err := r.d.ImportLegacyHolds(context.Background()); n != 0 || err == nil || !strings.Contains(err.Error(), id) {
		t.Fatalf("import = %d, %v; want the failure named with %s", n, err, id)
	}
	if ids, _ := r.spool.List(spool.AreaHold); len(ids) != 1 || ids[0] != id {
		t.Fatalf("spool/hold has %v, want %s kept", ids, id)
	}
}

// BenchmarkRelayPass: the whole relay over one SMTP session, a 20 KB
// Japanese message per transaction through the Disposer and the policy to
// 250 queued (delivery runs meanwhile). Reports messages/s.
func BenchmarkRelayPass(b *testing.B) {
	r := startRelay(b, nil)
	c, err := smtp.Dial(r.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	raw := msg("<b@example.jp>", "bench", strings.Repeat("会議の資料をお送りします。よろしくお願いいたします。\r\n", 256))
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for range b.N {
		if code, text, err := transact(c, []string{"b@example.jp"}, raw); err != nil || code != 250 || !strings.Contains(text, "queued as") {
			b.Fatalf("%d %s %v", code, text, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// TestInspectConcurrency: no more messages are inspected at once than
// Config.Concurrency (inspect.concurrency), which bounds the memory of a
// burst of big messages. One that finds no slot within its budget is
// answered with an error (the client gets 451 and retries): nothing is
// kept, nothing passes uninspected; it is not held either, since it was
// never inspected.
func TestInspectConcurrency(t *testing.T) {
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		concurrency int
		secondKept  bool // the second message, sent while the first is inspected
	}{
		{"one at a time", 1, false},
		{"two at a time", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp, err := spool.Open(filepath.Join(t.TempDir(), "spool"))
			if err != nil {
				t.Fatal(err)
			}
			// The first inspection waits inside its slot (in the policy
			// look-up) until released; the others go straight on.
			entered, release := make(chan struct{}), make(chan struct{})
			var started atomic.Bool
			d, err := dispose.New(dispose.Config{Spool: sp, Concurrency: tc.concurrency, Policy: func() *policy.Engine {
				if started.CompareAndSwap(false, true) {
					close(entered)
					<-release
				}
				return pol
			}})
			if err != nil {
				t.Fatal(err)
			}
			dispose1 := func(ctx context.Context, to string) (smtpproxy.Reply, error) {
				w, err := sp.Create()
				if err != nil {
					return smtpproxy.Reply{}, err
				}
				defer w.Abort()
				io.WriteString(w, msg("<"+to+">", "お知らせ", "窓口の受付時間が変わります。"))
				env := &spool.Envelope{ID: w.ID(), From: sender, Recipients: spool.PendingRecipients([]string{to}), Size: w.Size()}
				return d.Dispose(ctx, env, w)
			}
			type res struct {
				rep smtpproxy.Reply
				err error
			}
			firstDone := make(chan res, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				rep, err := dispose1(ctx, "a@example.jp")
				firstDone <- res{rep, err}
			}()
			<-entered
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			rep, err := dispose1(ctx, "b@example.jp")
			cancel()
			if tc.secondKept {
				if err != nil || rep.Code != 250 || rep.Outcome != smtpproxy.Queued {
					t.Fatalf("second message with a free slot: %+v, %v; want 250 queued", rep, err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), "inspect.concurrency") {
					t.Fatalf("second message without a free slot: %+v, %v; want an error naming inspect.concurrency", rep, err)
				}
				if ids, _ := sp.List(spool.AreaQueue); len(ids) != 0 {
					t.Fatalf("kept without inspection: %v", ids)
				}
			}
			close(release)
			if r := <-firstDone; r.err != nil || r.rep.Code != 250 || r.rep.Outcome != smtpproxy.Queued {
				t.Fatalf("first message: %+v, %v; want 250 queued", r.rep, r.err)
			}
			// The slot is given back: the next message is inspected and queued.
			ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if rep, err := dispose1(ctx, "c@example.jp"); err != nil || rep.Outcome != smtpproxy.Queued {
				t.Fatalf("after the release: %+v, %v; want queued", rep, err)
			}
			want := 2
			if tc.secondKept {
				want = 3
			}
			if ids, _ := sp.List(spool.AreaQueue); len(ids) != want {
				t.Fatalf("queued %d messages, want %d", len(ids), want)
			}
		})
	}
}
