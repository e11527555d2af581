package hold

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"dlpguard/pgdb"
)

// Postgres is the Store that several relay nodes share: records and
// content in one PostgreSQL database. Content is sealed with the hold key
// before it is sent (clause 3.3.4: the database never sees plaintext) and
// kept as rows of chunkSize bytes, so a 25 MB message is streamed both
// ways. Every node must use the same hold key.
//
// A transition locks the record's row (SELECT … FOR UPDATE) for its
// read-check-write, so two officers pressing release on two nodes at the
// same moment release once; the other gets ErrInvalidTransition.
type Postgres struct {
	pool      *pgxpool.Pool
	key       []byte
	holdFor   time.Duration
	retention time.Duration
	log       *slog.Logger
	now       func() time.Time
	lifecycle
}

var _ Store = (*Postgres)(nil)

// chunkSize is the size of one row of sealed content.
const chunkSize = 1 << 20

// pgMigrations is the hold store's schema, one step per change, never
// edited once released (pgdb.Migrate). Times are Unix nanoseconds as in
// the SQLite store, so that storage migrate copies rows as they are.
var pgMigrations = []string{
	`CREATE TABLE holds (
		id         TEXT PRIMARY KEY,
		status     TEXT NOT NULL,
		department TEXT NOT NULL DEFAULT '',
		level      TEXT NOT NULL DEFAULT '',
		created    BIGINT NOT NULL,
		expires    BIGINT NOT NULL,
		acted_at   BIGINT NOT NULL DEFAULT 0,
		purged_at  BIGINT NOT NULL DEFAULT 0,
		data       TEXT NOT NULL
	);
	CREATE INDEX holds_status_created ON holds(status, created);
	CREATE INDEX holds_created ON holds(created);
	CREATE INDEX holds_department ON holds(department);
	CREATE TABLE hold_rules (
		hold_id TEXT NOT NULL REFERENCES holds(id),
		rule_id TEXT NOT NULL,
		PRIMARY KEY (hold_id, rule_id)
	);
	CREATE INDEX hold_rules_rule ON hold_rules(rule_id);
	CREATE TABLE hold_content (
		hold_id TEXT NOT NULL,
		seq     INTEGER NOT NULL,
		chunk   BYTEA NOT NULL,
		PRIMARY KEY (hold_id, seq)
	);`,
}

// OpenPostgres opens the hold store in the database of pool (which the
// caller owns and closes), applying the schema's migrations. Without
// opts.Key the key is LoadKey(opts.Dir/hold.key), as for SQLite. It
// refuses a key that does not open the records already there: a node
// with another key would hold messages no other node can release.
func OpenPostgres(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Postgres, error) {
	key := opts.Key
	if key == nil {
		if opts.Dir == "" {
			return nil, errors.New("hold: no key and no data folder to find it in")
		}
		if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("hold: %w", err)
		}
		var err error
		if key, err = LoadKey(filepath.Join(opts.Dir, "hold.key")); err != nil {
			return nil, err
		}
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("hold: key is %d bytes, want 32", len(key))
	}
	if err := pgdb.Migrate(ctx, pool, "hold", pgMigrations); err != nil {
		return nil, fmt.Errorf("hold: %w", err)
	}
	s := &Postgres{pool: pool, key: key, holdFor: opts.HoldFor, retention: opts.Retention, log: opts.Logger, now: opts.Now}
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
	s.lifecycle = lifecycle{transition: s.transition, sweep: s.sweep, now: s.now, log: s.log}
	var id, data string
	err := pool.QueryRow(ctx, `SELECT id, data FROM holds ORDER BY created DESC, id DESC LIMIT 1`).Scan(&id, &data)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("hold: %w", err)
	default:
		if _, err := decodeRecord(key, id, data); err != nil {
			return nil, fmt.Errorf("hold: this node's hold key does not open the records in the database (every node needs the same key): %w", err)
		}
	}
	return s, nil
}

// Close implements Store; the pool is the caller's.
func (s *Postgres) Close() error { return nil }

// Pool is the shared database, for the stores that live beside the
// holds (the review service's tokens).
func (s *Postgres) Pool() *pgxpool.Pool { return s.pool }

// Ping reports whether the database answers (readiness).
func (s *Postgres) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Put implements Store: content and record in one transaction, so a
// record is never without its content nor content without its record.
func (s *Postgres) Put(ctx context.Context, rec Record, content io.Reader) (Record, error) {
	if err := validID(rec.ID); err != nil {
		return Record{}, err
	}
	rec = newRecord(rec, s.now(), s.holdFor)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cw := pgdb.NewChunkWriter(ctx, tx, insertChunk, rec.ID, chunkSize)
		size, sum, err := sealContent(ctx, cw, s.key, rec.ID, content)
		if err != nil {
			return err
		}
		if err := cw.Flush(); err != nil {
			return err
		}
		rec.Size, rec.ContentSHA256 = size, sum
		data, err := encodeRecord(s.key, rec)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx,
			`INSERT INTO holds (id, status, department, level, created, expires, data) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			rec.ID, string(rec.Status), rec.Department, string(rec.Level), rec.Created.UnixNano(), rec.ExpiresAt.UnixNano(), data); err != nil {
			return err
		}
		for _, r := range ruleIDs(rec) {
			if _, err := tx.Exec(ctx, `INSERT INTO hold_rules (hold_id, rule_id) VALUES ($1, $2)`, rec.ID, r); err != nil {
				return err
			}
		}
		return nil
	})
	if pgdb.IsUniqueViolation(err) {
		err = ErrExists
	}
	if err != nil {
		return Record{}, fmt.Errorf("hold %s: %w", rec.ID, err)
	}
	s.log.Info("hold: stored", "id", rec.ID, "size", rec.Size, "level", rec.Level, "department", rec.Department)
	return rec, nil
}

// Content rows: pgdb.ChunkWriter and ChunkReader on hold_content.
const (
	insertChunk = `INSERT INTO hold_content (hold_id, seq, chunk) VALUES ($1, $2, $3)`
	selectChunk = `SELECT chunk FROM hold_content WHERE hold_id = $1 AND seq = $2`
)

func (s *Postgres) getRecord(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, id string, lock bool) (Record, error) {
	sql := `SELECT data FROM holds WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	var data string
	err := q.QueryRow(ctx, sql, id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, err
	}
	return decodeRecord(s.key, id, data)
}

func (s *Postgres) saveRecord(ctx context.Context, tx pgx.Tx, rec Record) error {
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
		// Purged (retention): the content goes in the same transaction.
		if _, err := tx.Exec(ctx, `DELETE FROM hold_content WHERE hold_id = $1`, rec.ID); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `UPDATE holds SET status = $1, acted_at = $2, purged_at = $3, data = $4 WHERE id = $5`,
		string(rec.Status), acted, purged, data, rec.ID)
	return err
}

// Get implements Store.
func (s *Postgres) Get(ctx context.Context, id string) (Record, error) {
	rec, err := s.getRecord(ctx, s.pool, id, false)
	if err != nil {
		return Record{}, fmt.Errorf("hold %s: %w", id, err)
	}
	return rec, nil
}

// List implements Store.
func (s *Postgres) List(ctx context.Context, f Filter) (Page, error) {
	// PostgreSQL text cannot hold a NUL, so no record has one: a value
	// with a NUL matches nothing (the review scope uses "\x00none" for
	// "no department"), and is not sent.
	depts := slices.DeleteFunc(slices.Clone(f.Departments), func(d string) bool { return strings.ContainsRune(d, 0) })
	nothing := len(f.Departments) > 0 && len(depts) == 0 || strings.ContainsRune(f.Rule, 0) || strings.ContainsRune(string(f.Level), 0)
	f.Departments = depts
	cond, args, limit, offset := listQuery(f)
	page := Page{Offset: offset, Limit: limit, Records: []Record{}}
	if nothing {
		return page, nil
	}
	if err := s.pool.QueryRow(ctx, pgdb.Rebind("SELECT count(*) FROM holds"+cond), args...).Scan(&page.Total); err != nil {
		return Page{}, fmt.Errorf("hold: list: %w", err)
	}
	rows, err := s.pool.Query(ctx, pgdb.Rebind("SELECT id, data FROM holds"+cond+" ORDER BY created DESC, id DESC LIMIT ? OFFSET ?"),
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
func (s *Postgres) Content(ctx context.Context, id string) (io.ReadCloser, error) {
	rec, err := s.getRecord(ctx, s.pool, id, false)
	if err != nil {
		return nil, fmt.Errorf("hold %s: %w", id, err)
	}
	if !rec.PurgedAt.IsZero() {
		return nil, fmt.Errorf("hold %s: %w", id, ErrPurged)
	}
	or, err := newOpenReader(pgdb.NewChunkReader(ctx, s.pool, selectChunk, id), s.key, id)
	if err != nil {
		return nil, fmt.Errorf("hold %s: %w", id, err)
	}
	return io.NopCloser(or), nil
}

// transition runs fn on the record with its row locked until commit, so
// that transitions on any node run one after the other (3.3.5: a release
// is carried out once).
func (s *Postgres) transition(ctx context.Context, id string, fn func(*Record) error) (Record, error) {
	var out Record
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rec, err := s.getRecord(ctx, tx, id, true)
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

// Sweep jobs: each is run by one node at a time (an advisory lock held for
// the sweep's transaction: a lease that ends with the transaction, also
// when the node holding it dies).
const (
	jobExpire int64 = 0x646c7001 + iota
	jobRemind
	jobPurge
)

// sweep runs fn on every record q selects, their rows locked. The job's
// lease makes a second node that sweeps at the same moment skip (the
// first does the work); the row locks and fn's own checks keep each
// record handled once even without it.
func (s *Postgres) sweep(ctx context.Context, job int64, q string, args []any, fn func(*Record) (bool, error)) ([]Record, error) {
	q = pgdb.Rebind(q)
	var out []Record
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		out = nil
		var lease bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, job).Scan(&lease); err != nil {
			return err
		}
		if !lease {
			return nil // another node is running this job now
		}
		rows, err := tx.Query(ctx, q+" FOR UPDATE", args...)
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
func (s *Postgres) PurgeDue(ctx context.Context, now time.Time) ([]Record, error) {
	out, err := s.sweep(ctx, jobPurge, `SELECT id, data FROM holds WHERE status IN (?, ?, ?) AND purged_at = 0 AND acted_at <= ? ORDER BY acted_at`,
		[]any{string(Released), string(Rejected), string(Expired), now.Add(-s.retention).UnixNano()},
		func(rec *Record) (bool, error) {
			if !rec.PurgedAt.IsZero() {
				return false, nil
			}
			rec.PurgedAt, rec.Updated = now.UTC(), now.UTC()
			return true, nil // saveRecord deletes the content
		})
	if err != nil {
		return nil, fmt.Errorf("hold: purge: %w", err)
	}
	for _, r := range out {
		s.log.Info("hold: content purged", "id", r.ID)
	}
	return out, nil
}
