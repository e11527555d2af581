// Package hold keeps messages that the policy held (clause 3.3.5) until
// security staff release or reject them, or they expire: one record per
// message with its envelope, verdict, status, approvals and false-positive
// marks, and the message content encrypted at rest (clause 3.3.4).
//
// Store is the interface callers use. OpenSQLite is the store of one node
// (records in SQLite, content as encrypted files beside it); OpenPostgres
// is the store several relay nodes share (records and content in one
// PostgreSQL database, sealed before they are sent). Both run the same
// record rules (logic.go) and the same tests.
package hold

import (
	"context"
	"errors"
	"io"
	"time"

	"dlpguard/mimemsg"
)

// Status of a held message.
type Status string

const (
	Held     Status = "held"     // waiting for a decision
	Released Status = "released" // approved and handed to delivery
	Rejected Status = "rejected" // refused by security staff
	Expired  Status = "expired"  // nobody decided in time
)

// Default durations.
const (
	DefaultHoldFor   = 7 * 24 * time.Hour  // held → expired
	DefaultRetention = 30 * 24 * time.Hour // content of decided messages purged after
)

// Errors. They are wrapped with the hold ID; test with errors.Is.
var (
	ErrNotFound          = errors.New("hold: not found")
	ErrInvalidTransition = errors.New("hold: invalid transition")
	ErrDuplicateApproval = errors.New("hold: already approved by this person")
	ErrSelfApproval      = errors.New("hold: the sender cannot approve their own message")
	ErrNeedsApprovals    = errors.New("hold: not enough approvals")
	ErrPurged            = errors.New("hold: content purged")
	ErrExists            = errors.New("hold: ID already exists")
)

// Envelope is the SMTP envelope of a held message.
type Envelope struct {
	From       string    `json:"from"`
	Recipients []string  `json:"recipients"`
	ClientIP   string    `json:"client_ip,omitempty"`
	HELO       string    `json:"helo,omitempty"`
	AuthUser   string    `json:"auth_user,omitempty"`
	Received   time.Time `json:"received"`
}

// Rule is one policy rule that matched, as in the scan JSON contract.
type Rule struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Clause string `json:"clause"`
	Reason string `json:"reason"`
}

// Attachment is one attachment as inspected, as in the scan JSON contract.
type Attachment struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Encrypted bool   `json:"encrypted"`
	Inspected bool   `json:"inspected"`
	Error     string `json:"error,omitempty"`
}

// Level is a class of information of clause 3.1: "I", "II" or "III"; the
// same strings as Level.
type Level string

// Finding is one detector's finding with masked samples only. Its JSON is
// that of classify.Finding and the scan contract; hold does not import
// classify so that the store stays a leaf package.
type Finding struct {
	Detector   string   `json:"detector"`
	Count      int      `json:"count"`
	Locations  []string `json:"locations"`
	Confidence string   `json:"confidence"`
	Samples    []string `json:"samples"`
	Level      Level    `json:"level,omitempty"`
	Contexts   []string `json:"contexts,omitempty"`
}

// Verdict is why the message was held. Findings carry masked samples only.
type Verdict struct {
	Action      string       `json:"action"`
	Rules       []Rule       `json:"rules"`
	Findings    []Finding    `json:"findings"`
	Attachments []Attachment `json:"attachments,omitempty"`
	// Parts is the message's MIME tree as inspected (mimemsg.Split's
	// list); release refuses a stored message whose tree differs (3.3.5).
	// PartsComplete is false when the inspection did not read the whole
	// tree (a limit or a timeout), so the list cannot vouch for it.
	Parts         []mimemsg.Part `json:"parts,omitempty"`
	PartsComplete bool           `json:"parts_complete,omitempty"`
}

// Approval is one reviewer's approval (four-eyes: several, by different people).
type Approval struct {
	Actor string    `json:"actor"`
	At    time.Time `json:"at"`
	Note  string    `json:"note,omitempty"`
}

// FalsePositive marks one finding (by detector and location) as wrong.
type FalsePositive struct {
	Detector string    `json:"detector"`
	Location string    `json:"location,omitempty"`
	Actor    string    `json:"actor"`
	At       time.Time `json:"at"`
	Note     string    `json:"note,omitempty"`
}

// Handling is how the review service treats a held message, fixed when it
// was held: who the policy named as approvers then (for notices; the right
// to act is checked against the policy in force), whether a release must
// encrypt (3.3.5), the SMTP body flags the release must keep, and the
// rules' English reasons for the English half of notices. It used to live
// in review.db's hold_meta table; the review service imports old rows once.
type Handling struct {
	Approvers         []string          `json:"approvers,omitempty"`
	RequireEncryption bool              `json:"require_encryption"`
	SMTPUTF8          bool              `json:"smtputf8,omitempty"`
	EightBitMIME      bool              `json:"8bitmime,omitempty"`
	ReasonsEN         map[string]string `json:"reasons_en,omitempty"`
}

// Record is one held message without its content.
type Record struct {
	ID         string   `json:"id"`
	Envelope   Envelope `json:"envelope"`
	Subject    string   `json:"subject"`
	Size       int64    `json:"size"` // bytes of content, set by Put
	Department string   `json:"department,omitempty"`
	Level      Level    `json:"level"`
	Verdict    Verdict  `json:"verdict"`
	// RequiredApprovals is how many different people must approve before
	// Release (at least 1; 2 or more for four-eyes).
	RequiredApprovals int `json:"required_approvals"`
	// Handling is the review service's part of the record.
	Handling Handling `json:"handling"`
	// RemindedAt is when the approvers were reminded that the hold
	// expires soon (once per message).
	RemindedAt time.Time `json:"reminded_at,omitzero"`

	Status Status `json:"status"`
	// Actor, Reason and ActedAt describe the decision that ended the hold
	// (release, reject, or "system" for expiry).
	Actor   string    `json:"actor,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	ActedAt time.Time `json:"acted_at,omitzero"`
	// ReleaseAttempt names the release attempt that committed (set with
	// Status released, in the same write): the review service stages a
	// copy under the attempt's random ID before it calls Release, and
	// after a crash sends a staged copy only when its ID is this one, so
	// that a copy staged by an attempt another node beat never leaves
	// (3.3.5: once). It lives in the sealed record, so no schema change:
	// records released by older versions have none ("").
	ReleaseAttempt string `json:"release_attempt,omitempty"`

	Approvals      []Approval      `json:"approvals,omitempty"`
	FalsePositives []FalsePositive `json:"false_positives,omitempty"`

	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	ExpiresAt time.Time `json:"expires_at"`
	// ContentSHA256 is the SHA-256 of the plaintext content (hex).
	ContentSHA256 string    `json:"content_sha256"`
	PurgedAt      time.Time `json:"purged_at,omitzero"` // content deleted (retention)
}

// Ready reports whether enough different people approved for Release.
func (r *Record) Ready() bool {
	need := r.RequiredApprovals
	if need < 1 {
		need = 1
	}
	return len(r.Approvals) >= need
}

// Filter selects records for List. Zero fields do not filter.
type Filter struct {
	Status      []Status
	Departments []string
	Rule        string // a rule ID that matched
	Level       Level  // exactly this level
	// Held before / after these times (by Created): "older than a day" is
	// CreatedBefore = now - 24h.
	CreatedBefore time.Time
	CreatedAfter  time.Time
	Limit         int // default 50, at most 1000
	Offset        int
}

// Page is one page of List results, newest first, with the total count of
// matching records.
type Page struct {
	Records []Record `json:"records"`
	Total   int      `json:"total"`
	Offset  int      `json:"offset"`
	Limit   int      `json:"limit"`
}

// Store keeps held messages.
//
// Transitions are atomic: two reviewers acting at once cannot both release
// and reject, and every invalid transition returns ErrInvalidTransition.
type Store interface {
	// Put stores a new held message: content is streamed, encrypted, and
	// durable before the record is committed. Status, Size, Created,
	// ExpiresAt (unless set) and ContentSHA256 are filled in.
	Put(ctx context.Context, rec Record, content io.Reader) (Record, error)
	Get(ctx context.Context, id string) (Record, error)
	List(ctx context.Context, f Filter) (Page, error)
	// Content returns the decrypted content. A read error (ErrTampered)
	// means the content must not be used.
	Content(ctx context.Context, id string) (io.ReadCloser, error)

	// Approve records actor's approval of a held message. The same actor
	// twice gives ErrDuplicateApproval, the sender gives ErrSelfApproval.
	Approve(ctx context.Context, id, actor, note string) (Record, error)
	// Release moves held → released once Ready (ErrNeedsApprovals
	// otherwise), recording attempt (the caller's release attempt ID, may
	// be "") as ReleaseAttempt in the same write.
	Release(ctx context.Context, id, actor, reason, attempt string) (Record, error)
	// Reject moves held → rejected.
	Reject(ctx context.Context, id, actor, reason string) (Record, error)
	// MarkFalsePositive records that a finding was wrong (any status).
	MarkFalsePositive(ctx context.Context, id string, fp FalsePositive) (Record, error)

	// ExpireDue moves every held message whose ExpiresAt ≤ now to expired
	// and returns them, so the caller can notify the senders and audit.
	ExpireDue(ctx context.Context, now time.Time) ([]Record, error)
	// RemindDue marks every held message whose ExpiresAt ≤ before and
	// whose approvers were not yet reminded as reminded (at now) and
	// returns them: each message is returned once, so the reminder goes
	// out once.
	RemindDue(ctx context.Context, before, now time.Time) ([]Record, error)
	// SetHandling replaces a record's Handling (any status): the import of
	// review.db's old hold_meta rows.
	SetHandling(ctx context.Context, id string, h Handling) (Record, error)
	// PurgeDue deletes the content of released, rejected and expired
	// messages decided more than the retention period before now; the
	// records stay. It returns the records it purged.
	PurgeDue(ctx context.Context, now time.Time) ([]Record, error)

	Close() error
}
