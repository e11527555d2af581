// Package spool keeps accepted messages durably on disk, one file per
// message: the message bytes followed by the envelope as a trailer, written
// to a temp file (unnamed where the system allows), fsynced, named in its
// area (queue or hold) and the folder fsynced before the SMTP 250 is given. The file in the area is the
// commit record. The per-recipient delivery state that the queue updates
// goes to an overlay file (ID.env) that takes precedence over the trailer.
// Spools of the previous layout (the message file without a trailer and
// its ID.env) are still read.
package spool

import (
	"errors"
	"time"
)

// RecipientStatus is the delivery state of one recipient.
type RecipientStatus string

const (
	Pending   RecipientStatus = "pending"   // not yet delivered; retried until it expires
	Delivered RecipientStatus = "delivered" // the upstream accepted it
	Failed    RecipientStatus = "failed"    // permanently failed (a DSN is due or sent)
)

// Recipient is one envelope recipient and its delivery state.
type Recipient struct {
	Address   string          `json:"address"`
	Status    RecipientStatus `json:"status"`
	Attempts  int             `json:"attempts"`
	LastError string          `json:"last_error,omitempty"`
	// LastCode is the SMTP reply code of the last attempt (0 if none).
	LastCode int `json:"last_code,omitempty"`
}

// Envelope is everything about a message except its content.
type Envelope struct {
	ID         string      `json:"id"`
	From       string      `json:"from"` // reverse-path; "" for the null sender
	Recipients []Recipient `json:"recipients"`
	ClientIP   string      `json:"client_ip,omitempty"`
	HELO       string      `json:"helo,omitempty"`
	AuthUser   string      `json:"auth_user,omitempty"`
	Received   time.Time   `json:"received"`
	Size       int64       `json:"size"`
	UTF8       bool        `json:"smtputf8,omitempty"` // SMTPUTF8 was requested
	EightBit   bool        `json:"8bitmime,omitempty"` // BODY=8BITMIME (or BINARYMIME)
	// NextAttempt is when the queue tries again; zero means now.
	NextAttempt time.Time `json:"next_attempt"`
	// Expires is when pending recipients are given up and bounced.
	Expires time.Time `json:"expires"`
	// DSN marks a message the relay itself generated (a bounce or a
	// notice): it never triggers another bounce.
	DSN bool `json:"dsn,omitempty"`
}

// ErrNotFound is returned for an unknown message ID.
var ErrNotFound = errors.New("spool: message not found")

// PendingRecipients makes the recipient list of a message about to be
// queued: every address pending, nothing attempted.
func PendingRecipients(addrs []string) []Recipient {
	rs := make([]Recipient, len(addrs))
	for i, a := range addrs {
		rs[i] = Recipient{Address: a, Status: Pending}
	}
	return rs
}
