package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"dlpguard/pgdb"
)

// appendLock is the advisory lock key that serialises appends from every
// node ("dlpa" in ASCII).
const appendLock int64 = 0x646c7061

// pgMigrations is the audit log's schema in PostgreSQL (pgdb.Migrate):
// the same columns as in SQLite, so that storage migrate copies rows and
// hashes as they are.
var pgMigrations = []string{
	`CREATE TABLE audit (
		seq     BIGINT PRIMARY KEY,
		time    BIGINT NOT NULL,
		actor   TEXT NOT NULL,
		action  TEXT NOT NULL,
		subject TEXT NOT NULL DEFAULT '',
		details TEXT NOT NULL DEFAULT '',
		prev    TEXT NOT NULL,
		hash    TEXT NOT NULL
	);
	CREATE INDEX audit_subject ON audit(subject);
	CREATE INDEX audit_action ON audit(action);`,
}

// OpenPostgres opens the audit log in the database of pool (which the
// caller owns), shared by several relay nodes: appends from every node
// are serialised by an advisory lock, so the chain stays one line. The
// signed head checkpoint stays a file of this node, named as for Open by
// anchorPath (e.g. data_dir/audit.db → audit.head, audit.key).
func OpenPostgres(ctx context.Context, pool *pgxpool.Pool, anchorPath string) (*Log, error) {
	if err := pgdb.Migrate(ctx, pool, "audit", pgMigrations); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if anchorPath == "" {
		return nil, errors.New("audit: no path for the head checkpoint")
	}
	l := &Log{db: stdlib.OpenDBFromPool(pool), own: true, now: time.Now, pg: true}
	if err := l.openAnchor(ctx, anchorPath); err != nil {
		l.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	return l, nil
}

// q is query as the log's database wants it.
func (l *Log) q(query string) string {
	if !l.pg {
		return query
	}
	return pgdb.Rebind(query)
}
