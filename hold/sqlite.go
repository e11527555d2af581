package hold

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"dlpguard/internal/keyfile"
	"dlpguard/sqlitedb"
)

// Options configure OpenSQLite. Only Dir is required.
type Options struct {
	// Dir is the data folder: hold.db, content/ and tmp/ live in it
	// (created 0700).
	Dir string
	// Key is the 32-byte master key. When nil, LoadKey(Dir/hold.key) is
	// used ($DLPGUARD_HOLD_KEY, or the key file, created on first run).
	Key []byte
	// HoldFor is how long a message stays held before it expires
	// (default 7 days).
	HoldFor time.Duration
	// Retention is how long the content of a decided message is kept
	// (default 30 days).
	Retention time.Duration
	Logger    *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// SQLite is the Store that keeps records in an SQLite database (pure Go,
// modernc.org/sqlite) and content as encrypted files in Dir/content.
//
// Content is a file, not a blob, so that a 25 MB message is streamed in
// 64 KiB segments both ways (SQLite blobs are written whole) and the
// database stays small; the record, committed after the file is durable,
// is the commit marker.
type SQLite struct {
	db        *sql.DB
	dir       string
	key       []byte
	holdFor   time.Duration
	retention time.Duration
	log       *slog.Logger
	now       func() time.Time
	mu        sync.Mutex // serialises this process's transitions
	lifecycle
}

var _ Store = (*SQLite)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS holds (
	id         TEXT PRIMARY KEY,
	status     TEXT NOT NULL,
	department TEXT NOT NULL DEFAULT '',
	level      TEXT NOT NULL DEFAULT '',
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	acted_at   INTEGER NOT NULL DEFAULT 0,
	purged_at  INTEGER NOT NULL DEFAULT 0,
	data       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS holds_status_created ON holds(status, created);
CREATE INDEX IF NOT EXISTS holds_created ON holds(created);
CREATE INDEX IF NOT EXISTS holds_department ON holds(department);
CREATE TABLE IF NOT EXISTS hold_rules (
	hold_id TEXT NOT NULL REFERENCES holds(id),
	rule_id TEXT NOT NULL,
	PRIMARY KEY (hold_id, rule_id)
);
CREATE INDEX IF NOT EXISTS hold_rules_rule ON hold_rules(rule_id);
`

// OpenSQLite opens (creating if needed) the hold store in opts.Dir. Files
// left by an interrupted Put (temp files, content without a record) older
// than ten minutes are removed.
func OpenSQLite(ctx context.Context, opts Options) (*SQLite, error) {
	if opts.Dir == "" {
		return nil, errors.New("hold: no data folder")
	}
	for _, d := range []string{opts.Dir, filepath.Join(opts.Dir, "content"), filepath.Join(opts.Dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("hold: %w", err)
		}
	}
	key := opts.Key
	if key == nil {
		var err error
		if key, err = LoadKey(filepath.Join(opts.Dir, "hold.key")); err != nil {
			return nil, err
		}
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("hold: key is %d bytes, want 32", len(key))
	}
	s := &SQLite{
		dir: opts.Dir, key: key,
		holdFor: opts.HoldFor, retention: opts.Retention,
		log: opts.Logger, now: opts.Now,
	}
	if s.holdFor <= 0 {
		s.holdFor = DefaultHoldFor
	}
	if s.retention <= 0 {
		s.retention = DefaultRetention
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	dbPath := filepath.Join(opts.Dir, "hold.db")
	// Transactions take the write lock at BEGIN (sqlitedb), so a
	// read-check-write transition is atomic across processes too.
	db, err := sqlitedb.Open(ctx, dbPath, schema)
	if err != nil {
		return nil, fmt.Errorf("hold: %w", err)
	}
	s.db = db
	s.lifecycle = lifecycle{transition: s.transition, sweep: s.sweep, now: s.now, log: s.log}
	if err := s.cleanup(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

func (s *SQLite) contentPath(id string) string {
	return filepath.Join(s.dir, "content", id+".msg")
}

// validID keeps IDs usable as file names.
func validID(id string) error {
	if id == "" || len(id) > 128 || id[0] == '.' {
		return fmt.Errorf("hold: invalid ID %q", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("hold: invalid ID %q", id)
		}
	}
	return nil
}

func (s *SQLite) cleanup(ctx context.Context) error {
	cutoff := s.now().Add(-10 * time.Minute)
	tmp := filepath.Join(s.dir, "tmp")
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("hold: %w", err)
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(tmp, e.Name()))
		}
	}
	cdir := filepath.Join(s.dir, "content")
	ents, err = os.ReadDir(cdir)
	if err != nil {
		return fmt.Errorf("hold: %w", err)
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".msg")
		if !ok {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM holds WHERE id = ?`, id).Scan(&n); err != nil {
			return fmt.Errorf("hold: cleanup: %w", err)
		}
		if n == 0 {
			s.log.Warn("hold: removing content without a record", "id", id)
			os.Remove(filepath.Join(cdir, e.Name()))
		}
	}
	return nil
}

// Put implements Store.
func (s *SQLite) Put(ctx context.Context, rec Record, content io.Reader) (Record, error) {
	if err := validID(rec.ID); err != nil {
		return Record{}, err
	}
	rec = newRecord(rec, s.now(), s.holdFor)

	size, sum, err := s.writeContent(ctx, rec.ID, content)
	if err != nil {
		return Record{}, fmt.Errorf("hold %s: %w", rec.ID, err)
	}
	rec.Size, rec.ContentSHA256 = size, sum

	err = s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM holds WHERE id = ?`, rec.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrExists
		}
		data, err := encodeRecord(s.key, rec)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO holds (id, status, department, level, created, expires, data) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			rec.ID, rec.Status, rec.Department, string(rec.Level), rec.Created.UnixNano(), rec.ExpiresAt.UnixNano(), data); err != nil {
			return err
		}
		for _, r := range ruleIDs(rec) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO hold_rules (hold_id, rule_id) VALUES (?, ?)`, rec.ID, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// writeContent linked the file, so it is this Put's (a record
		// without a file is possible: its content was purged).
		os.Remove(s.contentPath(rec.ID))
		return Record{}, fmt.Errorf("hold %s: %w", rec.ID, err)
	}
	s.log.Info("hold: stored", "id", rec.ID, "size", rec.Size, "level", rec.Level, "department", rec.Department)
	return rec, nil
}

// writeContent encrypts content into Dir/content/ID.msg: temp file, fsync,
// rename, fsync the folder.
func (s *SQLite) writeContent(ctx context.Context, id string, content io.Reader) (int64, string, error) {
	final := s.contentPath(id)
	if _, err := os.Stat(final); err == nil {
		return 0, "", ErrExists
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), id+".*.tmp")
	if err != nil {
		return 0, "", err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	n, sum, err := sealContent(ctx, f, s.key, id, content)
	if err != nil {
		return 0, "", err
	}
	if err := f.Sync(); err != nil {
		return 0, "", err
	}
	if err := f.Close(); err != nil {
		return 0, "", err
	}
	// Link, not rename: it fails if the name exists, so a second Put of
	// the same ID can never replace the first one's content.
	if err := os.Link(tmp, final); err != nil {
		if errors.Is(err, os.ErrExist) {
			return 0, "", ErrExists
		}
		return 0, "", err
	}
	ok = true
	os.Remove(tmp)
	if err := keyfile.SyncDir(filepath.Dir(final)); err != nil {
		return 0, "", err
	}
	return n, sum, nil
}

func (s *SQLite) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *SQLite) getRecord(ctx context.Context, q querier, id string) (Record, error) {
	var data string
	err := q.QueryRowContext(ctx, `SELECT data FROM holds WHERE id = ?`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, err
	}
	return decodeRecord(s.key, id, data)
}

func (s *SQLite) saveRecord(ctx context.Context, tx *sql.Tx, rec Record) error {
	data, err := encodeRecord(s.key, rec)
	if err != nil {
		return err
	}
	var acted, purged int64
	if !rec.ActedAt.IsZero() {
		acted = rec.ActedAt.UnixNano()
	}
	if !rec.PurgedAt.IsZero() {
		purged = rec.PurgedAt.UnixNano()
	}
	_, err = tx.ExecContext(ctx, `UPDATE holds SET status = ?, acted_at = ?, purged_at = ?, data = ? WHERE id = ?`,
		rec.Status, acted, purged, data, rec.ID)
	return err
}

// Get implements Store.
func (s *SQLite) Get(ctx context.Context, id string) (Record, error) {
	rec, err := s.getRecord(ctx, s.db, id)
	if err != nil {
		return Record{}, fmt.Errorf("hold %s: %w", id, err)
	}
	return rec, nil
}

// List implements Store.
func (s *SQLite) List(ctx context.Context, f Filter) (Page, error) {
	cond, args, limit, offset := listQuery(f)
	page := Page{Offset: offset, Limit: limit, Records: []Record{}}
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM holds"+cond, args...).Scan(&page.Total); err != nil {
		return Page{}, fmt.Errorf("hold: list: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT id, data FROM holds"+cond+" ORDER BY created DESC, id DESC LIMIT ? OFFSET ?",
		append(args, limit, offset)...)
	if err != nil {
		return Page{}, fmt.Errorf("hold: list: %w", err)
	}
	defer rows.Close()
	recs, err := decodeRows(s.key, rows)
	if err != nil {
		return Page{}, fmt.Errorf("hold: list: %w", err)
	}
	page.Records = append(page.Records, recs...)
	return page, nil
}

// Content implements Store.
func (s *SQLite) Content(ctx context.Context, id string) (io.ReadCloser, error) {
	rec, err := s.getRecord(ctx, s.db, id)
	if err != nil {
		return nil, fmt.Errorf("hold %s: %w", id, err)
	}
	if !rec.PurgedAt.IsZero() {
		return nil, fmt.Errorf("hold %s: %w", id, ErrPurged)
	}
	f, err := os.Open(s.contentPath(id))
	if err != nil {
		return nil, fmt.Errorf("hold %s: %w", id, err)
	}
	or, err := newOpenReader(f, s.key, id)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("hold %s: %w", id, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{or, f}, nil
}

// transition runs fn on the current record inside one write transaction
// and saves the result.
func (s *SQLite) transition(ctx context.Context, id string, fn func(*Record) error) (Record, error) {
	var out Record
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rec, err := s.getRecord(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := fn(&rec); err != nil {
			return err
		}
		rec.Updated = s.now().UTC()
		out = rec
		return s.saveRecord(ctx, tx, rec)
	})
	if err != nil {
		return Record{}, fmt.Errorf("hold %s: %w", id, err)
	}
	return out, nil
}

// sweep runs fn on every record q selects (id, data), in one write
// transaction, saves those fn changed and returns them. The write lock
// already makes each sweep run once at a time, so job is not needed.
func (s *SQLite) sweep(ctx context.Context, _ int64, q string, args []any, fn func(*Record) (bool, error)) ([]Record, error) {
	var out []Record
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		sel, err := decodeRows(s.key, rows)
		rows.Close()
		if err != nil {
			return err
		}
		out, err = applyEach(sel, fn, func(rec Record) error { return s.saveRecord(ctx, tx, rec) })
		return err
	})
	return out, err
}

// PurgeDue implements Store.
func (s *SQLite) PurgeDue(ctx context.Context, now time.Time) ([]Record, error) {
	out, err := s.sweep(ctx, jobPurge, `SELECT id, data FROM holds WHERE status IN (?, ?, ?) AND purged_at = 0 AND acted_at <= ? ORDER BY acted_at`,
		[]any{Released, Rejected, Expired, now.Add(-s.retention).UnixNano()},
		func(rec *Record) (bool, error) {
			// The file goes first: if the update is lost, the next run
			// marks it again; the reverse order could leave content on
			// disk that the records say is gone.
			if err := os.Remove(s.contentPath(rec.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return false, err
			}
			rec.PurgedAt, rec.Updated = now.UTC(), now.UTC()
			return true, nil
		})
	if err != nil {
		return nil, fmt.Errorf("hold: purge: %w", err)
	}
	if len(out) > 0 {
		if err := keyfile.SyncDir(filepath.Join(s.dir, "content")); err != nil {
			return out, fmt.Errorf("hold: purge: %w", err)
		}
	}
	for _, r := range out {
		s.log.Info("hold: content purged", "id", r.ID)
	}
	return out, nil
}
