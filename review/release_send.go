package review

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"dlpguard/hold"
	"dlpguard/mimemsg"
	"dlpguard/policy"
	"dlpguard/release"
)

// ReleaseOptions are what a releasing officer may ask for besides the
// reason (the API's release body).
type ReleaseOptions struct {
	// Encryption is "" (what the level needs: class I/II encrypted) or
	// "none" (sent as it is): allowed for class III, and for class I/II
	// only under Exception.
	Encryption string `json:"encryption,omitempty"`
	// Exception is the ID of the 8.4 exception (in the policy in force,
	// for this sender and these recipients) under which class I/II
	// content leaves unencrypted; it is named in the audit entry.
	Exception string `json:"exception,omitempty"`
}

// sendRelease writes the message to release to w (release.Send): the
// stored message is compared with the tree inspected, class I/II content
// is encrypted, body and attachments, and header fields with findings are
// replaced and carried inside the encryption (3.3.5).
//
// detach, when not nil, makes it the release by download link: the parts
// go to detach, and nothing written to w is for sending.
func (s *Service) sendRelease(ctx context.Context, w io.Writer, rec hold.Record, requireEnc bool, o ReleaseOptions, log *slog.Logger, detach func(release.Detached, io.Reader) error) (*release.Result, error) {
	var locs []string
	for _, f := range rec.Verdict.Findings {
		locs = append(locs, f.Locations...)
	}
	inspected := make([]release.Inspected, 0, len(rec.Verdict.Attachments))
	for _, at := range rec.Verdict.Attachments {
		inspected = append(inspected, release.Inspected{Name: at.Name, Encrypted: at.Encrypted})
	}
	var keys release.KeyLookup
	if s.keys != nil {
		keys = s.keys
	}
	opts := release.Options{
		Recipients: rec.Envelope.Recipients, Keys: keys, Mode: s.cfg.NoKeyMode,
		// 3.3.5: class I/II content never leaves in clear, the body
		// included, whether or not a detector found something in it.
		BodyHasFindings: true, Inspected: inspected,
		ProtectHeaders: release.FieldsWithFindings(locs), Subject: s.cfg.ReleaseSubject,
		// The real clock, not s.now: key validity and packet times are
		// about the present.
		MessageID: rec.ID, Logger: log, Detach: detach,
	}
	// The policy's release mode decides over review.no_key (3.3.5).
	switch s.releaseMode(rec) {
	case policy.ReleasePGP:
		opts.Mode = release.RefuseWithoutKey
	case policy.ReleasePassphrase:
		opts.Mode = release.PassphraseWithoutKey
	}
	so := release.SendOptions{Level: string(rec.Level), RequireEncryption: requireEnc,
		Encryption: o.Encryption, Exception: o.Exception,
		Parts: rec.Verdict.Parts, PartsComplete: rec.Verdict.PartsComplete}
	if s.policy != nil {
		if e := s.policy(); e != nil {
			lim := e.Limits()
			opts.Limits = mimemsg.Limits{MaxDepth: lim.MaxDepth, MaxParts: lim.MaxParts, MaxHeaderBytes: lim.MaxHeaderBytes}
			// 8.4: checked against the policy in force at the release.
			so.ExceptionValid = func(id string) bool {
				return e.ExceptionCovers(id, rec.Envelope.From, rec.Envelope.Recipients, s.now())
			}
		}
	}
	open := func() (io.ReadCloser, error) {
		c, err := s.holds.Content(ctx, rec.ID)
		if err != nil {
			return nil, storeErr(err)
		}
		return c, nil
	}
	rr, err := release.Send(ctx, w, open, opts, so)
	if err != nil {
		return nil, releaseErr(err, log)
	}
	if !rr.PartsChecked {
		log.Warn("review: released without a part list to compare (held before part lists were kept)")
	}
	return rr, nil
}

// releaseErr maps release's refusals to API errors with their reason
// codes (for the audit log and the caller).
func releaseErr(err error, log *slog.Logger) error {
	var mk *release.MissingKeyError
	if errors.As(err, &mk) {
		log.Warn("review: release refused, no key", "recipients", mk.Recipients)
		return errf(http.StatusConflict, "no_key",
			"次の宛先の公開鍵が鍵束にないため、暗号化して送信できません（対策基準 3.3.5）: "+strings.Join(mk.Recipients, ", "),
			"no OpenPGP key for these recipients, so the message cannot be sent encrypted (standard 3.3.5): "+strings.Join(mk.Recipients, ", "), err)
	}
	var rf *release.Refusal
	if !errors.As(err, &rf) {
		return err
	}
	log.Warn("review: release refused", "code", rf.Code, "detail", rf.Detail)
	ja := map[string]string{
		release.CodeContentMismatch:    "保存されているメッセージが検査した内容と一致しないため、送信できません（対策基準 3.3.5）: ",
		release.CodeNotInspected:       "メッセージ全体を検査できていないため、送信できません（対策基準 3.3.5）。却下してください: ",
		release.CodeEncryptionRequired: "重要性分類Ⅰ・Ⅱの情報は暗号化しなければ送信できません（対策基準 3.3.5）。暗号化なしの送信には 8.4 の例外措置の指定が必要です: ",
		release.CodeUnknownException:   "指定された例外措置（8.4）は、このメッセージには有効ではありません: ",
		release.CodeBadEncryption:      "暗号化の指定が正しくありません: ",
	}[rf.Code]
	status := http.StatusConflict
	if rf.Code == release.CodeBadEncryption {
		status = http.StatusBadRequest
	}
	return errf(status, rf.Code, ja+rf.Detail, rf.Detail, err)
}
