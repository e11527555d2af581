package hold

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"dlpguard/internal/pgtest"
	"dlpguard/pgdb"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// backend is one Store implementation under the same tests: open gives
// a new handle (a restarted process, or another node) on the same
// storage each time it is called.
type backend struct {
	name string
	open func(t *testing.T, c *clock) Store
	// hasContent reports whether content of id is stored.
	hasContent func(t *testing.T, id string) bool
	// leftovers counts what a failed Put could have left behind.
	leftovers func(t *testing.T) int
	// dump is every byte the storage keeps (files, or pg_dump).
	dump func(t *testing.T) []byte
}

// eachBackend runs fn once per Store implementation: SQLite, and
// PostgreSQL on the cluster TestMain started (skipped without one,
// except in CI).
func eachBackend(t *testing.T, fn func(t *testing.T, b *backend)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		fn(t, &backend{
			name: "sqlite",
			open: func(t *testing.T, c *clock) Store { return openTest(t, dir, c) },
			hasContent: func(t *testing.T, id string) bool {
				_, err := os.Stat(filepath.Join(dir, "content", id+".msg"))
				return err == nil
			},
			leftovers: func(t *testing.T) int {
				a, _ := os.ReadDir(filepath.Join(dir, "tmp"))
				b, _ := os.ReadDir(filepath.Join(dir, "content"))
				return len(a) + len(b)
			},
			dump: func(t *testing.T) []byte {
				var all []byte
				err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					b, err := os.ReadFile(p)
					all = append(all, b...)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				return all
			},
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		key := make([]byte, 32)
		rand.Read(key)
		ctx := context.Background()
		admin, err := pgdb.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(admin.Close)
		count := func(t *testing.T, q string, args ...any) int {
			var n int
			if err := admin.QueryRow(ctx, q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		fn(t, &backend{
			name: "postgres",
			open: func(t *testing.T, c *clock) Store {
				s, _ := openPGStore(t, dsn, key, c) // its own pool: another node
				return s
			},
			hasContent: func(t *testing.T, id string) bool {
				return count(t, `SELECT count(*) FROM hold_content WHERE hold_id = $1`, id) > 0
			},
			leftovers: func(t *testing.T) int {
				return count(t, `SELECT (SELECT count(*) FROM hold_content) + (SELECT count(*) FROM holds)`)
			},
			dump: func(t *testing.T) []byte {
				b, err := pgtest.Get(t).Dump(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
		})
	})
}

// openPG opens a PostgreSQL store on a fresh database with key; it
// returns the store, its pool (for SQL the test runs) and the DSN.
func openPG(t *testing.T, key []byte, c *clock) (*Postgres, *pgxpool.Pool, string) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	s, pool := openPGStore(t, dsn, key, c)
	return s, pool, dsn
}

// openPGStore opens a PostgreSQL store with its own pool on dsn.
func openPGStore(t *testing.T, dsn string, key []byte, c *clock) (*Postgres, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := OpenPostgres(ctx, pool, Options{Key: key, Logger: quiet(), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return s, pool
}

// TestPostgresWrongKey: a node whose hold key does not open the records
// already in the database refuses to start.
func TestPostgresWrongKey(t *testing.T) {
	ctx := context.Background()
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	s, pool, _ := openPG(t, k1, newClock())
	if _, err := s.Put(ctx, sample("k1", "", "I", "r"), bytes.NewReader(content(10))); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPostgres(ctx, pool, Options{Key: k2, Logger: quiet()}); err == nil {
		t.Fatal("a node with another key started")
	}
	if _, err := OpenPostgres(ctx, pool, Options{Key: k1, Logger: quiet()}); err != nil {
		t.Fatalf("same key refused: %v", err)
	}
}

// TestPostgresTampered: content spanning several rows reads back whole;
// a changed, cut, dropped or moved row, and a record moved to another ID,
// fail authentication.
func TestPostgresTampered(t *testing.T) {
	ctx := context.Background()
	s, pool, _ := openPG(t, bytes.Repeat([]byte{3}, 32), newClock())
	data := content(2*chunkSize + 12345) // three rows
	for _, id := range []string{"whole", "flip", "cut", "droplast", "moved", "other", "rec"} {
		if _, err := s.Put(ctx, sample(id, "", "I", "r"), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM hold_content WHERE hold_id = 'whole'`).Scan(&rows); err != nil || rows != 3 {
		t.Fatalf("content in %d rows, want 3 (%v)", rows, err)
	}
	if got, err := readAll(t, s, "whole"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("multi-row content: %d bytes, %v", len(got), err)
	}
	for _, q := range []string{
		`UPDATE hold_content SET chunk = overlay(chunk placing '\x00'::bytea from 70000 for 1) WHERE hold_id = 'flip' AND seq = 1`,
		`UPDATE hold_content SET chunk = substring(chunk from 1 for length(chunk) - 7) WHERE hold_id = 'cut' AND seq = 2`,
		`DELETE FROM hold_content WHERE hold_id = 'droplast' AND seq = 2`,
		`UPDATE hold_content c SET chunk = o.chunk FROM hold_content o WHERE c.hold_id = 'moved' AND o.hold_id = 'other' AND c.seq = o.seq`,
		`UPDATE holds SET data = (SELECT data FROM holds WHERE id = 'other') WHERE id = 'rec'`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, id := range []string{"flip", "cut", "droplast", "moved"} {
		if _, err := readAll(t, s, id); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: %v, want ErrTampered", id, err)
		}
	}
	if _, err := s.Get(ctx, "rec"); !errors.Is(err, ErrTampered) {
		t.Errorf("moved record: %v", err)
	}
}

// TestSweepsOnceAcrossNodes: two nodes running the periodic jobs at the
// same moment expire, remind and purge each record once between them, so
// each sender and approver is told once.
func TestSweepsOnceAcrossNodes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		c := newClock()
		nodes := []Store{b.open(t, c), b.open(t, c)}
		defer nodes[0].Close()
		defer nodes[1].Close()
		const n = 20
		for i := range n {
			if _, err := nodes[i%2].Put(ctx, sample(fmt.Sprintf("s%02d", i), "", "I", "r"), bytes.NewReader(content(100))); err != nil {
				t.Fatal(err)
			}
		}
		run := func(job func(Store) ([]Record, error)) int {
			var wg sync.WaitGroup
			counts := make([]int, len(nodes))
			for i, s := range nodes {
				wg.Go(func() {
					out, err := job(s)
					if err != nil {
						t.Error(err)
					}
					counts[i] = len(out)
				})
			}
			wg.Wait()
			return counts[0] + counts[1]
		}
		at := c.now()
		if got := run(func(s Store) ([]Record, error) { return s.RemindDue(ctx, at.Add(DefaultHoldFor), at) }); got != n {
			t.Fatalf("reminded %d, want %d", got, n)
		}
		if got := run(func(s Store) ([]Record, error) { return s.ExpireDue(ctx, at.Add(DefaultHoldFor)) }); got != n {
			t.Fatalf("expired %d, want %d", got, n)
		}
		if got := run(func(s Store) ([]Record, error) { return s.PurgeDue(ctx, at.Add(DefaultHoldFor+DefaultRetention)) }); got != n {
			t.Fatalf("purged %d, want %d", got, n)
		}
	})
}

// TestPostgresSweepLease: while a node holds a job's lease the others
// skip that job; when the node holding it dies (its connection closes)
// the next sweep on another node does the work.
func TestPostgresSweepLease(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s, _, dsn := openPG(t, bytes.Repeat([]byte{4}, 32), c)
	for i := range 3 {
		if _, err := s.Put(ctx, sample(fmt.Sprintf("l%d", i), "", "I", "r"), bytes.NewReader(content(10))); err != nil {
			t.Fatal(err)
		}
	}
	// A node in the middle of the expiry job: its transaction holds the lease.
	other, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, jobExpire); err != nil {
		t.Fatal(err)
	}
	due := c.now().Add(DefaultHoldFor)
	if got, err := s.ExpireDue(ctx, due); err != nil || len(got) != 0 {
		t.Fatalf("expired %d while another node holds the lease (%v)", len(got), err)
	}
	if got, err := s.RemindDue(ctx, due, c.now()); err != nil || len(got) != 3 {
		t.Fatalf("another job is not held up: reminded %d (%v)", len(got), err)
	}
	other.Close(ctx) // the node dies: its connection and lease are gone
	// The server ends the dead node's session as it notices the closed
	// socket; until then the job is still leased.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := s.ExpireDue(ctx, due)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 3 {
			break
		}
		if len(got) != 0 || time.Now().After(deadline) {
			t.Fatalf("expired %d after the lease holder died, want 3", len(got))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
