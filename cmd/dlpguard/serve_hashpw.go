package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"dlpguard/smtpproxy"
)

// runHashPassword prints an argon2id hash of the password read from stdin,
// for smtp.accounts[].password_hash (clear passwords never go in the
// configuration file). Earlier versions printed bcrypt; those hashes still
// verify.
func runHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: dlpguard hash-password < password")
		return 2
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintf(stderr, "dlpguard hash-password: %v\n", err)
		return 1
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		fmt.Fprintln(stderr, "dlpguard hash-password: empty password")
		return 1
	}
	h, err := smtpproxy.HashPassword(pw)
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard hash-password: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, h)
	return 0
}
