package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dlpguard/sqlitedb"
)

func openLog(t *testing.T, path string) *Log {
	t.Helper()
	l, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func fill(t *testing.T, l *Log, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		actions := []string{Hold, Approve, Release, Reject, ExceptionUse}
		_, err := l.Append(ctx, fmt.Sprintf("user%d", i%3), actions[i%len(actions)], fmt.Sprintf("H%03d", i%7),
			map[string]any{"i": i, "reason": "個人番号を含む", "clause": "3.3.5"})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// rawDB opens the same file behind the log's back, as an attacker with
// write access to the database would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestAppendVerify(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	l := openLog(t, path)
	if b, err := l.Verify(ctx); b != nil || err != nil {
		t.Fatalf("empty log: %v %v", b, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit.db mode: %v %v", fi, err)
	}
	fill(t, l, 200)
	if b, err := l.Verify(ctx); b != nil || err != nil {
		t.Fatalf("intact log: %v %v", b, err)
	}
	seq, hash, err := l.Head(ctx)
	if err != nil || seq != 200 || len(hash) != 64 {
		t.Fatalf("head %d %q %v", seq, hash, err)
	}
	es, total, err := l.List(ctx, Filter{Limit: 1})
	if err != nil || total != 200 || len(es) != 1 || es[0].Seq != 200 || es[0].Hash != hash {
		t.Fatalf("list newest: %+v %d %v", es, total, err)
	}
	if !strings.Contains(string(es[0].Details), "個人番号を含む") {
		t.Fatalf("details %s", es[0].Details)
	}
	// Reopen: the chain continues from the stored head.
	l.Close()
	l2 := openLog(t, path)
	e, err := l2.Append(ctx, "admin", PolicyReload, "", nil)
	if err != nil || e.Seq != 201 || e.Prev != hash {
		t.Fatalf("append after reopen: %+v %v", e, err)
	}
	if b, err := l2.VerifyHead(ctx, seq, hash); b != nil || err != nil {
		t.Fatalf("verify head: %v %v", b, err)
	}
	if _, err := l2.Append(ctx, "", Hold, "x", nil); err == nil {
		t.Fatal("append without actor accepted")
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, filepath.Join(t.TempDir(), "audit.db"))
	base := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	l.SetClock(func() time.Time { n++; return base.Add(time.Duration(n) * time.Minute) })
	fill(t, l, 35)
	tests := []struct {
		name  string
		f     Filter
		total int
		first int64
	}{
		{"all", Filter{}, 35, 35},
		{"actor", Filter{Actor: "user1"}, 12, 35},
		{"action", Filter{Action: Release}, 7, 33},
		{"subject", Filter{Subject: "H000"}, 5, 29},
		{"since", Filter{Since: base.Add(30 * time.Minute)}, 6, 35},
		{"until", Filter{Until: base.Add(3 * time.Minute)}, 2, 2},
		{"page", Filter{Limit: 10, Offset: 10}, 35, 25},
		{"combined", Filter{Actor: "user0", Action: Hold}, 3, 31},
		{"oldest first", Filter{Oldest: true, Limit: 10, Offset: 10}, 35, 11},
	}
	for _, tc := range tests {
		es, total, err := l.List(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if total != tc.total || len(es) == 0 || es[0].Seq != tc.first {
			t.Errorf("%s: total %d first %v, want %d %d", tc.name, total, es, tc.total, tc.first)
		}
		for i := 1; i < len(es); i++ {
			if (es[i].Seq >= es[i-1].Seq) != tc.f.Oldest {
				t.Errorf("%s: not in order", tc.name)
			}
		}
	}
}

// Appends from many goroutines and from two handles on the same file (two
// processes: the server and the CLI) never fork the chain.
func TestConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	a, b := openLog(t, path), openLog(t, path)
	var wg sync.WaitGroup
	for g := range 8 {
		l := a
		if g%2 == 1 {
			l = b
		}
		wg.Go(func() {
			for i := range 25 {
				if _, err := l.Append(ctx, fmt.Sprintf("g%d", g), Hold, fmt.Sprint(i), nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Verifying while others append never reports a false break (the
	// checkpoint is read before the chain is walked).
	done := make(chan struct{})
	verified := make(chan int)
	go func() {
		n := 0
		defer func() { verified <- n }()
		v := openLog(t, path)
		for {
			select {
			case <-done:
				return
			default:
			}
			if brk, err := v.Verify(ctx); brk != nil || err != nil {
				t.Errorf("verify during appends: %v %v", brk, err)
				return
			}
			n++
		}
	}()
	wg.Wait()
	close(done)
	if n := <-verified; n == 0 {
		t.Log("no verification overlapped the appends")
	}
	if brk, err := a.Verify(ctx); brk != nil || err != nil {
		t.Fatalf("after concurrent appends: %v %v", brk, err)
	}
	if seq, _, _ := a.Head(ctx); seq != 200 {
		t.Fatalf("head %d, want 200", seq)
	}
}

func TestTamperDetected(t *testing.T) {
	tests := []struct {
		name   string
		sql    []string
		seq    int64
		reason string
	}{
		{"details changed", []string{`UPDATE audit SET details = '{"i":10,"reason":"問題なし"}' WHERE seq = 11`}, 11, "changed"},
		{"actor changed", []string{`UPDATE audit SET actor = 'someone' WHERE seq = 40`}, 40, "changed"},
		{"time changed", []string{`UPDATE audit SET time = time + 1 WHERE seq = 3`}, 3, "changed"},
		{"row deleted", []string{`DELETE FROM audit WHERE seq = 20`}, 21, "missing"},
		{"first row deleted", []string{`DELETE FROM audit WHERE seq = 1`}, 2, "missing"},
		{"deleted and renumbered", []string{`DELETE FROM audit WHERE seq = 20`, `UPDATE audit SET seq = seq - 1 WHERE seq > 20`}, 20, "previous hash"},
		{"rows swapped", []string{
			`UPDATE audit SET seq = -1 WHERE seq = 30`,
			`UPDATE audit SET seq = 30 WHERE seq = 31`,
			`UPDATE audit SET seq = 31 WHERE seq = -1`}, 30, "previous hash"},
		{"row inserted", []string{
			`UPDATE audit SET seq = seq + 1000 WHERE seq > 25`,
			`UPDATE audit SET seq = seq - 999 WHERE seq > 1000`,
			`INSERT INTO audit (seq, time, actor, action, subject, details, prev, hash)
			 SELECT 26, time, 'intruder', 'release', 'H999', '', hash, hash FROM audit WHERE seq = 25`}, 26, "changed"},
		{"row inserted with a forged hash", []string{
			`UPDATE audit SET seq = seq + 1000 WHERE seq > 25`,
			`UPDATE audit SET seq = seq - 999 WHERE seq > 1000`,
			`INSERT INTO audit (seq, time, actor, action, subject, details, prev, hash)
			 SELECT 26, time, actor, action, subject, details, prev, hash FROM audit WHERE seq = 25`}, 26, "previous hash"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "audit.db")
			l := openLog(t, path)
			fill(t, l, 50)
			db := rawDB(t, path)
			for _, q := range tc.sql {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			b, err := l.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if b == nil {
				t.Fatal("tampering not detected")
			}
			if b.Seq != tc.seq || !strings.Contains(b.Reason, tc.reason) {
				t.Fatalf("break at %d (%s), want %d (%s)", b.Seq, b.Reason, tc.seq, tc.reason)
			}
			if !strings.Contains(b.Error(), fmt.Sprint(tc.seq)) {
				t.Fatalf("error text %q", b.Error())
			}
		})
	}
}

// With New (no checkpoint), removing the newest entries leaves a valid
// chain; a head kept elsewhere catches it.
func TestTruncationNeedsHeadWithoutAnchor(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	db, err := sqlitedb.Open(ctx, path, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l, err := New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, l, 10)
	seq, hash, err := l.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rawDB(t, path).Exec(`DELETE FROM audit WHERE seq > 8`); err != nil {
		t.Fatal(err)
	}
	if b, _ := l.Verify(ctx); b != nil {
		t.Fatalf("chain alone: %v", b)
	}
	b, err := l.VerifyHead(ctx, seq, hash)
	if err != nil || b == nil || b.Seq != 10 || !strings.Contains(b.Reason, "removed from the end") {
		t.Fatalf("VerifyHead: %v %v", b, err)
	}
}

// The signed head checkpoint finds what the chain alone cannot: entries
// cut off the end (rows deleted with SQL, the whole log emptied, the end
// rewritten) and a checkpoint removed or edited; an intact log, and one
// whose checkpoint lags one entry (a crash between commit and checkpoint),
// verify.
func TestAnchor(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, path string, l *Log)
		seq    int64  // 0: intact
		reason string // part of the break's reason
	}{
		{"intact", func(*testing.T, string, *Log) {}, 0, ""},
		{"checkpoint one behind (crash after commit)", func(t *testing.T, _ string, l *Log) {
			var h string
			rawQuery(t, l, `SELECT hash FROM audit WHERE seq = 19`, &h)
			if err := l.anchor.write(19, h); err != nil {
				t.Fatal(err)
			}
		}, 0, ""},
		{"last rows deleted", func(t *testing.T, path string, _ *Log) {
			sqlExec(t, path, `DELETE FROM audit WHERE seq > 17`)
		}, 18, "entries 18 to 20 were removed from the end"},
		{"last row deleted", func(t *testing.T, path string, _ *Log) {
			sqlExec(t, path, `DELETE FROM audit WHERE seq = 20`)
		}, 20, "entries 20 to 20 were removed"},
		{"all rows deleted", func(t *testing.T, path string, _ *Log) {
			sqlExec(t, path, `DELETE FROM audit`)
		}, 1, "removed from the end"},
		{"end rewritten", func(t *testing.T, path string, l *Log) {
			sqlExec(t, path, `DELETE FROM audit WHERE seq > 15`)
			// Re-append five entries with a valid chain, as someone with the
			// database but not the key could, bypassing the checkpoint.
			keep := l.anchor
			l.anchor = nil
			defer func() { l.anchor = keep }()
			for range 5 {
				if _, err := l.Append(context.Background(), "mallory", Hold, "H1", nil); err != nil {
					t.Fatal(err)
				}
			}
		}, 20, "hash differs"},
		{"checkpoint removed", func(t *testing.T, path string, _ *Log) {
			_, head := anchorPaths(path)
			if err := os.Remove(head); err != nil {
				t.Fatal(err)
			}
		}, 20, "missing"},
		{"checkpoint edited", func(t *testing.T, path string, _ *Log) {
			_, head := anchorPaths(path)
			b, _ := os.ReadFile(head)
			b = []byte(strings.Replace(string(b), " 20 ", " 15 ", 1))
			os.WriteFile(head, b, 0o600)
			sqlExec(t, path, `DELETE FROM audit WHERE seq > 15`)
		}, 15, "signature does not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "audit.db")
			l := openLog(t, path)
			fill(t, l, 20)
			key, head := anchorPaths(path)
			for _, p := range []string{key, head} {
				if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("%s: %v (want mode 0600)", p, err)
				}
			}
			tc.tamper(t, path, l)
			// A fresh handle, as `audit verify` or a restart would open it.
			l2 := openLog(t, path)
			b, err := l2.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.seq == 0 {
				if b != nil {
					t.Fatalf("intact log reported broken: %v", b)
				}
				return
			}
			if b == nil {
				t.Fatal("not detected")
			}
			if b.Seq != tc.seq || !strings.Contains(b.Reason, tc.reason) {
				t.Fatalf("break at %d (%s), want %d (%s)", b.Seq, b.Reason, tc.seq, tc.reason)
			}
		})
	}
}

// A log written before checkpoints existed gets its key and an
// audit-anchor entry at the next Open; from then on a cut end is found.
func TestAnchorUpgrade(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	l := openLog(t, path)
	fill(t, l, 5)
	l.Close()
	key, head := anchorPaths(path)
	os.Remove(key)
	os.Remove(head)
	l2 := openLog(t, path)
	es, _, err := l2.List(ctx, Filter{Limit: 1})
	if err != nil || len(es) != 1 || es[0].Action != AnchorStart || es[0].Seq != 6 || string(es[0].Details) != `{"anchored_after":5}` {
		t.Fatalf("anchor entry: %+v %v", es, err)
	}
	if b, err := l2.Verify(ctx); b != nil || err != nil {
		t.Fatalf("after upgrade: %v %v", b, err)
	}
	if cp, err := l2.Checkpoint(); err != nil || cp.Seq != 6 || cp.Hash != es[0].Hash {
		t.Fatalf("checkpoint %+v %v", cp, err)
	}
	// A key readable by others is refused: the log does not open.
	l2.Close()
	os.Chmod(key, 0o644)
	if _, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "permissions") {
		t.Fatalf("open with a readable key: %v", err)
	}
}

func sqlExec(t *testing.T, path, q string) {
	t.Helper()
	if _, err := rawDB(t, path).Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func rawQuery(t *testing.T, l *Log, q string, dst ...any) {
	t.Helper()
	if err := l.db.QueryRow(q).Scan(dst...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func BenchmarkAppend(b *testing.B) {
	l, err := Open(context.Background(), filepath.Join(b.TempDir(), "audit.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for b.Loop() {
		if _, err := l.Append(context.Background(), "bench", Hold, "H1", map[string]string{"k": "v"}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAnchorKeepsEvidence: after entries were cut off the end, further
// appends do not sign over the cut (the checkpoint stays); Reanchor, with
// a reason, records the break and anchors anew, after which a new cut is
// found again. A checkpoint whose key is gone stops Open.
func TestAnchorKeepsEvidence(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	l := openLog(t, path)
	fill(t, l, 10)
	sqlExec(t, path, `DELETE FROM audit WHERE seq > 7`)
	fill(t, l, 5) // seq 8 to 12 again, after the cut
	b, err := l.Verify(ctx)
	if err != nil || b == nil || b.Seq != 10 || !strings.Contains(b.Reason, "hash differs") {
		t.Fatalf("after appends over the cut: %v %v", b, err)
	}
	if _, _, err := l.Reanchor(ctx, "admin", ""); err == nil {
		t.Fatal("reanchor without a reason accepted")
	}
	e, brk, err := l.Reanchor(ctx, "admin", "バックアップから復元できなかった区間を確認済み")
	if err != nil || brk == nil || brk.Seq != 10 || e.Action != AnchorStart || !strings.Contains(string(e.Details), `"break_seq":10`) {
		t.Fatalf("reanchor: %+v %v %v", e, brk, err)
	}
	if b, err := l.Verify(ctx); b != nil || err != nil {
		t.Fatalf("after reanchor: %v %v", b, err)
	}
	if _, brk, err := l.Reanchor(ctx, "admin", "again"); brk != nil || err != nil {
		t.Fatalf("reanchor of an intact log: %v %v", brk, err)
	}
	fill(t, l, 3)
	sqlExec(t, path, `DELETE FROM audit WHERE seq > 14`)
	if b, _ := l.Verify(ctx); b == nil || !strings.Contains(b.Reason, "removed from the end") {
		t.Fatalf("cut after reanchor: %v", b)
	}

	// The key removed, the checkpoint left: Open refuses to sign anew.
	l.Close()
	key, _ := anchorPaths(path)
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "key") || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("open without the key: %v", err)
	}
	if _, err := os.Stat(key); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a new key was made over the old checkpoint")
	}
}
