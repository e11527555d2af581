package review

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"dlpguard/audit"
	"dlpguard/hold"
	"dlpguard/policy"
	"dlpguard/release"
	"dlpguard/smtpproxy/spool"
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
	}
	if rec.Envelope.Received.IsZero() {
		rec.Envelope.Received = s.now().UTC()
	}
	// The facts first: a crash after them but before Put leaves only an
	// orphan row; the other order could leave a hold without its approvers.
	m := meta{Approvers: v.Approvers, RequireEncryption: v.RequireEncryption || level == "I" || level == "II",
		UTF8: env.UTF8, EightBit: env.EightBit, ReasonsEN: map[string]string{}}
	for _, h := range v.Rules {
		if h.ReasonEN != "" {
			m.ReasonsEN[h.ID] = h.ReasonEN
		}
	}
	if err := s.db.putMeta(ctx, id, m); err != nil {
		return "", err
	}
	rec, err := s.holds.Put(ctx, rec, content)
	if err != nil {
		return "", fmt.Errorf("review hold %s: %w", id, err)
	}
	if _, err := s.audit.Append(ctx, "relay", audit.Hold, id, map[string]any{
		"from": rec.Envelope.From, "recipients": rec.Envelope.Recipients, "department": rec.Department,
		"level": rec.Level, "rules": rec.Verdict.Rules, "findings": maskedFindings(rec.Verdict.Findings),
		"content_sha256": rec.ContentSHA256, "policy_version": v.PolicyVersion,
	}); err != nil {
		// The message is held; a missing audit entry is an operator
		// alarm, not a reason to lose the message.
		log.Error("review: audit hold", "err", err)
	}
	log.Info("review: held", "from", rec.Envelope.From, "department", rec.Department, "level", rec.Level, "verdict", v)
	s.sendNotice(ctx, id, heldNotice(s, rec, m))
	to := m.Approvers
	if len(to) == 0 {
		to = s.cfg.SecurityTeam
	}
	for _, ap := range to {
		s.sendNotice(ctx, id, approverNotice(s, rec, m, ap))
	}
	return id, nil
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
	Passphrase   string         `json:"passphrase,omitempty"`
	Fingerprints []string       `json:"fingerprints,omitempty"`
	Parts        []release.Part `json:"parts,omitempty"`
	// Exception is the 8.4 exception of a class I/II release sent
	// unencrypted; ProtectedHeaders the header fields moved into the
	// encrypted 元のヘッダー.txt.pgp.
	Exception        string   `json:"exception,omitempty"`
	ProtectedHeaders []string `json:"protected_headers,omitempty"`
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
// part as inspected and as sent, and the sender told.
//
// opt (at most one) asks for "encryption none" under an 8.4 exception.
func (s *Service) Release(ctx context.Context, id string, a Actor, reason string, opt ...ReleaseOptions) (*ReleaseResult, error) {
	if err := needReason(reason); err != nil {
		return nil, err
	}
	log := s.logger(id)
	rec, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, a, rec); err != nil {
		log.Warn("review: release refused", "actor", a.Address, "err", err)
		return nil, err
	}
	if rec.Status != hold.Held {
		return nil, storeErr(fmt.Errorf("hold %s is %s: %w", id, rec.Status, hold.ErrInvalidTransition))
	}
	approved := false
	for _, ap := range rec.Approvals {
		if sameAddr(ap.Actor, a.Address) {
			approved = true
		}
	}
	if !approved {
		if rec, err = s.holds.Approve(ctx, id, a.Address, reason); err != nil {
			return nil, storeErr(err)
		}
		s.auditLog(ctx, log, a.Address, audit.Approve, id, map[string]any{"reason": reason,
			"approvals": len(rec.Approvals), "required": rec.RequiredApprovals})
	} else if !rec.Ready() {
		return nil, storeErr(hold.ErrDuplicateApproval)
	}
	res := &ReleaseResult{ID: id, Status: "approved", Approvals: len(rec.Approvals), Required: max(rec.RequiredApprovals, 1)}
	if !rec.Ready() {
		log.Info("review: approved, waiting for another approver", "actor", a.Address)
		return res, nil
	}

	s.decideMu.Lock()
	defer s.decideMu.Unlock()
	if rec, err = s.get(ctx, id); err != nil {
		return nil, err
	}
	if rec.Status != hold.Held {
		return nil, storeErr(fmt.Errorf("hold %s is %s: %w", id, rec.Status, hold.ErrInvalidTransition))
	}
	m, found, err := s.db.getMeta(ctx, id)
	if err != nil {
		return nil, err
	}
	if !found {
		m.RequireEncryption = rec.Level == "I" || rec.Level == "II"
	}
	var o ReleaseOptions
	if len(opt) > 0 {
		o = opt[0]
	}
	var rr *release.Result
	w, err := s.spoolWriter(func(w io.Writer) error {
		var err error
		rr, err = s.sendRelease(ctx, w, rec, m.RequireEncryption, o, log)
		return err
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			s.auditLog(ctx, log, a.Address, ActionReleaseRefused, id, map[string]any{"code": e.Code, "reason": e.EN,
				"encryption": o.Encryption, "exception": o.Exception})
			return nil, e
		}
		return nil, fmt.Errorf("review release %s: %w", id, err)
	}
	env := &spool.Envelope{ID: w.ID(), From: rec.Envelope.From, Received: s.now().UTC(),
		UTF8: m.UTF8, EightBit: m.EightBit, AuthUser: rec.Envelope.AuthUser, ClientIP: rec.Envelope.ClientIP, HELO: rec.Envelope.HELO}
	env.Recipients = spool.PendingRecipients(rec.Envelope.Recipients)
	// Queued first, then marked released: a crash in between can at worst
	// send it twice, never lose it.
	if err := w.Commit(env, spool.AreaQueue); err != nil {
		return nil, fmt.Errorf("review release %s: queue: %w", id, err)
	}
	if rec, err = s.holds.Release(ctx, id, a.Address, reason); err != nil {
		if rmErr := s.spool.Remove(spool.AreaQueue, env.ID); rmErr != nil {
			log.Error("review: release failed and the queued copy could not be removed", "queue_id", env.ID, "err", rmErr)
		}
		return nil, storeErr(err)
	}
	s.notify(env.ID)
	res.Status, res.QueueID = "released", env.ID
	details := map[string]any{"reason": reason, "queue_id": env.ID, "content_sha256": rec.ContentSHA256,
		"approvers": rec.Approvals, "encryption": "none"}
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
	s.auditLog(ctx, log, a.Address, audit.Release, id, details)
	log.Info("review: released", "actor", a.Address, "queue_id", env.ID, "method", res.Method)
	s.sendNotice(ctx, id, decisionNotice(s, rec, "released"))
	return res, nil
}

// bodyHasFindings: a finding located in the body moves the body into an
// encrypted attachment on release.
func bodyHasFindings(fs []hold.Finding) bool {
	for _, f := range fs {
		for _, l := range f.Locations {
			if l == "body" || strings.HasPrefix(l, "body") {
				return true
			}
		}
	}
	return false
}

func (s *Service) auditLog(ctx context.Context, log interface{ Error(string, ...any) }, actor, action, subject string, details any) {
	if _, err := s.audit.Append(ctx, actor, action, subject, details); err != nil {
		log.Error("review: audit", "action", action, "err", err)
	}
}

// Reject refuses a held message; the sender is told.
func (s *Service) Reject(ctx context.Context, id string, a Actor, reason string) (hold.Record, error) {
	if err := needReason(reason); err != nil {
		return hold.Record{}, err
	}
	log := s.logger(id)
	rec, err := s.get(ctx, id)
	if err != nil {
		return hold.Record{}, err
	}
	if err := s.authorize(ctx, a, rec); err != nil {
		log.Warn("review: reject refused", "actor", a.Address, "err", err)
		return hold.Record{}, err
	}
	s.decideMu.Lock()
	rec, err = s.holds.Reject(ctx, id, a.Address, reason)
	s.decideMu.Unlock()
	if err != nil {
		return hold.Record{}, storeErr(err)
	}
	s.auditLog(ctx, log, a.Address, audit.Reject, id, map[string]any{"reason": reason})
	log.Info("review: rejected", "actor", a.Address)
	s.sendNotice(ctx, id, decisionNotice(s, rec, "rejected"))
	return rec, nil
}

// MarkFalsePositive records that a finding (by detector, optionally
// location) was wrong, for tuning the detectors; it does not release.
func (s *Service) MarkFalsePositive(ctx context.Context, id string, fp hold.FalsePositive, a Actor, reason string) (hold.Record, error) {
	if err := needReason(reason); err != nil {
		return hold.Record{}, err
	}
	if strings.TrimSpace(fp.Detector) == "" {
		return hold.Record{}, errf(http.StatusBadRequest, "detector_required", "検出器（detector）の指定が必要です。", "a detector is required", nil)
	}
	log := s.logger(id)
	rec, err := s.get(ctx, id)
	if err != nil {
		return hold.Record{}, err
	}
	if err := s.authorize(ctx, a, rec); err != nil {
		return hold.Record{}, err
	}
	fp.Actor, fp.Note, fp.At = a.Address, reason, s.now().UTC()
	if rec, err = s.holds.MarkFalsePositive(ctx, id, fp); err != nil {
		return hold.Record{}, storeErr(err)
	}
	s.auditLog(ctx, log, a.Address, audit.FalsePositive, id, map[string]any{"detector": fp.Detector, "location": fp.Location, "reason": reason})
	return rec, nil
}

// Run does the periodic work until ctx is done: expiry (the sender is
// told), retention purge, and delayed messages that are due.
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
	purged, err := s.holds.PurgeDue(ctx, now)
	if err != nil {
		s.log.Error("review: purge", "err", err)
	}
	for _, rec := range purged {
		s.auditLog(ctx, s.logger(rec.ID), "system", audit.Purge, rec.ID, nil)
	}
	s.sendDueDelays(ctx, now)
}

// sha256Hex is the hex SHA-256 of b.
func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
