package main

import (
	"fmt"
	"io"
)

func runScan(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "dlpguard scan: not implemented yet")
	return 1
}

func runPolicy(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "dlpguard policy: not implemented yet")
	return 1
}
