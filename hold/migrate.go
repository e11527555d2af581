package hold

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"dlpguard/pgdb"
	"dlpguard/sqlitedb"
)

// CopyToPostgres moves a node's SQLite hold store (the folder dir: hold.db
// and content/) into the database of pool, as it is: the sealed records
// and the sealed content are copied byte for byte (nothing is decrypted;
// the hold key stays the one in dir, which every node then needs). It
// runs in one transaction and refuses a database that already has holds.
// It returns the number of records copied.
func CopyToPostgres(ctx context.Context, dir string, pool *pgxpool.Pool) (int, error) {
	if _, err := os.Stat(filepath.Join(dir, "hold.db")); err != nil {
		return 0, fmt.Errorf("hold: copy: %w", err)
	}
	src, err := sqlitedb.Open(ctx, filepath.Join(dir, "hold.db"), schema)
	if err != nil {
		return 0, fmt.Errorf("hold: copy: %w", err)
	}
	defer src.Close()
	if err := pgdb.Migrate(ctx, pool, "hold", pgMigrations); err != nil {
		return 0, fmt.Errorf("hold: copy: %w", err)
	}
	n := 0
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var have int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM holds`).Scan(&have); err != nil {
			return err
		}
		if have > 0 {
			return fmt.Errorf("the database already has %d held messages: copy into an empty one", have)
		}
		rows, err := src.QueryContext(ctx, `SELECT id, status, department, level, created, expires, acted_at, purged_at, data FROM holds ORDER BY created`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, status, dept, level, data string
			var created, expires, acted, purged int64
			if err := rows.Scan(&id, &status, &dept, &level, &created, &expires, &acted, &purged, &data); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO holds (id, status, department, level, created, expires, acted_at, purged_at, data)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, id, status, dept, level, created, expires, acted, purged, data); err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
			if purged == 0 {
				if err := copyContent(ctx, tx, filepath.Join(dir, "content", id+".msg"), id); err != nil {
					return fmt.Errorf("%s: %w", id, err)
				}
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rules, err := src.QueryContext(ctx, `SELECT hold_id, rule_id FROM hold_rules`)
		if err != nil {
			return err
		}
		defer rules.Close()
		for rules.Next() {
			var h, r string
			if err := rules.Scan(&h, &r); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO hold_rules (hold_id, rule_id) VALUES ($1, $2)`, h, r); err != nil {
				return err
			}
		}
		return rules.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("hold: copy: %w", err)
	}
	return n, nil
}

// copyContent copies one sealed content file into rows as Put writes them.
func copyContent(ctx context.Context, tx pgx.Tx, path, id string) error {
	err := pgdb.CopyFile(ctx, tx, insertChunk, id, chunkSize, path)
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("content file missing (a held message must not be lost: restore it, or purge the record first)")
	}
	return err
}
