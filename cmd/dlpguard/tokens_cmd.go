package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"dlpguard/config"
	"dlpguard/policy"
	"dlpguard/review"
)

// runTokens is `dlpguard tokens add|list|revoke`: the API tokens of the
// approvers and administrators, stored hashed in the data folder.
func runTokens(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: dlpguard tokens add --name NAME --actor ADDRESS --role approver|admin [--department D]... [--config FILE | --policy FILE] | list | revoke NAME  [--data DIR]")
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("tokens "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", holdEnvOr("DLPGUARD_DATA", "/var/lib/dlpguard"), "data folder")
	name := fs.String("name", "", "add: token name (unique)")
	actor := fs.String("actor", "", "add: the holder's mail address (recorded as who acted; default: --name when it is an address)")
	role := fs.String("role", review.RoleApprover, "add: approver or admin")
	var depts holdList
	fs.Var(&depts, "department", "add: department the approver approves for (repeatable; must be named by the policy)")
	cfgFile, polFile := cliPolicyFlags(fs)
	pos, err := holdParseArgs(fs, args[1:])
	if err != nil {
		return 2
	}
	if err := cliDataDir(fs, data, *cfgFile); err != nil {
		fmt.Fprintf(stderr, "dlpguard tokens: %v\n", err)
		return 1
	}
	ctx := context.Background()
	p := review.PathsIn(*data)
	db, closeDB, err := cliOpenTokens(ctx, filepath.Join(p.Review, "review.db"), *cfgFile)
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard tokens: %v\n", err)
		return 1
	}
	defer closeDB()
	now := time.Now()
	switch sub {
	case "add":
		if *actor == "" && strings.Contains(*name, "@") {
			*actor = *name
		}
		if err := checkDepartments(*cfgFile, *polFile, depts); err != nil {
			fmt.Fprintf(stderr, "dlpguard tokens add: %v\n", err)
			return 1
		}
		tok, err := db.AddToken(ctx, review.Token{Name: *name, Actor: *actor, Role: *role, Departments: depts}, now)
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard tokens add: %v\n", err)
			return 1
		}
		if al, closeLog, err := cliOpenAudit(ctx, *data, *cfgFile); err == nil {
			al.Append(ctx, holdEnvOr("USER", "admin"), "token-add", *name, map[string]any{"actor": *actor, "role": *role, "departments": depts})
			closeLog()
		}
		fmt.Fprintf(stderr, "トークンは一度だけ表示されます / the token is shown once:\n")
		fmt.Fprintln(stdout, tok)
		return 0
	case "list":
		toks, err := db.ListTokens(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard tokens list: %v\n", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tACTOR\tROLE\tDEPARTMENTS\tCREATED\tREVOKED")
		for _, t := range toks {
			rev := ""
			if !t.Revoked.IsZero() {
				rev = t.Revoked.Local().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Actor, t.Role, strings.Join(t.Departments, ","), t.Created.Local().Format("2006-01-02 15:04"), rev)
		}
		tw.Flush()
		return 0
	case "revoke":
		if len(pos) != 1 {
			fmt.Fprintln(stderr, "dlpguard tokens revoke: want one NAME")
			return 2
		}
		if err := db.RevokeToken(ctx, pos[0], now); err != nil {
			fmt.Fprintf(stderr, "dlpguard tokens revoke: %v\n", err)
			return 1
		}
		if al, closeLog, err := cliOpenAudit(ctx, *data, *cfgFile); err == nil {
			al.Append(ctx, holdEnvOr("USER", "admin"), "token-revoke", pos[0], nil)
			closeLog()
		}
		fmt.Fprintf(stdout, "revoked %s\n", pos[0])
		return 0
	}
	fmt.Fprintf(stderr, "dlpguard tokens: unknown command %q\n", sub)
	return 2
}

// cliPolicyFlags adds --config and --policy: where the CLI finds the
// policy in force (its departments) the way serve does.
func cliPolicyFlags(fs *flag.FlagSet) (cfgFile, polFile *string) {
	cfgFile = fs.String("config", os.Getenv("DLPGUARD_CONFIG"), "the server configuration (its policy.file names the policy; or $DLPGUARD_CONFIG)")
	polFile = fs.String("policy", "", "the policy file (instead of the configuration's; default: the built-in policy)")
	return cfgFile, polFile
}

// cliDataDir takes the configuration's data_dir when --config is given
// and --data is not.
func cliDataDir(fs *flag.FlagSet, data *string, cfgFile string) error {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "data" })
	if set || cfgFile == "" {
		return nil
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return err
	}
	*data = cfg.DataDir
	return nil
}

// cliPolicy loads the policy serve would run: --policy, else the
// configuration's policy.file, else the built-in default.
func cliPolicy(cfgFile, polFile string) (*policy.Engine, string, error) {
	if polFile == "" && cfgFile != "" {
		cfg, err := config.Load(cfgFile)
		if err != nil {
			return nil, "", err
		}
		polFile = cfg.Policy.File
	}
	if polFile == "" {
		e, err := policy.Default()
		return e, "組み込みの既定ポリシー / the built-in policy", err
	}
	e, err := policy.Load(polFile)
	return e, polFile, err
}

// checkDepartments refuses departments the policy does not name: a token
// or account for one would grant nothing or, worse, look as if it did
// (3.3.5: the policy names each department's approvers).
func checkDepartments(cfgFile, polFile string, depts []string) error {
	if len(depts) == 0 {
		return nil
	}
	e, name, err := cliPolicy(cfgFile, polFile)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	var known []string
	for _, d := range e.Departments() {
		known = append(known, d.Name)
	}
	for _, d := range depts {
		if _, ok := e.Department(d); !ok {
			list := strings.Join(known, ", ")
			if list == "" {
				list = "なし / none"
			}
			return fmt.Errorf("部署 %q はポリシー（%s）にありません。ポリシーの部署: %s / department %q is not named by the policy (%s)", d, name, list, d, name)
		}
	}
	return nil
}

// holdList is a repeatable string flag.
type holdList []string

func (l *holdList) String() string     { return strings.Join(*l, ",") }
func (l *holdList) Set(v string) error { *l = append(*l, v); return nil }
