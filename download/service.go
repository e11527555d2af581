// Package download is the release of held messages by download link
// (issue 13; clause 3.3.5 "暗号化又はパスワード設定等"): the attachments and
// the body with findings leave the mail, wait encrypted at rest (the hold
// store's key and format, 3.3.4), and each recipient fetches them from a
// page of their own, behind TLS and a one-time code mailed to their
// address.
//
// The Service creates the links when review releases a message (Publish),
// revokes them (Revoke), purges them after expiry (Purge), and serves the
// recipients' listener (Handler): the download pages and files only,
// nothing of the console or the API. Every code request, wrong code, lock,
// download and revocation is an audit entry.
package download

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"dlpguard/audit"
)

// Defaults.
const (
	DefaultExpiry       = 7 * 24 * time.Hour
	DefaultMaxDownloads = 20
	DefaultCodeTTL      = 10 * time.Minute
	DefaultCodeTries    = 5
	DefaultCodeRequests = 5
	sessionTTL          = 30 * time.Minute
	codeDigits          = 8
)

// Audit actions.
const (
	ActionPublish     = "download-publish"
	ActionCodeRequest = "download-code-request"
	ActionCodeFailure = "download-code-failure"
	ActionCodeOK      = "download-code-ok"
	ActionLocked      = "download-locked"
	ActionDownload    = "download"
	ActionRevoke      = "download-revoke"
	ActionPurge       = "download-purge"
	ActionRefused     = "download-refused"
)

// Config of the Service.
type Config struct {
	// BaseURL is where recipients reach the download listener
	// (https://dl.city.example.lg.jp); links are BaseURL/d/<token>.
	BaseURL string
	// Expiry of a link (default 7 days); MaxDownloads file downloads per
	// link (default 20); CodeTTL of a mailed code (default 10 minutes);
	// CodeTries wrong codes before the link locks (default 5);
	// CodeRequests codes a link may request (default 5, then it locks).
	Expiry       time.Duration
	MaxDownloads int
	CodeTTL      time.Duration
	CodeTries    int
	CodeRequests int
	// NotifySender: the sender is told at each link's first download.
	NotifySender bool
	// SecureCookies marks the session cookie Secure (TLS here or at the
	// reverse proxy).
	SecureCookies bool
	// TrustedProxies: requests from these networks name the client in
	// X-Forwarded-For (the city's reverse proxy).
	TrustedProxies []string
	TimeZone       *time.Location
}

// Deps are what the Service works with.
type Deps struct {
	Store Store
	Audit *audit.Log
	// Mail queues a notice about a held message's release (its ID): the
	// codes and the sender's notice (review.Service.QueueNotice).
	Mail   func(ctx context.Context, id string, m Message) error
	Logger *slog.Logger
	Now    func() time.Time
}

// Service is the release by download link.
type Service struct {
	cfg     Config
	store   Store
	audit   *audit.Log
	mail    func(ctx context.Context, id string, m Message) error
	log     *slog.Logger
	now     func() time.Time
	proxies []netPrefix
}

// New returns the Service.
func New(cfg Config, d Deps) (*Service, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("download: no base_url")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Expiry <= 0 {
		cfg.Expiry = DefaultExpiry
	}
	if cfg.MaxDownloads == 0 {
		cfg.MaxDownloads = DefaultMaxDownloads
	}
	if cfg.CodeTTL <= 0 {
		cfg.CodeTTL = DefaultCodeTTL
	}
	if cfg.CodeTries <= 0 {
		cfg.CodeTries = DefaultCodeTries
	}
	if cfg.CodeRequests <= 0 {
		cfg.CodeRequests = DefaultCodeRequests
	}
	if cfg.TimeZone == nil {
		if z, err := time.LoadLocation("Asia/Tokyo"); err == nil {
			cfg.TimeZone = z
		} else {
			cfg.TimeZone = time.FixedZone("JST", 9*3600)
		}
	}
	if d.Store == nil || d.Audit == nil || d.Mail == nil {
		return nil, errors.New("download: store, audit log and mail are required")
	}
	s := &Service{cfg: cfg, store: d.Store, audit: d.Audit, mail: d.Mail, log: d.Logger, now: d.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	var err error
	if s.proxies, err = parseNets(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("download: trusted_proxies: %w", err)
	}
	return s, nil
}

// Expiry is how long new links live.
func (s *Service) Expiry() time.Duration { return s.cfg.Expiry }

// Time formats t for people (review.time_zone, with the zone).
func (s *Service) Time(t time.Time) string {
	return t.In(s.cfg.TimeZone).Format("2006-01-02 15:04 MST")
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte("dlpguard download token\x00" + tok))
	return hex.EncodeToString(h[:])
}

func newToken() (string, error) {
	var b [32]byte // 256 bits
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// NewFileID returns a random ID for a file's content.
func NewFileID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// StoreFile streams one part that leaves the mail into the store,
// encrypted; the caller records Size and SHA256 (release.Part).
func (s *Service) StoreFile(ctx context.Context, kind, name, typ string, r io.Reader) (File, error) {
	id, err := NewFileID()
	if err != nil {
		return File{}, err
	}
	h := sha256.New()
	cnt := &counter{}
	if err := s.store.PutFile(ctx, id, io.TeeReader(io.TeeReader(r, h), cnt)); err != nil {
		return File{}, err
	}
	return File{ID: id, Kind: kind, Name: name, Type: typ, Size: cnt.n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// Published is one recipient's link.
type Published struct {
	Recipient string    `json:"recipient"`
	URL       string    `json:"-"` // carries the token: only into the recipient's notice
	Expires   time.Time `json:"expires"`
}

// Publish creates one link per recipient to files (3.3.5: each recipient
// proves their own mailbox) and audits it; the URLs carry the tokens and
// go only into the recipients' notices.
//
// A passphrase (not empty: the policy's access passphrase) opens every
// link instead of a mailed code; only its hash is kept.
func (s *Service) Publish(ctx context.Context, holdID, sender, senderName string, recipients []string, files []File, passphrase string) ([]Published, error) {
	now := s.now()
	links := make([]Link, 0, len(recipients))
	out := make([]Published, 0, len(recipients))
	for _, rcpt := range recipients {
		tok, err := newToken()
		if err != nil {
			return nil, err
		}
		l := Link{TokenHash: hashToken(tok), HoldID: holdID, Recipient: rcpt, Sender: sender, SenderName: senderName,
			Files: files, Created: now.UTC(), Expires: now.Add(s.cfg.Expiry).UTC(), MaxDownloads: s.cfg.MaxDownloads}
		if passphrase != "" {
			l.PassphraseHash = hashPassphrase(l.TokenHash, passphrase)
		}
		if l.MaxDownloads < 0 {
			l.MaxDownloads = 0
		}
		links = append(links, l)
		out = append(out, Published{Recipient: rcpt, URL: s.cfg.BaseURL + "/d/" + tok, Expires: l.Expires})
	}
	if err := s.store.AddLinks(ctx, links); err != nil {
		return nil, fmt.Errorf("download publish %s: %w", holdID, err)
	}
	names := make([]map[string]any, 0, len(files))
	for _, f := range files {
		names = append(names, map[string]any{"name": f.Name, "kind": f.Kind, "size": f.Size, "sha256": f.SHA256})
	}
	access := "code"
	if passphrase != "" {
		access = "passphrase"
	}
	s.auditLog(ctx, "system", ActionPublish, holdID, map[string]any{"recipients": recipients, "files": names,
		"expires": now.Add(s.cfg.Expiry).UTC(), "access": access})
	return out, nil
}

// Revoke ends every link of a release at once (the sender or an officer
// asked); it returns how many were still open.
func (s *Service) Revoke(ctx context.Context, holdID, actor, reason string) (int, error) {
	links, err := s.store.ForHold(ctx, holdID)
	if err != nil {
		return 0, err
	}
	if len(links) == 0 {
		return 0, fmt.Errorf("download revoke %s: %w", holdID, ErrNotFound)
	}
	n := 0
	for _, l := range links {
		if !l.RevokedAt.IsZero() {
			continue
		}
		if _, err := s.store.Update(ctx, l.TokenHash, func(l *Link) error {
			l.RevokedAt, l.RevokedBy, l.Sessions = s.now().UTC(), actor, nil
			return nil
		}); err != nil {
			return n, fmt.Errorf("download revoke %s: %w", holdID, err)
		}
		n++
	}
	s.auditLog(ctx, actor, ActionRevoke, holdID, map[string]any{"links": n, "reason": reason})
	s.log.Info("download: links revoked", "id", holdID, "actor", actor, "links", n)
	return n, nil
}

// Links returns the links of a release, for the console and the API.
func (s *Service) Links(ctx context.Context, holdID string) ([]Link, error) {
	return s.store.ForHold(ctx, holdID)
}

// Purge deletes links past their expiry and their files (the retention
// of held content, 3.3.4); each release purged is an audit entry.
func (s *Service) Purge(ctx context.Context) error {
	gone, err := s.store.PurgeExpired(ctx, s.now())
	seen := map[string]bool{}
	for _, l := range gone {
		if !seen[l.HoldID] {
			seen[l.HoldID] = true
			s.auditLog(ctx, "system", ActionPurge, l.HoldID, map[string]any{"expired": l.Expires})
		}
	}
	return err
}

// Run purges every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.Purge(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("download: purge", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) auditLog(ctx context.Context, actor, action, subject string, details any) {
	if _, err := s.audit.Append(ctx, actor, action, subject, details); err != nil {
		s.log.Error("download: audit", "id", subject, "action", action, "err", err)
	}
}

// newCode returns a code of codeDigits decimal digits, uniform.
func newCode() (string, error) {
	max := big.NewInt(1)
	for range codeDigits {
		max.Mul(max, big.NewInt(10))
	}
	n, err := rand.Int(rand.Reader, max)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%0*d", codeDigits, n), nil
}

func hashCode(tokenHash, code string) string {
	h := sha256.Sum256([]byte("dlpguard download code\x00" + tokenHash + "\x00" + code))
	return hex.EncodeToString(h[:])
}

// hashPassphrase: spaces and case do not matter (read out on the phone).
func hashPassphrase(tokenHash, p string) string {
	p = strings.ToLower(strings.Join(strings.Fields(p), ""))
	h := sha256.Sum256([]byte("dlpguard download passphrase\x00" + tokenHash + "\x00" + p))
	return hex.EncodeToString(h[:])
}

func hashSession(v string) string {
	h := sha256.Sum256([]byte("dlpguard download session\x00" + v))
	return hex.EncodeToString(h[:])
}

func equalHex(a, b string) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// state of a link as the page sees it.
type state int

const (
	stateOpen state = iota
	stateExpired
	stateRevoked
	stateLocked
	stateUsedUp
)

func (s *Service) stateOf(l Link) state {
	switch {
	case !l.RevokedAt.IsZero():
		return stateRevoked
	case !s.now().Before(l.Expires):
		return stateExpired
	case !l.LockedAt.IsZero():
		return stateLocked
	case l.MaxDownloads > 0 && countDone(l) >= l.MaxDownloads:
		return stateUsedUp
	}
	return stateOpen
}

func countDone(l Link) int {
	n := 0
	for _, d := range l.Downloads {
		if d.Done {
			n++
		}
	}
	return n
}

var (
	errLocked  = errors.New("download: locked")
	errNoCode  = errors.New("download: no code requested or code expired")
	errTooMany = errors.New("download: too many code requests")
)

// Discard removes files stored for a release that did not happen.
func (s *Service) Discard(ctx context.Context, files []File) {
	for _, f := range files {
		if err := s.store.DeleteFile(ctx, f.ID); err != nil {
			s.log.Error("download: discard", "file", f.ID, "err", err)
		}
	}
}
