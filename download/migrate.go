package download

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

// CopyToPostgres copies the link store in dir (a node's
// data_dir/download) into the empty download tables of pool's database
// (storage migrate), in one transaction: the link records as they are and
// the sealed files byte for byte (no key needed: the content stays
// sealed, 3.3.4). It returns the number of links and the IDs of the files
// copied, for the caller to open with the hold key. A node that never
// released by link (no links.db) has nothing to copy.
func CopyToPostgres(ctx context.Context, dir string, pool *pgxpool.Pool) (links int, files []string, err error) {
	if _, err := os.Stat(filepath.Join(dir, "links.db")); errors.Is(err, os.ErrNotExist) {
		return 0, nil, nil
	}
	src, err := sqlitedb.Open(ctx, filepath.Join(dir, "links.db"), schema)
	if err != nil {
		return 0, nil, fmt.Errorf("download: copy: %w", err)
	}
	defer src.Close()
	if err := pgdb.Migrate(ctx, pool, "download", pgMigrations); err != nil {
		return 0, nil, fmt.Errorf("download: copy: %w", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var have int
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM download_links) + (SELECT count(*) FROM download_files)`).Scan(&have); err != nil {
			return err
		}
		if have > 0 {
			return errors.New("the database already has download links: copy into an empty one")
		}
		rows, err := src.QueryContext(ctx, `SELECT token_hash, hold_id, expires, data FROM links`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var tok, holdID, data string
			var exp int64
			if err := rows.Scan(&tok, &holdID, &exp, &data); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO download_links (token_hash, hold_id, expires, data) VALUES ($1, $2, $3, $4)`,
				tok, holdID, exp, data); err != nil {
				return fmt.Errorf("link of %s: %w", holdID, err)
			}
			links++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		ents, err := os.ReadDir(filepath.Join(dir, "files"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		for _, e := range ents {
			id := e.Name()
			if checkFileID(id) != nil {
				continue // a temporary file of a write a crash cut off
			}
			if err := pgdb.CopyFile(ctx, tx, insertFileChunk, id, chunkSize, filepath.Join(dir, "files", id)); err != nil {
				return fmt.Errorf("file %s: %w", id, err)
			}
			files = append(files, id)
		}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("download: copy: %w", err)
	}
	return links, files, nil
}
