package download

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"dlpguard/hold"
	"dlpguard/mimemsg"
	"dlpguard/pgdb"
)

// Postgres is the Store that several relay nodes share (storage.driver
// postgres): links and sealed files in one PostgreSQL database, so that a
// recipient's link opens on whichever node the reverse proxy picks. Files
// are sealed with the hold store's key before they are sent (3.3.4: the
// database never sees plaintext) and kept as rows of chunkSize bytes, so
// a 25 MB attachment is streamed both ways. Update locks the link's row
// (SELECT … FOR UPDATE): a code tried on two nodes at once counts twice.
type Postgres struct {
	pool *pgxpool.Pool
	key  []byte
}

var (
	_ Store = (*Postgres)(nil)
	_ Store = (*SQLite)(nil)
)

// chunkSize is the size of one row of a sealed file.
const chunkSize = 1 << 20

// pgMigrations is the download store's schema, one step per change, never
// edited once released (pgdb.Migrate). Expiry in Unix seconds as in the
// SQLite store, so that storage migrate copies rows as they are.
var pgMigrations = []string{
	`CREATE TABLE download_links (
		token_hash TEXT PRIMARY KEY,
		hold_id    TEXT NOT NULL,
		expires    BIGINT NOT NULL,
		data       TEXT NOT NULL
	);
	CREATE INDEX download_links_hold ON download_links(hold_id);
	CREATE INDEX download_links_expires ON download_links(expires);
	CREATE TABLE download_files (
		file_id TEXT NOT NULL,
		seq     INTEGER NOT NULL,
		chunk   BYTEA NOT NULL,
		PRIMARY KEY (file_id, seq)
	);`,
}

const (
	insertFileChunk = `INSERT INTO download_files (file_id, seq, chunk) VALUES ($1, $2, $3)`
	selectFileChunk = `SELECT chunk FROM download_files WHERE file_id = $1 AND seq = $2`
)

// OpenPostgres opens the store in the database of pool (which the caller
// owns and closes), applying the schema's migrations; key is the hold
// store's.
func OpenPostgres(ctx context.Context, pool *pgxpool.Pool, key []byte) (*Postgres, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("download store: key is %d bytes, want 32", len(key))
	}
	if err := pgdb.Migrate(ctx, pool, "download", pgMigrations); err != nil {
		return nil, fmt.Errorf("download store: %w", err)
	}
	return &Postgres{pool: pool, key: key}, nil
}

// Close does nothing: the pool is the caller's.
func (s *Postgres) Close() error { return nil }

func checkFileID(id string) error {
	if len(id) != 32 || !isHex(id) {
		return fmt.Errorf("download store: bad file id %q", id)
	}
	return nil
}

// PutFile streams r, sealed, into rows of one transaction: the file is
// there whole or not at all.
func (s *Postgres) PutFile(ctx context.Context, id string, r io.Reader) error {
	if err := checkFileID(id); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cw := pgdb.NewChunkWriter(ctx, tx, insertFileChunk, id, chunkSize)
		sw, err := hold.SealContent(cw, s.key, sealID(id))
		if err != nil {
			return err
		}
		if _, err := io.Copy(sw, mimemsg.ContextReader(ctx, r)); err != nil {
			return err
		}
		if err := sw.Close(); err != nil {
			return err
		}
		return cw.Flush()
	})
	if err != nil {
		return fmt.Errorf("download file %s: %w", id, err)
	}
	return nil
}

// OpenFile opens a sealed file for streaming, a row at a time.
func (s *Postgres) OpenFile(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := checkFileID(id); err != nil {
		return nil, err
	}
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM download_files WHERE file_id = $1 AND seq = 0`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("download file %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("download file %s: %w", id, err)
	}
	r, err := hold.OpenContent(pgdb.NewChunkReader(ctx, s.pool, selectFileChunk, id), s.key, sealID(id))
	if err != nil {
		return nil, fmt.Errorf("download file %s: %w", id, err)
	}
	return io.NopCloser(r), nil
}

// DeleteFile removes a file's rows.
func (s *Postgres) DeleteFile(ctx context.Context, id string) error {
	if err := checkFileID(id); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM download_files WHERE file_id = $1`, id); err != nil {
		return fmt.Errorf("download file %s: %w", id, err)
	}
	return nil
}

// AddLinks inserts links in one transaction.
func (s *Postgres) AddLinks(ctx context.Context, links []Link) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, l := range links {
			data, err := json.Marshal(l)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO download_links (token_hash, hold_id, expires, data) VALUES ($1, $2, $3, $4)`,
				l.TokenHash, l.HoldID, l.Expires.Unix(), string(data)); err != nil {
				return fmt.Errorf("download store: link for %s: %w", l.HoldID, err)
			}
		}
		return nil
	})
}

type pgQuerier interface {
	QueryRow(ctx context.Context, q string, args ...any) pgx.Row
}

func pgLink(ctx context.Context, q pgQuerier, tokenHash string, lock bool) (Link, error) {
	sql := `SELECT data FROM download_links WHERE token_hash = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	var data string
	err := q.QueryRow(ctx, sql, tokenHash).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return Link{}, ErrNotFound
	}
	if err != nil {
		return Link{}, fmt.Errorf("download store: %w", err)
	}
	return decodeLink(data)
}

// Get returns the link with this token hash.
func (s *Postgres) Get(ctx context.Context, tokenHash string) (Link, error) {
	return pgLink(ctx, s.pool, tokenHash, false)
}

// Update changes one link under its row lock.
func (s *Postgres) Update(ctx context.Context, tokenHash string, fn func(*Link) error) (Link, error) {
	var out Link
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		l, err := pgLink(ctx, tx, tokenHash, true)
		if err != nil {
			return err
		}
		if err := fn(&l); err != nil {
			return err
		}
		data, err := json.Marshal(l)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE download_links SET data = $1, expires = $2 WHERE token_hash = $3`,
			string(data), l.Expires.Unix(), tokenHash); err != nil {
			return fmt.Errorf("download store: %w", err)
		}
		out = l
		return nil
	})
	return out, err
}

// links returns the links where (one argument), in a transaction q
// (their rows locked) or not (q nil).
func (s *Postgres) links(ctx context.Context, q pgx.Tx, where string, arg any) ([]Link, error) {
	var rows pgx.Rows
	var err error
	sql := `SELECT data FROM download_links WHERE ` + where + ` ORDER BY token_hash`
	if q != nil {
		rows, err = q.Query(ctx, sql+` FOR UPDATE`, arg)
	} else {
		rows, err = s.pool.Query(ctx, sql, arg)
	}
	if err != nil {
		return nil, fmt.Errorf("download store: %w", err)
	}
	defer rows.Close()
	return decodeLinks(rows)
}

// ForHold returns the links of a release.
func (s *Postgres) ForHold(ctx context.Context, holdID string) ([]Link, error) {
	return s.links(ctx, nil, `hold_id = $1`, holdID)
}

// DeleteHold deletes the links of holdID's release in one transaction.
func (s *Postgres) DeleteHold(ctx context.Context, holdID string) ([]Link, error) {
	var gone []Link
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if gone, err = s.links(ctx, tx, `hold_id = $1`, holdID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM download_links WHERE hold_id = $1`, holdID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("download store: delete links of %s: %w", holdID, err)
	}
	return gone, nil
}

// DeleteLinks deletes links by token hash.
func (s *Postgres) DeleteLinks(ctx context.Context, tokenHashes []string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM download_links WHERE token_hash = ANY($1)`, tokenHashes); err != nil {
		return fmt.Errorf("download store: %w", err)
	}
	return nil
}

// PurgeExpired deletes expired links and the files no remaining link of
// their release names, in one transaction (any node may run it).
func (s *Postgres) PurgeExpired(ctx context.Context, now time.Time) ([]Link, error) {
	var gone []Link
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if gone, err = s.links(ctx, tx, `expires <= $1`, now.Unix()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM download_links WHERE expires <= $1`, now.Unix()); err != nil {
			return err
		}
		for _, l := range gone {
			left, err := s.links(ctx, tx, `hold_id = $1`, l.HoldID)
			if err != nil {
				return err
			}
			if err := deleteUnused(l, left, func(id string) error {
				_, err := tx.Exec(ctx, `DELETE FROM download_files WHERE file_id = $1`, id)
				return err
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("download store: purge: %w", err)
	}
	return gone, nil
}

// deleteUnused deletes the files of l that no link of left names.
func deleteUnused(l Link, left []Link, del func(id string) error) error {
	used := map[string]bool{}
	for _, o := range left {
		for _, f := range o.Files {
			used[f.ID] = true
		}
	}
	for _, f := range l.Files {
		if !used[f.ID] {
			if err := del(f.ID); err != nil {
				return fmt.Errorf("purge %s: %w", f.ID, err)
			}
		}
	}
	return nil
}
