package inspect

import (
	"context"
	"errors"
	"io"
)

// ErrNotImplemented is returned until the MIME walk lands.
var ErrNotImplemented = errors.New("inspect: not implemented")

// Message inspects one RFC 5322 message read from r, sending its text to sink
// and returning the list of parts and problems. Malformed content never makes
// it fail: it is reported in the Result (Problems, Incomplete, Part.Reason).
// The error is only for failures to read r or a cancelled ctx.
func Message(ctx context.Context, r io.Reader, lim Limits, sink Sink) (*Result, error) {
	return nil, ErrNotImplemented
}

// File inspects one file (an upload, or an attachment handled on its own) as
// if it were an attachment named name.
func File(ctx context.Context, name string, r io.Reader, lim Limits, sink Sink) (*Result, error) {
	return nil, ErrNotImplemented
}
