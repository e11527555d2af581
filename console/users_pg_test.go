package console

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"dlpguard/internal/pgtest"
	"dlpguard/pgdb"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// forEachUsers runs fn with the accounts in SQLite (one node) and in
// PostgreSQL (shared by nodes): one test, two stores.
func forEachUsers(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) { fn(t, kind) })
	}
}

func openTestUsers(t *testing.T, kind string) *Users {
	t.Helper()
	ctx := context.Background()
	if kind == "sqlite" {
		u, err := OpenUsers(ctx, filepath.Join(t.TempDir(), "console.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { u.Close() })
		return u
	}
	pool, err := pgdb.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	u, err := OpenUsersPostgres(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}
