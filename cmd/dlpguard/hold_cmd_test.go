package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dlpguard/policy"
	"dlpguard/release"
	"dlpguard/review"
	"dlpguard/smtpproxy/spool"
)

// holdCLIFixture runs the review service with the default policy over
// loopback and holds two samples (p011: pension number, p020: marking).
func holdCLIFixture(t *testing.T) (url, admin, self string, ids []string, sp *spool.Store) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	st, err := review.OpenStores(ctx, dir, review.StoreOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sp, err = spool.Open(review.PathsIn(dir).Spool)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := review.New(review.Config{DataDir: review.PathsIn(dir).Review, Hostname: "relay.test", NoKeyMode: release.PassphraseWithoutKey},
		review.Deps{Holds: st.Holds, Audit: st.Audit, Keys: st.Keys, Policy: func() *policy.Engine { return pol }, Spool: sp, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	for _, s := range []struct{ file, from, to string }{
		{"p011_other_id.eml", "user660@city.example.lg.jp", "contact78@example.net"},
		{"p020_marking.eml", "user189@city.example.lg.jp", "user819@example.org"},
	} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "samples", s.file))
		if err != nil {
			t.Fatal(err)
		}
		v, err := pol.Evaluate(ctx, bytes.NewReader(raw), policy.Input{Sender: s.from, Recipients: []string{s.to}})
		if err != nil || v.Action != policy.Hold {
			t.Fatalf("%s: %v %v", s.file, v.Action, err)
		}
		env := &spool.Envelope{ID: spool.NewID(), From: s.from, Received: time.Now(), Recipients: []spool.Recipient{{Address: s.to, Status: spool.Pending}}}
		id, err := svc.Hold(ctx, env, bytes.NewReader(raw), v)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if admin, err = svc.DB().AddToken(ctx, review.Token{Name: "admin", Actor: "admin@city.example.lg.jp", Role: review.RoleAdmin}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if self, err = svc.DB().AddToken(ctx, review.Token{Name: "self", Actor: "user660@city.example.lg.jp", Role: review.RoleAdmin}, time.Now()); err != nil {
		t.Fatal(err)
	}
	return srv.URL, admin, self, ids, sp
}

func TestHoldCLI(t *testing.T) {
	url, admin, self, ids, sp := holdCLIFixture(t)
	hold := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := runHold(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := hold("list", "--url", url, "--token", admin)
	if code != 0 || !strings.Contains(out, ids[0]) || !strings.Contains(out, ids[1]) || !strings.Contains(out, "2 of 2") {
		t.Fatalf("list: %d %q %q", code, out, errs)
	}
	code, out, _ = hold("list", "--url", url, "--token", admin, "--rule", "marking-i-hold", "--json")
	var page struct {
		Total int `json:"total"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &page) != nil || page.Total != 1 {
		t.Fatalf("list --rule: %d %q", code, out)
	}
	code, out, _ = hold("show", ids[0], "--url", url, "--token", admin)
	if code != 0 || !strings.Contains(out, `"pension_number"`) || !strings.Contains(out, ids[0]) {
		t.Fatalf("show: %d %q", code, out)
	}
	if code, _, errs = hold("reject", ids[0], "--url", url, "--token", admin); code != 2 || !strings.Contains(errs, "--reason") {
		t.Errorf("reject without reason: %d %q", code, errs)
	}
	if code, _, errs = hold("release", ids[0], "--url", url, "--token", self, "--reason", "自分で"); code != 1 || !strings.Contains(errs, "self_approval") {
		t.Errorf("self approval: %d %q", code, errs)
	}
	if code, _, errs = hold("list", "--url", url, "--token", "dlpg_wrong"); code != 1 || !strings.Contains(errs, "401") {
		t.Errorf("bad token: %d %q", code, errs)
	}
	if code, _, errs = hold("list", "--url", url); code != 2 {
		t.Errorf("no token: %d %q", code, errs)
	}
	if code, out, errs = hold("reject", ids[0], "--url", url, "--token", admin, "--reason", "宛先誤り"); code != 0 || !strings.Contains(out, `"rejected"`) {
		t.Fatalf("reject: %d %q %q", code, out, errs)
	}
	// p020 is level I, its body has the marking: released encrypted with a
	// passphrase (no key), shown once on the terminal.
	code, out, errs = hold("release", ids[1], "--url", url, "--token", admin, "--reason", "課長確認済み")
	if code != 0 || !strings.Contains(out, "released") || !strings.Contains(out, "passphrase") {
		t.Fatalf("release: %d %q %q", code, out, errs)
	}
	queued, _ := sp.List(spool.AreaQueue)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	pass := lines[len(lines)-1]
	for _, q := range queued {
		f, _ := sp.Open(spool.AreaQueue, q)
		var b bytes.Buffer
		b.ReadFrom(f)
		f.Close()
		if bytes.Contains(b.Bytes(), []byte(pass)) {
			t.Fatal("the passphrase is in a queued message")
		}
	}
	code, out, _ = hold("list", "--url", url, "--token", admin, "--status", "held")
	if code != 0 || !strings.Contains(out, "0 of 0") {
		t.Errorf("held after decisions: %q", out)
	}
}
