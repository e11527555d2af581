package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"dlpguard/audit"
	"dlpguard/dispose"
	"dlpguard/hold"
	"dlpguard/internal/mailtest"
	"dlpguard/policy"
	"dlpguard/queue"
	"dlpguard/review"
	"dlpguard/smtpproxy"
	"dlpguard/spool"
)

// relayHarness is the relay as serve wires it, on loopback: the default
// policy with one department (福祉課, manager kacho@…), the review service
// and its API, the delivery queue to a recording upstream, and a GnuPG
// home whose key is in the keyring.
type relayHarness struct {
	t      *testing.T
	up     *mailtest.Upstream
	svc    *review.Service
	stores *review.Stores
	holder *policy.Holder
	relay  string // the relay's address
	api    string // base URL of the API
	gpg    *mailtest.GPG
}

const manager = "kacho@city.example.lg.jp"

func startRelayHarness(t *testing.T, policyExtra string) *relayHarness {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg not found: install the Debian package gnupg")
	}
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)

	polFile := filepath.Join(dir, "policy.yaml")
	y := fukushiPolicy(manager)
	os.WriteFile(polFile, []byte(y+policyExtra), 0o600)
	holder, err := policy.NewHolder(polFile, logger)
	if err != nil {
		t.Fatal(err)
	}
	h := &relayHarness{t: t, up: mailtest.StartUpstream(t), holder: holder}
	sp, err := spool.Open(review.PathsIn(dir).Spool)
	if err != nil {
		t.Fatal(err)
	}
	q, err := queue.New(queue.Config{Upstream: h.up.Addr, TLS: queue.TLSNone, Workers: 2, Retry: []time.Duration{20 * time.Millisecond},
		Hostname: "relay.test", Rescan: time.Hour, DrainTimeout: 5 * time.Second}, sp, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	qdone := make(chan struct{})
	go func() { q.Run(ctx); close(qdone) }()
	t.Cleanup(func() { cancel(); <-qdone })

	var api http.Handler = http.NotFoundHandler()
	hsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
	t.Cleanup(hsrv.Close)
	h.api = hsrv.URL
	h.svc, h.stores, err = openReview(ctx, reviewOptions{DataDir: dir, Hostname: "relay.test", NoticeFrom: "dlpguard@city.example.lg.jp",
		BaseURL: hsrv.URL}, holder.Engine, sp, q, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.stores.Close() })
	t.Cleanup(func() { h.svc.Close() })
	api = h.svc.Handler()

	disposer, err := dispose.New(dispose.Config{Policy: holder.Engine, Spool: sp, Queue: q, Review: h.svc, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	relay := smtpproxy.New(smtpproxy.Config{Hostname: "relay.test", Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, sp,
		smtpproxy.Options{Logger: logger, Queue: q, Disposer: disposer})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go relay.Serve(ln)
	t.Cleanup(func() { relay.Shutdown(context.Background()) })
	h.relay = ln.Addr().String()
	h.gpg = mailtest.NewGPG(t)
	return h
}

// addKey makes a key for rcpt with GnuPG and imports it into the keyring.
func (h *relayHarness) addKey(rcpt string) {
	h.t.Helper()
	h.gpg.Run(nil, "--passphrase", "", "--quick-gen-key", "Contact <"+rcpt+">", "future-default", "default", "1y")
	if _, err := h.stores.Keys.Import(bytes.NewReader(h.gpg.Run(nil, "--armor", "--export", rcpt))); err != nil {
		h.t.Fatal(err)
	}
}

// send submits raw over SMTP and returns the hold ID of the reply.
func (h *relayHarness) send(from, rcpt string, raw []byte) string {
	h.t.Helper()
	se, text := smtpSend(h.t, h.relay, from, rcpt, raw)
	if se != nil {
		h.t.Fatalf("DATA: %v", se)
	}
	m := regexp.MustCompile(`held as ([0-9A-Z]+)`).FindStringSubmatch(text)
	if m == nil {
		h.t.Fatalf("reply without hold ID: %q", text)
	}
	return m[1]
}

// delivered is what reached the upstream for rcpt.
func (h *relayHarness) delivered(rcpt string) [][]byte {
	var out [][]byte
	for _, m := range h.up.To(rcpt) {
		out = append(out, m.Data)
	}
	return out
}

// token is an API token of an approver.
func (h *relayHarness) token(actor string) string {
	h.t.Helper()
	tok, err := h.svc.DB().AddToken(context.Background(), review.Token{Name: actor, Actor: actor, Role: review.RoleApprover}, time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// release asks the API to release id with body; it returns the status
// and the decoded answer (a review.ReleaseResult or an error).
func (h *relayHarness) release(tok, id, body string) (int, review.ReleaseResult, string) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.api+"/api/v1/holds/"+id+"/release", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var rr review.ReleaseResult
	json.Unmarshal(b, &rr)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(b, &e)
	return resp.StatusCode, rr, e.Error.Code
}

// TestReleaseKeeps335 is issue 11's end to end for a release that cannot
// leak: a class-I message whose only finding is a context-free My Number
// in its Subject is held over SMTP; "encryption none" is refused (no 8.4
// exception, then an unknown one); the manager's release delivers a copy
// in which nothing a recipient reads carries the number (checked with the
// relay's own detectors) while GnuPG opens the original Subject; and a
// stored message that is not the one inspected is refused with
// content_mismatch.
func TestReleaseKeeps335(t *testing.T) {
	h := startRelayHarness(t, "")
	const from, rcpt, number = "user521@city.example.lg.jp", "contact19@example.org", "123456789018"
	h.addKey(rcpt)
	subject := "照会 " + number
	body := "いつもお世話になっております。\r\n添付の件、ご確認ください。\r\n"
	raw := []byte("From: =?UTF-8?B?5bGx55Sw?= <" + from + ">\r\nTo: <" + rcpt + ">\r\nSubject: " + mime.BEncoding.Encode("UTF-8", subject) +
		"\r\nMessage-ID: <e2e-335@city.example.lg.jp>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body)

	id := h.send(from, rcpt, raw)
	rec, err := h.stores.Holds.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Level != "I" || len(rec.Verdict.Parts) != 1 || !rec.Verdict.PartsComplete || rec.Verdict.Parts[0].Path != "1" {
		t.Fatalf("held record: level %s, parts %+v", rec.Level, rec.Verdict.Parts)
	}
	tok := h.token(manager)

	// 3.3.5: class I leaves only encrypted, unless an 8.4 exception says so.
	for _, c := range []struct{ body, code string }{
		{`{"reason":"至急","encryption":"none"}`, "encryption_required"},
		{`{"reason":"至急","encryption":"none","exception":"EX-NOT-THERE"}`, "unknown_exception"},
		{`{"reason":"至急","encryption":"rot13"}`, "bad_encryption"},
	} {
		if st, _, code := h.release(tok, id, c.body); st < 400 || code != c.code {
			t.Errorf("%s: %d %q, want %s", c.body, st, code, c.code)
		}
	}
	if r, _ := h.stores.Holds.Get(context.Background(), id); r.Status != hold.Held {
		t.Fatalf("refused release left the hold %s", r.Status)
	}

	st, rr, code := h.release(tok, id, `{"reason":"確認しました"}`)
	if st != 200 || rr.Status != "released" || rr.Method != "public-key" || len(rr.ProtectedHeaders) != 1 || rr.ProtectedHeaders[0] != "Subject" {
		t.Fatalf("release: %d %s %+v", st, code, rr)
	}
	hkWait(t, "released message", func() bool { return len(h.delivered(rcpt)) == 1 })
	out := h.delivered(rcpt)[0]

	// Nothing a recipient reads carries the number: not the raw bytes,
	// not the decoded headers, body or file names (the relay's own
	// inspection and detectors, as for a message it receives).
	if bytes.Contains(out, []byte(number)) || bytes.Contains(out, []byte(mime.BEncoding.Encode("UTF-8", subject))) {
		t.Fatal("the number is in the delivered bytes")
	}
	v, err := h.holder.Engine().Evaluate(context.Background(), bytes.NewReader(out), policy.Input{Sender: from, Recipients: []string{rcpt}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range v.Report.Findings {
		if f.Detector == "my_number" {
			t.Fatalf("the delivered copy still has a My Number at %v", f.Locations)
		}
	}
	if s := v.Inspect.Header.Subject; s != "[dlpguard] 暗号化されたメッセージ" {
		t.Fatalf("delivered subject %q", s)
	}
	if !bytes.Contains(out, []byte("e2e-335@city.example.lg.jp")) || !bytes.Contains(out, []byte("<"+from+">")) {
		t.Error("Message-ID or From address lost")
	}
	// GnuPG opens the protected header and the body.
	hdr, err := h.gpg.Decrypt(hkAttachment(t, out, "元のヘッダー.txt.pgp"), "")
	if err != nil || !strings.Contains(string(hdr), "Subject: "+subject) {
		t.Fatalf("protected header: %v %q", err, hdr)
	}
	plain, err := h.gpg.Decrypt(hkAttachment(t, out, "本文.txt.pgp"), "")
	if err != nil || string(plain) != body {
		t.Fatalf("body: %v %q", err, plain)
	}

	// A stored message that is not the one inspected (one more part than
	// its record lists) is refused, with the reason code.
	tampered := hold.Record{ID: spool.NewID(), Envelope: rec.Envelope, Subject: rec.Subject, Department: rec.Department,
		Level: rec.Level, Verdict: rec.Verdict, RequiredApprovals: 1}
	changed := bytes.Replace(raw, []byte("ご確認ください"), []byte("ご確認ください 個人番号 1234 5678 9018"), 1)
	if _, err := h.stores.Holds.Put(context.Background(), tampered, bytes.NewReader(changed)); err != nil {
		t.Fatal(err)
	}
	if st, _, code := h.release(tok, tampered.ID, `{"reason":"確認しました"}`); st != http.StatusConflict || code != "content_mismatch" {
		t.Fatalf("tampered: %d %q", st, code)
	}
	if len(h.delivered(rcpt)) != 1 {
		t.Fatal("the tampered message was delivered")
	}
	// Every refusal is in the audit log with its reason code.
	codes := map[string]string{}
	entries, _, err := h.stores.Audit.List(context.Background(), audit.Filter{Action: audit.Release})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var d struct {
			Outcome string
			Code    string `json:"reason_code"`
		}
		json.Unmarshal(e.Details, &d)
		if d.Outcome == "refused" {
			codes[d.Code] = e.Subject
		}
	}
	for code, subject := range map[string]string{"encryption_required": id, "unknown_exception": id, "bad_encryption": id, "content_mismatch": tampered.ID} {
		if codes[code] != subject {
			t.Errorf("audit: no %s refusal for %s (%v)", code, subject, codes)
		}
	}
}

// TestReleaseUnencryptedUnder84: class I content leaves unencrypted only
// under an 8.4 exception of the policy in force that covers the sender and
// recipient, and the audit entry of the release names it; an expired one,
// or one for other recipients, is refused.
func TestReleaseUnencryptedUnder84(t *testing.T) {
	const from, rcpt = "user521@city.example.lg.jp", "contact19@example.org"
	h := startRelayHarness(t, "exceptions:\n"+
		"  - {id: EX-2026-007, approved_by: CISO, reason: 照会への回答, senders: [\""+from+"\"], recipients: [\""+rcpt+"\"], rules: [mynumber-reject], action: hold, expires: 2099-03-31}\n"+
		"  - {id: EX-2020-001, approved_by: CISO, reason: 期限切れ, senders: [\""+from+"\"], recipients: [\""+rcpt+"\"], rules: [mynumber-reject], action: hold, expires: 2020-03-31}\n"+
		"  - {id: EX-2026-008, approved_by: CISO, reason: 別の宛先, senders: [\""+from+"\"], recipients: [other@example.org], rules: [mynumber-reject], action: hold, expires: 2099-03-31}\n")
	raw := []byte("From: <" + from + ">\r\nTo: <" + rcpt + ">\r\nSubject: =?UTF-8?B?" + "54Wn5LyaIDEyMzQ1Njc4OTAxOA==" + "?=\r\n\r\nbody\r\n")
	id := h.send(from, rcpt, raw)
	tok := h.token(manager)
	for _, ex := range []string{"EX-2020-001", "EX-2026-008"} {
		if st, _, code := h.release(tok, id, `{"reason":"例外","encryption":"none","exception":"`+ex+`"}`); st != http.StatusConflict || code != "unknown_exception" {
			t.Errorf("%s: %d %q", ex, st, code)
		}
	}
	st, rr, code := h.release(tok, id, `{"reason":"例外措置 EX-2026-007 による","encryption":"none","exception":"EX-2026-007"}`)
	if st != 200 || rr.Status != "released" || rr.Method != "none" || rr.Exception != "EX-2026-007" {
		t.Fatalf("release: %d %s %+v", st, code, rr)
	}
	hkWait(t, "released message", func() bool { return len(h.delivered(rcpt)) == 1 })
	if !bytes.HasSuffix(h.delivered(rcpt)[0], raw) {
		t.Fatal("not delivered as it was")
	}
	entries, _, err := h.stores.Audit.List(context.Background(), audit.Filter{Subject: id, Action: audit.Release})
	if err != nil {
		t.Fatal(err)
	}
	var granted, refused int
	for _, e := range entries {
		var d struct {
			Outcome      string
			Code         string `json:"reason_code"`
			Exception    string
			Encryption   string
			PartsChecked bool `json:"parts_checked"`
		}
		json.Unmarshal(e.Details, &d)
		switch {
		case d.Outcome == "granted" && d.Exception == "EX-2026-007" && d.Encryption == "none" && d.PartsChecked:
			granted++
		case d.Outcome == "refused" && d.Code == "unknown_exception":
			refused++
		default:
			t.Errorf("audit entry %s", e.Details)
		}
	}
	if granted != 1 || refused != 2 {
		t.Fatalf("audit: %d granted, %d refused", granted, refused)
	}
}
