package download

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"dlpguard/internal/pgtest"
	"dlpguard/pgdb"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// backend is one Store implementation under the same tests.
type backend struct {
	name string
	// open returns a store on fresh storage, sealed with key.
	open func(tb testing.TB, key []byte) Store
	// tamper flips one byte in the middle of file id's sealed content,
	// as someone with access to the disk or the database could.
	tamper func(tb testing.TB, st Store, id string)
	// dump is every byte the storage keeps (files, or the file rows).
	dump func(tb testing.TB, st Store) []byte
}

var backends = []backend{
	{
		name: "sqlite",
		open: func(tb testing.TB, key []byte) Store {
			st, err := OpenSQLite(context.Background(), filepath.Join(tb.TempDir(), "download"), key)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { st.Close() })
			return st
		},
		tamper: func(tb testing.TB, st Store, id string) {
			path := filepath.Join(st.(*SQLite).dir, "files", id)
			b, err := os.ReadFile(path)
			if err != nil {
				tb.Fatal(err)
			}
			b[len(b)/2] ^= 1
			os.WriteFile(path, b, 0o600)
		},
		dump: func(tb testing.TB, st Store) []byte {
			var all []byte
			filepath.WalkDir(st.(*SQLite).dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					b, _ := os.ReadFile(p)
					all = append(all, b...)
				}
				return nil
			})
			return all
		},
	},
	{
		name: "postgres",
		open: func(tb testing.TB, key []byte) Store {
			ctx := context.Background()
			pool, err := pgdb.Open(ctx, pgtest.NewDatabase(tb))
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(pool.Close)
			st, err := OpenPostgres(ctx, pool, key)
			if err != nil {
				tb.Fatal(err)
			}
			return st
		},
		tamper: func(tb testing.TB, st Store, id string) {
			if _, err := st.(*Postgres).pool.Exec(context.Background(),
				`UPDATE download_files SET chunk = overlay(chunk placing decode(lpad(to_hex(get_byte(chunk, length(chunk)/2) # 1), 2, '0'), 'hex') from length(chunk)/2 + 1 for 1) WHERE file_id = $1 AND seq = 0`, id); err != nil {
				tb.Fatal(err)
			}
		},
		dump: func(tb testing.TB, st Store) []byte {
			rows, err := st.(*Postgres).pool.Query(context.Background(), `SELECT chunk FROM download_files UNION ALL SELECT convert_to(data, 'UTF8') FROM download_links`)
			if err != nil {
				tb.Fatal(err)
			}
			defer rows.Close()
			var all []byte
			for rows.Next() {
				var b []byte
				rows.Scan(&b)
				all = append(all, b...)
			}
			return all
		},
	},
}

// eachStore runs fn once per Store implementation: SQLite, and
// PostgreSQL on the package's cluster (skipped without one, except in
// CI).
func eachStore(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// TestStoreContract is the Store interface on each implementation: a
// file larger than a row streams back whole and is sealed (no plaintext
// in the storage), links are added all or none, updated, listed per
// release, deleted per release (a release that did not commit) or per
// attempt (one that lost to another node's), and
// purged after expiry with the files no remaining link names.
func TestStoreContract(t *testing.T) {
	eachStore(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		key := make([]byte, 32)
		rand.Read(key)
		st := b.open(t, key)
		content := bytes.Repeat([]byte("要支援者名簿 個人番号 1234 5678 9018\n"), 60000) // > 2 rows
		id, _ := NewFileID()
		if err := st.PutFile(ctx, id, bytes.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		r, err := st.OpenFile(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("file read back: %d bytes, %v", len(got), err)
		}
		if bytes.Contains(b.dump(t, st), []byte("要支援者名簿")) {
			t.Fatal("plaintext in the storage")
		}
		if _, err := st.OpenFile(ctx, "00000000000000000000000000000000"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown file: %v", err)
		}
		if err := st.PutFile(ctx, "../../etc/passwd", bytes.NewReader(nil)); err == nil {
			t.Fatal("bad file id accepted")
		}

		now := time.Now().UTC().Truncate(time.Second)
		f := File{ID: id, Name: "名簿.xlsx", Size: int64(len(content))}
		mk := func(tok, hold string, exp time.Time) Link {
			return Link{TokenHash: tok, HoldID: hold, Recipient: tok + "@example.org", Files: []File{f}, Created: now, Expires: exp}
		}
		if err := st.AddLinks(ctx, []Link{mk("t1", "H1", now.Add(time.Hour)), mk("t2", "H1", now.Add(time.Hour))}); err != nil {
			t.Fatal(err)
		}
		// All or none: a duplicate token fails the whole batch.
		if err := st.AddLinks(ctx, []Link{mk("t3", "H2", now.Add(time.Hour)), mk("t1", "H2", now.Add(time.Hour))}); err == nil {
			t.Fatal("duplicate token accepted")
		}
		if ls, _ := st.ForHold(ctx, "H2"); len(ls) != 0 {
			t.Fatalf("a failed batch left %d links", len(ls))
		}
		if _, err := st.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
		l, err := st.Update(ctx, "t1", func(l *Link) error { l.CodeTries++; l.RevokedBy = "x"; return nil })
		if err != nil || l.CodeTries != 1 {
			t.Fatalf("update: %+v %v", l, err)
		}
		if _, err := st.Update(ctx, "t1", func(l *Link) error { l.CodeTries = 99; return errors.New("no") }); err == nil {
			t.Fatal("update error not returned")
		}
		if l, _ := st.Get(ctx, "t1"); l.CodeTries != 1 || l.RevokedBy != "x" || !l.Expires.Equal(now.Add(time.Hour)) {
			t.Fatalf("stored after update: %+v", l)
		}
		if ls, err := st.ForHold(ctx, "H1"); err != nil || len(ls) != 2 {
			t.Fatalf("for hold: %d %v", len(ls), err)
		}

		// Delete per release.
		if err := st.AddLinks(ctx, []Link{mk("t4", "H3", now.Add(time.Hour))}); err != nil {
			t.Fatal(err)
		}
		gone, err := st.DeleteHold(ctx, "H3")
		if err != nil || len(gone) != 1 || gone[0].TokenHash != "t4" {
			t.Fatalf("delete hold: %+v %v", gone, err)
		}
		if _, err := st.Get(ctx, "t4"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted link: %v", err)
		}

		// Delete one attempt's links: the others of the release stay.
		if err := st.AddLinks(ctx, []Link{mk("t5", "H4", now.Add(time.Hour)), mk("t6", "H4", now.Add(time.Hour))}); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteLinks(ctx, []string{"t5"}); err != nil {
			t.Fatal(err)
		}
		if ls, err := st.ForHold(ctx, "H4"); err != nil || len(ls) != 1 || ls[0].TokenHash != "t6" {
			t.Fatalf("after DeleteLinks: %+v %v", ls, err)
		}

		// Purge: one of H1's links expires; the file stays for the other.
		if _, err := st.Update(ctx, "t1", func(l *Link) error { l.Expires = now.Add(-time.Minute); return nil }); err != nil {
			t.Fatal(err)
		}
		if gone, err := st.PurgeExpired(ctx, now); err != nil || len(gone) != 1 {
			t.Fatalf("purge: %d %v", len(gone), err)
		}
		if r, err := st.OpenFile(ctx, id); err != nil {
			t.Fatalf("file purged while a link names it: %v", err)
		} else {
			r.Close()
		}
		if _, err := st.Update(ctx, "t2", func(l *Link) error { l.Expires = now.Add(-time.Minute); return nil }); err != nil {
			t.Fatal(err)
		}
		if gone, err := st.PurgeExpired(ctx, now); err != nil || len(gone) != 1 {
			t.Fatalf("purge: %d %v", len(gone), err)
		}
		if _, err := st.OpenFile(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("file of purged links: %v", err)
		}
	})
}
