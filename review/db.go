package review

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"dlpguard/hold"
	"dlpguard/pgdb"
	"dlpguard/sqlitedb"
)

// DB is the review service's own SQLite file (review.db in the data
// folder): the API tokens (hashed). Its hold_meta table is what older
// versions kept about a held message beside the hold store; New imports
// its rows into the hold records (hold.Handling) once and empties it.
type DB struct {
	db *sql.DB
	pg bool // the shared PostgreSQL database (OpenDBPostgres)
}

const dbSchema = `
CREATE TABLE IF NOT EXISTS tokens (
	hash        TEXT PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	actor       TEXT NOT NULL,
	role        TEXT NOT NULL,
	departments TEXT NOT NULL DEFAULT '[]',
	created     INTEGER NOT NULL,
	revoked     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS hold_meta (
	id   TEXT PRIMARY KEY,
	data TEXT NOT NULL
);
`

// OpenDB opens (creating, mode 0600) the review database at path.
func OpenDB(ctx context.Context, path string) (*DB, error) {
	db, err := sqlitedb.Open(ctx, path, dbSchema)
	if err != nil {
		return nil, fmt.Errorf("review db: %w", err)
	}
	return &DB{db: db}, nil
}

// Close closes the database (a shared pool stays open).
func (d *DB) Close() error { return d.db.Close() }

// dbMigrations is the review database's schema in PostgreSQL
// (pgdb.Migrate): the tokens; hold_meta was SQLite-only history.
var dbMigrations = []string{
	`CREATE TABLE tokens (
		hash        TEXT PRIMARY KEY,
		name        TEXT NOT NULL UNIQUE,
		actor       TEXT NOT NULL,
		role        TEXT NOT NULL,
		departments TEXT NOT NULL DEFAULT '[]',
		created     BIGINT NOT NULL,
		revoked     BIGINT NOT NULL DEFAULT 0
	)`,
}

// OpenDBPostgres opens the review database in the shared PostgreSQL
// database of pool (storage.driver postgres): a token made on one node
// works on every node.
func OpenDBPostgres(ctx context.Context, pool *pgxpool.Pool) (*DB, error) {
	if err := pgdb.Migrate(ctx, pool, "review", dbMigrations); err != nil {
		return nil, fmt.Errorf("review db: %w", err)
	}
	return &DB{db: stdlib.OpenDBFromPool(pool), pg: true}, nil
}

// openServiceDB opens the tokens where the hold store keeps its records:
// the hold store's shared database, else review.db in dir.
func openServiceDB(ctx context.Context, dir string, holds hold.Store) (*DB, error) {
	if pg, ok := holds.(interface{ Pool() *pgxpool.Pool }); ok {
		return OpenDBPostgres(ctx, pg.Pool())
	}
	return OpenDB(ctx, filepath.Join(dir, "review.db"))
}

// CopyTokensToPostgres moves the API tokens of the review.db at path (their
// hashes, as they are) into the database of pool, in one transaction; a
// database that has tokens already is refused. A missing review.db has
// none to copy.
func CopyTokensToPostgres(ctx context.Context, path string, pool *pgxpool.Pool) (int, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	src, err := OpenDB(ctx, path)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	if err := pgdb.Migrate(ctx, pool, "review", dbMigrations); err != nil {
		return 0, fmt.Errorf("review db: %w", err)
	}
	n := 0
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var have int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tokens`).Scan(&have); err != nil {
			return err
		}
		if have > 0 {
			return fmt.Errorf("the database already has %d API tokens: copy into an empty one", have)
		}
		rows, err := src.db.QueryContext(ctx, `SELECT hash, name, actor, role, departments, created, revoked FROM tokens`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var hash, name, actor, role, deps string
			var created, revoked int64
			if err := rows.Scan(&hash, &name, &actor, &role, &deps, &created, &revoked); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO tokens (hash, name, actor, role, departments, created, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				hash, name, actor, role, deps, created, revoked); err != nil {
				return err
			}
			n++
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("review: copy tokens: %w", err)
	}
	return n, nil
}

// q is query as the database wants it.
func (d *DB) q(query string) string {
	if !d.pg {
		return query
	}
	return pgdb.Rebind(query)
}

// Roles of API tokens.
const (
	RoleApprover = "approver" // only the messages of their departments
	RoleAdmin    = "admin"    // any department
)

// Token describes one API token (never the token itself).
type Token struct {
	Name        string    `json:"name"`
	Actor       string    `json:"actor"` // the person's mail address, recorded as who acted
	Role        string    `json:"role"`
	Departments []string  `json:"departments,omitempty"`
	Created     time.Time `json:"created"`
	Revoked     time.Time `json:"revoked,omitzero"`
}

// ErrNoToken is returned for an unknown, revoked or malformed token.
var ErrNoToken = errors.New("review: invalid token")

// tokenPrefix makes tokens recognisable in configuration and leak scanners.
const tokenPrefix = "dlpg_"

// hashToken: the tokens are 32 random bytes, so a plain SHA-256 is enough
// (no password stretching needed for high-entropy secrets).
func hashToken(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(s[:])
}

// AddToken creates a token and returns it; it is shown once and only its
// hash is stored.
func (d *DB) AddToken(ctx context.Context, t Token, now time.Time) (string, error) {
	t.Name = strings.TrimSpace(t.Name)
	t.Actor = strings.ToLower(strings.TrimSpace(t.Actor))
	if t.Name == "" || t.Actor == "" {
		return "", errors.New("review: token needs a name and an actor address")
	}
	if t.Role != RoleApprover && t.Role != RoleAdmin {
		return "", fmt.Errorf("review: unknown role %q (approver or admin)", t.Role)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	deps, _ := json.Marshal(nonNil(t.Departments))
	if _, err := d.db.ExecContext(ctx,
		d.q(`INSERT INTO tokens (hash, name, actor, role, departments, created) VALUES (?, ?, ?, ?, ?, ?)`),
		hashToken(tok), t.Name, t.Actor, t.Role, string(deps), now.UnixNano()); err != nil {
		return "", fmt.Errorf("review: token %s: %w", t.Name, err)
	}
	return tok, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func scanToken(r interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var deps string
	var created, revoked int64
	if err := r.Scan(&t.Name, &t.Actor, &t.Role, &deps, &created, &revoked); err != nil {
		return Token{}, err
	}
	_ = json.Unmarshal([]byte(deps), &t.Departments)
	t.Created = time.Unix(0, created).UTC()
	if revoked != 0 {
		t.Revoked = time.Unix(0, revoked).UTC()
	}
	return t, nil
}

// Authenticate returns the token's description, or ErrNoToken.
func (d *DB) Authenticate(ctx context.Context, tok string) (Token, error) {
	if !strings.HasPrefix(tok, tokenPrefix) || len(tok) > 200 {
		return Token{}, ErrNoToken
	}
	t, err := scanToken(d.db.QueryRowContext(ctx,
		d.q(`SELECT name, actor, role, departments, created, revoked FROM tokens WHERE hash = ?`), hashToken(tok)))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, ErrNoToken
	}
	if err != nil {
		return Token{}, fmt.Errorf("review: token lookup: %w", err)
	}
	if !t.Revoked.IsZero() {
		return Token{}, ErrNoToken
	}
	return t, nil
}

// ListTokens returns every token (revoked ones too), by name.
func (d *DB) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT name, actor, role, departments, created, revoked FROM tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("review: tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("review: tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes the token with this name.
func (d *DB) RevokeToken(ctx context.Context, name string, now time.Time) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE tokens SET revoked = ? WHERE name = ? AND revoked = 0`), now.UnixNano(), name)
	if err != nil {
		return fmt.Errorf("review: revoke %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("review: revoke %s: %w", name, ErrNoToken)
	}
	return nil
}

// importMeta folds the hold_meta rows of older versions (approvers,
// require-encryption, SMTP flags, English reasons) into the hold records,
// once: each row is deleted after its record took it, so a crash in
// between only imports the same facts again.
func (s *Service) importMeta(ctx context.Context) error {
	db := s.db.db
	if s.db.pg {
		// hold_meta only ever existed in a node's own review.db: import
		// from there into the shared hold store.
		local, err := OpenDB(ctx, filepath.Join(s.cfg.DataDir, "review.db"))
		if err != nil {
			return err
		}
		defer local.Close()
		db = local.db
	}
	rows, err := db.QueryContext(ctx, `SELECT id, data FROM hold_meta`)
	if err != nil {
		return fmt.Errorf("review: hold_meta import: %w", err)
	}
	type row struct{ id, data string }
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.data); err != nil {
			rows.Close()
			return fmt.Errorf("review: hold_meta import: %w", err)
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("review: hold_meta import: %w", err)
	}
	n := 0
	for _, r := range rs {
		// The old row's JSON is hold.Handling's (same field names).
		var m hold.Handling
		if err := json.Unmarshal([]byte(r.data), &m); err != nil {
			return fmt.Errorf("review: hold_meta %s: %w", r.id, err)
		}
		rec, err := s.holds.Get(ctx, r.id)
		switch {
		case errors.Is(err, hold.ErrNotFound):
			// An orphan row (a crash between the facts and the record).
		case err != nil:
			return fmt.Errorf("review: hold_meta %s: %w", r.id, err)
		default:
			// Encryption is never weakened by the import (3.3.5).
			m.RequireEncryption = m.RequireEncryption || rec.Level == "I" || rec.Level == "II"
			if _, err := s.holds.SetHandling(ctx, r.id, m); err != nil {
				return fmt.Errorf("review: hold_meta %s: %w", r.id, err)
			}
			n++
		}
		if _, err := db.ExecContext(ctx, `DELETE FROM hold_meta WHERE id = ?`, r.id); err != nil {
			return fmt.Errorf("review: hold_meta %s: %w", r.id, err)
		}
	}
	if len(rs) > 0 {
		s.log.Info("review: imported hold_meta into the hold records", "records", n, "rows", len(rs))
	}
	return nil
}
