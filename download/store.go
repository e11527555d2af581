package download

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"dlpguard/hold"
	"dlpguard/internal/keyfile"
	"dlpguard/mimemsg"
	"dlpguard/sqlitedb"
)

// ErrNotFound: no link has this token.
var ErrNotFound = errors.New("download: not found")

// File is one file of a release by link: a part that left the mail.
type File struct {
	ID     string `json:"id"` // names the encrypted content
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Download is one completed (or broken off) download of a file.
type Download struct {
	At     time.Time `json:"at"`
	File   string    `json:"file"`
	SHA256 string    `json:"sha256"`
	Bytes  int64     `json:"bytes"`
	IP     string    `json:"ip"`
	UA     string    `json:"ua"`
	Done   bool      `json:"done"`
}

// Link is one recipient's link to the files of one release.
type Link struct {
	// TokenHash is the SHA-256 (hex) of the token in the URL; the token
	// itself is never stored.
	TokenHash  string    `json:"token_hash"`
	HoldID     string    `json:"hold_id"`
	Recipient  string    `json:"recipient"`
	Sender     string    `json:"sender"`
	SenderName string    `json:"sender_name,omitempty"`
	Files      []File    `json:"files"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	// MaxDownloads is how many file downloads the link allows (0: no limit).
	MaxDownloads int        `json:"max_downloads"`
	Downloads    []Download `json:"downloads,omitempty"`

	RevokedAt time.Time `json:"revoked_at,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`

	// The one-time code mailed to the recipient: its hash, expiry, the
	// wrong tries against it, how many were requested; LockedAt is set
	// after too many wrong codes or requests.
	CodeHash     string    `json:"code_hash,omitempty"`
	CodeExpires  time.Time `json:"code_expires,omitzero"`
	CodeTries    int       `json:"code_tries,omitempty"`
	CodeRequests int       `json:"code_requests,omitempty"`
	LockedAt     time.Time `json:"locked_at,omitzero"`
	// PassphraseHash: the link opens with a passphrase the releasing
	// officer hands over by another channel (the policy's access
	// passphrase) instead of a mailed code.
	PassphraseHash string `json:"passphrase_hash,omitempty"`
	// Sessions proven by a code: hash of the cookie value → expiry.
	Sessions map[string]time.Time `json:"sessions,omitempty"`
	// SenderTold: the sender was told of the first download.
	SenderTold bool `json:"sender_told,omitempty"`
}

// Store keeps links and their files' encrypted content. SQLite is the
// implementation that ships; a PostgreSQL one can implement the same.
type Store interface {
	// PutFile stores content encrypted under id.
	PutFile(ctx context.Context, id string, r io.Reader) error
	// OpenFile returns the decrypted content of id; a read error
	// (hold.ErrTampered) means nothing read may be used.
	OpenFile(ctx context.Context, id string) (io.ReadCloser, error)
	// DeleteFile removes content no link names (a release that failed).
	DeleteFile(ctx context.Context, id string) error
	// AddLinks stores new links, all or none.
	AddLinks(ctx context.Context, links []Link) error
	// Get returns the link with this token hash (ErrNotFound).
	Get(ctx context.Context, tokenHash string) (Link, error)
	// Update changes one link atomically: fn sees the stored link and
	// its changes are saved unless it returns an error.
	Update(ctx context.Context, tokenHash string, fn func(*Link) error) (Link, error)
	// ForHold returns the links of a held message's release.
	ForHold(ctx context.Context, holdID string) ([]Link, error)
	// DeleteHold deletes every link of a held message's release (one that
	// did not commit) and returns them; their files are the caller's.
	DeleteHold(ctx context.Context, holdID string) ([]Link, error)
	// DeleteLinks deletes these links (one release attempt's, when
	// another node's release of the same message won).
	DeleteLinks(ctx context.Context, tokenHashes []string) error
	// PurgeExpired deletes links that expired before now, and files no
	// link refers to any more; it returns the links deleted.
	PurgeExpired(ctx context.Context, now time.Time) ([]Link, error)
	Close() error
}

// SQLite is the Store in Dir: links.db (its own database) and files/
// (content sealed with the hold store's key and format, 3.3.4).
type SQLite struct {
	db  *sql.DB
	dir string
	key []byte
}

var _ Store = (*SQLite)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS links (
	token_hash TEXT PRIMARY KEY,
	hold_id    TEXT NOT NULL,
	expires    INTEGER NOT NULL,
	data       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS links_hold ON links(hold_id);
CREATE INDEX IF NOT EXISTS links_expires ON links(expires);
`

// OpenSQLite opens (creating) the link store in dir with the hold store's
// 32-byte master key.
func OpenSQLite(ctx context.Context, dir string, key []byte) (*SQLite, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("download store: key is %d bytes, want 32", len(key))
	}
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o700); err != nil {
		return nil, fmt.Errorf("download store: %w", err)
	}
	db, err := sqlitedb.Open(ctx, filepath.Join(dir, "links.db"), schema)
	if err != nil {
		return nil, fmt.Errorf("download store: %w", err)
	}
	return &SQLite{db: db, dir: dir, key: key}, nil
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

func (s *SQLite) filePath(id string) (string, error) {
	if len(id) != 32 || !isHex(id) {
		return "", fmt.Errorf("download store: bad file id %q", id)
	}
	return filepath.Join(s.dir, "files", id), nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// sealID binds sealed content to its file and to this use, so that a
// hold's content file cannot be passed off as a download and back.
func sealID(id string) string { return "download-file:" + id }

// PutFile streams r into a sealed file, fsynced before it is named.
func (s *SQLite) PutFile(ctx context.Context, id string, r io.Reader) error {
	path, err := s.filePath(id)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "files"), ".tmp-*")
	if err != nil {
		return fmt.Errorf("download file %s: %w", id, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	sw, err := hold.SealContent(tmp, s.key, sealID(id))
	if err != nil {
		return fmt.Errorf("download file %s: %w", id, err)
	}
	if _, err := io.Copy(sw, mimemsg.ContextReader(ctx, r)); err != nil {
		return fmt.Errorf("download file %s: %w", id, err)
	}
	if err := sw.Close(); err != nil {
		return fmt.Errorf("download file %s: %w", id, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("download file %s: %w", id, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("download file %s: %w", id, err)
	}
	return keyfile.SyncDir(filepath.Dir(path))
}

type readCloser struct {
	io.Reader
	io.Closer
}

// OpenFile opens a sealed file for streaming.
func (s *SQLite) OpenFile(ctx context.Context, id string) (io.ReadCloser, error) {
	path, err := s.filePath(id)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("download file %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("download file %s: %w", id, err)
	}
	r, err := hold.OpenContent(f, s.key, sealID(id))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("download file %s: %w", id, err)
	}
	return readCloser{mimemsg.ContextReader(ctx, r), f}, nil
}

// DeleteFile removes one file's content.
func (s *SQLite) DeleteFile(ctx context.Context, id string) error {
	p, err := s.filePath(id)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("download file %s: %w", id, err)
	}
	return nil
}

// AddLinks inserts links in one transaction.
func (s *SQLite) AddLinks(ctx context.Context, links []Link) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("download store: %w", err)
	}
	defer tx.Rollback()
	for _, l := range links {
		data, err := json.Marshal(l)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO links (token_hash, hold_id, expires, data) VALUES (?, ?, ?, ?)`,
			l.TokenHash, l.HoldID, l.Expires.Unix(), string(data)); err != nil {
			return fmt.Errorf("download store: link for %s: %w", l.HoldID, err)
		}
	}
	return tx.Commit()
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func getLink(ctx context.Context, q querier, tokenHash string) (Link, error) {
	var data string
	err := q.QueryRowContext(ctx, `SELECT data FROM links WHERE token_hash = ?`, tokenHash).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return Link{}, ErrNotFound
	}
	if err != nil {
		return Link{}, fmt.Errorf("download store: %w", err)
	}
	return decodeLink(data)
}

// decodeLink reads a link record (the JSON of both stores' data column).
func decodeLink(data string) (Link, error) {
	var l Link
	if err := json.Unmarshal([]byte(data), &l); err != nil {
		return Link{}, fmt.Errorf("download store: link record: %w", err)
	}
	return l, nil
}

// linkRows is what database/sql's and pgx's rows have in common.
type linkRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// decodeLinks reads every (data) row into links.
func decodeLinks(rows linkRows) ([]Link, error) {
	var out []Link
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("download store: %w", err)
		}
		l, err := decodeLink(data)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// Get returns one link.
func (s *SQLite) Get(ctx context.Context, tokenHash string) (Link, error) {
	return getLink(ctx, s.db, tokenHash)
}

// Update reads, changes and writes one link under the write lock.
func (s *SQLite) Update(ctx context.Context, tokenHash string, fn func(*Link) error) (Link, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Link{}, fmt.Errorf("download store: %w", err)
	}
	defer tx.Rollback()
	l, err := getLink(ctx, tx, tokenHash)
	if err != nil {
		return Link{}, err
	}
	if err := fn(&l); err != nil {
		return l, err
	}
	data, err := json.Marshal(l)
	if err != nil {
		return Link{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE links SET data = ?, expires = ? WHERE token_hash = ?`, string(data), l.Expires.Unix(), tokenHash); err != nil {
		return Link{}, fmt.Errorf("download store: %w", err)
	}
	return l, tx.Commit()
}

// ForHold returns a release's links, oldest first.
func (s *SQLite) ForHold(ctx context.Context, holdID string) ([]Link, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT data FROM links WHERE hold_id = ? ORDER BY rowid`, holdID)
	if err != nil {
		return nil, fmt.Errorf("download store: %w", err)
	}
	defer rows.Close()
	return decodeLinks(rows)
}

// DeleteHold deletes the links of holdID's release in one transaction.
func (s *SQLite) DeleteHold(ctx context.Context, holdID string) ([]Link, error) {
	links, err := s.ForHold(ctx, holdID)
	if err != nil || len(links) == 0 {
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM links WHERE hold_id = ?`, holdID); err != nil {
		return nil, fmt.Errorf("download store: delete links of %s: %w", holdID, err)
	}
	return links, nil
}

// DeleteLinks deletes links by token hash, in one transaction.
func (s *SQLite) DeleteLinks(ctx context.Context, tokenHashes []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("download store: %w", err)
	}
	defer tx.Rollback()
	for _, h := range tokenHashes {
		if _, err := tx.ExecContext(ctx, `DELETE FROM links WHERE token_hash = ?`, h); err != nil {
			return fmt.Errorf("download store: %w", err)
		}
	}
	return tx.Commit()
}

// PurgeExpired deletes expired links and the files only they named.
func (s *SQLite) PurgeExpired(ctx context.Context, now time.Time) ([]Link, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT data FROM links WHERE expires <= ?`, now.Unix())
	if err != nil {
		return nil, fmt.Errorf("download store: %w", err)
	}
	var gone []Link
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			rows.Close()
			return nil, err
		}
		var l Link
		if err := json.Unmarshal([]byte(data), &l); err == nil {
			gone = append(gone, l)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM links WHERE expires <= ?`, now.Unix()); err != nil {
		return nil, fmt.Errorf("download store: %w", err)
	}
	// A file goes once no remaining link of its release names it.
	for _, l := range gone {
		left, err := s.ForHold(ctx, l.HoldID)
		if err != nil {
			return gone, err
		}
		if err := deleteUnused(l, left, func(id string) error {
			p, err := s.filePath(id)
			if err != nil {
				return nil
			}
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return nil
		}); err != nil {
			return gone, fmt.Errorf("download store: %w", err)
		}
	}
	return gone, nil
}
