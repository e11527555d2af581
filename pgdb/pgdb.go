// Package pgdb opens the shared PostgreSQL database that several relay
// nodes use (the counterpart of sqlitedb for one node): a pgx connection
// pool, and versioned schema migrations applied at start.
//
// Each component (hold store, audit log, review) keeps its own ordered
// list of migrations; schema_versions records how many of each were
// applied. Migrations run in one transaction under an advisory lock, so
// nodes starting at once apply each step once. A database whose schema is
// newer than this binary knows is refused (ErrNewerSchema): an old node
// must not write records a newer one no longer reads.
//
// The DSN carries the password: it is never logged nor put into errors.
package pgdb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNewerSchema: the database was migrated by a newer dlpguard.
var ErrNewerSchema = errors.New("pgdb: the database schema is newer than this dlpguard")

// migrateLock is the advisory lock key that serialises migrations
// across nodes (an arbitrary constant: "dlpg" in ASCII).
const migrateLock = 0x646c7067

// Open connects a pool to the database of dsn and checks that it answers.
func Open(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can quote the DSN, password included.
		return nil, errors.New("postgres: the DSN does not parse (not shown: it may hold a password)")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %w", Where(cfg.ConnConfig), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres %s: %w", Where(cfg.ConnConfig), err)
	}
	return pool, nil
}

// Where names a database for messages without its password.
func Where(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// Migrate brings component's schema to len(steps): it applies the steps
// the database has not seen yet, in order, in one transaction. Steps are
// never edited once released; a change is a new step at the end.
func Migrate(ctx context.Context, pool *pgxpool.Pool, component string, steps []string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
		return fmt.Errorf("migrate %s: lock: %w", component, err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_versions (
		component  TEXT PRIMARY KEY,
		version    INTEGER NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	var have int
	err = tx.QueryRow(ctx, `SELECT version FROM schema_versions WHERE component = $1`, component).Scan(&have)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	if have > len(steps) {
		return fmt.Errorf("%s: version %d, this dlpguard knows %d: %w", component, have, len(steps), ErrNewerSchema)
	}
	if have == len(steps) {
		return nil
	}
	for i := have; i < len(steps); i++ {
		if _, err := tx.Exec(ctx, steps[i]); err != nil {
			return fmt.Errorf("migrate %s: step %d: %w", component, i+1, err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_versions (component, version) VALUES ($1, $2)
		ON CONFLICT (component) DO UPDATE SET version = excluded.version, applied_at = now()`, component, len(steps)); err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	return nil
}

// Rebind turns SQLite's ? placeholders into PostgreSQL's $1, $2, … so that
// a store keeps one text per statement for both (none of its statements
// may have a ? inside a literal).
func Rebind(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// IsUniqueViolation reports whether err is PostgreSQL's unique_violation
// (SQLSTATE 23505): a second insert of the same key.
func IsUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
