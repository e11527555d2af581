package review

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"dlpguard/audit"
	"dlpguard/hold"
	"dlpguard/keyring"
	"dlpguard/pgdb"
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
	Holds hold.Store
	Audit *audit.Log
	Keys  *keyring.Keyring
	pool  *pgxpool.Pool // storage driver postgres: the shared database
}

// StoreOptions tune OpenStores; zero values are the defaults.
type StoreOptions struct {
	HoldFor   time.Duration // default 7 days
	Retention time.Duration // default 30 days
	Logger    *slog.Logger
	Now       func() time.Time // hold store and audit log clock (tests)
	// PostgresDSN, when set (storage.driver postgres), puts the hold
	// store and the audit log in that shared database instead of the data
	// folder; the hold key stays the data folder's (the same on every
	// node), as does each node's audit head checkpoint.
	PostgresDSN string
}

// OpenStores opens the hold store, audit log and keyring in the data
// folder dir (each created 0700/0600 on first use).
func OpenStores(ctx context.Context, dir string, o StoreOptions) (*Stores, error) {
	p := PathsIn(dir)
	st := &Stores{}
	hopts := hold.Options{Dir: p.Hold, HoldFor: o.HoldFor, Retention: o.Retention, Logger: o.Logger, Now: o.Now}
	var hs hold.Store
	var err error
	if o.PostgresDSN != "" {
		if st.pool, err = pgdb.Open(ctx, o.PostgresDSN); err != nil {
			return nil, err
		}
		hs, err = hold.OpenPostgres(ctx, st.pool, hopts)
	} else {
		hs, err = hold.OpenSQLite(ctx, hopts)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	st.Holds = hs
	var al *audit.Log
	if st.pool != nil {
		// One chain for every node; the signed head checkpoint stays in
		// this node's data folder.
		al, err = audit.OpenPostgres(ctx, st.pool, p.Audit)
	} else {
		al, err = audit.Open(ctx, p.Audit)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	st.Audit = al
	if o.Now != nil {
		al.SetClock(o.Now)
	}
	kr, err := keyring.Open(p.Keys, o.Logger)
	if err != nil {
		st.Close()
		return nil, err
	}
	st.Keys = kr
	// The keyring keeps the real clock: key validity is about the keys'
	// own times, and a test clock behind a fresh key would make it unusable.
	return st, nil
}

// Close closes the hold store, the audit log and the database pool
// (those that were opened).
func (s *Stores) Close() error {
	var err error
	if s.Holds != nil {
		err = s.Holds.Close()
	}
	if s.Audit != nil {
		if e := s.Audit.Close(); err == nil {
			err = e
		}
	}
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// Ping reports whether the shared database answers (nil with SQLite):
// for /readyz.
func (s *Stores) Ping(ctx context.Context) error {
	if s.pool == nil {
		return nil
	}
	return s.pool.Ping(ctx)
}
