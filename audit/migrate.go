package audit

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"dlpguard/pgdb"
	"dlpguard/sqlitedb"
)

// CopyToPostgres moves the audit log at path (SQLite) into the database
// of pool, every row as it is, so that the chain, its hashes and the
// node's signed head checkpoint (beside path) still verify. One
// transaction; a database whose log has entries is refused. It returns the
// number of entries copied.
func CopyToPostgres(ctx context.Context, path string, pool *pgxpool.Pool) (int, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("audit: copy: %w", err)
	}
	src, err := sqlitedb.Open(ctx, path, schema)
	if err != nil {
		return 0, fmt.Errorf("audit: copy: %w", err)
	}
	defer src.Close()
	if err := pgdb.Migrate(ctx, pool, "audit", pgMigrations); err != nil {
		return 0, fmt.Errorf("audit: copy: %w", err)
	}
	n := 0
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, appendLock); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM audit`).Scan(&have); err != nil {
			return err
		}
		if have > 0 {
			return fmt.Errorf("the database's audit log already has %d entries: copy into an empty one", have)
		}
		rows, err := src.QueryContext(ctx, "SELECT "+columns+" FROM audit ORDER BY seq")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq, t int64
			var actor, action, subject, details, prev, hash string
			if err := rows.Scan(&seq, &t, &actor, &action, &subject, &details, &prev, &hash); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO audit (`+columns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				seq, t, actor, action, subject, details, prev, hash); err != nil {
				return err
			}
			n++
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("audit: copy: %w", err)
	}
	return n, nil
}
