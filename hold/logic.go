package hold

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"dlpguard/mimemsg"
)

// The rules of the record's life, shared by every Store implementation:
// each store only decides where the bytes go and how a transition is
// made atomic (SQLite: the write lock at BEGIN; PostgreSQL: a row lock).

// newRecord is rec as Put stores it: held, timestamps set, decisions and
// marks cleared.
func newRecord(rec Record, now time.Time, holdFor time.Duration) Record {
	now = now.UTC()
	rec.Status = Held
	rec.Created, rec.Updated = now, now
	if rec.ExpiresAt.IsZero() {
		rec.ExpiresAt = now.Add(holdFor)
	}
	if rec.RequiredApprovals < 1 {
		rec.RequiredApprovals = 1
	}
	rec.Actor, rec.Reason, rec.ActedAt, rec.PurgedAt, rec.RemindedAt, rec.ReleaseAttempt = "", "", time.Time{}, time.Time{}, time.Time{}, ""
	rec.Approvals, rec.FalsePositives = nil, nil
	return rec
}

// ruleIDs are the distinct rule IDs of a verdict, for the rule filter.
func ruleIDs(rec Record) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rec.Verdict.Rules {
		if r.ID == "" || seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		out = append(out, r.ID)
	}
	return out
}

// Records are sealed too (subjects, recipients and findings can be
// personal data): the columns used for filtering stay in the clear, the
// rest is AES-256-GCM with the hold ID as additional data.
func decodeRecord(key []byte, id, data string) (Record, error) {
	plain, err := openRecord(key, id, data)
	if err != nil {
		return Record{}, err
	}
	var rec Record
	if err := json.Unmarshal(plain, &rec); err != nil {
		return Record{}, fmt.Errorf("decode record: %w", err)
	}
	if rec.ID != id {
		return Record{}, fmt.Errorf("%w: record of %s stored under %s", ErrTampered, rec.ID, id)
	}
	return rec, nil
}

// recordRows is what database/sql's and pgx's rows have in common.
type recordRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// decodeRows reads every (id, data) row into records; one that does not
// open is an error (ErrTampered), never skipped.
func decodeRows(key []byte, rows recordRows) ([]Record, error) {
	var out []Record
	for rows.Next() {
		var id, data string
		if err := rows.Scan(&id, &data); err != nil {
			return nil, err
		}
		rec, err := decodeRecord(key, id, data)
		if err != nil {
			return nil, fmt.Errorf("hold %s: %w", id, err)
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

// applyEach runs a sweep's fn on each record and saves those it changed,
// returning them.
func applyEach(recs []Record, fn func(*Record) (bool, error), save func(Record) error) ([]Record, error) {
	var out []Record
	for _, rec := range recs {
		changed, err := fn(&rec)
		if err != nil {
			return nil, err
		}
		if !changed {
			continue
		}
		if err := save(rec); err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

func encodeRecord(key []byte, rec Record) (string, error) {
	plain, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	return sealRecord(key, rec.ID, plain)
}

// sealContent encrypts content into w (clause 3.3.4: the plaintext never
// reaches the storage) and returns its size and SHA-256.
func sealContent(ctx context.Context, w io.Writer, key []byte, id string, content io.Reader) (int64, string, error) {
	sw, err := newSealWriter(w, key, id)
	if err != nil {
		return 0, "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(sw, h), mimemsg.ContextReader(ctx, content))
	if err != nil {
		return 0, "", fmt.Errorf("write content: %w", err)
	}
	if err := sw.Close(); err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

func sameActor(a, b string) bool {
	return a != "" && b != "" && strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

func applyApprove(r *Record, actor, note string, now time.Time) error {
	if r.Status != Held {
		return fmt.Errorf("%w: approve a %s message", ErrInvalidTransition, r.Status)
	}
	// Four-eyes (3.3.5: permission of the manager): the sender is
	// never one of the approvers, and each approver counts once.
	if sameActor(actor, r.Envelope.AuthUser) || sameActor(actor, r.Envelope.From) {
		return ErrSelfApproval
	}
	for _, a := range r.Approvals {
		if sameActor(a.Actor, actor) {
			return ErrDuplicateApproval
		}
	}
	r.Approvals = append(r.Approvals, Approval{Actor: actor, At: now.UTC(), Note: note})
	return nil
}

// applyDecision ends a hold (3.3.5): only a held message is decided, and
// a release needs its approvals. Checked on the locked current record,
// this is what makes a release happen once.
func applyDecision(r *Record, actor, reason, attempt string, to Status, now time.Time) error {
	if r.Status != Held {
		return fmt.Errorf("%w: %s → %s", ErrInvalidTransition, r.Status, to)
	}
	if to == Released && !r.Ready() {
		return fmt.Errorf("%w: %d of %d", ErrNeedsApprovals, len(r.Approvals), r.RequiredApprovals)
	}
	r.Status, r.Actor, r.Reason, r.ActedAt = to, actor, reason, now.UTC()
	if to == Released {
		r.ReleaseAttempt = attempt
	}
	return nil
}

// applyFalsePositive: marking the same detector and location again by
// the same actor replaces the earlier mark.
func applyFalsePositive(r *Record, fp FalsePositive, now time.Time) error {
	found := false
	for _, f := range r.Verdict.Findings {
		if f.Detector == fp.Detector {
			found = true
			break
		}
	}
	if !found {
		return fmt.Errorf("hold: no %s finding to mark", fp.Detector)
	}
	if fp.At.IsZero() {
		fp.At = now.UTC()
	}
	for i, old := range r.FalsePositives {
		if old.Detector == fp.Detector && old.Location == fp.Location && sameActor(old.Actor, fp.Actor) {
			r.FalsePositives[i] = fp
			return nil
		}
	}
	r.FalsePositives = append(r.FalsePositives, fp)
	return nil
}

// expire ends a hold nobody decided (3.3.5: not sent without permission).
func expire(now time.Time) func(*Record) (bool, error) {
	return func(rec *Record) (bool, error) {
		if rec.Status != Held {
			return false, nil
		}
		rec.Status, rec.Actor, rec.Reason = Expired, "system", "hold period ended"
		rec.ActedAt, rec.Updated = now.UTC(), now.UTC()
		return true, nil
	}
}

// remind marks a hold reminded, once.
func remind(now time.Time) func(*Record) (bool, error) {
	return func(rec *Record) (bool, error) {
		if !rec.RemindedAt.IsZero() || rec.Status != Held {
			return false, nil
		}
		rec.RemindedAt, rec.Updated = now.UTC(), now.UTC()
		return true, nil
	}
}

// listQuery is the WHERE clause (with its arguments, SQLite's ?
// placeholders; PostgreSQL rebinds them) of a List, and the page's limit
// and offset.
func listQuery(f Filter) (cond string, args []any, limit, offset int) {
	var where []string
	arg := func(v any) string {
		args = append(args, v)
		return "?"
	}
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		var ps []string
		for _, v := range vals {
			ps = append(ps, arg(v))
		}
		where = append(where, col+" IN ("+strings.Join(ps, ",")+")")
	}
	st := make([]string, len(f.Status))
	for i, v := range f.Status {
		st[i] = string(v)
	}
	in("status", st)
	in("department", f.Departments)
	if f.Rule != "" {
		where = append(where, "EXISTS (SELECT 1 FROM hold_rules r WHERE r.hold_id = holds.id AND r.rule_id = "+arg(f.Rule)+")")
	}
	if f.Level != "" {
		where = append(where, "level = "+arg(string(f.Level)))
	}
	if !f.CreatedBefore.IsZero() {
		where = append(where, "created < "+arg(f.CreatedBefore.UnixNano()))
	}
	if !f.CreatedAfter.IsZero() {
		where = append(where, "created > "+arg(f.CreatedAfter.UnixNano()))
	}
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	limit = f.Limit
	if limit <= 0 {
		limit = 50
	}
	return cond, args, min(limit, 1000), max(f.Offset, 0)
}

// lifecycle is the part of Store that every implementation shares: the
// decisions, each run by the store's own atomic transition.
type lifecycle struct {
	// transition runs fn on the current record, locked against every
	// other transition (on every node), and saves it.
	transition func(ctx context.Context, id string, fn func(*Record) error) (Record, error)
	// sweep runs fn on every record q (SQLite's ? placeholders) selects,
	// in one transaction, saves those fn changed and returns them; job
	// names the sweep for a store that runs each on one node at a time.
	sweep func(ctx context.Context, job int64, q string, args []any, fn func(*Record) (bool, error)) ([]Record, error)
	now   func() time.Time
	log   *slog.Logger
}

// ExpireDue implements Store.
func (s *lifecycle) ExpireDue(ctx context.Context, now time.Time) ([]Record, error) {
	out, err := s.sweep(ctx, jobExpire, `SELECT id, data FROM holds WHERE status = ? AND expires <= ? ORDER BY created`,
		[]any{string(Held), now.UnixNano()}, expire(now))
	if err != nil {
		return nil, fmt.Errorf("hold: expire: %w", err)
	}
	for _, r := range out {
		s.log.Info("hold: expired", "id", r.ID)
	}
	return out, nil
}

// RemindDue implements Store.
func (s *lifecycle) RemindDue(ctx context.Context, before, now time.Time) ([]Record, error) {
	out, err := s.sweep(ctx, jobRemind, `SELECT id, data FROM holds WHERE status = ? AND expires <= ? ORDER BY created`,
		[]any{string(Held), before.UnixNano()}, remind(now))
	if err != nil {
		return nil, fmt.Errorf("hold: remind: %w", err)
	}
	return out, nil
}

// Approve implements Store.
func (s *lifecycle) Approve(ctx context.Context, id, actor, note string) (Record, error) {
	if strings.TrimSpace(actor) == "" {
		return Record{}, fmt.Errorf("hold %s: approve: no actor", id)
	}
	rec, err := s.transition(ctx, id, func(r *Record) error {
		return applyApprove(r, actor, note, s.now())
	})
	if err == nil {
		s.log.Info("hold: approved", "id", id, "actor", actor, "approvals", len(rec.Approvals), "required", rec.RequiredApprovals)
	}
	return rec, err
}

func (s *lifecycle) decide(ctx context.Context, id, actor, reason, attempt string, to Status) (Record, error) {
	if strings.TrimSpace(actor) == "" {
		return Record{}, fmt.Errorf("hold %s: %s: no actor", id, to)
	}
	rec, err := s.transition(ctx, id, func(r *Record) error {
		return applyDecision(r, actor, reason, attempt, to, s.now())
	})
	if err == nil {
		s.log.Info("hold: decided", "id", id, "status", to, "actor", actor)
	}
	return rec, err
}

// Release implements Store.
func (s *lifecycle) Release(ctx context.Context, id, actor, reason, attempt string) (Record, error) {
	return s.decide(ctx, id, actor, reason, attempt, Released)
}

// Reject implements Store.
func (s *lifecycle) Reject(ctx context.Context, id, actor, reason string) (Record, error) {
	return s.decide(ctx, id, actor, reason, "", Rejected)
}

// MarkFalsePositive implements Store.
func (s *lifecycle) MarkFalsePositive(ctx context.Context, id string, fp FalsePositive) (Record, error) {
	if fp.Detector == "" || strings.TrimSpace(fp.Actor) == "" {
		return Record{}, fmt.Errorf("hold %s: false positive needs a detector and an actor", id)
	}
	return s.transition(ctx, id, func(r *Record) error {
		return applyFalsePositive(r, fp, s.now())
	})
}

// SetHandling implements Store.
func (s *lifecycle) SetHandling(ctx context.Context, id string, h Handling) (Record, error) {
	return s.transition(ctx, id, func(r *Record) error {
		r.Handling = h
		return nil
	})
}
