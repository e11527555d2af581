package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"

	"dlpguard/audit"
	"dlpguard/keyring"
	"dlpguard/review"
)

// runKeys is `dlpguard keys import FILE... | list | remove FPR|ADDRESS`:
// the recipients' OpenPGP keys that releases encrypt to (3.3.5), managed
// directly in the data folder.
func runKeys(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: dlpguard keys import FILE... | list | remove FINGERPRINT|ADDRESS  [--data DIR] [--actor ADDRESS]")
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", holdEnvOr("DLPGUARD_DATA", "/var/lib/dlpguard"), "data folder")
	actor := fs.String("actor", holdEnvOr("USER", "admin"), "who imports or removes (for the audit log)")
	cfgFile := fs.String("config", os.Getenv("DLPGUARD_CONFIG"), "the server configuration: its data_dir and storage (PostgreSQL: the shared audit log)")
	pos, err := holdParseArgs(fs, args[1:])
	if err != nil {
		return 2
	}
	if err := cliDataDir(fs, data, *cfgFile); err != nil {
		fmt.Fprintf(stderr, "dlpguard keys: %v\n", err)
		return 1
	}
	p := review.PathsIn(*data)
	kr, err := keyring.Open(p.Keys, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard keys: %v\n", err)
		return 1
	}
	ctx := context.Background()
	logAudit := func(action string, keys []keyring.Key) error {
		al, closeLog, err := cliOpenAudit(ctx, *data, *cfgFile)
		if err != nil {
			return err
		}
		defer closeLog()
		for _, k := range keys {
			if _, err := al.Append(ctx, *actor, action, k.Fingerprint, k); err != nil {
				return err
			}
		}
		return nil
	}
	switch sub {
	case "import":
		if len(pos) == 0 {
			fmt.Fprintln(stderr, "dlpguard keys import: want FILE...")
			return 2
		}
		status := 0
		for _, f := range pos {
			keys, err := kr.ImportFile(f)
			if err != nil {
				fmt.Fprintf(stderr, "dlpguard keys import %s: %v\n", f, err)
				status = 1
				continue
			}
			for _, k := range keys {
				fmt.Fprintf(stdout, "imported %s %v\n", k.Fingerprint, k.Addresses)
			}
			if err := logAudit(audit.KeyImport, keys); err != nil {
				fmt.Fprintf(stderr, "dlpguard keys: audit: %v\n", err)
				status = 1
			}
		}
		return status
	case "list":
		keys, err := kr.List()
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard keys list: %v\n", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FINGERPRINT\tADDRESSES\tALGORITHM\tEXPIRES\tUSABLE")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\n", k.Fingerprint, k.Addresses, k.Algorithm, keyExpiry(k), keyUsable(k))
		}
		tw.Flush()
		return 0
	case "remove":
		if len(pos) != 1 {
			fmt.Fprintln(stderr, "dlpguard keys remove: want one FINGERPRINT or ADDRESS")
			return 2
		}
		keys, err := kr.Remove(pos[0])
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard keys remove: %v\n", err)
			return 1
		}
		for _, k := range keys {
			fmt.Fprintf(stdout, "removed %s %v\n", k.Fingerprint, k.Addresses)
		}
		if err := logAudit(audit.KeyRemove, keys); err != nil {
			fmt.Fprintf(stderr, "dlpguard keys: audit: %v\n", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "dlpguard keys: unknown command %q\n", sub)
	return 2
}

func keyExpiry(k keyring.Key) string {
	if k.Expires.IsZero() {
		return "never"
	}
	return k.Expires.Format("2006-01-02")
}

func keyUsable(k keyring.Key) string {
	switch {
	case k.Revoked:
		return "revoked"
	case k.Usable:
		return "yes"
	}
	return "no"
}
