package queue

import (
	"context"
	"fmt"
	"io"
	"time"

	"dlpguard/spool"
)

// result is the outcome of one delivery attempt for one recipient.
type result struct {
	Delivered bool
	// Permanent marks a failure that retrying cannot fix (5xx, RFC 5321
	// 4.2.1); a failure that is not Permanent is retried.
	Permanent bool
	Code      int    // SMTP reply code; 0 for a local or network error
	Status    string // RFC 3463 enhanced status, e.g. "5.1.1"
	// Text is the reply (or local error) for logs and the DSN.
	Text string
	// Remote is the host that gave the reply ("" for a local result).
	Remote string
}

// Diagnostic is the reply as it goes into logs and a DSN Diagnostic-Code.
func (r result) Diagnostic() string {
	switch {
	case r.Code != 0 && r.Status != "":
		return fmt.Sprintf("%d %s %s", r.Code, r.Status, r.Text)
	case r.Code != 0:
		return fmt.Sprintf("%d %s", r.Code, r.Text)
	}
	return r.Text
}

// transport delivers one message to some of its recipients. A worker owns
// one transport and uses it from one goroutine only; the transport may keep
// a connection open between calls.
type transport interface {
	// deliver returns one result per rcpts entry, in order.
	deliver(ctx context.Context, env *spool.Envelope, rcpts []string, body io.ReadSeeker) []result
	// idle is called when the worker has had nothing to do for a while.
	idle(since time.Duration)
	close()
}

// allResults gives every recipient the same result.
func allResults(n int, r result) []result {
	out := make([]result, n)
	for i := range out {
		out[i] = r
	}
	return out
}

func tempLocal(format string, args ...any) result {
	return result{Status: "4.4.1", Text: fmt.Sprintf(format, args...)}
}
