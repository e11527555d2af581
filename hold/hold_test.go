package hold

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const marker = "MARKER-個人番号-1234-5678-9012"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func openTest(t *testing.T, dir string, c *clock) *SQLite {
	t.Helper()
	t.Setenv(KeyEnv, "") // empty counts as unset
	s, err := OpenSQLite(context.Background(), Options{Dir: dir, Logger: quiet(), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newClock() *clock { return &clock{t: time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)} }

func sample(id, dept string, level Level, rule string) Record {
	return Record{
		ID: id,
		Envelope: Envelope{
			From: "sato@city.example.lg.jp", Recipients: []string{"a@example.com", "b@example.org"},
			ClientIP: "192.0.2.10", AuthUser: "sato", Received: time.Date(2026, 4, 1, 8, 59, 0, 0, time.UTC),
		},
		Subject:    "名簿の送付",
		Department: dept,
		Level:      level,
		Verdict: Verdict{
			Action: "hold",
			Rules:  []Rule{{ID: rule, Action: "hold", Clause: "3.3.5", Reason: "個人情報"}},
			Findings: []Finding{{Detector: "my_number", Count: 1, Locations: []string{"body"},
				Confidence: "medium", Samples: []string{"**** **** 1234"}}},
		},
	}
}

func content(n int) []byte {
	b := make([]byte, 0, n+len(marker))
	for len(b) < n {
		b = append(b, fmt.Sprintf("line %d %s\r\n", len(b), marker)...)
	}
	return b[:n]
}

func readAll(t *testing.T, s Store, id string) ([]byte, error) {
	t.Helper()
	rc, err := s.Content(context.Background(), id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestRoundTripSizes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t, newClock())
		defer s.Close()
		for _, n := range []int{0, 1, 100, segmentSize - 1, segmentSize, segmentSize + 1, 2 * segmentSize, 3*segmentSize + 17} {
			id := fmt.Sprintf("m%d", n)
			want := content(n)
			rec, err := s.Put(ctx, sample(id, "総務課", "I", "r1"), bytes.NewReader(want))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(want)
			if rec.Size != int64(n) || rec.ContentSHA256 != hex.EncodeToString(sum[:]) || rec.Status != Held {
				t.Fatalf("%s: record %+v", id, rec)
			}
			got, err := readAll(t, s, id)
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: content differs (%d vs %d bytes)", id, len(got), len(want))
			}
			g, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if g.Subject != "名簿の送付" || g.Envelope.AuthUser != "sato" || len(g.Verdict.Findings) != 1 ||
				g.Verdict.Findings[0].Samples[0] != "**** **** 1234" || g.Verdict.Rules[0].Clause != "3.3.5" {
				t.Fatalf("%s: Get %+v", id, g)
			}
		}
		if _, err := s.Put(ctx, sample("m1", "", "I", "r1"), strings.NewReader("x")); !errors.Is(err, ErrExists) {
			t.Fatalf("duplicate Put: %v", err)
		}
		if got, err := readAll(t, s, "m1"); err != nil || len(got) != 1 {
			t.Fatalf("duplicate Put damaged the first: %q %v", got, err)
		}
		if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get unknown: %v", err)
		}
		for _, id := range []string{"", "../x", ".hidden", "a/b", "a b"} {
			if _, err := s.Put(ctx, sample(id, "", "I", "r"), strings.NewReader("x")); err == nil {
				t.Fatalf("Put accepted ID %q", id)
			}
		}
	})
}

// The plaintext must never reach the data folder (clause 3.3.4).
func TestNoPlaintextAtRest(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t, newClock())
		rec := sample("plain1", "税務課", "I", "r1")
		// Subjects and recipients can be personal data too.
		rec.Subject = "件名 " + marker
		rec.Envelope.Recipients = []string{"marker-recipient@example.com"}
		rec.Verdict.Findings[0].Contexts = []string{"ctx-marker 山田太郎"}
		if _, err := s.Put(ctx, rec, bytes.NewReader(content(300_000))); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		all := b.dump(t)
		if len(all) < 300_000 {
			t.Fatalf("storage holds %d bytes, want the record and the content", len(all))
		}
		for _, m := range []string{marker, "MARKER-", "line 0 ", "marker-recipient", "ctx-marker", "山田太郎", "名簿の送付"} {
			if bytes.Contains(all, []byte(m)) {
				t.Errorf("%s storage contains %q", b.name, m)
			}
		}
		// The record is still readable with the key.
		s = b.open(t, newClock())
		defer s.Close()
		r, err := s.Get(ctx, "plain1")
		if err != nil || r.Subject != "件名 "+marker || r.Envelope.Recipients[0] != "marker-recipient@example.com" {
			t.Fatalf("record after reopen: %+v %v", r, err)
		}
	})
}

func TestTamperedRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir, newClock())
	defer s.Close()
	data := content(3*segmentSize + 100)
	for _, id := range []string{"flip", "cut", "cutseg", "swap", "append", "moved", "other"} {
		if _, err := s.Put(ctx, sample(id, "", "I", "r"), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	segLen := segmentSize + tagLen
	mod := func(id string, f func([]byte) []byte) {
		p := s.contentPath(id)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mod("flip", func(b []byte) []byte { b[headerLen+segLen+5] ^= 1; return b })
	mod("cut", func(b []byte) []byte { return b[:len(b)-7] })
	mod("cutseg", func(b []byte) []byte { return b[:headerLen+2*segLen] }) // whole segments only
	mod("swap", func(b []byte) []byte {
		s1 := append([]byte(nil), b[headerLen:headerLen+segLen]...)
		copy(b[headerLen:], b[headerLen+segLen:headerLen+2*segLen])
		copy(b[headerLen+segLen:], s1)
		return b
	})
	mod("append", func(b []byte) []byte { return append(b, b[headerLen:headerLen+segLen]...) })
	// Content of one message renamed to another's ID: the ID is in the AD.
	other, err := os.ReadFile(s.contentPath("other"))
	if err != nil {
		t.Fatal(err)
	}
	mod("moved", func([]byte) []byte { return other })
	for _, id := range []string{"flip", "cut", "cutseg", "swap", "append", "moved"} {
		_, err := readAll(t, s, id)
		if !errors.Is(err, ErrTampered) {
			t.Errorf("%s: err %v, want ErrTampered", id, err)
		}
	}
	// A record's sealed data moved to another ID (in SQL) is refused.
	if _, err := s.db.Exec(`UPDATE holds SET data = (SELECT data FROM holds WHERE id = 'other') WHERE id = 'flip'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "flip"); !errors.Is(err, ErrTampered) {
		t.Errorf("swapped record: %v", err)
	}
	if _, err := s.List(ctx, Filter{}); !errors.Is(err, ErrTampered) {
		t.Errorf("list with a swapped record: %v", err)
	}
	// Wrong key.
	s2, err := OpenSQLite(ctx, Options{Dir: dir, Key: bytes.Repeat([]byte{7}, 32), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := readAll(t, s2, "other"); !errors.Is(err, ErrTampered) {
		t.Errorf("wrong key: %v", err)
	}
	f, err := os.Open(s.contentPath("other"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if or, err := newOpenReader(f, bytes.Repeat([]byte{7}, 32), "other"); err != nil {
		t.Fatal(err)
	} else if _, err := io.ReadAll(or); !errors.Is(err, ErrTampered) {
		t.Errorf("content with the wrong key: %v", err)
	}
	if got, err := readAll(t, s, "other"); err != nil || !bytes.Equal(got, data) {
		t.Errorf("untouched message: %v", err)
	}
}

func TestKeyFile(t *testing.T) {
	os.Unsetenv(KeyEnv)
	dir := t.TempDir()
	p := filepath.Join(dir, "hold.key")
	k1, err := LoadKey(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(p)
	if len(strings.TrimSpace(string(b))) != 64 {
		t.Fatalf("key file %q: want 64 hex digits", b)
	}
	k2, err := LoadKey(p)
	if err != nil || !bytes.Equal(k1, k2) || len(k1) != 32 {
		t.Fatalf("reload: %v", err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(p); err == nil {
		t.Fatal("key file readable by others was accepted")
	}
	env := strings.Repeat("ab", 32)
	t.Setenv(KeyEnv, env)
	k3, err := LoadKey(filepath.Join(dir, "absent.key"))
	if err != nil || hex.EncodeToString(k3) != env {
		t.Fatalf("env key: %x %v", k3, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "absent.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("key file written although the key came from the environment")
	}
	t.Setenv(KeyEnv, "abcd")
	if _, err := LoadKey(p); err == nil {
		t.Fatal("short env key accepted")
	}
}

func TestFiltersAndPaging(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		c := newClock()
		s := b.open(t, c)
		defer s.Close()
		depts := []string{"総務課", "税務課", "市民課"}
		levels := []Level{"I", "II"}
		for i := range 30 {
			rec := sample(fmt.Sprintf("h%02d", i), depts[i%3], levels[i%2], fmt.Sprintf("rule-%d", i%4))
			if i%5 == 0 {
				rec.Verdict.Rules = append(rec.Verdict.Rules, Rule{ID: "many-recipients", Action: "hold", Clause: "3.3.5"})
			}
			if _, err := s.Put(ctx, rec, strings.NewReader("x")); err != nil {
				t.Fatal(err)
			}
			c.add(time.Hour)
		}
		if _, err := s.Reject(ctx, "h03", "suzuki", "NG"); err != nil {
			t.Fatal(err)
		}
		start := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
		tests := []struct {
			name string
			f    Filter
			want int
			ids  []string // first IDs of the page, newest first
		}{
			{"all", Filter{}, 30, []string{"h29", "h28"}},
			{"held", Filter{Status: []Status{Held}}, 29, []string{"h29"}},
			{"rejected", Filter{Status: []Status{Rejected}}, 1, []string{"h03"}},
			{"dept", Filter{Departments: []string{"総務課"}}, 10, []string{"h27", "h24"}},
			{"depts", Filter{Departments: []string{"総務課", "税務課"}}, 20, []string{"h28", "h27"}},
			{"rule", Filter{Rule: "rule-1"}, 8, []string{"h29", "h25"}},
			{"second rule", Filter{Rule: "many-recipients"}, 6, []string{"h25", "h20"}},
			{"level", Filter{Level: "II"}, 15, []string{"h29", "h27"}},
			{"older", Filter{CreatedBefore: start.Add(3 * time.Hour)}, 3, []string{"h02", "h01", "h00"}},
			{"newer", Filter{CreatedAfter: start.Add(26 * time.Hour)}, 3, []string{"h29", "h28", "h27"}},
			{"combined", Filter{Status: []Status{Held}, Departments: []string{"税務課"}, Level: "II"}, 5, []string{"h25", "h19"}},
			{"page 2", Filter{Limit: 7, Offset: 7}, 30, []string{"h22", "h21"}},
			{"last page", Filter{Limit: 7, Offset: 28}, 30, []string{"h01", "h00"}},
			{"none", Filter{Departments: []string{"なし"}}, 0, nil},
			{"nul department", Filter{Departments: []string{"\x00none"}}, 0, nil},
			{"nul and a department", Filter{Departments: []string{"\x00none", "総務課"}}, 10, []string{"h27"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				p, err := s.List(ctx, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				if p.Total != tc.want {
					t.Fatalf("total %d, want %d", p.Total, tc.want)
				}
				if tc.f.Limit > 0 && len(p.Records) > tc.f.Limit {
					t.Fatalf("page of %d > limit %d", len(p.Records), tc.f.Limit)
				}
				if tc.name == "last page" && len(p.Records) != 2 {
					t.Fatalf("last page has %d", len(p.Records))
				}
				for i, id := range tc.ids {
					if i >= len(p.Records) || p.Records[i].ID != id {
						t.Fatalf("record %d: got %v, want %s", i, ids(p.Records), id)
					}
				}
			})
		}
	})
}

func ids(rs []Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestTransitions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t, newClock())
		defer s.Close()
		for _, id := range []string{"a", "b", "c"} {
			if _, err := s.Put(ctx, sample(id, "", "I", "r"), strings.NewReader("x")); err != nil {
				t.Fatal(err)
			}
		}
		// Release without approval is refused.
		if _, err := s.Release(ctx, "a", "suzuki", "ok", ""); !errors.Is(err, ErrNeedsApprovals) {
			t.Fatalf("release without approval: %v", err)
		}
		if _, err := s.Approve(ctx, "a", "suzuki", "確認済み"); err != nil {
			t.Fatal(err)
		}
		rec, err := s.Release(ctx, "a", "suzuki", "暗号化して送信", "attempt-a1")
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != Released || rec.Actor != "suzuki" || rec.Reason != "暗号化して送信" || rec.ActedAt.IsZero() || rec.ReleaseAttempt != "attempt-a1" {
			t.Fatalf("released record %+v", rec)
		}
		if _, err := s.Reject(ctx, "b", "tanaka", "個人番号"); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name string
			do   func() (Record, error)
			want error
		}{
			{"reject released", func() (Record, error) { return s.Reject(ctx, "a", "x", "") }, ErrInvalidTransition},
			{"release rejected", func() (Record, error) { return s.Release(ctx, "b", "x", "", "") }, ErrInvalidTransition},
			{"approve rejected", func() (Record, error) { return s.Approve(ctx, "b", "x", "") }, ErrInvalidTransition},
			{"release released", func() (Record, error) { return s.Release(ctx, "a", "x", "", "attempt-a2") }, ErrInvalidTransition},
			{"unknown", func() (Record, error) { return s.Reject(ctx, "zz", "x", "") }, ErrNotFound},
			{"self approval (auth user)", func() (Record, error) { return s.Approve(ctx, "c", "SATO", "") }, ErrSelfApproval},
			{"self approval (from)", func() (Record, error) { return s.Approve(ctx, "c", "sato@city.example.lg.jp", "") }, ErrSelfApproval},
		}
		for _, st := range steps {
			if _, err := st.do(); !errors.Is(err, st.want) {
				t.Errorf("%s: %v, want %v", st.name, err, st.want)
			}
		}
		if _, err := s.Reject(ctx, "c", "", "no actor"); err == nil {
			t.Error("reject without actor accepted")
		}
		// The committed attempt is stored (the recovery of a release
		// compares it with its staged copy's), and a later attempt
		// refused leaves it as it was.
		if ra, err := s.Get(ctx, "a"); err != nil || ra.ReleaseAttempt != "attempt-a1" {
			t.Fatalf("a's release attempt: %q %v, want attempt-a1", ra.ReleaseAttempt, err)
		}
		rb, _ := s.Get(ctx, "b")
		if rb.Status != Rejected || rb.Actor != "tanaka" || rb.ReleaseAttempt != "" {
			t.Fatalf("b after refused transitions: %+v", rb)
		}
	})
}

func TestFourEyes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t, newClock())
		defer s.Close()
		rec := sample("fe", "", "I", "r")
		rec.RequiredApprovals = 2
		if _, err := s.Put(ctx, rec, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		r, err := s.Approve(ctx, "fe", "suzuki", "")
		if err != nil || r.Ready() {
			t.Fatalf("first approval: ready=%v %v", r.Ready(), err)
		}
		if _, err := s.Approve(ctx, "fe", "Suzuki ", ""); !errors.Is(err, ErrDuplicateApproval) {
			t.Fatalf("same approver twice: %v", err)
		}
		if _, err := s.Release(ctx, "fe", "suzuki", "", ""); !errors.Is(err, ErrNeedsApprovals) {
			t.Fatalf("release with one of two: %v", err)
		}
		r, err = s.Approve(ctx, "fe", "tanaka", "")
		if err != nil || !r.Ready() || len(r.Approvals) != 2 {
			t.Fatalf("second approval: %+v %v", r.Approvals, err)
		}
		if r, err = s.Release(ctx, "fe", "tanaka", "", ""); err != nil || r.Status != Released {
			t.Fatalf("release: %v", err)
		}
	})
}

// Two reviewers acting at once: exactly one decision wins.
func TestConcurrentDecisions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		c := newClock()
		s := b.open(t, c)
		defer s.Close()
		s2 := b.open(t, c) // another process or node on the same storage
		defer s2.Close()
		nodes := []Store{s, s2}
		if _, err := s.Put(ctx, sample("race", "", "I", "r"), strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Approve(ctx, "race", "boss", ""); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, winner := 0, ""
		for i := range 16 {
			wg.Go(func() {
				var err error
				n := nodes[i/2%2]
				if i%2 == 0 {
					_, err = n.Release(ctx, "race", fmt.Sprintf("r%d", i), "", fmt.Sprintf("attempt-%d", i))
				} else {
					_, err = n.Reject(ctx, "race", fmt.Sprintf("r%d", i), "")
				}
				if err == nil {
					mu.Lock()
					wins++
					if i%2 == 0 {
						winner = fmt.Sprintf("attempt-%d", i)
					}
					mu.Unlock()
				} else if !errors.Is(err, ErrInvalidTransition) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d decisions succeeded, want 1", wins)
		}
		// The record names the release attempt that won (none when a
		// reject won), on every node.
		for _, n := range nodes {
			if r, err := n.Get(ctx, "race"); err != nil || r.ReleaseAttempt != winner {
				t.Fatalf("stored release attempt %q %v, want %q", r.ReleaseAttempt, err, winner)
			}
		}
	})
}

func TestFalsePositive(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t, newClock())
		defer s.Close()
		if _, err := s.Put(ctx, sample("fp", "", "I", "r"), strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MarkFalsePositive(ctx, "fp", FalsePositive{Detector: "credit_card", Actor: "suzuki"}); err == nil {
			t.Fatal("marked a finding that does not exist")
		}
		fp := FalsePositive{Detector: "my_number", Location: "body", Actor: "suzuki", Note: "伝票番号"}
		if _, err := s.MarkFalsePositive(ctx, "fp", fp); err != nil {
			t.Fatal(err)
		}
		fp.Note = "注文番号"
		r, err := s.MarkFalsePositive(ctx, "fp", fp)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.FalsePositives) != 1 || r.FalsePositives[0].Note != "注文番号" || r.FalsePositives[0].At.IsZero() {
			t.Fatalf("marks %+v", r.FalsePositives)
		}
	})
}

func TestExpireAndPurge(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		c := newClock()
		s := b.open(t, c)
		defer s.Close()
		for _, id := range []string{"old", "new", "rel"} {
			if _, err := s.Put(ctx, sample(id, "", "I", "r"), strings.NewReader("body "+id)); err != nil {
				t.Fatal(err)
			}
			c.add(2 * 24 * time.Hour)
		}
		// rel is released 4 days after "old" was held.
		if _, err := s.Approve(ctx, "rel", "boss", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Release(ctx, "rel", "boss", "", ""); err != nil {
			t.Fatal(err)
		}
		// Day 7 after "old": only "old" is due.
		exp, err := s.ExpireDue(ctx, c.now().Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(exp) != 1 || exp[0].ID != "old" || exp[0].Status != Expired || exp[0].Actor != "system" {
			t.Fatalf("expired %+v", ids(exp))
		}
		if again, _ := s.ExpireDue(ctx, c.now().Add(24*time.Hour)); len(again) != 0 {
			t.Fatalf("expired twice: %v", ids(again))
		}
		if _, err := s.Approve(ctx, "old", "boss", ""); !errors.Is(err, ErrInvalidTransition) {
			t.Fatalf("approve expired: %v", err)
		}
		// Nothing is purged before the retention period.
		if p, _ := s.PurgeDue(ctx, c.now().Add(29*24*time.Hour)); len(p) != 0 {
			t.Fatalf("purged early: %v", ids(p))
		}
		p, err := s.PurgeDue(ctx, c.now().Add(32*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(p); len(got) != 2 || got[0] != "rel" || got[1] != "old" {
			t.Fatalf("purged %v, want [rel old]", got)
		}
		for _, id := range []string{"old", "rel"} {
			if _, err := s.Content(ctx, id); !errors.Is(err, ErrPurged) {
				t.Errorf("%s content after purge: %v", id, err)
			}
			if b.hasContent(t, id) {
				t.Errorf("%s content still there", id)
			}
			r, err := s.Get(ctx, id)
			if err != nil || r.PurgedAt.IsZero() {
				t.Errorf("%s record after purge: %+v %v", id, r, err)
			}
		}
		// The ID of a purged message cannot be reused, and trying leaves no file.
		if _, err := s.Put(ctx, sample("old", "", "I", "r"), strings.NewReader("again")); !errors.Is(err, ErrExists) {
			t.Fatalf("Put over a purged record: %v", err)
		}
		if b.hasContent(t, "old") {
			t.Fatal("refused Put left its content")
		}
		if got, err := readAll(t, s, "new"); err != nil || string(got) != "body new" {
			t.Fatalf("held message touched by purge: %q %v", got, err)
		}
	})
}

func TestRestart(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, c)
	data := content(200_000)
	for i := range 5 {
		rec := sample(fmt.Sprintf("r%d", i), "総務課", "I", "r")
		rec.RequiredApprovals = 2
		if _, err := s.Put(ctx, rec, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Approve(ctx, "r1", "suzuki", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reject(ctx, "r2", "tanaka", "誤送信"); err != nil {
		t.Fatal(err)
	}
	// Leftovers of a crash in the middle of Put: a temp file and content
	// whose record was never committed.
	if err := os.WriteFile(filepath.Join(dir, "tmp", "x.1.tmp"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.contentPath("orphan"), []byte("orphan"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c.add(time.Hour)
	old := c.now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, "tmp", "x.1.tmp"), old, old)
	os.Chtimes(filepath.Join(dir, "content", "orphan.msg"), old, old)

	s = openTest(t, dir, c)
	defer s.Close()
	p, err := s.List(ctx, Filter{})
	if err != nil || p.Total != 5 {
		t.Fatalf("after reopen: %d records, %v", p.Total, err)
	}
	r1, _ := s.Get(ctx, "r1")
	r2, _ := s.Get(ctx, "r2")
	if len(r1.Approvals) != 1 || r1.Approvals[0].Actor != "suzuki" || r2.Status != Rejected || r2.Reason != "誤送信" {
		t.Fatalf("state lost: %+v %+v", r1, r2)
	}
	for i := range 5 {
		got, err := readAll(t, s, fmt.Sprintf("r%d", i))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("r%d content after reopen: %v", i, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp", "x.1.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Error("temp file left after reopen")
	}
	if _, err := os.Stat(s.contentPath("orphan")); !errors.Is(err, os.ErrNotExist) {
		t.Error("orphan content left after reopen")
	}
	for _, name := range []string{"hold.key", "hold.db", "content/r0.msg"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, fi, err)
		}
	}
}

func TestPutCancelled(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx, cancel := context.WithCancel(context.Background())
		s := b.open(t, newClock())
		defer s.Close()
		cancel()
		if _, err := s.Put(ctx, sample("cx", "", "I", "r"), strings.NewReader("x")); err == nil {
			t.Fatal("cancelled Put succeeded")
		}
		if _, err := s.Get(context.Background(), "cx"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("cancelled Put left a record: %v", err)
		}
		if n := b.leftovers(t); n != 0 {
			t.Fatalf("cancelled Put left %d files or rows", n)
		}
	})
}

// A failing reader mid-stream must leave neither record nor file.
func TestPutReadError(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		s := b.open(t, newClock())
		defer s.Close()
		r := io.MultiReader(bytes.NewReader(content(100_000)), errReader{})
		if _, err := s.Put(context.Background(), sample("re", "", "I", "r"), r); err == nil {
			t.Fatal("Put with a read error succeeded")
		}
		if n := b.leftovers(t); n != 0 {
			t.Fatalf("Put with a read error left %d files or rows", n)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func BenchmarkPutContent25MB(b *testing.B) {
	os.Unsetenv(KeyEnv)
	ctx := context.Background()
	s, err := OpenSQLite(ctx, Options{Dir: b.TempDir(), Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := content(25 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("b%d", i)
		if _, err := s.Put(ctx, sample(id, "", "I", "r"), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		rc, err := s.Content(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}

// BenchmarkPut25MBPeakHeap reports the peak live heap while a 25 MB
// message is stored and read back (segments of 64 KiB: it stays small).
func BenchmarkPut25MBPeakHeap(b *testing.B) {
	os.Unsetenv(KeyEnv)
	ctx := context.Background()
	s, err := OpenSQLite(ctx, Options{Dir: b.TempDir(), Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := content(25 << 20)
	var peak uint64
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("p%d", i)
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		base := m.HeapAlloc
		sample := func() {
			runtime.GC() // live heap, not garbage waiting for the collector
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc-min(base, m.HeapAlloc))
		}
		if _, err := s.Put(ctx, sample2(id), &sampling{r: bytes.NewReader(data), f: sample}); err != nil {
			b.Fatal(err)
		}
		rc, err := s.Content(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, &sampling{r: rc, f: sample}); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

func sample2(id string) Record { return sample(id, "", "I", "r") }

// sampling calls f every MiB read.
type sampling struct {
	r       io.Reader
	f       func()
	n, next int
}

func (s *sampling) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += n
	if s.n >= s.next {
		s.next = s.n + 1<<20
		s.f()
	}
	return n, err
}
