package review

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"dlpguard/audit"
	"dlpguard/download"
	"dlpguard/hold"
	"dlpguard/policy"
	"dlpguard/release"
	"dlpguard/spool"
)

// holdVerdict converts a policy verdict into the hold store's form: rules,
// clauses, masked findings and the attachments as inspected.
func holdVerdict(v *policy.Verdict, id string) hold.Verdict {
	sum := v.Summary(id)
	hv := hold.Verdict{Action: string(v.Action)}
	for _, r := range sum.Rules {
		hv.Rules = append(hv.Rules, hold.Rule{ID: r.ID, Action: string(r.Action), Clause: r.Clause, Reason: r.Reason})
	}
	for _, f := range sum.Findings {
		hv.Findings = append(hv.Findings, hold.Finding{Detector: f.Detector, Count: f.Count, Locations: f.Locations,
			Confidence: string(f.Confidence), Samples: f.Samples, Level: hold.Level(f.Level), Contexts: f.Contexts})
	}
	for _, a := range sum.Attachments {
		hv.Attachments = append(hv.Attachments, hold.Attachment{Name: a.Name, Type: a.Type, Encrypted: a.Encrypted, Inspected: a.Inspected, Error: a.Error})
	}
	hv.Parts, hv.PartsComplete = sum.Parts, sum.PartsComplete
	return hv
}

func recipientsOf(env *spool.Envelope) []string {
	out := make([]string, 0, len(env.Recipients))
	for _, r := range env.Recipients {
		out = append(out, r.Address)
	}
	return out
}

// Hold stores a held message (encrypted, durable when Hold returns: the
// relay answers 250 after it), audits it and queues the notices to the
// sender and the department's approvers. It returns the hold ID (the
// envelope's ID when it is a valid one). A notice that cannot be queued is
// logged, not returned: the message itself is safe.
func (s *Service) Hold(ctx context.Context, env *spool.Envelope, content io.Reader, v *policy.Verdict) (string, error) {
	if env == nil || v == nil {
		return "", errors.New("review: hold without envelope or verdict")
	}
	id := env.ID
	if !spool.ValidID(id) {
		id = spool.NewID()
	}
	log := s.logger(id)
	subject := ""
	if v.Inspect != nil {
		subject = v.Inspect.Header.Subject
	}
	level := string(v.Level)
	rec := hold.Record{
		ID: id,
		Envelope: hold.Envelope{From: env.From, Recipients: recipientsOf(env), ClientIP: env.ClientIP,
			HELO: env.HELO, AuthUser: env.AuthUser, Received: env.Received},
		Subject:           subject,
		Department:        v.Department,
		Level:             hold.Level(level),
		Verdict:           holdVerdict(v, id),
		RequiredApprovals: s.requiredApprovals(level),
		// One record per held message: what the release and the notices
		// need travels with it (3.3.5: class I/II leaves encrypted).
		Handling: hold.Handling{Approvers: v.Approvers, RequireEncryption: v.RequireEncryption || level == "I" || level == "II",
			SMTPUTF8: env.UTF8, EightBitMIME: env.EightBit, ReasonsEN: map[string]string{}},
	}
	for _, h := range v.Rules {
		if h.ReasonEN != "" {
			rec.Handling.ReasonsEN[h.ID] = h.ReasonEN
		}
	}
	if rec.Envelope.Received.IsZero() {
		rec.Envelope.Received = s.now().UTC()
	}
	deptSource := s.holdDepartment(ctx, &rec)
	rec, err := s.holds.Put(ctx, rec, content)
	if err != nil {
		return "", fmt.Errorf("review hold %s: %w", id, err)
	}
	details := map[string]any{
		"from": rec.Envelope.From, "recipients": rec.Envelope.Recipients, "department": rec.Department,
		"level": rec.Level, "rules": rec.Verdict.Rules, "findings": maskedFindings(rec.Verdict.Findings),
		"content_sha256": rec.ContentSHA256, "policy_version": v.PolicyVersion,
	}
	if s.dir != nil {
		details["department_source"] = deptSource
	}
	if _, err := s.audit.Append(ctx, "relay", audit.Hold, id, details); err != nil {
		// The message is held; a missing audit entry is an operator
		// alarm, not a reason to lose the message.
		log.Error("review: audit hold", "err", err)
	}
	log.Info("review: held", "from", rec.Envelope.From, "department", rec.Department, "level", rec.Level, "verdict", v)
	s.sendNotice(ctx, id, heldNotice(s, rec))
	for _, ap := range s.noticeApprovers(rec) {
		s.sendNotice(ctx, id, approverNotice(s, rec, ap))
	}
	return id, nil
}

// noticeApprovers is who is asked to decide: the approvers the policy
// named at hold time, or the security team when it named none.
func (s *Service) noticeApprovers(rec hold.Record) []string {
	if len(rec.Handling.Approvers) > 0 {
		return rec.Handling.Approvers
	}
	return s.cfg.SecurityTeam
}

// AuditRejected records a message the relay refused with 550 by the
// policy (3.3.5): nothing of it is kept, so this entry is its only trace.
func (s *Service) AuditRejected(ctx context.Context, env *spool.Envelope, v *policy.Verdict) {
	if env == nil || v == nil {
		return
	}
	rules := []map[string]string{}
	for _, h := range v.Rules {
		if h.Action == policy.Reject {
			rules = append(rules, map[string]string{"id": h.ID, "clause": h.Clause})
		}
	}
	hv := holdVerdict(v, env.ID)
	s.auditLog(ctx, s.logger(env.ID), "relay", ActionSMTPReject, env.ID, map[string]any{
		"from": env.From, "recipients": recipientsOf(env), "client_ip": env.ClientIP, "department": v.Department,
		"level": v.Level, "rules": rules, "findings": maskedFindings(hv.Findings), "policy_version": v.PolicyVersion,
		"reply": "550 5.7.1", "outcome": "refused", "reason_code": "policy",
	})
}

// Audit actions the review service writes beside the audit package's.
const (
	ActionSMTPReject = "smtp-reject" // the relay's 550 by the policy
	ActionRemind     = "remind"      // approvers reminded before expiry
)

// attempt records one approve/release/reject/false-positive attempt with
// its outcome and reason code (granted, or the refusal's code:
// self_approval, wrong_department, not_approver, no_key, state, …).
func (s *Service) attempt(ctx context.Context, a Actor, action, id string, err error, details map[string]any) {
	if details == nil {
		details = map[string]any{}
	}
	if err == nil {
		details["outcome"], details["reason_code"] = "granted", "granted"
	} else {
		details["outcome"], details["reason_code"] = "refused", reasonCode(err)
	}
	actor := a.Address
	if actor == "" {
		actor = "unknown"
	}
	s.auditLog(ctx, s.logger(id), actor, action, id, details)
}

// maskedFindings keeps what the audit log needs: detector, count and
// locations (samples are masked, but the log keeps no more than it must).
func maskedFindings(fs []hold.Finding) []map[string]any {
	out := []map[string]any{}
	for _, f := range fs {
		out = append(out, map[string]any{"detector": f.Detector, "count": f.Count, "locations": f.Locations})
	}
	return out
}

// ReleaseResult is the outcome of a release request.
type ReleaseResult struct {
	ID string `json:"id"`
	// Status is "approved" (more approvals needed, four-eyes) or
	// "released" (queued for delivery).
	Status    string `json:"status"`
	Approvals int    `json:"approvals"`
	Required  int    `json:"required"`
	QueueID   string `json:"queue_id,omitempty"`
	Method    string `json:"method,omitempty"` // public-key, passphrase, none
	// Passphrase is returned once, in passphrase mode, for the releasing
	// officer to give the recipient by another channel (never stored or
	// mailed).
	Passphrase string `json:"passphrase,omitempty"`
	// PassphraseHandoff says to whom the passphrase must go and how
	// (never by this mail); set with Passphrase.
	PassphraseHandoff *Handoff       `json:"passphrase_handoff,omitempty"`
	Fingerprints      []string       `json:"fingerprints,omitempty"`
	Parts             []release.Part `json:"parts,omitempty"`
	// Exception is the 8.4 exception of a class I/II release sent
	// unencrypted; ProtectedHeaders the header fields moved into the
	// encrypted 元のヘッダー.txt.pgp.
	Exception        string   `json:"exception,omitempty"`
	ProtectedHeaders []string `json:"protected_headers,omitempty"`
	// Links are the recipients' download links of a release by link
	// (method "link"): recipient and expiry, never the token.
	Links []download.Published `json:"links,omitempty"`
}

// Handoff tells the releasing officer whom to give the passphrase and by
// which channel (3.3.5: the key never travels with the message).
type Handoff struct {
	To        []string `json:"to"`         // the recipients who need it
	ChannelJA string   `json:"channel_ja"` // e.g. 電話または手渡し
	JA        string   `json:"message_ja"`
	EN        string   `json:"message_en"`
}

func (s *Service) handoff(rec hold.Record) *Handoff {
	to := strings.Join(rec.Envelope.Recipients, ", ")
	return &Handoff{To: rec.Envelope.Recipients, ChannelJA: s.cfg.PassphraseChannel,
		JA: fmt.Sprintf("このパスワードを受信者（%s）に、%sなど、このメール以外の手段で伝えてください。メールやその返信では送らないでください。送信者には「パスワードは承認者（%s）から受信者に伝える」と通知しました。",
			to, s.cfg.PassphraseChannel, rec.Actor),
		EN: fmt.Sprintf("Give this passphrase to the recipients (%s) by a channel other than mail (%s); never by mail or in a reply. The sender was told that you (%s) give it to the recipients.",
			to, s.cfg.PassphraseChannel, rec.Actor)}
}

func needReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return errNoReason
	}
	return nil
}

// Release approves a held message as actor; once enough different
// approvers agreed (four-eyes), the message is rewritten with every
// attachment encrypted when its level requires it (3.3.5), queued for
// delivery without being judged again, audited with the SHA-256 of every
// part as inspected and as sent, and the sender told. Every attempt is
// audited with its outcome and reason code.
//
// opt (at most one) asks for "encryption none" under an 8.4 exception.
func (s *Service) Release(ctx context.Context, id string, a Actor, reason string, opt ...ReleaseOptions) (*ReleaseResult, error) {
	action := audit.Release
	details := map[string]any{"reason": reason}
	var o ReleaseOptions
	if len(opt) > 0 {
		o = opt[0]
		if o.Encryption != "" || o.Exception != "" {
			details["encryption_requested"], details["exception"] = o.Encryption, o.Exception
		}
	}
	res, finish, err := s.release(ctx, id, a, reason, o, &action, details)
	// The grant is audited before the released copy enters the queue
	// (finish), so that finishReleases knows after a crash whether the
	// audit entry is still due.
	s.attempt(ctx, a, action, id, err, details)
	if finish != nil {
		finish()
	}
	if err != nil {
		s.logger(id).Warn("review: release refused", "actor", a.Address, "err", err)
	}
	return res, err
}

// release decides; on a committed release it returns finish, which moves
// the staged copy into the delivery queue, tells the sender and lets go of
// decideMu (held until then, so that finishReleases never sees a release
// half done by this process).
func (s *Service) release(ctx context.Context, id string, a Actor, reason string, o ReleaseOptions, action *string, details map[string]any) (_ *ReleaseResult, finish func(), _ error) {
	if err := needReason(reason); err != nil {
		return nil, nil, err
	}
	log := s.logger(id)
	rec, err := s.get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	// Checked now, against the policy in force (3.3.5).
	if err := s.Authorize(ctx, a, rec, OpDecide); err != nil {
		return nil, nil, err
	}
	if rec.Status != hold.Held {
		return nil, nil, storeErr(fmt.Errorf("hold %s is %s: %w", id, rec.Status, hold.ErrInvalidTransition))
	}
	approved := slices.ContainsFunc(rec.Approvals, func(ap hold.Approval) bool { return sameAddr(ap.Actor, a.Address) })
	need := max(rec.RequiredApprovals, 1)
	if !approved && len(rec.Approvals)+1 < need {
		// Four-eyes: this approval is not the last one.
		*action = audit.Approve
		if rec, err = s.holds.Approve(ctx, id, a.Address, reason); err != nil {
			return nil, nil, storeErr(err)
		}
		details["approvals"], details["required"] = len(rec.Approvals), need
		log.Info("review: approved, waiting for another approver", "actor", a.Address)
		return &ReleaseResult{ID: id, Status: "approved", Approvals: len(rec.Approvals), Required: need}, nil, nil
	}
	if approved && !rec.Ready() {
		return nil, nil, storeErr(hold.ErrDuplicateApproval)
	}

	s.decideMu.Lock()
	defer func() {
		if finish == nil {
			s.decideMu.Unlock()
		}
	}()
	if rec, err = s.get(ctx, id); err != nil {
		return nil, nil, err
	}
	if rec.Status != hold.Held {
		return nil, nil, storeErr(fmt.Errorf("hold %s is %s: %w", id, rec.Status, hold.ErrInvalidTransition))
	}
	// Class I/II never leaves in clear; a record of an older version
	// without the flag falls back to its level (3.3.5).
	requireEnc := rec.Handling.RequireEncryption || rec.Level == "I" || rec.Level == "II"
	if link, err := s.byLink(rec, requireEnc, o); err != nil {
		return nil, nil, err
	} else if link {
		// A release by link stages the recipients' notices in a folder
		// of its own (release_link_commit.go).
		return s.releaseLink(ctx, rec, a, reason, o, approved, need, details, log)
	}
	// The release is prepared before the approval is recorded: a release
	// refused (no key, content_mismatch …) leaves no approval behind, and
	// the next attempt records its own reason.
	var rr *release.Result
	w, err := s.spoolWriter(s.staged, func(w io.Writer) error {
		var err error
		rr, err = s.sendRelease(ctx, w, rec, requireEnc, o, log, nil)
		return err
	})
	if err != nil {
		var mk *release.MissingKeyError
		if errors.As(err, &mk) {
			details["recipients_without_key"] = mk.Recipients
		}
		var e *Error
		if errors.As(err, &e) {
			return nil, nil, e
		}
		return nil, nil, fmt.Errorf("review release %s: %w", id, err)
	}
	// The queue entry takes the hold ID: one release, one entry, found
	// again by that ID after a crash.
	env := &spool.Envelope{ID: id, From: rec.Envelope.From, Received: s.now().UTC(),
		UTF8: rec.Handling.SMTPUTF8, EightBit: rec.Handling.EightBitMIME, AuthUser: rec.Envelope.AuthUser, ClientIP: rec.Envelope.ClientIP, HELO: rec.Envelope.HELO}
	env.Recipients = spool.PendingRecipients(rec.Envelope.Recipients)
	if !approved {
		if rec, err = s.holds.Approve(ctx, id, a.Address, reason); err != nil {
			w.Abort()
			return nil, nil, storeErr(err)
		}
	}
	// Exactly once, whatever moment a kill -9 comes (3.3.5: what was
	// released leaves once; what was not stays held):
	//  1. the copy to send is committed to the staging spool, durable
	//     but invisible to the delivery queue;
	//  2. the record is marked released: the commit point;
	//  3. the audit entry is written (Release), then the staged copy is
	//     moved (a rename) into the queue (finish).
	// A crash before 2 leaves the message held, with a staged copy that
	// finishReleases deletes: still held, releasable again. A crash after
	// 2 leaves it released, with a staged copy that finishReleases moves
	// into the queue (writing the audit entry if it is missing). The queue
	// never holds a copy of a message still held (which a second release
	// would send again), and no record says released without a copy on
	// its way.
	// The attempt's ID goes with the copy (its sidecar first, so that no
	// copy is staged without it) and into the record at 2: after a crash
	// the copy leaves only if the record names this attempt, not when
	// another node released the message meanwhile (release_attempt.go).
	attempt, err := newAttempt()
	if err == nil {
		err = s.stageAttempt(id, attempt)
	}
	if err != nil {
		w.Abort()
		return nil, nil, fmt.Errorf("review release %s: stage: %w", id, err)
	}
	if err := w.Commit(env, spool.AreaQueue); err != nil {
		return nil, nil, fmt.Errorf("review release %s: stage: %w", id, err)
	}
	if rec, err = s.holds.Release(ctx, id, a.Address, reason, attempt); err != nil {
		if errors.Is(err, hold.ErrInvalidTransition) {
			// Refused: the record was not held any more (another node
			// released or rejected it first, on a shared store). Our
			// staged copy is not the released one: drop it, or the
			// record's "released" would send it a second time.
			if err := s.staged.Remove(spool.AreaQueue, id); err != nil && !errors.Is(err, spool.ErrNotFound) {
				log.Error("review: staged release not removed", "err", err)
			} else {
				s.dropAttempt(id)
			}
			return nil, nil, storeErr(err)
		}
		// Otherwise the store may or may not have committed: the record
		// decides what becomes of the staged copy.
		s.finishRelease(ctx, id)
		return nil, nil, storeErr(err)
	}
	res := &ReleaseResult{ID: id, Status: "released", Approvals: len(rec.Approvals), Required: need, QueueID: env.ID, Method: "none"}
	details["queue_id"], details["content_sha256"], details["approvers"], details["encryption"] = env.ID, rec.ContentSHA256, rec.Approvals, "none"
	if rr != nil {
		res.Method, res.Passphrase, res.Fingerprints, res.Parts = rr.Method, rr.Passphrase, rr.Fingerprints, rr.Parts
		res.Exception, res.ProtectedHeaders = rr.Exception, rr.ProtectedHeaders
		// Inspect first, then encrypt, with proof: every part's hash as
		// inspected and as sent (rr's JSON leaves the passphrase out),
		// whether the stored tree was the inspected one, and the 8.4
		// exception of an unencrypted class I/II release.
		details["encryption"], details["fingerprints"], details["parts"] = rr.Method, rr.Fingerprints, rr.Parts
		details["parts_checked"], details["protected_headers"] = rr.PartsChecked, rr.ProtectedHeaders
		if rr.Exception != "" {
			details["exception"] = rr.Exception
		}
	}
	if res.Passphrase != "" {
		res.PassphraseHandoff = s.handoff(rec)
		details["passphrase_to"] = rec.Envelope.Recipients
	}
	log.Info("review: released", "actor", a.Address, "queue_id", env.ID, "method", res.Method)
	return res, func() {
		defer s.decideMu.Unlock()
		if s.enqueueReleased(id) {
			s.dropAttempt(id)
			s.sendNotice(ctx, id, releasedNotice(s, rec, res.Method))
		}
	}, nil
}

func (s *Service) auditLog(ctx context.Context, log interface{ Error(string, ...any) }, actor, action, subject string, details any) {
	if _, err := s.audit.Append(ctx, actor, action, subject, details); err != nil {
		log.Error("review: audit", "action", action, "err", err)
	}
}

// Reject refuses a held message; the sender is told. Every attempt is
// audited with its outcome and reason code.
func (s *Service) Reject(ctx context.Context, id string, a Actor, reason string) (hold.Record, error) {
	rec, err := s.reject(ctx, id, a, reason)
	s.attempt(ctx, a, audit.Reject, id, err, map[string]any{"reason": reason})
	if err != nil {
		s.logger(id).Warn("review: reject refused", "actor", a.Address, "err", err)
		return hold.Record{}, err
	}
	s.logger(id).Info("review: rejected", "actor", a.Address)
	s.sendNotice(ctx, id, decisionNotice(s, rec, "rejected"))
	return rec, nil
}

func (s *Service) reject(ctx context.Context, id string, a Actor, reason string) (hold.Record, error) {
	if err := needReason(reason); err != nil {
		return hold.Record{}, err
	}
	rec, err := s.get(ctx, id)
	if err != nil {
		return hold.Record{}, err
	}
	if err := s.Authorize(ctx, a, rec, OpDecide); err != nil {
		return hold.Record{}, err
	}
	s.decideMu.Lock()
	rec, err = s.holds.Reject(ctx, id, a.Address, reason)
	s.decideMu.Unlock()
	return rec, storeErr(err)
}

// MarkFalsePositive records that a finding (by detector, optionally
// location) was wrong, for tuning the detectors; it does not release.
func (s *Service) MarkFalsePositive(ctx context.Context, id string, fp hold.FalsePositive, a Actor, reason string) (hold.Record, error) {
	rec, err := s.markFalsePositive(ctx, id, fp, a, reason)
	s.attempt(ctx, a, audit.FalsePositive, id, err, map[string]any{"detector": fp.Detector, "location": fp.Location, "reason": reason})
	return rec, err
}

func (s *Service) markFalsePositive(ctx context.Context, id string, fp hold.FalsePositive, a Actor, reason string) (hold.Record, error) {
	if err := needReason(reason); err != nil {
		return hold.Record{}, err
	}
	if strings.TrimSpace(fp.Detector) == "" {
		return hold.Record{}, errf(http.StatusBadRequest, "detector_required", "検出器（detector）の指定が必要です。", "a detector is required", nil)
	}
	rec, err := s.get(ctx, id)
	if err != nil {
		return hold.Record{}, err
	}
	if err := s.Authorize(ctx, a, rec, OpDecide); err != nil {
		return hold.Record{}, err
	}
	fp.Actor, fp.Note, fp.At = a.Address, reason, s.now().UTC()
	rec, err = s.holds.MarkFalsePositive(ctx, id, fp)
	return rec, storeErr(err)
}

// Run does the periodic work until ctx is done: expiry (the sender is
// told), reminders and retention purge. (Delayed messages are the
// delivery queue's: it sends them when due.)
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		s.Tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick does Run's work once (tests call it with a moved clock).
func (s *Service) Tick(ctx context.Context) {
	now := s.now()
	expired, err := s.holds.ExpireDue(ctx, now)
	if err != nil {
		s.log.Error("review: expiry", "err", err)
	}
	for _, rec := range expired {
		log := s.logger(rec.ID)
		log.Info("review: expired", "from", rec.Envelope.From)
		s.auditLog(ctx, log, "system", audit.Expire, rec.ID, map[string]any{"expires_at": rec.ExpiresAt})
		s.sendNotice(ctx, rec.ID, decisionNotice(s, rec, "expired"))
	}
	if s.cfg.RemindBefore > 0 {
		s.remind(ctx, now)
	}
	// A staged release whose move into the queue failed is retried.
	s.finishReleases(ctx)
	purged, err := s.holds.PurgeDue(ctx, now)
	if err != nil {
		s.log.Error("review: purge", "err", err)
	}
	for _, rec := range purged {
		s.auditLog(ctx, s.logger(rec.ID), "system", audit.Purge, rec.ID, nil)
	}
}

// remind tells the approvers, once, that a held message expires within
// RemindBefore (nobody has decided yet; 3.3.5 needs their decision).
func (s *Service) remind(ctx context.Context, now time.Time) {
	due, err := s.holds.RemindDue(ctx, now.Add(s.cfg.RemindBefore), now)
	if err != nil {
		s.log.Error("review: reminders", "err", err)
	}
	for _, rec := range due {
		to := s.currentApprovers(ctx, rec)
		if len(to) == 0 {
			to = s.noticeApprovers(rec)
		}
		for _, ap := range to {
			s.sendNotice(ctx, rec.ID, reminderNotice(s, rec, ap))
		}
		s.auditLog(ctx, s.logger(rec.ID), "system", ActionRemind, rec.ID, map[string]any{"to": to, "expires_at": rec.ExpiresAt})
	}
}

// sha256Hex is the hex SHA-256 of b.
func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
