package review

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"dlpguard/internal/keyfile"
	"dlpguard/policy"
	"dlpguard/smtpproxy/spool"
)

// Delayed messages (the policy's delay action, 3.3.5 mis-sending) wait in
// a spool of their own, DataDir/delay, with the envelope's NextAttempt set
// to when they are due: the spool's fsync and recovery make them as
// durable as queued mail, and nothing else scans that folder.

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
	e := exp.Unix()
	return fmt.Sprintf("%s/api/v1/delays/%s/%s?exp=%d&sig=%s", s.cfg.BaseURL, id, action, e, s.sign(action, id, e))
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

// Delay keeps a message for the verdict's delay (3.3.5: against
// mis-sending); the sender gets a notice with signed links to cancel or to
// send at once. Untouched, it goes out when due (Run). It is durable when
// Delay returns.
func (s *Service) Delay(ctx context.Context, env *spool.Envelope, content io.Reader, v *policy.Verdict) (string, error) {
	if env == nil || v == nil {
		return "", errors.New("review: delay without envelope or verdict")
	}
	id := env.ID
	if !spool.ValidID(id) {
		id = spool.NewID()
	}
	d := time.Duration(v.DelayMinutes) * time.Minute
	if d <= 0 {
		d = s.cfg.DefaultDelay
	}
	due := s.now().Add(d)
	w, err := s.delays.Create()
	if err != nil {
		return "", fmt.Errorf("review delay %s: %w", id, err)
	}
	if _, err := io.Copy(w, content); err != nil {
		w.Abort()
		return "", fmt.Errorf("review delay %s: %w", id, err)
	}
	denv := *env
	denv.ID, denv.NextAttempt, denv.Size = id, due, 0
	denv.Recipients = append([]spool.Recipient(nil), env.Recipients...)
	if err := w.Commit(&denv, spool.AreaQueue); err != nil {
		return "", fmt.Errorf("review delay %s: %w", id, err)
	}
	log := s.logger(id)
	s.auditLog(ctx, log, "relay", "delay", id, map[string]any{"from": env.From, "recipients": recipientsOf(env), "due": due.UTC(), "rules": v.Rules})
	log.Info("review: delayed", "from", env.From, "due", due)

	n := &notice{To: env.From,
		SubjectJA: fmt.Sprintf("【送信待ち】%d 分後に送信されます（%s）", int(d/time.Minute), id),
		SubjectEN: fmt.Sprintf("Delayed: your message will be sent in %d minutes (%s)", int(d/time.Minute), id)}
	cancel, send := s.DelayLink("cancel", id, due), s.DelayLink("send", id, due)
	fmt.Fprintf(&n.JA, "誤送信防止のため（対策基準 3.3.5）、あなたのメールは %s まで送信を保留しています。\n\n受付番号: %s\n宛先: %s\n\n"+
		"宛先と内容に誤りがあれば、次のリンクで送信を取り消してください:\n%s\n\nすぐに送信する場合:\n%s\n\n何もしなければ %s に送信されます。\n",
		s.Time(due), id, strings.Join(recipientsOf(env), ", "), cancel, send, s.Time(due))
	fmt.Fprintf(&n.EN, "To prevent mis-sending (standard 3.3.5) your message is kept until %s.\n\nReference: %s\nRecipients: %s\n\n"+
		"If a recipient or the content is wrong, cancel it here:\n%s\n\nTo send it now:\n%s\n\nIf you do nothing it is sent at %s.\n",
		s.Time(due), id, strings.Join(recipientsOf(env), ", "), cancel, send, s.Time(due))
	s.sendNotice(ctx, id, n)
	return id, nil
}

// sendDueDelays sends every delayed message whose time has come.
func (s *Service) sendDueDelays(ctx context.Context, now time.Time) {
	ids, err := s.delays.List(spool.AreaQueue)
	if err != nil {
		s.log.Error("review: delays", "err", err)
		return
	}
	for _, id := range ids {
		env, err := s.delays.Envelope(spool.AreaQueue, id)
		if err != nil {
			continue // taken by a link meanwhile
		}
		if env.NextAttempt.After(now) {
			continue
		}
		if err := s.sendDelayed(ctx, id, "system"); err != nil {
			s.logger(id).Error("review: delayed message not sent", "err", err)
		}
	}
}

// sendDelayed moves a delayed message into the delivery queue: committed
// there before it is removed here (a crash in between may send it twice,
// never lose it).
func (s *Service) sendDelayed(ctx context.Context, id, actor string) error {
	s.delayMu.Lock()
	defer s.delayMu.Unlock()
	env, err := s.delays.Envelope(spool.AreaQueue, id)
	if err != nil {
		return errf(http.StatusNotFound, "not_found", "送信待ちのメールが見つかりません（送信済みまたは取消済み）。", "no such delayed message (sent or cancelled already)", err)
	}
	f, err := s.delays.Open(spool.AreaQueue, id)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := s.spoolWriter(func(w io.Writer) error { _, err := io.Copy(w, f); return err })
	if err != nil {
		return err
	}
	env.NextAttempt, env.Size = time.Time{}, 0
	env.ID = w.ID()
	if err := w.Commit(env, spool.AreaQueue); err != nil {
		return err
	}
	if err := s.delays.Remove(spool.AreaQueue, id); err != nil {
		s.logger(id).Error("review: delayed copy not removed", "err", err)
	}
	s.notify(env.ID)
	s.auditLog(ctx, s.logger(id), actor, "delay-send", id, map[string]any{"queue_id": env.ID})
	s.logger(id).Info("review: delayed message queued", "actor", actor, "queue_id", env.ID)
	return nil
}

// cancelDelayed discards a delayed message at the sender's request.
func (s *Service) cancelDelayed(ctx context.Context, id string) error {
	s.delayMu.Lock()
	defer s.delayMu.Unlock()
	env, err := s.delays.Envelope(spool.AreaQueue, id)
	if err != nil {
		return errf(http.StatusNotFound, "not_found", "送信待ちのメールが見つかりません（送信済みまたは取消済み）。", "no such delayed message (sent or cancelled already)", err)
	}
	if err := s.delays.Remove(spool.AreaQueue, id); err != nil {
		return err
	}
	s.auditLog(ctx, s.logger(id), env.From, "delay-cancel", id, nil)
	s.logger(id).Info("review: delayed message cancelled by the sender")
	return nil
}

// Delayed lists the IDs of the messages waiting for their delay to end.
func (s *Service) Delayed() ([]string, error) { return s.delays.List(spool.AreaQueue) }
