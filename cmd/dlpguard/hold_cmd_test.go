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
	"dlpguard/spool"
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
	// The default policy names no department: the security team decides.
	svc, err := review.New(review.Config{DataDir: review.PathsIn(dir).Review, Hostname: "relay.test", NoKeyMode: release.PassphraseWithoutKey,
		SecurityTeam: []string{"admin@city.example.lg.jp"}},
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
	if code != 0 || !strings.Contains(out, ids[0]) || !strings.Contains(out, ids[1]) || !strings.Contains(out, "2 of 2") || !strings.Contains(out, "保留中") {
		t.Fatalf("list: %d %q %q", code, out, errs)
	}
	// Times for people in Asia/Tokyo with the zone shown, or as asked.
	if !strings.Contains(out, " JST") {
		t.Errorf("list times without the zone: %q", out)
	}
	if _, out, _ := hold("list", "--url", url, "--token", admin, "--time-zone", "UTC"); !strings.Contains(out, " UTC") {
		t.Errorf("list --time-zone UTC: %q", out)
	}
	checkAligned(t, out)
	code, out, _ = hold("list", "--url", url, "--token", admin, "--rule", "marking-i-hold", "--json")
	var page struct {
		Total int `json:"total"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &page) != nil || page.Total != 1 {
		t.Fatalf("list --rule: %d %q", code, out)
	}
	code, out, _ = hold("show", ids[0], "--url", url, "--token", admin, "--json")
	if code != 0 || !strings.Contains(out, `"pension_number"`) || !strings.Contains(out, ids[0]) {
		t.Fatalf("show --json: %d %q", code, out)
	}
	code, out, _ = hold("show", ids[0], "--url", url, "--token", admin)
	for _, want := range []string{"保留番号 ID", ids[0], "pension_number", "JST", "承認できる人", "admin@city.example.lg.jp"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("show lacks %q: %d %q", want, code, out)
		}
	}
	if strings.HasPrefix(strings.TrimSpace(out), "{") {
		t.Errorf("show prints JSON by default: %q", out)
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
	if code, out, errs = hold("reject", ids[0], "--url", url, "--token", admin, "--reason", "宛先誤り"); code != 0 || !strings.Contains(out, "却下") || !strings.Contains(out, "宛先誤り") {
		t.Fatalf("reject: %d %q %q", code, out, errs)
	}
	// p020 is level I, its body has the marking: released encrypted with a
	// passphrase (no key), shown once on the terminal.
	code, out, errs = hold("release", ids[1], "--url", url, "--token", admin, "--reason", "課長確認済み")
	if code != 0 || !strings.Contains(out, "released") || !strings.Contains(out, "passphrase") || !strings.Contains(out, "user819@example.org") {
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

// checkAligned: every column of a table starts at the same terminal cell
// on every line, Japanese text taking two cells a character.
func checkAligned(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	lines = lines[:len(lines)-1] // the count line
	starts := func(l string) []int {
		var s []int
		c, gap := 0, 0
		for _, r := range l {
			if r == ' ' {
				gap++
			} else {
				if gap >= 2 {
					s = append(s, c)
				}
				gap = 0
			}
			c += cells(string(r))
		}
		return s
	}
	want := starts(lines[0])
	if len(want) < 5 {
		t.Fatalf("header has %d columns: %q", len(want)+1, lines[0])
	}
	for _, l := range lines[1:] {
		got := starts(l)
		for i := 0; i < 3 && i < len(got); i++ { // ID, status, level: no spaces inside
			if got[i] != want[i] {
				t.Errorf("column %d starts at cell %d, header at %d:\n%s\n%s", i+2, got[i], want[i], lines[0], l)
			}
		}
	}
}

func TestCells(t *testing.T) {
	for _, c := range []struct {
		s string
		n int
	}{{"abc", 3}, {"保留中", 6}, {"ｱｲｳ", 3}, {"ＡＢ", 4}, {"保留 held", 9}, {"", 0}} {
		if got := cells(c.s); got != c.n {
			t.Errorf("cells(%q) = %d, want %d", c.s, got, c.n)
		}
	}
	var b strings.Builder
	table(&b, [][]string{{"所属", "x"}, {"abc", "y"}})
	if b.String() != "所属  x\nabc   y\n" {
		t.Errorf("table: %q", b.String())
	}
}
