package pgdb

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"dlpguard/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	pool, err := Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	v1 := []string{`CREATE TABLE a (id TEXT PRIMARY KEY)`}
	v2 := append(v1, `ALTER TABLE a ADD COLUMN n INTEGER NOT NULL DEFAULT 0`)
	// Nodes starting at once: each step is applied once.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- Migrate(ctx, pool, "test", v1) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := Migrate(ctx, pool, "test", v2); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO a (id, n) VALUES ('x', 1)`); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, pool, "test", v1); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("older binary on a newer schema: %v", err)
	}
	if err := Migrate(ctx, pool, "other", v1[:0]); err != nil {
		t.Fatalf("component without steps: %v", err)
	}
	var v int
	if err := pool.QueryRow(ctx, `SELECT version FROM schema_versions WHERE component = 'test'`).Scan(&v); err != nil || v != 2 {
		t.Fatalf("version %d %v", v, err)
	}
	// A failing step leaves the version where it was.
	if err := Migrate(ctx, pool, "test", append(v2, `CREATE TABLE a (id TEXT)`)); err == nil {
		t.Fatal("failing step accepted")
	}
	if err := pool.QueryRow(ctx, `SELECT version FROM schema_versions WHERE component = 'test'`).Scan(&v); err != nil || v != 2 {
		t.Fatalf("version after a failed step %d %v", v, err)
	}
}

// The DSN's password never appears in an error.
func TestOpenHidesPassword(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{
		"postgres://u:s3cretpw@127.0.0.1:1/db?connect_timeout=1",
		"postgres://u:s3cretpw@127.0.0.1:1/db?sslmode=bogus",
		"host=127.0.0.1 port=1 password=s3cretpw connect_timeout=1",
	} {
		_, err := Open(ctx, dsn)
		if err == nil {
			t.Fatalf("%q: opened", dsn)
		}
		if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}
