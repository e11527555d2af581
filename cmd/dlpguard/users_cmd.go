package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"dlpguard/console"
)

// usersFlagList is a repeatable string flag (--department A --department B).
type usersFlagList []string

func (l *usersFlagList) String() string     { return strings.Join(*l, ",") }
func (l *usersFlagList) Set(v string) error { *l = append(*l, v); return nil }

// usersParse parses flags anywhere among the arguments and returns the
// positional ones.
func usersParse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

const usersUsage = `usage: dlpguard users COMMAND [--data DIR]
  add USER --email ADDRESS --role approver|admin [--department D]... [--name "表示名"] [--password-stdin] [--config FILE | --policy FILE]
  passwd USER [--password-stdin]
  disable USER [--enable]
  list
Without --password-stdin a password is generated and printed once.`

// runUsers is `dlpguard users add|passwd|disable|list`: the local accounts
// of the review console (console.db in the data folder).
func runUsers(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usersUsage)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("users "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	defData := os.Getenv("DLPGUARD_DATA")
	if defData == "" {
		defData = "/var/lib/dlpguard"
	}
	data := fs.String("data", defData, "data folder")
	email := fs.String("email", "", "add: the person's mail address (who acts; nobody approves their own message)")
	display := fs.String("name", "", "add: display name")
	role := fs.String("role", console.RoleApprover, "add: approver or admin")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	enable := fs.Bool("enable", false, "disable: enable the account again")
	var depts usersFlagList
	fs.Var(&depts, "department", "add: department the approver approves for (repeatable; must be named by the policy)")
	cfgFile, polFile := cliPolicyFlags(fs)
	pos, err := usersParse(fs, args[1:])
	if err != nil {
		return 2
	}
	if err := cliDataDir(fs, data, *cfgFile); err != nil {
		fmt.Fprintf(stderr, "dlpguard users: %v\n", err)
		return 1
	}
	needUser := sub == "add" || sub == "passwd" || sub == "disable"
	if (needUser && len(pos) != 1) || (!needUser && len(pos) != 0) {
		fmt.Fprintln(stderr, usersUsage)
		return 2
	}
	ctx := context.Background()
	u, closeUsers, err := cliOpenUsers(ctx, *data, *cfgFile)
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard users: %v\n", err)
		return 1
	}
	defer closeUsers()
	password := func() (string, bool, error) {
		if !*fromStdin {
			return console.GeneratePassword(), true, nil
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", false, err
		}
		return strings.TrimRight(line, "\r\n"), false, nil
	}
	showOnce := func(pw string) {
		fmt.Fprintln(stderr, "パスワードは一度だけ表示されます / the password is shown once:")
		fmt.Fprintln(stdout, pw)
	}
	who := os.Getenv("USER")
	if who == "" {
		who = "admin"
	}
	switch sub {
	case "add":
		if err := checkDepartments(*cfgFile, *polFile, depts); err != nil {
			fmt.Fprintf(stderr, "dlpguard users add: %v\n", err)
			return 1
		}
		pw, generated, err := password()
		if err == nil {
			err = u.Add(ctx, console.User{Username: pos[0], DisplayName: *display, Email: *email, Role: *role, Departments: depts}, pw, time.Now())
		}
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard users add: %v\n", err)
			return 1
		}
		usersAudit(ctx, *data, *cfgFile, who, "user-add", pos[0], map[string]any{"email": *email, "role": *role, "departments": depts})
		if generated {
			showOnce(pw)
		}
		return 0
	case "passwd":
		pw, generated, err := password()
		if err == nil {
			err = u.SetPassword(ctx, pos[0], pw)
		}
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard users passwd: %v\n", err)
			return 1
		}
		usersAudit(ctx, *data, *cfgFile, who, "user-passwd", pos[0], nil)
		if generated {
			showOnce(pw)
		}
		return 0
	case "disable":
		if err := u.SetDisabled(ctx, pos[0], !*enable); err != nil {
			fmt.Fprintf(stderr, "dlpguard users disable: %v\n", err)
			return 1
		}
		action := "user-disable"
		if *enable {
			action = "user-enable"
		}
		usersAudit(ctx, *data, *cfgFile, who, action, pos[0], nil)
		return 0
	case "list":
		list, err := u.List(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard users list: %v\n", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tNAME\tEMAIL\tROLE\tDEPARTMENTS\tSTATE\tLAST LOGIN")
		for _, x := range list {
			state := "active"
			switch {
			case x.Disabled:
				state = "disabled"
			case time.Now().Before(x.LockedUntil):
				state = "locked until " + x.LockedUntil.Local().Format("15:04")
			}
			last := "-"
			if !x.LastLogin.IsZero() {
				last = x.LastLogin.Local().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Username, x.DisplayName, x.Email, x.Role, strings.Join(x.Departments, ","), state, last)
		}
		tw.Flush()
		return 0
	}
	fmt.Fprintf(stderr, "dlpguard users: unknown command %q\n%s\n", sub, usersUsage)
	return 2
}

// usersAudit records account changes in the audit log (who changed
// which account); a missing audit log is not created here by accident:
// audit.Open creates it, as the other commands do.
func usersAudit(ctx context.Context, data, cfgFile, actor, action, subject string, details map[string]any) {
	al, closeLog, err := cliOpenAudit(ctx, data, cfgFile)
	if err != nil {
		return
	}
	defer closeLog()
	al.Append(ctx, actor, action, subject, details)
}
