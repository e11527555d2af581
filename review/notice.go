package review

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"dlpguard/classify"
	"dlpguard/hold"
	"dlpguard/spool"
)

// notice is one staff-facing message: Japanese first, English below. It
// never carries the held content or an unmasked identifier: only the hold
// ID, envelope addresses, rules, clauses and masked findings.
type notice struct {
	To        string
	SubjectJA string
	SubjectEN string
	JA, EN    strings.Builder
}

var detectorJA = map[string]string{
	"my_number": "個人番号（マイナンバー）", "corporate_number": "法人番号", "resident_code": "住民票コード",
	"pension_number": "基礎年金番号", "drivers_license": "運転免許証番号", "passport": "旅券番号",
	"credit_card": "クレジットカード番号", "bank_account": "口座番号", "phone_number": "電話番号",
	"postal_code": "郵便番号", "address": "住所", "birth_date": "生年月日", "email_address": "メールアドレス",
	"personal_list": "個人情報の一覧", "marking": "重要性分類の表示",
}

func writeFindings(n *notice, fs []hold.Finding) {
	if len(fs) == 0 {
		return
	}
	n.JA.WriteString("\n検出内容（一部を伏せ字にしています）:\n")
	n.EN.WriteString("\nFindings (masked):\n")
	for _, f := range fs {
		name := detectorJA[f.Detector]
		if name == "" {
			name = f.Detector
		}
		lvl := ""
		if f.Level != "" {
			lvl = " (" + string(f.Level) + ")"
		}
		locs := strings.Join(f.Locations, ", ")
		fmt.Fprintf(&n.JA, "・%s%s %d 件（%s）\n", name, lvl, f.Count, locs)
		fmt.Fprintf(&n.EN, "- %s%s: %d (%s)\n", f.Detector, lvl, f.Count, locs)
		if f.Detector == "personal_list" {
			continue // its samples may be names; the count says enough
		}
		var ss []string
		for _, smp := range f.Samples {
			ss = append(ss, classify.MaskText(smp)) // one masking for every view (issue 11 item 8)
		}
		if len(ss) > 0 {
			fmt.Fprintf(&n.JA, "  例: %s\n", strings.Join(ss, " / "))
			fmt.Fprintf(&n.EN, "  e.g. %s\n", strings.Join(ss, " / "))
		}
	}
}

func writeRules(n *notice, rules []hold.Rule, en map[string]string) {
	if len(rules) == 0 {
		return
	}
	n.JA.WriteString("\n該当した規則:\n")
	n.EN.WriteString("\nRules:\n")
	for _, r := range rules {
		fmt.Fprintf(&n.JA, "・%s（規則 %s、対策基準 %s）\n", r.Reason, r.ID, r.Clause)
		if reason := en[r.ID]; reason != "" {
			fmt.Fprintf(&n.EN, "- %s (rule %s, standard %s)\n", reason, r.ID, r.Clause)
		} else {
			fmt.Fprintf(&n.EN, "- rule %s (standard %s)\n", r.ID, r.Clause)
		}
	}
}

// DefaultTimeZone is Asia/Tokyo (a fixed +09:00 "JST" where the system
// has no zone database: Japan keeps no daylight saving time).
func DefaultTimeZone() *time.Location {
	if loc, err := time.LoadLocation("Asia/Tokyo"); err == nil {
		return loc
	}
	return time.FixedZone("JST", 9*3600)
}

// TimeLayout is how times are written for people: the zone is always
// shown (e.g. 2026-12-07 11:02 JST).
const TimeLayout = "2006-01-02 15:04 MST"

// FormatTime writes t for people in the configured zone (review.time_zone)
// with the zone shown; "" for the zero time.
func FormatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	if loc == nil {
		loc = DefaultTimeZone()
	}
	return t.In(loc).Format(TimeLayout)
}

// Time writes t for people in the service's zone (review.time_zone).
func (s *Service) Time(t time.Time) string { return FormatTime(t, s.cfg.TimeZone) }

// Location is the zone of times shown to people (review.time_zone).
func (s *Service) Location() *time.Location { return s.cfg.TimeZone }

// HoldURL is the console page of a held message, for links in notices.
func (s *Service) HoldURL(id string) string {
	return s.cfg.BaseURL + ConsolePrefix + "/holds/" + id
}

// ConsolePrefix is where serve mounts the review console (console.Prefix).
const ConsolePrefix = "/console"

// heldNotice tells the sender what was found, why, the hold ID, who can
// approve and what to do.
func heldNotice(s *Service, rec hold.Record) *notice {
	m := rec.Handling
	n := &notice{To: rec.Envelope.From,
		SubjectJA: "【保留】送信メールを保留しました（" + rec.ID + "）",
		SubjectEN: "Held: your message was held (" + rec.ID + ")"}
	fmt.Fprintf(&n.JA, "あなたが送信したメールは、情報セキュリティ対策基準 3.3.5 に基づき保留されました。まだ送信されていません。\n\n保留番号: %s\n宛先: %s\n受付日時: %s\n",
		rec.ID, strings.Join(rec.Envelope.Recipients, ", "), s.Time(rec.Created))
	fmt.Fprintf(&n.EN, "Your message was held under clause 3.3.5 of the information security standard. It has not been sent.\n\nHold ID: %s\nRecipients: %s\nReceived: %s\n",
		rec.ID, strings.Join(rec.Envelope.Recipients, ", "), s.Time(rec.Created))
	if rec.Level != "" {
		fmt.Fprintf(&n.JA, "重要性分類: %s\n", rec.Level)
		fmt.Fprintf(&n.EN, "Class: %s\n", rec.Level)
	}
	writeRules(n, rec.Verdict.Rules, m.ReasonsEN)
	writeFindings(n, rec.Verdict.Findings)
	if len(m.Approvers) > 0 {
		fmt.Fprintf(&n.JA, "\n承認できる人（%s の情報セキュリティ管理責任者・代理）: %s\n", rec.Department, strings.Join(m.Approvers, ", "))
		fmt.Fprintf(&n.EN, "\nWho can approve (information-security manager or deputy of %s): %s\n", rec.Department, strings.Join(m.Approvers, ", "))
	} else {
		n.JA.WriteString("\n承認者: 情報セキュリティ管理者（所属の承認者が登録されていません）\n")
		n.EN.WriteString("\nApprover: the security administrators (no approver is registered for your department)\n")
	}
	if rec.RequiredApprovals > 1 {
		fmt.Fprintf(&n.JA, "送信には %d 人の異なる承認者の承認が必要です。\n", rec.RequiredApprovals)
		fmt.Fprintf(&n.EN, "%d different approvers must approve.\n", rec.RequiredApprovals)
	}
	if m.RequireEncryption || rec.Level == "I" || rec.Level == "II" {
		n.JA.WriteString("承認されると、添付ファイルはすべて暗号化して送信されます（対策基準 3.3.5）。\n")
		n.EN.WriteString("If approved, every attachment is encrypted before it is sent (standard 3.3.5).\n")
	}
	days := int(s.cfg.HoldFor / (24 * time.Hour))
	fmt.Fprintf(&n.JA, "\n対応: 送信が必要な場合は、保留番号を添えて承認者に連絡してください。誤りであれば何もする必要はありません。"+
		"%d 日以内に処理されない場合は自動的に破棄されます（期限: %s）。\n", days, s.Time(rec.ExpiresAt))
	fmt.Fprintf(&n.EN, "\nWhat to do: if the message must be sent, ask an approver, quoting the hold ID. If it was a mistake, do nothing. "+
		"Unless someone acts within %d days it is discarded (by %s).\n", days, s.Time(rec.ExpiresAt))
	return n
}

// approverNotice tells an approver that a message awaits them.
func approverNotice(s *Service, rec hold.Record, to string) *notice {
	m := rec.Handling
	n := &notice{To: to,
		SubjectJA: "【承認依頼】保留メールの確認をお願いします（" + rec.ID + "）",
		SubjectEN: "Approval requested: held message " + rec.ID}
	fmt.Fprintf(&n.JA, "%s の承認者として、保留されたメールの確認をお願いします（対策基準 3.3.5）。\n\n保留番号: %s\n送信者: %s\n宛先: %s\n重要性分類: %s\n",
		deptOr(rec.Department, "所属のない送信者"), rec.ID, rec.Envelope.From, strings.Join(rec.Envelope.Recipients, ", "), rec.Level)
	fmt.Fprintf(&n.EN, "As an approver of %s, please review a held message (standard 3.3.5).\n\nHold ID: %s\nSender: %s\nRecipients: %s\nClass: %s\n",
		deptOr(rec.Department, "senders of no department"), rec.ID, rec.Envelope.From, strings.Join(rec.Envelope.Recipients, ", "), rec.Level)
	writeRules(n, rec.Verdict.Rules, m.ReasonsEN)
	writeFindings(n, rec.Verdict.Findings)
	link := s.HoldURL(rec.ID)
	fmt.Fprintf(&n.JA, "保留期限: %s\n\n確認・承認・却下: %s\nコマンド: dlpguard hold show %s\n", s.Time(rec.ExpiresAt), link, rec.ID)
	fmt.Fprintf(&n.EN, "Held until: %s\n\nReview, release or reject: %s\nCommand: dlpguard hold show %s\n", s.Time(rec.ExpiresAt), link, rec.ID)
	return n
}

// reminderNotice reminds an approver, once, that a held message expires
// soon and is then discarded unless someone decides.
func reminderNotice(s *Service, rec hold.Record, to string) *notice {
	n := &notice{To: to,
		SubjectJA: "【期限間近】保留メールの確認をお願いします（" + rec.ID + "）",
		SubjectEN: "Reminder: held message " + rec.ID + " expires soon"}
	fmt.Fprintf(&n.JA, "%s の承認者として確認をお願いした保留メールが、まだ処理されていません。期限（%s）を過ぎると送信されずに破棄されます（対策基準 3.3.5）。\n\n保留番号: %s\n送信者: %s\n宛先: %s\n重要性分類: %s\n",
		deptOr(rec.Department, "所属のない送信者"), s.Time(rec.ExpiresAt), rec.ID, rec.Envelope.From, strings.Join(rec.Envelope.Recipients, ", "), rec.Level)
	fmt.Fprintf(&n.EN, "A held message you were asked to review as an approver of %s is still undecided. It is discarded unsent at %s (standard 3.3.5).\n\nHold ID: %s\nSender: %s\nRecipients: %s\nClass: %s\n",
		deptOr(rec.Department, "senders of no department"), s.Time(rec.ExpiresAt), rec.ID, rec.Envelope.From, strings.Join(rec.Envelope.Recipients, ", "), rec.Level)
	link := s.HoldURL(rec.ID)
	fmt.Fprintf(&n.JA, "\n確認・承認・却下: %s\n", link)
	fmt.Fprintf(&n.EN, "\nReview, release or reject: %s\n", link)
	return n
}

// releasedNotice tells the sender that the message left, and, when the
// recipients need a passphrase, that one exists and whom to ask: the
// releasing officer gives it to them by another channel. The passphrase
// itself is never in a notice (3.3.5).
func releasedNotice(s *Service, rec hold.Record, method string) *notice {
	n := decisionNotice(s, rec, "released")
	switch method {
	case methodPassphrase:
		fmt.Fprintf(&n.JA, "\n添付ファイル等はパスワード付きで暗号化して送信しました（対策基準 3.3.5）。受信者が開くにはパスワードが必要です。"+
			"パスワードは承認者 %s（%s）が、メール以外の手段（%s）で受信者に伝えます。このメールにパスワードは書かれていません。"+
			"受信者から問い合わせがあれば、承認者 %s に尋ねるよう案内してください。\n", rec.Actor, deptOr(rec.Department, "情報セキュリティ担当"), s.cfg.PassphraseChannel, rec.Actor)
		fmt.Fprintf(&n.EN, "\nThe attachments were sent encrypted with a passphrase (standard 3.3.5); the recipients need it to open them. "+
			"The approver %s (%s) gives it to them by a channel other than mail. This notice does not contain it. "+
			"If a recipient asks, refer them to %s.\n", rec.Actor, deptOr(rec.Department, "security office"), rec.Actor)
	case methodLink:
		n.JA.WriteString("\n添付ファイル等はメールから外し、受信者ごとのダウンロードリンクで送りました（対策基準 3.3.5）。受信者は自分のメールアドレスに届く確認コードで開きます。最初のダウンロードはお知らせします。\n")
		n.EN.WriteString("\nThe attachments left the mail: each recipient got a download link of their own (standard 3.3.5) and opens it with a code sent to their address. You are told of the first download.\n")
	case methodPublicKey:
		n.JA.WriteString("\n添付ファイル等は受信者の公開鍵で暗号化して送信しました（対策基準 3.3.5）。受信者は自分の秘密鍵で開けます。\n")
		n.EN.WriteString("\nThe attachments were sent encrypted to the recipients' public keys (standard 3.3.5); they open them with their own keys.\n")
	}
	return n
}

// Release methods as release.Result.Method names them.
const (
	methodPassphrase = "passphrase"
	methodPublicKey  = "public-key"
	methodLink       = "link"
)

func deptOr(d, def string) string {
	if d == "" {
		return def
	}
	return d
}

// decisionNotice tells the sender the outcome: released, rejected, expired.
func decisionNotice(s *Service, rec hold.Record, kind string) *notice {
	n := &notice{To: rec.Envelope.From}
	switch kind {
	case "released":
		n.SubjectJA, n.SubjectEN = "【送信】保留メールが承認され送信されました（"+rec.ID+"）", "Released: held message "+rec.ID+" was sent"
		fmt.Fprintf(&n.JA, "保留されていたメール（保留番号 %s）は承認され、送信されました。\n承認者: %s\n", rec.ID, rec.Actor)
		fmt.Fprintf(&n.EN, "Your held message (hold ID %s) was approved and sent.\nApproved by: %s\n", rec.ID, rec.Actor)
	case "rejected":
		n.SubjectJA, n.SubjectEN = "【却下】保留メールは送信されませんでした（"+rec.ID+"）", "Rejected: held message "+rec.ID+" was not sent"
		fmt.Fprintf(&n.JA, "保留されていたメール（保留番号 %s）は却下され、送信されませんでした。\n処理者: %s\n理由: %s\n", rec.ID, rec.Actor, rec.Reason)
		fmt.Fprintf(&n.EN, "Your held message (hold ID %s) was rejected and not sent.\nBy: %s\nReason: %s\n", rec.ID, rec.Actor, rec.Reason)
	default:
		n.SubjectJA, n.SubjectEN = "【期限切れ】保留メールは送信されませんでした（"+rec.ID+"）", "Expired: held message "+rec.ID+" was not sent"
		fmt.Fprintf(&n.JA, "保留されていたメール（保留番号 %s）は期限（%s）までに承認されなかったため、送信されませんでした。必要であれば承認者に相談のうえ送り直してください。\n", rec.ID, s.Time(rec.ExpiresAt))
		fmt.Fprintf(&n.EN, "Your held message (hold ID %s) was not approved by %s and was not sent. If it is needed, talk to an approver and send it again.\n", rec.ID, s.Time(rec.ExpiresAt))
	}
	fmt.Fprintf(&n.JA, "宛先: %s\n", strings.Join(rec.Envelope.Recipients, ", "))
	fmt.Fprintf(&n.EN, "Recipients: %s\n", strings.Join(rec.Envelope.Recipients, ", "))
	return n
}

// render writes the notice as a MIME message: UTF-8 text, base64 so that
// any upstream takes it (no 8BITMIME needed), Auto-Submitted (RFC 3834 §5)
// so that autoresponders stay quiet.
func (s *Service) render(n *notice, now time.Time) []byte {
	var b bytes.Buffer
	var rnd [12]byte
	rand.Read(rnd[:])
	fmt.Fprintf(&b, "From: %s <%s>\r\n", mime.BEncoding.Encode("UTF-8", "情報セキュリティ（dlpguard）"), s.cfg.NoticeFrom)
	fmt.Fprintf(&b, "To: <%s>\r\n", n.To)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.BEncoding.Encode("UTF-8", n.SubjectJA+" / "+n.SubjectEN))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(rnd[:]), s.cfg.Hostname)
	b.WriteString("Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	writeText(&b, n.JA.String(), n.EN.String())
	return b.Bytes()
}

// writeText writes a notice's text, Japanese then English, as base64
// lines of 76 characters (RFC 2045 §6.8).
func writeText(b *bytes.Buffer, ja, en string) {
	text := strings.ReplaceAll(ja+"\n----- English -----\n"+en, "\n", "\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(text))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
}

// sendNotice queues a notice with the null sender and DSN set (never
// bounced, never looping). Failure is logged: notices are best effort, the
// message they are about is safe either way.
func (s *Service) sendNotice(ctx context.Context, id string, n *notice) {
	log := s.logger(id)
	if n == nil || strings.TrimSpace(n.To) == "" {
		return // the null sender gets no notice
	}
	qid, err := s.queueNotice(n)
	if err != nil {
		log.Error("review: notice not queued", "to", n.To, "err", err)
		return
	}
	log.Info("review: notice queued", "to", n.To, "queue_id", qid)
}

// queueNotice renders n and queues it with the null sender and DSN set.
func (s *Service) queueNotice(n *notice) (string, error) {
	now := s.now()
	msg := s.render(n, now)
	w, err := s.spoolWriter(s.spool, func(w io.Writer) error { _, err := w.Write(msg); return err })
	if err != nil {
		return "", err
	}
	env := &spool.Envelope{ID: w.ID(), From: "", Received: now.UTC(), DSN: true,
		Recipients: []spool.Recipient{{Address: n.To, Status: spool.Pending}}}
	if err := w.Commit(env, spool.AreaQueue); err != nil {
		return "", err
	}
	s.notify(env.ID)
	return env.ID, nil
}
