//go:build !linux

package spool

import (
	"errors"
	"os"
)

var errNoAnon = errors.New("unnamed temp files are not supported here")

func openAnon(dir, label string) (*os.File, error) { return nil, errNoAnon }

func linkAnon(f *os.File, path string) error { return errNoAnon }
