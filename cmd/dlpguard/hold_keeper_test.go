package main

import (
	"bytes"
	"context"
	"dlpguard/internal/mailtest"
	"encoding/json"
	"io"
	"log/slog"
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

	"github.com/emersion/go-message"

	"dlpguard/dispose"
	"dlpguard/policy"
	"dlpguard/review"
	"dlpguard/smtpproxy"
	"dlpguard/smtpproxy/queue"
	"dlpguard/smtpproxy/spool"
)

func hkWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 1500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestHoldOverSMTP is the end to end: a personal list sent to the
// relay over SMTP is held (250 with the hold ID), the sender's notice
// reaches the upstream, an approver releases it through the API, and the
// recipient gets the attachment as .pgp, which GnuPG decrypts to the
// original bytes.
func TestHoldOverSMTP(t *testing.T) {
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg not found: install the Debian package gnupg")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)

	polFile := filepath.Join(dir, "policy.yaml")
	y := strings.Replace(string(policy.DefaultYAML()), "\nrules:\n", "\ndepartments:\n  - name: 福祉課\n    senders: [\"user*@city.example.lg.jp\"]\n    manager: kacho@city.example.lg.jp\nrules:\n", 1)
	os.WriteFile(polFile, []byte(y), 0o600)
	holder, err := policy.NewHolder(polFile, logger)
	if err != nil {
		t.Fatal(err)
	}

	up := mailtest.StartUpstream(t)
	upAddr := up.Addr
	// to is what reached the upstream for rcpt.
	to := func(rcpt string) [][]byte {
		var out [][]byte
		for _, m := range up.To(rcpt) {
			out = append(out, m.Data)
		}
		return out
	}

	sp, err := spool.Open(review.PathsIn(dir).Spool)
	if err != nil {
		t.Fatal(err)
	}
	q, err := queue.New(queue.Config{Upstream: upAddr, TLS: queue.TLSNone, Workers: 2, Retry: []time.Duration{20 * time.Millisecond},
		Hostname: "relay.test", Rescan: time.Hour, DrainTimeout: 5 * time.Second}, sp, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	qdone := make(chan struct{})
	go func() { q.Run(ctx); close(qdone) }()
	defer func() { cancel(); <-qdone }()

	var api http.Handler = http.NotFoundHandler()
	hsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
	defer hsrv.Close()
	svc, stores, err := openReview(ctx, reviewOptions{DataDir: dir, Hostname: "relay.test", NoticeFrom: "dlpguard@city.example.lg.jp",
		BaseURL: hsrv.URL}, holder.Engine, sp, q, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer stores.Close()
	defer svc.Close()
	api = svc.Handler()

	disposer, err := dispose.New(dispose.Config{Policy: holder.Engine, Spool: sp, Queue: q, Review: svc, Logger: logger})
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
	defer relay.Shutdown(context.Background())

	// The recipient's key, made by GnuPG, in the keyring.
	g := mailtest.NewGPG(t)
	gpg := g.Run
	const from, rcpt = "user521@city.example.lg.jp", "contact19@example.org"
	gpg(nil, "--passphrase", "", "--quick-gen-key", "Contact <"+rcpt+">", "future-default", "default", "1y")
	if _, err := stores.Keys.Import(bytes.NewReader(gpg(nil, "--armor", "--export"))); err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "samples", "p017_personal_list.eml"))
	if err != nil {
		t.Fatal(err)
	}
	se, text := smtpSend(t, ln.Addr().String(), from, rcpt, raw)
	if se != nil {
		t.Fatalf("DATA: %v", se)
	}
	m := regexp.MustCompile(`held as ([0-9A-Z]+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("reply without hold ID: %q", text)
	}
	id := m[1]

	hkWait(t, "sender notice", func() bool { return len(to(from)) == 1 && len(to("kacho@city.example.lg.jp")) == 1 })
	if !bytes.Contains(to(from)[0], []byte("Auto-Submitted: auto-generated")) {
		t.Error("sender notice is not marked auto-generated")
	}
	if len(to(rcpt)) != 0 {
		t.Fatal("held message delivered before release")
	}

	tok, err := svc.DB().AddToken(ctx, review.Token{Name: "kacho", Actor: "kacho@city.example.lg.jp", Role: review.RoleApprover}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", hsrv.URL+"/api/v1/holds/"+id+"/release", strings.NewReader(`{"reason":"確認しました"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rr review.ReleaseResult
	json.NewDecoder(hr.Body).Decode(&rr)
	hr.Body.Close()
	if hr.StatusCode != 200 || rr.Status != "released" || rr.Method != "public-key" {
		t.Fatalf("release: %d %+v", hr.StatusCode, rr)
	}
	hkWait(t, "released message", func() bool { return len(to(rcpt)) == 1 })

	orig, sent := hkAttachment(t, raw, "要支援者名簿.xlsx"), hkAttachment(t, to(rcpt)[0], "要支援者名簿.xlsx.pgp")
	if len(orig) == 0 || len(sent) == 0 || hkAttachment(t, to(rcpt)[0], "要支援者名簿.xlsx") != nil {
		t.Fatal("the released message does not carry the attachment as .pgp only")
	}
	if plain, err := g.Decrypt(sent, ""); err != nil || !bytes.Equal(plain, orig) {
		t.Fatal("gpg --decrypt does not give the original attachment")
	}
}

// hkAttachment returns the decoded attachment named name (nil if none).
func hkAttachment(t *testing.T, raw []byte, name string) []byte {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) {
		t.Fatal(err)
	}
	var found []byte
	e.Walk(func(_ []int, p *message.Entity, err error) error {
		if err != nil {
			return err
		}
		_, params, _ := p.Header.ContentDisposition()
		if params["filename"] == name {
			found, _ = io.ReadAll(p.Body)
		}
		return nil
	})
	return found
}
