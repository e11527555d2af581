package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"dlpguard/config"
	"dlpguard/directory"
	"dlpguard/policy"
	"dlpguard/review"
)

const directoryUsage = `usage: dlpguard directory test --config FILE --address SENDER [--json]
  prints what the relay would use for SENDER: department, manager, approvers and
  their source (directory, cache, pattern); exit status 1 when the sender cannot
  be resolved (no department, or nobody to approve for it).`

// runDirectory is `dlpguard directory test`: administrators check the
// mapping of the directory (issue 18) before they rely on it.
func runDirectory(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(stderr, directoryUsage)
		return 2
	}
	fs := flag.NewFlagSet("directory test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", os.Getenv("DLPGUARD_CONFIG"), "the server configuration (its directory and policy.file; or $DLPGUARD_CONFIG)")
	addr := fs.String("address", "", "the sender's mail address")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *cfgFile == "" || *addr == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, directoryUsage)
		return 2
	}
	cfg, err := config.Load(*cfgFile)
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard directory: 設定を読み込めません / cannot load the configuration: %v\n", err)
		return 1
	}
	var pol *policy.Engine
	if cfg.Policy.File != "" {
		pol, err = policy.Load(cfg.Policy.File)
	} else {
		pol, err = policy.Default()
	}
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard directory: ポリシーを読み込めません / cannot load the policy: %v\n", err)
		return 1
	}
	var dir review.Directory
	if cfg.Directory.Enabled() {
		c, err := directory.New(cfg.Directory.ClientConfig(), nil)
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard directory: %v\n", err)
			return 1
		}
		dir = c
	} else {
		fmt.Fprintln(stderr, "dlpguard directory: directory.url が設定されていないため、ポリシーの送信者パターンのみで判定します / no directory configured: the policy's sender patterns only")
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Directory.Timeout+5*time.Second)
	defer cancel()
	w := review.ResolveSender(ctx, dir, pol, *addr)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(w)
	} else {
		printWhoIs(stdout, w)
	}
	if !w.Resolved() {
		fmt.Fprintln(stderr, "dlpguard directory: 送信者の所属または承認者を解決できません（保留は情報セキュリティ担当 review.security_team に回ります） / the sender's department or approvers cannot be resolved (holds go to review.security_team)")
		return 1
	}
	return 0
}

func printWhoIs(w io.Writer, x review.WhoIs) {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	fmt.Fprintf(w, "送信者 / sender:        %s\n", x.Address)
	fmt.Fprintf(w, "氏名 / name:            %s\n", dash(x.DisplayName))
	fmt.Fprintf(w, "所属 / department:      %s\n", dash(x.Department))
	fmt.Fprintf(w, "上長 / manager:         %s\n", dash(x.Manager))
	fmt.Fprintf(w, "承認者 / approvers:     %s\n", dash(strings.Join(x.Approvers, ", ")))
	fmt.Fprintf(w, "情報源 / source:        %s\n", x.Source)
	if x.DirectoryError != "" {
		fmt.Fprintf(w, "ディレクトリ / directory: %s\n", x.DirectoryError)
	}
}
