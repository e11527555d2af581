package console

import (
	"context"
	"crypto/rand"
	"database/sql"
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
	"dlpguard/internal/password"
	"dlpguard/pgdb"
	"dlpguard/sqlitedb"
)

// Roles of console users: the same words as review's API tokens.
const (
	RoleApprover = "approver" // acts on the messages of their departments
	RoleAdmin    = "admin"    // every department, rules, delivery, audit log
)

// Lockout defaults (6.6: passwords are guarded against guessing).
const (
	DefaultMaxFailures = 5
	DefaultLockout     = 15 * time.Minute
)

// User is one local console account (never its password hash).
type User struct {
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Email       string    `json:"email"` // who acts, for self-approval checks and the audit log
	Role        string    `json:"role"`
	Departments []string  `json:"departments,omitempty"`
	Disabled    bool      `json:"disabled"`
	Failures    int       `json:"failures"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
	LastLogin   time.Time `json:"last_login,omitzero"`
	Created     time.Time `json:"created"`
	// Source is "directory" for a directory sign-in (no local row), ""
	// for a local account.
	Source string `json:"source,omitempty"`
}

// Errors of the user store.
var (
	ErrBadLogin = errors.New("console: wrong user name or password")
	ErrLocked   = errors.New("console: account locked after repeated failures")
	ErrDisabled = errors.New("console: account disabled")
	ErrNoUser   = errors.New("console: no such user")
)

// Users is the account database (console.db in the data folder).
type Users struct {
	db          *sql.DB
	pg          bool // in the shared PostgreSQL database (OpenUsersPostgres)
	MaxFailures int
	Lockout     time.Duration
}

const usersSchema = `
CREATE TABLE IF NOT EXISTS users (
	username     TEXT PRIMARY KEY,
	display_name TEXT NOT NULL DEFAULT '',
	email        TEXT NOT NULL,
	role         TEXT NOT NULL,
	departments  TEXT NOT NULL DEFAULT '[]',
	hash         TEXT NOT NULL,
	disabled     INTEGER NOT NULL DEFAULT 0,
	failures     INTEGER NOT NULL DEFAULT 0,
	locked_until INTEGER NOT NULL DEFAULT 0,
	last_login   INTEGER NOT NULL DEFAULT 0,
	created      INTEGER NOT NULL
);`

// UsersPath is where the account database lives in the data folder.
func UsersPath(dataDir string) string { return filepath.Join(dataDir, "console.db") }

// OpenUsers opens (creating 0600 if needed) the account database at path.
func OpenUsers(ctx context.Context, path string) (*Users, error) {
	db, err := sqlitedb.Open(ctx, path, usersSchema)
	if err != nil {
		return nil, fmt.Errorf("console users: %w", err)
	}
	return &Users{db: db, MaxFailures: DefaultMaxFailures, Lockout: DefaultLockout}, nil
}

// Close closes the database (a shared pool stays open).
func (u *Users) Close() error { return u.db.Close() }

// usersMigrations is the account table in PostgreSQL (pgdb.Migrate).
var usersMigrations = []string{
	`CREATE TABLE users (
		username     TEXT PRIMARY KEY,
		display_name TEXT NOT NULL DEFAULT '',
		email        TEXT NOT NULL,
		role         TEXT NOT NULL,
		departments  TEXT NOT NULL DEFAULT '[]',
		hash         TEXT NOT NULL,
		disabled     BOOLEAN NOT NULL DEFAULT false,
		failures     INTEGER NOT NULL DEFAULT 0,
		locked_until BIGINT NOT NULL DEFAULT 0,
		last_login   BIGINT NOT NULL DEFAULT 0,
		created      BIGINT NOT NULL
	)`,
}

// OpenUsersPostgres opens the accounts in the shared PostgreSQL database
// of pool (storage.driver postgres): an account works on every node, and
// failed sign-ins count (and lock) across nodes.
func OpenUsersPostgres(ctx context.Context, pool *pgxpool.Pool) (*Users, error) {
	if err := pgdb.Migrate(ctx, pool, "console", usersMigrations); err != nil {
		return nil, fmt.Errorf("console users: %w", err)
	}
	return &Users{db: stdlib.OpenDBFromPool(pool), pg: true, MaxFailures: DefaultMaxFailures, Lockout: DefaultLockout}, nil
}

// openUsers opens the accounts where the hold store keeps its records:
// the hold store's shared database, else console.db in dataDir.
func openUsers(ctx context.Context, dataDir string, holds hold.Store) (*Users, error) {
	if pg, ok := holds.(interface{ Pool() *pgxpool.Pool }); ok {
		return OpenUsersPostgres(ctx, pg.Pool())
	}
	return OpenUsers(ctx, UsersPath(dataDir))
}

// CopyUsersToPostgres moves the accounts of the console.db at path (their
// password hashes, lockout state and all) into the database of pool, in
// one transaction; a database that has accounts already is refused. A
// missing console.db has none to copy.
func CopyUsersToPostgres(ctx context.Context, path string, pool *pgxpool.Pool) (int, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	src, err := OpenUsers(ctx, path)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	if err := pgdb.Migrate(ctx, pool, "console", usersMigrations); err != nil {
		return 0, fmt.Errorf("console users: %w", err)
	}
	n := 0
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var have int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&have); err != nil {
			return err
		}
		if have > 0 {
			return fmt.Errorf("the database already has %d console accounts: copy into an empty one", have)
		}
		rows, err := src.db.QueryContext(ctx, `SELECT `+userCols+`, hash FROM users`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v := make([]any, 11)
			ptrs := make([]any, len(v))
			for i := range v {
				ptrs[i] = &v[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			v[5] = v[5] != nil && v[5] != int64(0) // disabled: SQLite integer → boolean
			if _, err := tx.Exec(ctx, `INSERT INTO users (`+userCols+`, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, v...); err != nil {
				return err
			}
			n++
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("console users: copy: %w", err)
	}
	return n, nil
}

// q is query as the database wants it.
func (u *Users) q(query string) string {
	if !u.pg {
		return query
	}
	return pgdb.Rebind(query)
}

// HashPassword returns an argon2id PHC string (password.Hash).
func HashPassword(pw string) (string, error) { return password.Hash(pw) }

// VerifyPassword checks pw against a PHC string (password.Verify).
func VerifyPassword(phc, pw string) bool { return password.Verify(phc, pw) }

// GeneratePassword returns a random password of 20 characters that is
// easy to type (no look-alike characters).
func GeneratePassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func normUser(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func validate(u *User) error {
	u.Username, u.Email = normUser(u.Username), normUser(u.Email)
	u.DisplayName = strings.TrimSpace(u.DisplayName)
	if u.Username == "" || strings.ContainsAny(u.Username, " \t\r\n") || len(u.Username) > 64 {
		return errors.New("console users: a user name (no spaces, at most 64 characters) is required")
	}
	if !strings.Contains(u.Email, "@") {
		return fmt.Errorf("console users %s: a mail address is required", u.Username)
	}
	if u.Role != RoleApprover && u.Role != RoleAdmin {
		return fmt.Errorf("console users %s: unknown role %q (approver or admin)", u.Username, u.Role)
	}
	var deps []string
	for _, d := range u.Departments {
		if d = strings.TrimSpace(d); d != "" {
			deps = append(deps, d)
		}
	}
	u.Departments = deps
	if u.Role == RoleApprover && len(deps) == 0 {
		return fmt.Errorf("console users %s: an approver needs at least one department", u.Username)
	}
	return nil
}

// Add creates an account with password pw (at least 10 characters).
func (u *Users) Add(ctx context.Context, usr User, pw string, now time.Time) error {
	if err := validate(&usr); err != nil {
		return err
	}
	if len([]rune(pw)) < 10 {
		return fmt.Errorf("console users %s: the password needs at least 10 characters", usr.Username)
	}
	h, err := HashPassword(pw)
	if err != nil {
		return err
	}
	deps, _ := json.Marshal(append([]string{}, usr.Departments...))
	_, err = u.db.ExecContext(ctx, u.q(`INSERT INTO users (username, display_name, email, role, departments, hash, created)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), usr.Username, usr.DisplayName, usr.Email, usr.Role, string(deps), h, now.UnixNano())
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("console users %s: already exists", usr.Username)
		}
		return fmt.Errorf("console users %s: %w", usr.Username, err)
	}
	return nil
}

// SetPassword replaces the password and clears the lockout.
func (u *Users) SetPassword(ctx context.Context, username, pw string) error {
	if len([]rune(pw)) < 10 {
		return fmt.Errorf("console users %s: the password needs at least 10 characters", username)
	}
	h, err := HashPassword(pw)
	if err != nil {
		return err
	}
	return u.update(ctx, username, `UPDATE users SET hash = ?, failures = 0, locked_until = 0 WHERE username = ?`, h, normUser(username))
}

// SetDisabled disables (or enables again) an account.
func (u *Users) SetDisabled(ctx context.Context, username string, disabled bool) error {
	return u.update(ctx, username, `UPDATE users SET disabled = ? WHERE username = ?`, disabled, normUser(username))
}

func (u *Users) update(ctx context.Context, username, q string, args ...any) error {
	res, err := u.db.ExecContext(ctx, u.q(q), args...)
	if err != nil {
		return fmt.Errorf("console users %s: %w", username, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("console users %s: %w", username, ErrNoUser)
	}
	return nil
}

const userCols = `username, display_name, email, role, departments, disabled, failures, locked_until, last_login, created`

type rowScanner interface{ Scan(...any) error }

func scanUser(r rowScanner, extra ...any) (User, error) {
	var usr User
	var deps string
	var locked, last, created int64
	dst := append([]any{&usr.Username, &usr.DisplayName, &usr.Email, &usr.Role, &deps, &usr.Disabled, &usr.Failures, &locked, &last, &created}, extra...)
	if err := r.Scan(dst...); err != nil {
		return usr, err
	}
	json.Unmarshal([]byte(deps), &usr.Departments)
	usr.LockedUntil, usr.LastLogin, usr.Created = unixOrZero(locked), unixOrZero(last), unixOrZero(created)
	return usr, nil
}

func unixOrZero(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Get returns one account.
func (u *Users) Get(ctx context.Context, username string) (User, error) {
	usr, err := scanUser(u.db.QueryRowContext(ctx, u.q(`SELECT `+userCols+` FROM users WHERE username = ?`), normUser(username)))
	if errors.Is(err, sql.ErrNoRows) {
		return usr, fmt.Errorf("console users %s: %w", username, ErrNoUser)
	}
	return usr, err
}

// List returns every account by user name.
func (u *Users) List(ctx context.Context) ([]User, error) {
	rows, err := u.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("console users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		usr, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, usr)
	}
	return out, rows.Err()
}

// Count returns the number of accounts.
func (u *Users) Count(ctx context.Context) (int, error) {
	var n int
	err := u.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

// Authenticate checks a password. After MaxFailures wrong passwords in a
// row the account is locked for Lockout, even for the right password
// (6.6). An unknown user costs a hash as well, so timing does not tell
// which user names exist.
func (u *Users) Authenticate(ctx context.Context, username, pw string, now time.Time) (User, error) {
	var hash string
	usr, err := scanUser(u.db.QueryRowContext(ctx, u.q(`SELECT `+userCols+`, hash FROM users WHERE username = ?`), normUser(username)), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		VerifyPassword(dummyHash, pw)
		return User{}, ErrBadLogin
	}
	if err != nil {
		return User{}, fmt.Errorf("console users %s: %w", username, err)
	}
	if now.Before(usr.LockedUntil) {
		return usr, ErrLocked
	}
	if !VerifyPassword(hash, pw) {
		// One statement, so that concurrent guesses cannot lose a count.
		lockAt := now.Add(u.Lockout).UnixNano()
		err := u.db.QueryRowContext(ctx, u.q(`UPDATE users SET failures = failures + 1,
			locked_until = CASE WHEN failures + 1 >= ? THEN ? ELSE locked_until END
			WHERE username = ? RETURNING failures`), u.MaxFailures, lockAt, usr.Username).Scan(&usr.Failures)
		if err != nil {
			return usr, fmt.Errorf("console users %s: %w", username, err)
		}
		if usr.Failures >= u.MaxFailures {
			usr.LockedUntil = time.Unix(0, lockAt).UTC()
			return usr, ErrLocked
		}
		return usr, ErrBadLogin
	}
	if usr.Disabled {
		return usr, ErrDisabled
	}
	usr.Failures, usr.LockedUntil, usr.LastLogin = 0, time.Time{}, now.UTC()
	if _, err := u.db.ExecContext(ctx, u.q(`UPDATE users SET failures = 0, locked_until = 0, last_login = ? WHERE username = ?`), now.UnixNano(), usr.Username); err != nil {
		return usr, fmt.Errorf("console users %s: %w", username, err)
	}
	return usr, nil
}

// dummyHash is verified for unknown users (its password is unknown).
const dummyHash = password.Dummy

// EnsureDemoAdmin creates the administrator "admin" (mail address email)
// with a random password when the account database at
// UsersPath(dataDir) has no accounts; the password is returned once for
// the demo mode of serve to print. With accounts present it does nothing.
func EnsureDemoAdmin(ctx context.Context, dataDir, email string) (password string, created bool, err error) {
	u, err := OpenUsers(ctx, UsersPath(dataDir))
	if err != nil {
		return "", false, err
	}
	defer u.Close()
	n, err := u.Count(ctx)
	if err != nil || n > 0 {
		return "", false, err
	}
	pw := GeneratePassword()
	if err := u.Add(ctx, User{Username: "admin", DisplayName: "管理者 (demo)", Email: email, Role: RoleAdmin}, pw, time.Now()); err != nil {
		return "", false, err
	}
	return pw, true, nil
}
