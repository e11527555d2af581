package review

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"dlpguard/audit"
	"dlpguard/hold"
	"dlpguard/keyring"
)

// Paths is where the workflow keeps its files in the data folder; the
// relay (serve) and the CLI (keys, audit, tokens) agree through it.
type Paths struct {
	Hold   string // hold store folder (hold.db, content/, hold.key)
	Audit  string // audit.db
	Keys   string // recipients' public keys
	Review string // review.db (tokens), link.key, delay/
	Data   string
	Spool  string // the relay's spool (data/spool)
}

// PathsIn lays the workflow out in the data folder dir.
func PathsIn(dir string) Paths {
	return Paths{Data: dir, Hold: filepath.Join(dir, "hold"), Audit: filepath.Join(dir, "audit.db"),
		Keys: filepath.Join(dir, "keys"), Review: filepath.Join(dir, "review"), Spool: filepath.Join(dir, "spool")}
}

// Stores are the leaf stores the Service works with.
type Stores struct {
	Holds *hold.SQLite
	Audit *audit.Log
	Keys  *keyring.Keyring
}

// StoreOptions tune OpenStores; zero values are the defaults.
type StoreOptions struct {
	HoldFor   time.Duration // default 7 days
	Retention time.Duration // default 30 days
	Logger    *slog.Logger
	Now       func() time.Time // hold store and audit log clock (tests)
}

// OpenStores opens the hold store, audit log and keyring in the data
// folder dir (each created 0700/0600 on first use).
func OpenStores(ctx context.Context, dir string, o StoreOptions) (*Stores, error) {
	p := PathsIn(dir)
	hs, err := hold.OpenSQLite(ctx, hold.Options{Dir: p.Hold, HoldFor: o.HoldFor, Retention: o.Retention, Logger: o.Logger, Now: o.Now})
	if err != nil {
		return nil, err
	}
	al, err := audit.Open(ctx, p.Audit)
	if err != nil {
		hs.Close()
		return nil, err
	}
	if o.Now != nil {
		al.SetClock(o.Now)
	}
	kr, err := keyring.Open(p.Keys, o.Logger)
	if err != nil {
		hs.Close()
		al.Close()
		return nil, err
	}
	// The keyring keeps the real clock: key validity is about the keys'
	// own times, and a test clock behind a fresh key would make it unusable.
	return &Stores{Holds: hs, Audit: al, Keys: kr}, nil
}

// Close closes the hold store and the audit log.
func (s *Stores) Close() error {
	err := s.Holds.Close()
	if e := s.Audit.Close(); err == nil {
		err = e
	}
	return err
}
