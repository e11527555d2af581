package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"dlpguard/internal/pgtest"
	"dlpguard/pgdb"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openPGNode opens the log in dsn as one node would: its own pool, its
// own data folder for the head checkpoint.
func openPGNode(t *testing.T, dsn string) *Log {
	t.Helper()
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	l, err := OpenPostgres(ctx, pool, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestPostgresConcurrentAppends: three nodes appending at once keep one
// chain without gaps; Verify runs against the database on every node and
// finds a changed row.
func TestPostgresConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	nodes := []*Log{openPGNode(t, dsn), openPGNode(t, dsn), openPGNode(t, dsn)}
	const each = 40
	var wg sync.WaitGroup
	for n, l := range nodes {
		for i := range each {
			wg.Go(func() {
				if _, err := l.Append(ctx, fmt.Sprintf("node%d", n), Release, fmt.Sprintf("h%d-%d", n, i), map[string]int{"i": i}); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	for n, l := range nodes {
		if b, err := l.Verify(ctx); b != nil || err != nil {
			t.Fatalf("node %d: verify: %v %v", n, b, err)
		}
	}
	seq, _, err := nodes[0].Head(ctx)
	if err != nil || seq != 3*each {
		t.Fatalf("head %d %v, want %d", seq, err, 3*each)
	}
	entries, total, err := nodes[1].List(ctx, Filter{Actor: "node2", Limit: 1000})
	if err != nil || total != each || len(entries) != each {
		t.Fatalf("node2's entries seen from node1: %d of %d, %v", len(entries), total, err)
	}
	pool, err := pgdb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `UPDATE audit SET actor = 'mallory' WHERE seq = 17`); err != nil {
		t.Fatal(err)
	}
	b, err := nodes[2].Verify(ctx)
	if err != nil || b == nil || b.Seq != 17 {
		t.Fatalf("changed entry: %v %v", b, err)
	}
}
