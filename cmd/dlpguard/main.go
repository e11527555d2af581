// Command dlpguard is the outbound mail and file-transfer guard: one binary
// with the relay (serve), the offline scanner (scan), policy tools and the
// administrative commands.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(rest, stdout, stderr)
	case "scan":
		return runScan(rest, stdin, stdout, stderr)
	case "policy":
		return runPolicy(rest, stdout, stderr)
	case "hash-password":
		return runHashPassword(rest, stdin, stdout, stderr)
	case "hold":
		return runHold(rest, stdout, stderr)
	case "keys":
		return runKeys(rest, stdout, stderr)
	case "audit":
		return runAudit(rest, stdout, stderr)
	case "tokens":
		return runTokens(rest, stdout, stderr)
	case "users":
		return runUsers(rest, stdin, stdout, stderr)
	case "directory":
		return runDirectory(rest, stdout, stderr)
	case "storage":
		return runStorage(rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "dlpguard", version)
		return 0
	case "help", "--help", "-h":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "dlpguard: unknown command %q\n", cmd)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: dlpguard COMMAND [ARGS]

commands:
  serve [--config FILE] [--demo]         run the relay
  scan [--policy FILE] [--json] PATH...  inspect .eml files as the relay would
  policy check FILE                      validate a policy file
  policy diff OLD NEW PATH...            show verdicts that a policy change alters
  policy default                         print the embedded default policy
  hold list|show|release|reject|false-positive   review held messages (through the API)
  keys import FILE|list|remove FPR       recipients' OpenPGP public keys for releases
  audit verify|list                      check the hash chain of the audit log
  tokens add|list|revoke                 API tokens for approvers and administrators
  users add|passwd|disable|list          console accounts
  directory test --config FILE --address SENDER   department and approvers of a sender (AD/LDAP)
  storage migrate --from sqlite:DIR --to postgres:DSN   move held messages and the audit log to PostgreSQL
  hash-password                          read a password on stdin, print a hash for smtp.accounts
  version                                print the version
`)
}
