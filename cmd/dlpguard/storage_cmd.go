package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"dlpguard/audit"
	"dlpguard/config"
	"dlpguard/console"
	"dlpguard/hold"
	"dlpguard/pgdb"
	"dlpguard/review"
)

// cliStorageDSN is the shared database's DSN of the configuration cfgFile
// ("" without a configuration, or with storage.driver sqlite).
func cliStorageDSN(cfgFile string) (string, error) {
	if cfgFile == "" {
		return "", nil
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return "", err
	}
	if cfg.Storage.Driver != "postgres" {
		return "", nil
	}
	return cfg.Storage.DSN, nil
}

// cliOpen opens a store where serve with the configuration cfgFile keeps
// it: shared (in the configuration's PostgreSQL database) or local (in
// the data folder). The returned func closes it (and the pool).
func cliOpen[T interface{ Close() error }](ctx context.Context, cfgFile string, local func() (T, error), shared func(*pgxpool.Pool) (T, error)) (T, func(), error) {
	var zero T
	dsn, err := cliStorageDSN(cfgFile)
	if err != nil {
		return zero, nil, err
	}
	if dsn == "" {
		v, err := local()
		if err != nil {
			return zero, nil, err
		}
		return v, func() { v.Close() }, nil
	}
	pool, err := pgdb.Open(ctx, dsn)
	if err != nil {
		return zero, nil, err
	}
	v, err := shared(pool)
	if err != nil {
		pool.Close()
		return zero, nil, err
	}
	return v, func() { v.Close(); pool.Close() }, nil
}

// cliOpenAudit opens the audit log serve writes (the head checkpoint is
// data's either way).
func cliOpenAudit(ctx context.Context, data, cfgFile string) (*audit.Log, func(), error) {
	path := review.PathsIn(data).Audit
	return cliOpen(ctx, cfgFile,
		func() (*audit.Log, error) { return audit.Open(ctx, path) },
		func(p *pgxpool.Pool) (*audit.Log, error) { return audit.OpenPostgres(ctx, p, path) })
}

// cliOpenTokens opens the API tokens serve uses (locally the review.db
// at path).
func cliOpenTokens(ctx context.Context, path, cfgFile string) (*review.DB, func(), error) {
	return cliOpen(ctx, cfgFile,
		func() (*review.DB, error) { return review.OpenDB(ctx, path) },
		func(p *pgxpool.Pool) (*review.DB, error) { return review.OpenDBPostgres(ctx, p) })
}

// cliOpenUsers opens the console accounts serve uses (locally data's
// console.db).
func cliOpenUsers(ctx context.Context, data, cfgFile string) (*console.Users, func(), error) {
	return cliOpen(ctx, cfgFile,
		func() (*console.Users, error) { return console.OpenUsers(ctx, console.UsersPath(data)) },
		func(p *pgxpool.Pool) (*console.Users, error) { return console.OpenUsersPostgres(ctx, p) })
}

// runStorage is `dlpguard storage migrate --from sqlite:DIR --to
// postgres:DSN`: a node's held messages (sealed records and content, as
// they are), its audit log (every entry, hashes unchanged), its API
// tokens and console accounts (hashes) move into an
// empty PostgreSQL database, in one transaction each; then the copy is
// checked: the audit chain verifies against the database and every held
// message's content opens with DIR's hold key. The DSN may be left out
// (postgres:) and taken from $DLPGUARD_STORAGE_DSN, or from --config's
// storage settings.
func runStorage(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "migrate" {
		fmt.Fprintln(stderr, "usage: dlpguard storage migrate --from sqlite:DIR --to postgres:[DSN] [--config FILE]")
		return 2
	}
	fs := flag.NewFlagSet("storage migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "sqlite:DIR — the data folder of the node to move (its hold/ and audit.db)")
	to := fs.String("to", "postgres:", "postgres:DSN — the empty database (DSN empty: $DLPGUARD_STORAGE_DSN or --config's storage)")
	cfgFile := fs.String("config", os.Getenv("DLPGUARD_CONFIG"), "a configuration whose storage names the database")
	if pos, err := holdParseArgs(fs, args[1:]); err != nil || len(pos) > 0 {
		return 2
	}
	dir, ok := strings.CutPrefix(*from, "sqlite:")
	if !ok || dir == "" {
		fmt.Fprintln(stderr, "dlpguard storage migrate: --from は sqlite:DIR で指定してください / --from wants sqlite:DIR")
		return 2
	}
	dsn, ok := strings.CutPrefix(*to, "postgres:")
	if !ok {
		fmt.Fprintln(stderr, "dlpguard storage migrate: --to は postgres:DSN で指定してください / --to wants postgres:DSN")
		return 2
	}
	if dsn == "" {
		dsn = os.Getenv(config.StorageDSNEnv)
	}
	if dsn == "" {
		var err error
		if dsn, err = cliStorageDSN(*cfgFile); err != nil {
			fmt.Fprintf(stderr, "dlpguard storage migrate: %v\n", err)
			return 1
		}
	}
	if dsn == "" {
		fmt.Fprintf(stderr, "dlpguard storage migrate: 移行先のデータベースがありません（postgres:DSN、$%s または --config）/ no target database\n", config.StorageDSNEnv)
		return 2
	}
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, dsn)
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard storage migrate: %v\n", err)
		return 1
	}
	defer pool.Close()
	p := review.PathsIn(dir)
	holds, err := hold.CopyToPostgres(ctx, p.Hold, pool)
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard storage migrate: %v\n", err)
		return 1
	}
	entries, err := audit.CopyToPostgres(ctx, p.Audit, pool)
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard storage migrate: 保留メッセージ %d 件は移行済み、監査ログの移行に失敗 / holds copied, audit log not: %v\n", holds, err)
		return 1
	}
	tokens, err := review.CopyTokensToPostgres(ctx, filepath.Join(p.Review, "review.db"), pool)
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard storage migrate: 保留メッセージと監査ログは移行済み、API トークンの移行に失敗 / holds and audit log copied, tokens not: %v\n", err)
		return 1
	}
	users, err := console.CopyUsersToPostgres(ctx, console.UsersPath(dir), pool)
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard storage migrate: 保留メッセージ・監査ログ・トークンは移行済み、コンソールのアカウントの移行に失敗 / accounts not copied: %v\n", err)
		return 1
	}
	// Check the copy as the nodes will read it.
	al, err := audit.OpenPostgres(ctx, pool, p.Audit)
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard storage migrate: %v\n", err)
		return 1
	}
	defer al.Close()
	if brk, err := al.Verify(ctx); err != nil || brk != nil {
		fmt.Fprintf(stderr, "dlpguard storage migrate: 移行後の監査ログの検証に失敗 / audit verify after the copy: %v %v\n", brk, err)
		return 1
	}
	hs, err := hold.OpenPostgres(ctx, pool, hold.Options{Dir: p.Hold})
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard storage migrate: %v\n", err)
		return 1
	}
	opened := 0
	for off := 0; ; {
		page, err := hs.List(ctx, hold.Filter{Limit: 1000, Offset: off})
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard storage migrate: %v\n", err)
			return 1
		}
		for _, rec := range page.Records {
			if !rec.PurgedAt.IsZero() {
				continue
			}
			rc, err := hs.Content(ctx, rec.ID)
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			if err != nil {
				fmt.Fprintf(stderr, "dlpguard storage migrate: 保留メッセージ %s の内容を開けません / content of %s: %v\n", rec.ID, rec.ID, err)
				return 1
			}
			opened++
		}
		off += len(page.Records)
		if len(page.Records) == 0 || off >= page.Total {
			break
		}
	}
	fmt.Fprintf(stdout, "移行しました: 保留メッセージ %d 件（内容を確認 %d 件）、監査ログ %d 件（検証済み）、API トークン %d 件、コンソールのアカウント %d 件。各ノードに同じ保留鍵 %s を置き、storage.driver: postgres で起動してください。\n"+
		"migrated: %d held messages (%d contents opened), %d audit entries (verified), %d API tokens, %d console accounts\n",
		holds, opened, entries, tokens, users, filepath.Join(p.Hold, "hold.key"), holds, opened, entries, tokens, users)
	return 0
}
