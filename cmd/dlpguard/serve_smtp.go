package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"dlpguard/audit"
	"dlpguard/smtpproxy"
)

// authAuditor writes the SMTP front end's AUTH failures and blocks to the
// hash-chained audit log (issue 17), so that a guessing attack is on
// record for the security office, not only in the process log.
type authAuditor struct{ log *audit.Log }

func (a authAuditor) RecordAuth(ctx context.Context, ev smtpproxy.AuthEvent) error {
	_, err := a.log.Append(ctx, "smtp", ev.Kind, ev.Client, ev)
	return err
}

// legacyHolds remembers the plaintext holds of older versions that could
// not be imported at start, for /healthz.
type legacyHolds struct{ err atomic.Pointer[error] }

func (l *legacyHolds) set(err error) {
	if err != nil {
		l.err.Store(&err)
	}
}

// status is the /healthz line while legacy holds are left in clear.
func (l *legacyHolds) status() string {
	if p := l.err.Load(); p != nil {
		return fmt.Sprintf("legacy plaintext holds in spool/hold NOT imported (see the log; they stay until imported): %v", *p)
	}
	return ""
}
