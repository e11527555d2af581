// Package review is the hold-and-release workflow of clause 3.3.5: class I
// and II information leaves only with the permission of the sender's
// information-security manager, and only encrypted.
//
// The Service takes held messages from the relay (Hold) into the encrypted
// hold store (one record per message, hold.Handling included), tells the
// sender and the department's approvers, and serves the HTTP JSON API
// (Handler) through which approvers release (encryption enforced by package
// release, four-eyes for level I when configured), reject or mark findings
// as false positives. Every state change of a held message goes through the
// Service, whichever of the console, the API or the CLI asks, under one
// permission rule (Authorize) checked against the policy in force at the
// time of the action; every attempt, granted or refused, is an audit entry
// with a reason code.
// It also tells the senders of the policy's delayed messages (DelayNotice;
// the messages wait in the delivery queue): the sender may cancel or send
// at once through signed links until the delay ends.
//
// Wiring (serve): OpenStores(dataDir) opens the hold store, audit log and
// keyring laid out by PathsIn; New(Config{DataDir: PathsIn(dataDir).Review,
// …}, Deps{…, Spool, Notify: queue.Notify}) builds the service; the relay's
// Disposer (package dispose) calls Hold, DelayNotice or AuditRejected with
// the verdict before it answers;
// Handler() serves /api/v1/holds and /api/v1/delays; Run(ctx) does expiry,
// reminders before expiry and retention. The CLI (dlpguard hold, keys, audit, tokens)
// works on the same layout.
package review

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"dlpguard/audit"
	"dlpguard/download"
	"dlpguard/hold"
	"dlpguard/keyring"
	"dlpguard/policy"
	"dlpguard/release"
	"dlpguard/spool"
)

// Config of the Service.
type Config struct {
	// DataDir holds review.db and the link key.
	DataDir string
	// Hostname names this relay in Message-IDs of notices.
	Hostname string
	// NoticeFrom is the From header of notices (e.g.
	// dlpguard@city.example.lg.jp). Their envelope sender is null (RFC 5321
	// 4.5.5), so they never cause bounces.
	NoticeFrom string
	// BaseURL is where the console and this API are reached, for links in
	// notices (e.g. https://dlpguard.city.example.lg.jp:8443).
	BaseURL string
	// HoldFor is shown in the sender notice (the hold store applies it);
	// default 7 days.
	HoldFor time.Duration
	// FourEyesLevelI: a level I release needs two different approvers.
	FourEyesLevelI bool
	// NoKeyMode: what release does when a recipient has no OpenPGP key
	// (release.RefuseWithoutKey or release.PassphraseWithoutKey).
	NoKeyMode release.Mode
	// LinkKeyFile is the HMAC key of delay links (default
	// DataDir/link.key, created 0600 on first use).
	LinkKeyFile string
	// Interval of Run's periodic work (default 30s).
	Interval time.Duration
	// SecurityTeam get the approvers' notice of a message whose department
	// names no approver (so that someone hears of it), and approve the
	// messages of senders of no department (3.3.5).
	SecurityTeam []string
	// AdminsApprove lets administrators give the 3.3.5 permission for
	// every department (review.admins_approve); otherwise only the
	// department's manager and deputies (or the security team) may.
	AdminsApprove bool
	// TimeZone is the zone of every time shown to people (notices, the
	// CLI, the console's data); default Asia/Tokyo.
	TimeZone *time.Location
	// RemindBefore is how long before a hold expires the approvers are
	// reminded, once (default 24h; negative: no reminder).
	RemindBefore time.Duration
	// PassphraseChannel is how a release passphrase reaches the
	// recipients, as told to the releasing officer (Japanese; default
	// 電話または手渡し). Never this mail.
	PassphraseChannel string
	// NoKeyLink: a release that must encrypt, to a recipient without a
	// public key, goes by download link (Deps.Downloads) instead of being
	// refused or sent with a passphrase (review.no_key: link).
	NoKeyLink bool
	// ReleaseSubject replaces, on release, a Subject that carried findings
	// (default release.DefaultSubject); the original goes inside the
	// encryption (3.3.5).
	ReleaseSubject string
}

// Deps are the stores and hooks the Service works with.
type Deps struct {
	Holds hold.Store
	Audit *audit.Log
	Keys  *keyring.Keyring
	// Policy returns the policy in force (its departments name the
	// approvers); may be nil.
	Policy func() *policy.Engine
	Spool  *spool.Store
	// Notify hands a message committed to spool.AreaQueue to the delivery
	// queue (queue.Queue.Notify); may be nil (the queue rescans).
	Notify func(id string)
	// Schedule tells the delivery queue of a message committed to
	// spool.AreaQueue that is due later (queue.Queue.NotifyAt; the delayed
	// messages moved from an earlier version's spool); may be nil (the
	// queue finds them when it scans).
	Schedule func(id string, due time.Time)
	Logger   *slog.Logger
	Now      func() time.Time

	// Downloads releases by download link (review.no_key: link); nil:
	// no link releases.
	Downloads *download.Service
	// Directory is the city's directory (*directory.Client): departments
	// and approvers at hold time and at each action; nil: the policy's
	// departments only.
	Directory Directory
}

// Service is the hold-and-release workflow.
type Service struct {
	cfg    Config
	holds  hold.Store
	audit  *audit.Log
	keys   *keyring.Keyring
	policy func() *policy.Engine
	dir    Directory
	spool  *spool.Store
	// staged holds released copies between their commit and the record's
	// release (see release): durable, but not in the delivery queue.
	staged  *spool.Store
	notify  func(string)
	sched   func(string, time.Time)
	log     *slog.Logger
	now     func() time.Time
	db      *DB
	linkKey []byte
	delayMu sync.Mutex // one delayed message moved or cancelled at a time

	downloads *download.Service // release by link; nil: none
	// decideMu serialises final decisions (release, reject) in this
	// process, so a reject racing a release cannot leave a queued copy.
	decideMu sync.Mutex

	loginMu    sync.Mutex
	lastLogin  map[string]time.Time // token name → last audited login
	lastFailed map[string]time.Time // remote host → last audited failure
}

// New opens the service's own files in cfg.DataDir.
func New(cfg Config, d Deps) (*Service, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("review: no data folder")
	}
	if d.Holds == nil || d.Audit == nil || d.Spool == nil {
		return nil, errors.New("review: hold store, audit log and spool are required")
	}
	if cfg.HoldFor <= 0 {
		cfg.HoldFor = hold.DefaultHoldFor
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	if cfg.NoticeFrom == "" {
		cfg.NoticeFrom = "dlpguard@" + cfg.Hostname
	}
	if cfg.TimeZone == nil {
		cfg.TimeZone = DefaultTimeZone()
	}
	if cfg.RemindBefore == 0 {
		cfg.RemindBefore = 24 * time.Hour
	}
	if cfg.PassphraseChannel == "" {
		cfg.PassphraseChannel = "電話または手渡し"
	}
	if cfg.LinkKeyFile == "" {
		cfg.LinkKeyFile = filepath.Join(cfg.DataDir, "link.key")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	s := &Service{cfg: cfg, holds: d.Holds, audit: d.Audit, keys: d.Keys, policy: d.Policy, dir: d.Directory,
		spool: d.Spool, notify: d.Notify, sched: d.Schedule, log: d.Logger, now: d.Now, downloads: d.Downloads,
		lastLogin: map[string]time.Time{}, lastFailed: map[string]time.Time{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.notify == nil {
		s.notify = func(string) {}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	key, err := loadLinkKey(cfg.LinkKeyFile)
	if err != nil {
		return nil, err
	}
	s.linkKey = key
	// Delays are queue entries now; an earlier version's delay spool is
	// moved into the queue before the queue starts (serve opens the
	// review service first).
	if err := s.migrateDelays(); err != nil {
		return nil, err
	}
	if s.db, err = openServiceDB(context.Background(), cfg.DataDir, d.Holds); err != nil {
		return nil, err
	}
	// Several nodes on one database sign and check each other's links
	// (delays, the sender's revoke link): a node with another link key
	// would hand out links the others refuse, so it does not start.
	if err := s.db.CheckKey(context.Background(), "link", s.sign("key-check", "", 0)); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("このノードのリンク署名鍵 %s が、共有データベースの他のノードの鍵と異なります。全ノードに同じ鍵を置いてください / "+
			"this node's link-signing key %s differs from the other nodes' on the shared database (every node needs the same key): %w", cfg.LinkKeyFile, cfg.LinkKeyFile, err)
	}
	if err := s.importMeta(context.Background()); err != nil {
		s.db.Close()
		return nil, err
	}
	// Releases a crash interrupted are finished (or undone) before the
	// service takes new decisions.
	if s.staged, err = spool.Open(filepath.Join(cfg.DataDir, "release")); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("review: release staging: %w", err)
	}
	s.finishReleases(context.Background())
	return s, nil
}

// DB is the service's token database (for the CLI and tests).
func (s *Service) DB() *DB { return s.db }

// Close closes the service's own database (not the Deps).
func (s *Service) Close() error { return s.db.Close() }

// Error is a refusal with an HTTP status and a message in Japanese and
// English for the API's JSON errors.
type Error struct {
	Status int    `json:"-"`
	Code   string `json:"code"`
	JA     string `json:"message_ja"`
	EN     string `json:"message_en"`
	Err    error  `json:"-"`
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.EN + ": " + e.Err.Error()
	}
	return e.EN
}

func (e *Error) Unwrap() error { return e.Err }

func errf(status int, code, ja, en string, err error) *Error {
	return &Error{Status: status, Code: code, JA: ja, EN: en, Err: err}
}

var (
	errNoReason = errf(http.StatusBadRequest, "reason_required", "理由の入力が必要です。", "a reason is required", nil)
	errSelf     = errf(http.StatusForbidden, "self_approval", "自分が送信したメッセージは承認・処理できません（対策基準 3.3.5）。", "nobody may act on their own message (standard 3.3.5)", hold.ErrSelfApproval)
	errDept     = errf(http.StatusForbidden, "wrong_department", "このメッセージの所属の承認者ではありません。", "you are not an approver of this message's department", nil)
	errNotFound = errf(http.StatusNotFound, "not_found", "保留メッセージが見つかりません。", "no such held message", hold.ErrNotFound)
)

// storeErr maps hold store errors to API refusals.
func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, hold.ErrNotFound):
		return errNotFound
	case errors.Is(err, hold.ErrInvalidTransition):
		return errf(http.StatusConflict, "not_held", "このメッセージは保留中ではありません（処理済み）。", "the message is no longer held", err)
	case errors.Is(err, hold.ErrDuplicateApproval):
		return errf(http.StatusConflict, "already_approved", "すでに承認済みです。別の承認者の承認が必要です。", "you approved already; another approver must approve", err)
	case errors.Is(err, hold.ErrSelfApproval):
		return errSelf
	case errors.Is(err, hold.ErrPurged):
		return errf(http.StatusGone, "purged", "保存期間を過ぎたため内容は削除されています。", "the content was purged", err)
	}
	return err
}

// Actor is who acts through the API or CLI.
type Actor struct {
	Address     string   // mail address, recorded in the audit log
	Role        string   // RoleApprover or RoleAdmin
	Departments []string // for approvers: departments they approve for
}

func sameAddr(a, b string) bool {
	return keyring.NormalizeAddress(a) != "" && keyring.NormalizeAddress(a) == keyring.NormalizeAddress(b)
}

// logger returns the logger with the message ID, for every line about it.
func (s *Service) logger(id string) *slog.Logger { return s.log.With("id", id) }

// requiredApprovals: four-eyes for level I when configured.
func (s *Service) requiredApprovals(level string) int {
	if s.cfg.FourEyesLevelI && level == "I" {
		return 2
	}
	return 1
}

func (s *Service) get(ctx context.Context, id string) (hold.Record, error) {
	rec, err := s.holds.Get(ctx, id)
	return rec, storeErr(err)
}

// spoolWriter starts a new message in st (the relay's spool, or the
// staging spool of releases), written by fill, and returns the writer (not
// yet committed).
func (s *Service) spoolWriter(st *spool.Store, fill func(io.Writer) error) (*spool.Writer, error) {
	w, err := st.Create()
	if err != nil {
		return nil, err
	}
	if err := fill(w); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}
