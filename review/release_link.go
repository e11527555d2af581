package review

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"

	"dlpguard/classify"
	"dlpguard/download"
	"dlpguard/hold"
	"dlpguard/mimemsg"
	"dlpguard/policy"
	"dlpguard/release"
	"dlpguard/spool"
)

// releaseMode is how the policy in force lets this message leave
// (policy.ReleaseMode: per rule, per level; "" when it names none).
func (s *Service) releaseMode(rec hold.Record) string {
	mode, _ := s.releaseAccess(rec)
	return mode
}

// releaseAccess is releaseMode with, for links, the policy's access
// (policy.AccessPassphrase: a passphrase the officer hands over).
func (s *Service) releaseAccess(rec hold.Record) (mode, access string) {
	if s.policy == nil {
		return "", ""
	}
	e := s.policy()
	if e == nil {
		return "", ""
	}
	ids := make([]string, 0, len(rec.Verdict.Rules))
	for _, r := range rec.Verdict.Rules {
		ids = append(ids, r.ID)
	}
	return e.ReleaseAccess(ids, string(rec.Level))
}

// byLink reports whether a release goes by download link: content that
// must leave encrypted (3.3.5), and the policy's release mode link, or
// none named, review.no_key: link and a recipient without a usable public
// key. The officer cannot pick another way: "encryption none" goes its
// own way (8.4). A policy mode of refuse refuses here.
func (s *Service) byLink(rec hold.Record, requireEnc bool, o ReleaseOptions) (bool, error) {
	if !requireEnc || o.Encryption != "" {
		return false, nil
	}
	switch s.releaseMode(rec) {
	case policy.ReleaseRefuse:
		return false, errf(http.StatusConflict, "release_refused",
			"ポリシーにより、このメッセージはメールでは送信できません（対策基準 3.3.5）。",
			"the policy does not let this message leave by mail (standard 3.3.5)", nil)
	case policy.ReleaseLink:
		if s.downloads == nil {
			return false, errf(http.StatusConflict, "link_unavailable",
				"ポリシーはダウンロードリンクでの送信を求めていますが、ダウンロード機能（download.listen）が設定されていません（対策基準 3.3.5）。",
				"the policy asks for a download link, but the download listener (download.listen) is not configured (standard 3.3.5)", nil)
		}
		return true, nil
	case policy.ReleasePGP, policy.ReleasePassphrase:
		return false, nil
	}
	if !s.cfg.NoKeyLink || s.downloads == nil {
		return false, nil
	}
	if s.keys == nil {
		return true, nil
	}
	_, missing, err := s.keys.ForRecipients(rec.Envelope.Recipients)
	if err != nil {
		return false, fmt.Errorf("review release %s: keys: %w", rec.ID, err)
	}
	return len(missing) > 0, nil
}

// releaseLink is the release by download link (3.3.5 "暗号化又はパスワード
// 設定等"): the attachments and the body with findings leave the mail
// into the download store, encrypted at rest; each recipient gets a
// notice of their own with one link, the sender's name, the files and the
// expiry. The stored message is compared with the inspected tree first,
// as for every release.
func (s *Service) releaseLink(ctx context.Context, rec hold.Record, a Actor, reason string, o ReleaseOptions,
	approved bool, need int, details map[string]any, log *slog.Logger) (_ *ReleaseResult, finish func(), _ error) {
	id := rec.ID
	// Exactly once (see release_link_commit.go): the staging folder first,
	// so that a crash from here on leaves a mark recovery settles.
	stage, err := s.openLinkStage(id)
	if err != nil {
		return nil, nil, fmt.Errorf("review release %s: %w", id, err)
	}
	// The attempt's ID, in the folder before anything else: recovery
	// queues the notices only if the record names it (release_attempt.go).
	attempt, err := newAttempt()
	if err == nil {
		err = writeSynced(filepath.Join(s.linkStageRoot(), id), linkStageAttempt, []byte(attempt+"\n"))
	}
	if err != nil {
		if rerr := s.removeLinkStage(id); rerr != nil {
			log.Error("review: link staging folder not removed", "err", rerr)
		}
		return nil, nil, fmt.Errorf("review release %s: %w", id, err)
	}
	var files []download.File
	detach := func(d release.Detached, r io.Reader) error {
		f, err := s.downloads.StoreFile(ctx, d.Kind, d.Name, d.Type, r)
		if err != nil {
			return err
		}
		files = append(files, f)
		return s.noteLinkFile(id, f.ID)
	}
	// Before any link exists: the files alone are deleted.
	abandon := func() {
		s.downloads.Discard(context.WithoutCancel(ctx), files)
		if err := s.removeLinkStage(id); err != nil {
			log.Error("review: link staging folder not removed", "err", err)
		}
	}
	rr, err := s.sendRelease(ctx, io.Discard, rec, true, o, log, detach)
	if err != nil {
		abandon()
		return nil, nil, err
	}
	if !approved {
		if rec, err = s.holds.Approve(ctx, id, a.Address, reason); err != nil {
			abandon()
			return nil, nil, storeErr(err)
		}
	}
	senderName := ""
	for _, f := range rr.Outer {
		if f.Key == "From" {
			if l := mimemsg.ParseAddressList([]string{f.Value}); len(l) > 0 {
				senderName = l[0].Name
			}
		}
	}
	// Where the policy says so, the links open with a passphrase the
	// officer hands over by another channel (never mailed), else with a
	// code mailed to each recipient.
	var pass string
	if _, access := s.releaseAccess(rec); access == policy.AccessPassphrase {
		if pass, err = release.NewPassphrase(); err != nil {
			abandon()
			return nil, nil, err
		}
	}
	// The links are inert until the record says released.
	links, err := s.downloads.Publish(ctx, id, rec.Envelope.From, senderName, rec.Envelope.Recipients, files, pass)
	if err != nil {
		abandon()
		return nil, nil, fmt.Errorf("review release %s: %w", id, err)
	}
	// This attempt's links, named in the folder: if another attempt
	// commits, recovery withdraws these and only these.
	if err := s.noteLinks(id, links); err != nil {
		s.undoLinkRelease(ctx, id, err.Error())
		return nil, nil, fmt.Errorf("review release %s: %w", id, err)
	}
	// One notice per recipient, each with its own link only, committed
	// to the staging folder: durable, but not in the queue yet.
	var queued []string
	for _, l := range links {
		msg := s.linkNotice(rr.Outer, rec, l, senderName, files, pass != "")
		w, err := s.spoolWriter(stage, func(w io.Writer) error { _, err := w.Write(msg); return err })
		if err == nil {
			env := &spool.Envelope{ID: w.ID(), From: rec.Envelope.From, Received: s.now().UTC(),
				UTF8: rec.Handling.SMTPUTF8, AuthUser: rec.Envelope.AuthUser, ClientIP: rec.Envelope.ClientIP, HELO: rec.Envelope.HELO,
				Recipients: spool.PendingRecipients([]string{l.Recipient})}
			if err = w.Commit(env, spool.AreaQueue); err == nil {
				queued = append(queued, env.ID)
				continue
			}
		}
		s.undoLinkRelease(ctx, id, err.Error())
		return nil, nil, fmt.Errorf("review release %s: stage notice: %w", id, err)
	}
	// The commit point.
	if rec, err = s.holds.Release(ctx, id, a.Address, reason, attempt); err != nil {
		if errors.Is(err, hold.ErrInvalidTransition) {
			// Another node released (or rejected) it first: this
			// attempt's notices, links and files go; the other node's
			// stay (3.3.5: once).
			s.withdrawLinkAttempt(ctx, id, links, files)
			return nil, nil, storeErr(err)
		}
		// Whether the store committed or not, the record decides what
		// becomes of the staged notices and the links.
		s.finishLinkRelease(ctx, id)
		return nil, nil, storeErr(err)
	}
	res := &ReleaseResult{ID: id, Status: "released", Approvals: len(rec.Approvals), Required: need, QueueID: queued[0],
		Method: "link", Parts: rr.Parts, ProtectedHeaders: rr.ProtectedHeaders, Links: links}
	details["queue_id"], details["queue_ids"], details["content_sha256"], details["approvers"] = queued[0], queued, rec.ContentSHA256, rec.Approvals
	details["encryption"], details["parts"], details["parts_checked"], details["protected_headers"] = "link", rr.Parts, rr.PartsChecked, rr.ProtectedHeaders
	details["links"] = links
	n := releasedNotice(s, rec, "link")
	if pass != "" {
		// 3.3.5: the passphrase goes by another channel, from the officer.
		res.Passphrase, res.PassphraseHandoff = pass, s.handoff(rec)
		details["passphrase_to"] = rec.Envelope.Recipients
		n = decisionNotice(s, rec, "released")
		fmt.Fprintf(&n.JA, "\n添付ファイル等はメールから外し、受信者ごとのダウンロードリンクで送りました（対策基準 3.3.5）。ダウンロードページはパスワードで開きます。パスワードは承認者 %s が、メール以外の手段（%s）で受信者に伝えます。\n", rec.Actor, s.cfg.PassphraseChannel)
		fmt.Fprintf(&n.EN, "\nThe attachments left the mail: each recipient got a download link of their own (standard 3.3.5). The download page opens with a passphrase, which the approver %s gives the recipients by a channel other than mail.\n", rec.Actor)
	}
	s.withRevokeLink(n, id, links[0].Expires)
	log.Info("review: released by link", "actor", a.Address, "links", len(links), "files", len(files), "passphrase", pass != "")
	// finish runs after the audit entry (Release): the notices go into
	// the queue, then the sender is told.
	return res, func() {
		defer s.decideMu.Unlock()
		if _, ok := s.enqueueLinkNotices(id, stage); ok {
			s.sendNotice(ctx, id, n)
		}
	}, nil
}

// linkNotice is the mail one recipient gets: the message's own header
// fields as release leaves them outside (a Subject with findings
// replaced, 3.3.5), and a Japanese-first text naming the sender, the
// files (masked as everything people see), their sizes, the expiry and
// this recipient's link.
func (s *Service) linkNotice(outer mimemsg.Header, rec hold.Record, l download.Published, senderName string, files []download.File, passphrase bool) []byte {
	var b bytes.Buffer
	var h textproto.Header
	for i := len(outer) - 1; i >= 0; i-- {
		h.AddRaw([]byte(outer[i].Key + ": " + outer[i].Value + "\r\n"))
	}
	if !h.Has("Message-Id") {
		var rnd [12]byte
		rand.Read(rnd[:])
		h.Set("Message-ID", "<"+hex.EncodeToString(rnd[:])+"@"+s.cfg.Hostname+">")
	}
	h.Set("MIME-Version", "1.0")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Transfer-Encoding", "base64")
	textproto.WriteHeader(&b, h)
	sender := rec.Envelope.From
	if senderName != "" {
		sender = classify.MaskText(senderName) + " <" + rec.Envelope.From + ">"
	}
	var ja, en strings.Builder
	fmt.Fprintf(&ja, "%s 様\n\n%s から、ファイルが届いています。\n"+
		"個人情報等を含むため、情報セキュリティ対策基準 3.3.5 に基づき、ファイルはメールに添付せず、次のページからダウンロードしていただく形でお送りします。\n\n"+
		"ダウンロードページ（あなた専用のリンクです。転送しないでください）:\n%s\n\n有効期限: %s\n\nファイル:\n",
		l.Recipient, sender, l.URL, s.downloads.Time(l.Expires))
	fmt.Fprintf(&en, "Dear %s,\n\n%s has sent you files.\n"+
		"Because they contain personal information, under clause 3.3.5 of the information security standard they are not attached; download them from this page:\n"+
		"%s\n(This link is for you only; please do not forward it.)\nAvailable until: %s\n\nFiles:\n",
		l.Recipient, sender, l.URL, s.downloads.Time(l.Expires))
	for _, f := range files {
		line := fmt.Sprintf("  - %s（%s）\n", classify.MaskText(f.Name), download.SizeText(f.Size))
		ja.WriteString(line)
		en.WriteString(strings.Replace(strings.Replace(line, "（", " (", 1), "）", ")", 1))
	}
	if passphrase {
		ja.WriteString("\nダウンロードにはパスワードが必要です。パスワードは送信元の担当者から電話などメール以外の方法でお知らせします。\n")
		en.WriteString("\nThe page asks for a password, which the sender's office gives you by telephone or in person, never by mail.\n")
	} else {
		ja.WriteString("\nページを開くと、このメールアドレスに確認コードを送ります。コードを入力するとダウンロードできます。\n")
		en.WriteString("\nThe page sends a confirmation code to this mail address; enter it to download.\n")
	}
	writeText(&b, ja.String(), en.String())
	return b.Bytes()
}

// QueueNotice queues a notice about held message id (Japanese first,
// English below) as the review service's own notices are: the download
// listener's codes and the sender's notice of the first download.
func (s *Service) QueueNotice(ctx context.Context, id string, m download.Message) error {
	n := &notice{To: m.To, SubjectJA: m.SubjectJA, SubjectEN: m.SubjectEN}
	n.JA.WriteString(m.JA)
	n.EN.WriteString(m.EN)
	_, err := s.queueNotice(n)
	return err
}

// LinkView is one recipient's link as staff see it: never the token.
type LinkView struct {
	Recipient string              `json:"recipient"`
	Created   time.Time           `json:"created"`
	Expires   time.Time           `json:"expires"`
	RevokedAt time.Time           `json:"revoked_at,omitzero"`
	RevokedBy string              `json:"revoked_by,omitempty"`
	LockedAt  time.Time           `json:"locked_at,omitzero"`
	Files     []string            `json:"files"`
	Downloads []download.Download `json:"downloads"`
}

var errNoLinks = errf(http.StatusNotFound, "not_found", "このメッセージにはダウンロードリンクがありません。", "this message has no download links", nil)

// Links returns the download links of a release by link with every
// download (time, address, IP, user agent, file, SHA-256), for whoever
// may view the message (Authorize, OpView); names masked as everything
// staff see.
func (s *Service) Links(ctx context.Context, id string, a Actor) ([]LinkView, error) {
	rec, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.Authorize(ctx, a, rec, OpView); err != nil {
		return nil, err
	}
	if s.downloads == nil {
		return nil, errNoLinks
	}
	links, err := s.downloads.Links(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]LinkView, 0, len(links))
	for _, l := range links {
		v := LinkView{Recipient: l.Recipient, Created: l.Created, Expires: l.Expires, RevokedAt: l.RevokedAt, RevokedBy: l.RevokedBy,
			LockedAt: l.LockedAt, Files: []string{}, Downloads: []download.Download{}}
		for _, f := range l.Files {
			v.Files = append(v.Files, classify.MaskText(f.Name))
		}
		for _, d := range l.Downloads {
			d.File = classify.MaskText(d.File)
			v.Downloads = append(v.Downloads, d)
		}
		out = append(out, v)
	}
	return out, nil
}

// RevokeLinks ends every download link of a released message at once:
// the sender may (a mistaken recipient), and whoever may decide on it
// (3.3.5). A granted revoke is the download-revoke entry; a refused
// attempt is audited here with its reason code.
func (s *Service) RevokeLinks(ctx context.Context, id string, a Actor, reason string) (int, error) {
	n, err := s.revokeLinks(ctx, id, a, reason)
	if err != nil {
		s.attempt(ctx, a, download.ActionRevoke, id, err, map[string]any{"reason": reason})
		s.logger(id).Warn("review: revoke refused", "actor", a.Address, "err", err)
	}
	return n, err
}

func (s *Service) revokeLinks(ctx context.Context, id string, a Actor, reason string) (int, error) {
	if err := needReason(reason); err != nil {
		return 0, err
	}
	rec, err := s.get(ctx, id)
	if err != nil {
		return 0, err
	}
	if !sameAddr(a.Address, rec.Envelope.From) {
		if err := s.Authorize(ctx, a, rec, OpDecide); err != nil {
			return 0, err
		}
	}
	if s.downloads == nil {
		return 0, errNoLinks
	}
	n, err := s.downloads.Revoke(ctx, id, a.Address, reason)
	if errors.Is(err, download.ErrNotFound) {
		return 0, errNoLinks
	}
	return n, err
}

func (s *Service) handleLinks(w http.ResponseWriter, r *http.Request, a Actor) {
	links, err := s.Links(r.Context(), r.PathValue("id"), a)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("id"), "links": links})
}

func (s *Service) handleRevokeLinks(w http.ResponseWriter, r *http.Request, a Actor) {
	b, err := readBody(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	n, err := s.RevokeLinks(r.Context(), r.PathValue("id"), a, b.Reason)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("id"), "revoked": n})
}
