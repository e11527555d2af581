package review

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"dlpguard/internal/keyfile"
	"dlpguard/policy"
	"dlpguard/spool"
)

// Delayed messages (the policy's delay action, 3.3.5 mis-sending) are
// entries of the delivery queue (package dispose commits them) whose
// envelope's NextAttempt is when they are due: the queue sends them then,
// like a retry. Until then the sender's signed links send one at once
// (NextAttempt cleared, queue told) or cancel it (removed from the queue).
// Earlier versions kept them in a spool of their own, DataDir/delay: those
// are moved into the queue at start with their ID and due time
// (migrateDelays), so their links keep working.

// loadLinkKey reads the HMAC key of delay links, creating it (32 random
// bytes, hex, mode 0600) on first use. A key readable by others is refused.
func loadLinkKey(path string) ([]byte, error) {
	k, _, err := keyfile.Load(path)
	if err != nil {
		return nil, fmt.Errorf("review: link key: %w", err)
	}
	return k, nil
}

// sign is the HMAC of one link: the action, the message and the expiry,
// so a link cannot be turned into another action, message or lifetime.
func (s *Service) sign(action, id string, exp int64) string {
	m := hmac.New(sha256.New, s.linkKey)
	fmt.Fprintf(m, "dlpguard-delay-v1\x00%s\x00%s\x00%d", action, id, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// DelayLink returns the signed link for action ("cancel" or "send") that
// is valid until exp.
func (s *Service) DelayLink(action, id string, exp time.Time) string {
	return s.signedURL("/api/v1/delays/"+id+"/"+action, action, id, exp)
}

// signedURL is the link at path (under cfg.BaseURL) that carries the
// signature of action on id until exp: the sender's links, who may have
// no account (delays, the revocation of download links).
func (s *Service) signedURL(path, action, id string, exp time.Time) string {
	e := exp.Unix()
	return fmt.Sprintf("%s%s?exp=%d&sig=%s", s.cfg.BaseURL, path, e, s.sign(action, id, e))
}

func (s *Service) checkLink(action, id, exp, sig string) error {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !hmac.Equal([]byte(sig), []byte(s.sign(action, id, e))) {
		return errf(http.StatusForbidden, "bad_link", "リンクが正しくありません。", "the link is not valid", nil)
	}
	if s.now().Unix() > e {
		return errf(http.StatusGone, "link_expired", "リンクの有効期限が切れています。", "the link has expired", nil)
	}
	return nil
}

// DelayNotice records a delayed message (the audit log) and sends its
// sender the notice with signed links to cancel it or to send it at once
// until due (3.3.5: against mis-sending). The message is already in the
// delivery queue, due then (package dispose put it there); a notice that
// cannot be queued is logged, not returned.
func (s *Service) DelayNotice(ctx context.Context, env *spool.Envelope, due time.Time, v *policy.Verdict) {
	id := env.ID
	var rules []policy.RuleHit
	if v != nil {
		rules = v.Rules
	}
	log := s.logger(id)
	s.auditLog(ctx, log, "relay", "delay", id, map[string]any{"from": env.From, "recipients": recipientsOf(env), "due": due.UTC(), "rules": rules})
	log.Info("review: delayed", "from", env.From, "due", due)
	mins := int((due.Sub(s.now()) + 30*time.Second) / time.Minute)
	n := &notice{To: env.From,
		SubjectJA: fmt.Sprintf("【送信待ち】%d 分後に送信されます（%s）", mins, id),
		SubjectEN: fmt.Sprintf("Delayed: your message will be sent in %d minutes (%s)", mins, id)}
	cancel, send := s.DelayLink("cancel", id, due), s.DelayLink("send", id, due)
	fmt.Fprintf(&n.JA, "誤送信防止のため（対策基準 3.3.5）、あなたのメールは %s まで送信を保留しています。\n\n受付番号: %s\n宛先: %s\n\n"+
		"宛先と内容に誤りがあれば、次のリンクで送信を取り消してください:\n%s\n\nすぐに送信する場合:\n%s\n\n何もしなければ %s に送信されます。\n",
		s.Time(due), id, strings.Join(recipientsOf(env), ", "), cancel, send, s.Time(due))
	fmt.Fprintf(&n.EN, "To prevent mis-sending (standard 3.3.5) your message is kept until %s.\n\nReference: %s\nRecipients: %s\n\n"+
		"If a recipient or the content is wrong, cancel it here:\n%s\n\nTo send it now:\n%s\n\nIf you do nothing it is sent at %s.\n",
		s.Time(due), id, strings.Join(recipientsOf(env), ", "), cancel, send, s.Time(due))
	s.sendNotice(ctx, id, n)
}

// waiting returns the envelope of a delayed message still waiting in the
// queue: due later and never attempted. Anything else (sent, being sent,
// cancelled, or not a delayed message at all) is not found.
func (s *Service) waiting(id string) (*spool.Envelope, error) {
	notFound := func(err error) error {
		return errf(http.StatusNotFound, "not_found", "送信待ちのメールが見つかりません（送信済みまたは取消済み）。", "no such delayed message (sent or cancelled already)", err)
	}
	env, err := s.spool.Envelope(spool.AreaQueue, id)
	if err != nil {
		return nil, notFound(err)
	}
	if !env.NextAttempt.After(s.now()) {
		return nil, notFound(errors.New("due or sent"))
	}
	for _, r := range env.Recipients {
		if r.Status != spool.Pending || r.Attempts > 0 {
			return nil, notFound(errors.New("delivery started"))
		}
	}
	return env, nil
}

// sendDelayed sends a delayed message at once: its due time is cleared
// (durably, so a restart does not wait again) and the queue is told.
func (s *Service) sendDelayed(ctx context.Context, id, actor string) error {
	s.delayMu.Lock()
	defer s.delayMu.Unlock()
	env, err := s.waiting(id)
	if err != nil {
		return err
	}
	env.NextAttempt = time.Time{}
	if err := s.spool.UpdateEnvelope(spool.AreaQueue, env); err != nil {
		return fmt.Errorf("review delay %s: %w", id, err)
	}
	s.notify(id)
	s.auditLog(ctx, s.logger(id), actor, "delay-send", id, map[string]any{"queue_id": id})
	s.logger(id).Info("review: delayed message sent now", "actor", actor)
	return nil
}

// cancelDelayed discards a delayed message at the sender's request: it
// leaves the queue before it was ever attempted.
func (s *Service) cancelDelayed(ctx context.Context, id string) error {
	s.delayMu.Lock()
	defer s.delayMu.Unlock()
	env, err := s.waiting(id)
	if err != nil {
		return err
	}
	if err := s.spool.Remove(spool.AreaQueue, id); err != nil {
		return fmt.Errorf("review delay %s: %w", id, err)
	}
	s.auditLog(ctx, s.logger(id), env.From, "delay-cancel", id, nil)
	s.logger(id).Info("review: delayed message cancelled by the sender")
	return nil
}

// Delayed lists the IDs of the messages waiting in the queue for their
// delay to end.
func (s *Service) Delayed() ([]string, error) {
	ids, err := s.spool.List(spool.AreaQueue)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		if _, err := s.waiting(id); err == nil {
			out = append(out, id)
		}
	}
	return out, nil
}

// migrateDelays moves the delayed messages an earlier version kept in its
// own spool (DataDir/delay) into the delivery queue with their ID and due
// time, so that the sender's links keep working and they leave when due.
// One that cannot be moved stays and is named in the error: never lost.
func (s *Service) migrateDelays() error {
	dir := filepath.Join(s.cfg.DataDir, "delay")
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	old, err := spool.Open(dir)
	if err != nil {
		return fmt.Errorf("review: old delay spool: %w", err)
	}
	ids, err := old.List(spool.AreaQueue)
	if err != nil {
		return fmt.Errorf("review: old delay spool: %w", err)
	}
	var errs []error
	for _, id := range ids {
		if err := s.spool.Adopt(old, spool.AreaQueue, id); err != nil {
			errs = append(errs, fmt.Errorf("review: delayed message %s not moved into the queue: %w", id, err))
			continue
		}
		env, _ := s.spool.Envelope(spool.AreaQueue, id)
		due := time.Time{}
		if env != nil {
			due = env.NextAttempt
		}
		if s.sched != nil {
			s.sched(id, due)
		}
		s.logger(id).Warn("review: delayed message of an earlier version moved into the delivery queue", "due", due)
	}
	return errors.Join(errs...)
}
