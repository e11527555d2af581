// Package audit is the append-only, hash-chained audit log of who did what
// to held messages, exceptions and the policy (clauses 3.3.5 and 8.4: every
// release, rejection and use of an exception is recorded).
//
// Each entry's hash is SHA-256 over a canonical encoding of the entry and
// the previous entry's hash, so changing, removing, inserting or reordering
// rows breaks the chain and Verify names the first broken entry. The log
// lives in its own SQLite file (audit.db), apart from the hold store, so
// that the hold store's retention purge never touches it and it can be
// copied or shipped on its own.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"dlpguard/sqlitedb"
)

// Actions. Others may be used; these are the ones dlpguard writes.
const (
	Hold          = "hold"
	Approve       = "approve"
	Release       = "release"
	Reject        = "reject"
	Expire        = "expire"
	Purge         = "purge"
	FalsePositive = "false-positive"
	ExceptionUse  = "exception-use"
	PolicyReload  = "policy-reload"
	KeyImport     = "key-import"
	KeyRemove     = "key-remove"
	Login         = "login"
)

// Entry is one audit log entry.
type Entry struct {
	Seq     int64           `json:"seq"` // 1, 2, 3… with no gaps
	Time    time.Time       `json:"time"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Subject string          `json:"subject,omitempty"` // e.g. a hold ID
	Details json.RawMessage `json:"details,omitempty"` // compact JSON object
	Prev    string          `json:"prev"`              // hash of entry Seq-1 (hex); "" for the first
	Hash    string          `json:"hash"`              // hex SHA-256
}

// Break is the first entry at which Verify found the chain broken.
type Break struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

func (b *Break) Error() string {
	return fmt.Sprintf("audit: chain broken at entry %d: %s", b.Seq, b.Reason)
}

// Filter selects entries for List. Zero fields do not filter.
type Filter struct {
	Actor   string
	Action  string
	Subject string
	Since   time.Time // Time ≥ Since
	Until   time.Time // Time < Until
	Limit   int       // default 100, at most 1000
	Offset  int
	// Oldest lists oldest first (stable pages while others append, for an
	// export); newest first otherwise.
	Oldest bool
}

// Log is the audit log.
type Log struct {
	db  *sql.DB
	own bool
	mu  sync.Mutex // one writer in this process; BEGIN IMMEDIATE across processes
	now func() time.Time
	// anchor is the signed head checkpoint (anchor.go); nil for a log
	// opened with New.
	anchor *anchor
	// pg: the log is in PostgreSQL (OpenPostgres), shared by nodes.
	pg bool
}

const schema = `
CREATE TABLE IF NOT EXISTS audit (
	seq     INTEGER PRIMARY KEY,
	time    INTEGER NOT NULL,
	actor   TEXT NOT NULL,
	action  TEXT NOT NULL,
	subject TEXT NOT NULL DEFAULT '',
	details TEXT NOT NULL DEFAULT '',
	prev    TEXT NOT NULL,
	hash    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_subject ON audit(subject);
CREATE INDEX IF NOT EXISTS audit_action ON audit(action);
`

// Open opens (creating if needed, mode 0600) the audit log at path, with
// its head checkpoint and checkpoint key beside it (audit.head, audit.key;
// see anchor.go).
func Open(ctx context.Context, path string) (*Log, error) {
	db, err := sqlitedb.Open(ctx, path, "")
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l, err := New(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("audit: %s: %w", path, err)
	}
	l.own = true
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			db.Close()
			return nil, fmt.Errorf("audit: %w", err)
		}
	}
	if err := l.openAnchor(ctx, path); err != nil {
		l.Close()
		return nil, fmt.Errorf("audit: %s: %w", path, err)
	}
	return l, nil
}

// New uses an open SQLite database (for example one shared with another
// store), creating the audit table if needed. The database should be
// opened with _txlock=immediate so that appends from several processes
// serialise; Close does not close it.
func New(ctx context.Context, db *sql.DB) (*Log, error) {
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, fmt.Errorf("audit: schema: %w", err)
	}
	return &Log{db: db, now: time.Now}, nil
}

// SetClock replaces the clock (tests).
func (l *Log) SetClock(now func() time.Time) { l.now = now }

// Close closes the database if Open opened it.
func (l *Log) Close() error {
	var err error
	if l.anchor != nil {
		err = l.anchor.close()
	}
	if l.own {
		if e := l.db.Close(); e != nil {
			err = e
		}
	}
	return err
}

// canonical is the byte string an entry's hash covers: a version tag and
// every field, each length-prefixed so no two entries encode alike.
func canonical(e *Entry) []byte {
	var b bytes.Buffer
	field := func(s string) {
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(s))))
		b.WriteString(s)
	}
	field("dlpguard-audit-v1")
	b.Write(binary.BigEndian.AppendUint64(nil, uint64(e.Seq)))
	b.Write(binary.BigEndian.AppendUint64(nil, uint64(e.Time.UnixNano())))
	field(e.Actor)
	field(e.Action)
	field(e.Subject)
	field(string(e.Details))
	field(e.Prev)
	return b.Bytes()
}

func hashOf(e *Entry) string {
	h := sha256.Sum256(canonical(e))
	return hex.EncodeToString(h[:])
}

// Append adds an entry and returns it with Seq, Time, Prev and Hash set.
// details may be nil or any value that marshals to JSON.
func (l *Log) Append(ctx context.Context, actor, action, subject string, details any) (Entry, error) {
	return l.append(ctx, actor, action, subject, details, false)
}

// append is Append; reanchor moves the checkpoint to the new entry even
// where it would stay (anchor.go: Reanchor and the first anchor).
func (l *Log) append(ctx context.Context, actor, action, subject string, details any, reanchor bool) (Entry, error) {
	if actor == "" || action == "" {
		return Entry{}, errors.New("audit: append: actor and action are required")
	}
	e := Entry{Actor: actor, Action: action, Subject: subject}
	if details != nil {
		raw, err := json.Marshal(details)
		if err != nil {
			return Entry{}, fmt.Errorf("audit: append %s %s: %w", action, subject, err)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, raw); err != nil {
			return Entry{}, fmt.Errorf("audit: append %s %s: %w", action, subject, err)
		}
		if c.String() != "null" {
			e.Details = c.Bytes()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.anchor != nil {
		unlock, err := l.anchor.lockFile()
		if err != nil {
			return Entry{}, fmt.Errorf("audit: append: %w", err)
		}
		defer unlock()
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: append: %w", err)
	}
	defer tx.Rollback()
	if l.pg {
		// Several nodes append to one chain: one append at a time, held
		// until this transaction ends (3.3.5: every decision recorded, in
		// one line).
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, appendLock); err != nil {
			return Entry{}, fmt.Errorf("audit: append: %w", err)
		}
	}
	var last sql.NullInt64
	var prev sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&last, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("audit: append: %w", err)
	}
	e.Seq = last.Int64 + 1
	e.Prev = prev.String
	// Stored with nanosecond precision as an integer, so the hash
	// recomputed from the row is the hash written.
	e.Time = time.Unix(0, l.now().UnixNano()).UTC()
	e.Hash = hashOf(&e)
	if _, err := tx.ExecContext(ctx,
		l.q(`INSERT INTO audit (seq, time, actor, action, subject, details, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		e.Seq, e.Time.UnixNano(), e.Actor, e.Action, e.Subject, string(e.Details), e.Prev, e.Hash); err != nil {
		return Entry{}, fmt.Errorf("audit: append: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Entry{}, fmt.Errorf("audit: append: %w", err)
	}
	if l.anchor != nil {
		// After the commit, under the file lock: a crash in between leaves
		// the checkpoint one entry behind, which still verifies. The entry
		// is written either way; the error says the anchor lags.
		if err := l.advance(ctx, e, reanchor); err != nil {
			return e, fmt.Errorf("audit: append %d: %w", e.Seq, err)
		}
	}
	return e, nil
}

type scanner interface{ Scan(...any) error }

func scanEntry(r scanner) (Entry, error) {
	var e Entry
	var t int64
	var details string
	if err := r.Scan(&e.Seq, &t, &e.Actor, &e.Action, &e.Subject, &details, &e.Prev, &e.Hash); err != nil {
		return Entry{}, err
	}
	e.Time = time.Unix(0, t).UTC()
	if details != "" {
		e.Details = json.RawMessage(details)
	}
	return e, nil
}

const columns = `seq, time, actor, action, subject, details, prev, hash`

// List returns entries matching f, newest first (or oldest first), and the
// number matching.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, int, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"actor", f.Actor}, {"action", f.Action}, {"subject", f.Subject}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where = append(where, "time < ?")
		args = append(args, f.Until.UnixNano())
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var total int
	if err := l.db.QueryRowContext(ctx, l.q("SELECT count(*) FROM audit"+cond), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("audit: list: %w", err)
	}
	order := " ORDER BY seq DESC"
	if f.Oldest {
		order = " ORDER BY seq"
	}
	rows, err := l.db.QueryContext(ctx, l.q("SELECT "+columns+" FROM audit"+cond+order+" LIMIT ? OFFSET ?"),
		append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("audit: list: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("audit: list: %w", err)
	}
	return out, total, nil
}

// Actions returns the actions the log holds, sorted (for a filter list:
// whatever kinds other parts of dlpguard write, not only the constants).
func (l *Log) Actions(ctx context.Context) ([]string, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT DISTINCT action FROM audit ORDER BY action`)
	if err != nil {
		return nil, fmt.Errorf("audit: actions: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("audit: actions: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: actions: %w", err)
	}
	return out, nil
}

// Head returns the last entry's sequence number and hash ("" when empty).
// Keeping the head somewhere else too (a syslog line, a daily report) lets
// VerifyHead detect a rollback even by someone who holds the checkpoint
// key.
func (l *Log) Head(ctx context.Context) (int64, string, error) {
	var seq int64
	var hash string
	err := l.db.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("audit: head: %w", err)
	}
	return seq, hash, nil
}

// Verify walks the whole chain in order. It returns nil, nil when the
// chain is intact, or the first broken entry: an entry whose hash does not
// match its contents (changed), whose Prev is not the hash of the entry
// before it (an entry removed or inserted before it, or rows reordered),
// or a gap in the sequence (entries removed); for a log opened with Open,
// also entries cut off the end, a missing, damaged or forged head
// checkpoint. The error is for database failures only.
func (l *Log) Verify(ctx context.Context) (*Break, error) {
	var rc readCheckpoint
	if l.anchor != nil {
		rc.cp, rc.brk, rc.err = l.anchor.read()
	}
	rows, err := l.db.QueryContext(ctx, "SELECT "+columns+" FROM audit ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	var want int64 = 1
	prev := ""
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("audit: verify: %w", err)
		}
		switch {
		case e.Seq != want:
			return &Break{Seq: e.Seq, Reason: fmt.Sprintf("entries %d to %d are missing (removed)", want, e.Seq-1)}, nil
		case e.Prev != prev:
			return &Break{Seq: e.Seq, Reason: "previous hash does not match entry " + fmt.Sprint(e.Seq-1) +
				" (an entry was removed, inserted or moved before it)"}, nil
		case hashOf(&e) != e.Hash:
			return &Break{Seq: e.Seq, Reason: "hash does not match its contents (the entry was changed)"}, nil
		}
		prev = e.Hash
		want++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	rows.Close()
	if l.anchor != nil {
		return l.verifyAnchor(ctx, rc, want-1)
	}
	return nil, nil
}

// VerifyHead is Verify plus a check that the entry seq still exists with
// the given hash (a head recorded earlier by Head), which detects entries
// removed from the end of the log.
func (l *Log) VerifyHead(ctx context.Context, seq int64, hash string) (*Break, error) {
	b, err := l.Verify(ctx)
	if b != nil || err != nil || seq == 0 {
		return b, err
	}
	var got string
	err = l.db.QueryRowContext(ctx, l.q(`SELECT hash FROM audit WHERE seq = ?`), seq).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return &Break{Seq: seq, Reason: "the recorded head entry is missing (entries removed from the end)"}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	if got != hash {
		return &Break{Seq: seq, Reason: "the recorded head hash differs (the log was rewritten)"}, nil
	}
	return nil, nil
}
