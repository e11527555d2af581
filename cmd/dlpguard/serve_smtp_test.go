package main

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dlpguard/audit"
	"dlpguard/config"
	"dlpguard/internal/mailtest"
	"dlpguard/smtpproxy"
	"dlpguard/spool"
)

// heldBody is a class I message (a 極秘 marking holds it, 3.3.5) with a
// token to look for in clear on disk.
const heldToken = "CLEARTEXT-CANARY-7d1f"

func heldMessage() string {
	return "From: a@city.example.lg.jp\r\nTo: b@example.jp\r\nSubject: report\r\n\r\n極秘\r\n" + heldToken + "\r\n"
}

// testRelay starts the demo relay on free ports in a temp data folder.
func testRelay(t *testing.T, edit func(*config.Config)) (*relay, *config.Config, *syncBuffer) {
	t.Helper()
	cfg := config.Demo()
	cfg.DataDir = t.TempDir()
	cfg.ICAP.Listen = ""
	cfg.SMTP.Listen = []string{"127.0.0.1:0"}
	cfg.HTTP.Listen = "127.0.0.1:0"
	if edit != nil {
		edit(cfg)
	}
	logBuf := &syncBuffer{}
	r, err := startRelay(cfg, slog.New(slog.NewTextHandler(logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.shutdown(time.Second) })
	return r, cfg, logBuf
}

// TestRelayHoldStoreFailure: when the hold store cannot take a held
// message the client gets 451 4.3.0 and retries; nothing of it lies in
// clear anywhere under data_dir (issue 11).
func TestRelayHoldStoreFailure(t *testing.T) {
	r, cfg, logBuf := testRelay(t, nil)
	r.stores.Holds.Close() // the hold store fails from now on
	c, err := smtp.Dial(r.smtpAddrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Hello("client.test")
	_, err = sendOne(c, heldMessage())
	se, ok := err.(*smtp.SMTPError)
	if !ok || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 0}) {
		t.Fatalf("reply %v, want 451 4.3.0; log:\n%s", err, logBuf.String())
	}
	if ids, _ := r.store.List(spool.AreaHold); len(ids) != 0 {
		t.Fatalf("plaintext spool hold area has %v", ids)
	}
	mailtest.NoClearText(t, cfg.DataDir, heldToken)
}

// TestRelayImportsLegacyHolds: plaintext holds left in spool/hold by an
// older version are, at start, inspected again, put into the encrypted
// hold store under their IDs as held (also one the policy would now pass:
// its sender was told "held"), and removed from the spool.
func TestRelayImportsLegacyHolds(t *testing.T) {
	dir := t.TempDir()
	sp, err := spool.Open(filepath.Join(dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, msg string
		wantRules []string // rule IDs in the hold record, in order, after the policy's
	}{
		{"still held", heldMessage(), nil},
		{"would pass now", "From: a@city.example.lg.jp\r\nTo: b@example.jp\r\nSubject: hi\r\n\r\n" + heldToken + "\r\n", []string{"legacy-plaintext-hold"}},
	}
	ids := make([]string, len(tests))
	for i, tc := range tests {
		w, err := sp.Create()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, tc.msg)
		ids[i] = w.ID()
		if err := w.Commit(&spool.Envelope{ID: ids[i], From: "a@city.example.lg.jp", Received: time.Now(),
			Recipients: spool.PendingRecipients([]string{"b@example.jp"}), Size: w.Size()}, spool.AreaHold); err != nil {
			t.Fatal(err)
		}
	}

	r, cfg, logBuf := testRelay(t, func(c *config.Config) { c.DataDir = dir })
	for i, tc := range tests {
		rec, err := r.stores.Holds.Get(context.Background(), ids[i])
		if err != nil {
			t.Fatalf("%s: legacy hold %s not in the hold store: %v; log:\n%s", tc.name, ids[i], err, logBuf.String())
		}
		if rec.Envelope.From != "a@city.example.lg.jp" || rec.Verdict.Action != "hold" {
			t.Errorf("%s: record %+v verdict %+v", tc.name, rec.Envelope, rec.Verdict)
		}
		var got []string
		for _, h := range rec.Verdict.Rules {
			if h.ID == "legacy-plaintext-hold" {
				got = append(got, h.ID)
			}
		}
		if !slices.Equal(got, tc.wantRules) {
			t.Errorf("%s: legacy rule %v, want %v (rules %+v)", tc.name, got, tc.wantRules, rec.Verdict.Rules)
		}
	}
	if left, _ := r.store.List(spool.AreaHold); len(left) != 0 {
		t.Fatalf("spool hold area still has %v", left)
	}
	mailtest.NoClearText(t, cfg.DataDir, heldToken)
	if !strings.Contains(logBuf.String(), "legacy plaintext holds imported") {
		t.Errorf("import not logged:\n%s", logBuf.String())
	}
}

// TestRelayAuthFailuresAudited: AUTH failures and the block of a guessing
// address are in the audit log; the account's owner on another address
// still logs in.
func TestRelayAuthFailuresAudited(t *testing.T) {
	hash, err := smtpproxy.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	r, _, logBuf := testRelay(t, func(c *config.Config) {
		c.SMTP.Accounts = []config.Account{{Username: "alice", PasswordHash: hash}}
		c.SMTP.AuthLimits.AddressBlockAfter = 3
		c.SMTP.AuthLimits.AddressDelay = time.Millisecond
		c.SMTP.AuthLimits.AddressMaxDelay = time.Millisecond
		c.SMTP.AuthLimits.AccountDelay = time.Millisecond
		c.SMTP.AuthLimits.AccountMaxDelay = time.Millisecond
	})
	tlsCfg := &tls.Config{InsecureSkipVerify: true} // the demo's self-signed certificate
	try := func(local, pw string) error {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		nc, err := d.Dial("tcp", r.smtpAddrs[0])
		if err != nil {
			return err
		}
		c, err := smtp.NewClientStartTLS(nc, tlsCfg)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Auth(sasl.NewPlainClient("", "alice", pw))
	}
	var codes []int
	for i := range 5 {
		err := try("127.0.0.2", "guess"+string(rune('a'+i)))
		se, _ := err.(*smtp.SMTPError)
		if se == nil {
			t.Fatalf("guess %d: %v", i, err)
		}
		codes = append(codes, se.Code)
	}
	if want := []int{535, 535, 535, 454, 454}; !slices.Equal(codes, want) {
		t.Fatalf("replies %v, want %v; log:\n%s", codes, want, logBuf.String())
	}
	if err := try("127.0.0.1", "correct horse"); err != nil {
		t.Fatalf("owner on another address: %v", err)
	}
	for action, want := range map[string]int{smtpproxy.AuthFailure: 3, smtpproxy.AuthBlockAddress: 1} {
		entries, _, err := r.stores.Audit.List(context.Background(), audit.Filter{Action: action, Subject: "127.0.0.2"})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != want {
			t.Errorf("audit %s: %d entries, want %d", action, len(entries), want)
		}
		for _, e := range entries {
			if !strings.Contains(string(e.Details), `"user":"alice"`) {
				t.Errorf("audit entry details %s", e.Details)
			}
		}
	}
	if brk, err := r.stores.Audit.Verify(context.Background()); err != nil || brk != nil {
		t.Fatalf("audit chain: %v %v", brk, err)
	}
}

// TestSettingsReachTheRelay: the new settings from the file arrive in the
// SMTP front end's and the queue's configuration.
func TestSettingsReachTheRelay(t *testing.T) {
	cfg, err := config.Parse([]byte("smtp:\n  limits:\n    max_connections: 40\n  auth_limits:\n    address_block_after: 4\n    account_block_after: 7\n    max_checks: 3\nupstream:\n  local_retry: 45s\n"), config.Default())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := smtpConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sc.MaxConnectionsPerIP != 10 || sc.Auth.AddressBlockAfter != 4 || sc.Auth.AccountBlockAfter != 7 || sc.Auth.MaxChecks != 3 ||
		sc.Auth.AccountMaxDelay != 8*time.Second {
		t.Errorf("smtp config %+v", sc)
	}
	if q := queueConfig(cfg, ""); q.LocalRetry != 45*time.Second {
		t.Errorf("queue local retry %v", q.LocalRetry)
	}
}
