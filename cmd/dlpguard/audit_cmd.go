package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"dlpguard/audit"
)

// runAudit is `dlpguard audit verify | list`: the hash-chained audit log
// of holds, releases, rejections and exceptions (3.3.5, 8.4). verify checks
// the chain and its signed head checkpoint (entries cut off the end are
// found without --head); --head adds a head recorded elsewhere.
func runAudit(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: dlpguard audit verify [--data DIR] [--config FILE] [--head SEQ:HASH] | list [--data DIR] [--config FILE] [--subject ID] [--action A] [--limit N] | reanchor [--data DIR] --reason TEXT [--actor NAME]")
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("audit "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", holdEnvOr("DLPGUARD_DATA", "/var/lib/dlpguard"), "data folder")
	head := fs.String("head", "", "verify: a head recorded earlier (SEQ:HASH) to detect entries removed from the end")
	subject := fs.String("subject", "", "list: subject (hold ID)")
	action := fs.String("action", "", "list: action")
	limit := fs.Int("limit", 100, "list: entries")
	reason := fs.String("reason", "", "reanchor: why the break is accepted (recorded in the log)")
	actor := fs.String("actor", "cli:"+holdEnvOr("USER", "unknown"), "reanchor: who decides (recorded in the log)")
	cfgFile := fs.String("config", os.Getenv("DLPGUARD_CONFIG"), "the server configuration: its data_dir and storage (PostgreSQL: the shared log)")
	pos, err := holdParseArgs(fs, args[1:])
	if err != nil || len(pos) > 0 {
		return 2
	}
	if err := cliDataDir(fs, data, *cfgFile); err != nil {
		fmt.Fprintf(stderr, "dlpguard audit: %v\n", err)
		return 1
	}
	ctx := context.Background()
	al, closeLog, err := cliOpenAudit(ctx, *data, *cfgFile)
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard audit: %v\n", err)
		return 1
	}
	defer closeLog()
	switch sub {
	case "verify":
		var brk *audit.Break
		if *head != "" {
			var seq int64
			var hash string
			if _, err := fmt.Sscanf(*head, "%d:%s", &seq, &hash); err != nil {
				fmt.Fprintln(stderr, "dlpguard audit verify: --head wants SEQ:HASH")
				return 2
			}
			brk, err = al.VerifyHead(ctx, seq, hash)
		} else {
			brk, err = al.Verify(ctx)
		}
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard audit verify: %v\n", err)
			return 1
		}
		if brk != nil {
			fmt.Fprintf(stdout, "監査ログの改ざんを検出しました / audit log tampered: entry %d: %s\n", brk.Seq, brk.Reason)
			return 1
		}
		seq, hash, err := al.Head(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard audit verify: %v\n", err)
			return 1
		}
		cp, err := al.Checkpoint()
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard audit verify: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "監査ログに改ざんはありません（署名付きチェックポイント %d まで確認）/ ok: %d entries, head %d:%s, signed checkpoint at %d\n",
			cp.Seq, seq, seq, hash, cp.Seq)
		return 0
	case "reanchor":
		// The operator's recorded decision after a break of the anchor
		// (entries cut off the end, a checkpoint lost): from here on a cut
		// end is found again; the break stays in the log.
		if *reason == "" {
			fmt.Fprintln(stderr, "dlpguard audit reanchor: --reason が必要です / --reason is required")
			return 2
		}
		e, brk, err := al.Reanchor(ctx, *actor, *reason)
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard audit reanchor: %v\n", err)
			return 1
		}
		if brk == nil {
			fmt.Fprintln(stdout, "監査ログに改ざんはありません。何もしていません / the log verifies: nothing done")
			return 0
		}
		fmt.Fprintf(stdout, "検出されていた改ざん: entry %d: %s\nエントリ %d に記録し、署名付きチェックポイントを付け直しました / recorded as entry %d and anchored anew\n",
			brk.Seq, brk.Reason, e.Seq, e.Seq)
		if b, err := al.Verify(ctx); err == nil && b != nil {
			fmt.Fprintf(stdout, "なお改ざんが残っています（チェーン内）/ still broken inside the chain: entry %d: %s\n", b.Seq, b.Reason)
			return 1
		}
		return 0
	case "list":
		entries, total, err := al.List(ctx, audit.Filter{Subject: *subject, Action: *action, Limit: *limit})
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard audit list: %v\n", err)
			return 1
		}
		enc := json.NewEncoder(stdout)
		for _, e := range entries {
			enc.Encode(e)
		}
		fmt.Fprintf(stderr, "%d of %d\n", len(entries), total)
		return 0
	}
	fmt.Fprintf(stderr, "dlpguard audit: unknown command %q\n", sub)
	return 2
}
