// Package dsn composes delivery status notifications (RFC 3464): the
// multipart/report that tells a sender that a message could not be delivered
// (or is delayed). The human-readable part is Japanese first with English
// below; the machine-readable part is message/delivery-status; the original
// message is returned as its header section only, never its body, because a
// body may hold personal data that must not travel any further (3.3.5).
package dsn

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
)

// Action is the per-recipient action of RFC 3464 section 2.3.3.
type Action string

const (
	Failed  Action = "failed"
	Delayed Action = "delayed"
)

// Recipient is one recipient the notification reports on.
type Recipient struct {
	Address string
	Action  Action
	// Status is the RFC 3463 enhanced status code, e.g. "5.1.1".
	Status string
	// Diagnostic is the upstream's reply, e.g. "550 5.1.1 no such user";
	// empty when the failure was local (it is then described by Status).
	Diagnostic string
	// RemoteMTA is the host that gave Diagnostic ("" if none).
	RemoteMTA   string
	LastAttempt time.Time
	// GaveUp is set when the relay stopped retrying a temporary failure
	// because the message grew too old.
	GaveUp bool
	// WillRetryUntil is when a delayed recipient is given up.
	WillRetryUntil time.Time
}

// Report is everything a notification says.
type Report struct {
	// ReportingMTA is the relay's host name (Reporting-MTA, From domain).
	ReportingMTA string
	// To is the envelope sender of the original message: who is notified.
	To      string
	QueueID string
	Arrival time.Time
	// Date is the notification's date; zero means now.
	Date       time.Time
	Recipients []Recipient
	// Headers is the original message's header section (see HeaderSection).
	Headers []byte
}

// maxDiagnostic bounds one Diagnostic-Code line (RFC 5322 2.1.1: 998).
const maxDiagnostic = 900

// ErrNoRecipients is returned for a report about nobody.
var ErrNoRecipients = errors.New("dsn: no recipients to report")

// Build returns the complete notification message (RFC 5322 header and
// body, CRLF line endings), ready to be spooled with a null reverse-path.
// It also reports whether the message needs SMTPUTF8 to be sent (a
// non-ASCII address of the sender it goes to).
func (r *Report) Build() (msg []byte, utf8Needed bool, err error) {
	if len(r.Recipients) == 0 {
		return nil, false, ErrNoRecipients
	}
	host := asciiToken(r.ReportingMTA)
	if host == "" {
		host = "localhost"
	}
	date := r.Date
	if date.IsZero() {
		date = time.Now()
	}
	boundary, err := randomHex(16)
	if err != nil {
		return nil, false, fmt.Errorf("dsn: boundary: %w", err)
	}
	boundary = "=_dlpguard_dsn_" + boundary
	msgidRand, err := randomHex(8)
	if err != nil {
		return nil, false, fmt.Errorf("dsn: message-id: %w", err)
	}

	to := cleanLine(r.To)
	// Only a non-ASCII address in the To: field makes the notification
	// itself need SMTPUTF8 (RFC 6531); everything else is base64.
	utf8Needed = !isASCII(to)
	global := false
	for _, rc := range r.Recipients {
		if !isASCII(rc.Address) {
			global = true
		}
	}
	delayedOnly := true
	for _, rc := range r.Recipients {
		if rc.Action != Delayed {
			delayedOnly = false
		}
	}

	var b bytes.Buffer
	subjectJA, subjectEN := "配信不能通知", "Undelivered Mail Returned to Sender"
	if delayedOnly {
		subjectJA, subjectEN = "配信遅延通知", "Delayed Mail (still being retried)"
	}
	writeHeader(&b, "From", "Mail Delivery System <MAILER-DAEMON@"+host+">")
	if to != "" {
		writeHeader(&b, "To", "<"+to+">")
	}
	writeHeader(&b, "Subject", mime.BEncoding.Encode("UTF-8", subjectJA+" / "+subjectEN))
	writeHeader(&b, "Date", date.Format(time.RFC1123Z))
	writeHeader(&b, "Message-ID", "<"+asciiToken(r.QueueID)+"."+msgidRand+".dsn@"+host+">")
	// RFC 3834 5: a notification is auto-replied; clients must not answer it.
	writeHeader(&b, "Auto-Submitted", "auto-replied")
	writeHeader(&b, "MIME-Version", "1.0")
	writeHeader(&b, "Content-Type", `multipart/report; report-type=delivery-status; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	b.WriteString("This is a MIME-formatted delivery status notification.\r\n")

	// Part 1: human-readable, Japanese first, English below (RFC 3464 2.1).
	b.WriteString("\r\n--" + boundary + "\r\n")
	writeHeader(&b, "Content-Type", "text/plain; charset=utf-8")
	writeHeader(&b, "Content-Transfer-Encoding", "base64")
	b.WriteString("\r\n")
	// RFC 2045 6.8: text is encoded in its canonical form, CRLF lines.
	writeBase64(&b, []byte(strings.ReplaceAll(r.humanText(host, delayedOnly), "\n", "\r\n")))

	// Part 2: machine-readable (RFC 3464 2.2, 2.3). Non-ASCII addresses
	// need the RFC 6533 "global" type.
	b.WriteString("\r\n--" + boundary + "\r\n")
	status := r.statusFields(host)
	if global {
		writeHeader(&b, "Content-Type", "message/global-delivery-status")
		writeHeader(&b, "Content-Transfer-Encoding", "base64")
		b.WriteString("\r\n")
		writeBase64(&b, status)
	} else {
		writeHeader(&b, "Content-Type", "message/delivery-status")
		b.WriteString("\r\n")
		b.Write(status)
	}

	// Part 3: the original header section only (RFC 3462 text/rfc822-headers).
	b.WriteString("\r\n--" + boundary + "\r\n")
	hdr := normaliseCRLF(r.Headers)
	if isASCII(string(hdr)) {
		writeHeader(&b, "Content-Type", "text/rfc822-headers")
		b.WriteString("\r\n")
		b.Write(hdr)
		if len(hdr) > 0 && !bytes.HasSuffix(hdr, []byte("\r\n")) {
			b.WriteString("\r\n")
		}
	} else {
		// Raw 8-bit header bytes (RFC 6532 or plain broken mail): base64
		// keeps the notification 7-bit clean whatever the upstream offers.
		writeHeader(&b, "Content-Type", "text/rfc822-headers; charset=utf-8")
		writeHeader(&b, "Content-Transfer-Encoding", "base64")
		b.WriteString("\r\n")
		writeBase64(&b, hdr)
	}
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes(), utf8Needed, nil
}

func (r *Report) statusFields(host string) []byte {
	var b bytes.Buffer
	// RFC 3464 2.2: per-message fields.
	writeHeader(&b, "Reporting-MTA", "dns; "+host)
	if id := asciiToken(r.QueueID); id != "" {
		writeHeader(&b, "X-Dlpguard-Queue-ID", id)
	}
	if !r.Arrival.IsZero() {
		writeHeader(&b, "Arrival-Date", r.Arrival.Format(time.RFC1123Z))
	}
	// RFC 3464 2.3: one block per recipient, each preceded by a blank line.
	for _, rc := range r.Recipients {
		b.WriteString("\r\n")
		addrType := "rfc822"
		if !isASCII(rc.Address) {
			addrType = "utf-8" // RFC 6533 3
		}
		writeHeader(&b, "Final-Recipient", addrType+"; "+cleanLine(rc.Address))
		action := rc.Action
		if action != Delayed {
			action = Failed
		}
		writeHeader(&b, "Action", string(action))
		writeHeader(&b, "Status", statusCode(rc.Status, action))
		if mta := asciiToken(rc.RemoteMTA); mta != "" {
			writeHeader(&b, "Remote-MTA", "dns; "+mta)
		}
		if d := diagnostic(rc.Diagnostic); d != "" {
			writeHeader(&b, "Diagnostic-Code", "smtp; "+d)
		}
		if !rc.LastAttempt.IsZero() {
			writeHeader(&b, "Last-Attempt-Date", rc.LastAttempt.Format(time.RFC1123Z))
		}
		if action == Delayed && !rc.WillRetryUntil.IsZero() {
			writeHeader(&b, "Will-Retry-Until", rc.WillRetryUntil.Format(time.RFC1123Z))
		}
	}
	return b.Bytes()
}

// humanText is the staff-facing explanation: Japanese first, English below.
func (r *Report) humanText(host string, delayedOnly bool) string {
	var ja, en strings.Builder
	ja.WriteString("このメールは送信メール中継サーバー（" + host + "）から自動送信されています。返信しないでください。\n\n")
	en.WriteString("This is the outbound mail relay at " + host + ". This message was generated automatically; please do not reply.\n\n")
	if delayedOnly {
		ja.WriteString("お送りになったメールは、次の宛先への配送が遅れています。引き続き自動で再送を試みますので、送り直す必要はありません。\n\n")
		en.WriteString("Your message has not yet been delivered to the recipients below. The relay keeps retrying; you do not need to send it again.\n\n")
	} else {
		ja.WriteString("お送りになったメールを、次の宛先に配送できませんでした。\n\n")
		en.WriteString("Your message could not be delivered to the recipients below.\n\n")
	}
	for _, rc := range r.Recipients {
		addr := cleanLine(rc.Address)
		d := diagnostic(rc.Diagnostic)
		ja.WriteString("  宛先: " + addr + "\n")
		en.WriteString("  Recipient: " + addr + "\n")
		switch {
		case rc.Action == Delayed:
			ja.WriteString("  状態: 配送待ち（一時的なエラーのため再送中）\n")
			en.WriteString("  State: delayed (temporary failure, being retried)\n")
			if !rc.WillRetryUntil.IsZero() {
				ja.WriteString("  再送期限: " + rc.WillRetryUntil.Format("2006-01-02 15:04 MST") + "\n")
				en.WriteString("  Retrying until: " + rc.WillRetryUntil.Format("2006-01-02 15:04 MST") + "\n")
			}
		case rc.GaveUp:
			ja.WriteString("  理由: 一時的なエラーが続き、再送の期限を過ぎたため配送を断念しました。\n")
			en.WriteString("  Reason: temporary failures persisted until the retry period expired; delivery was abandoned.\n")
		case strings.HasPrefix(rc.Status, "5.6.7"):
			ja.WriteString("  理由: 国際化メールアドレス（SMTPUTF8）に中継先が対応していないため、内容を損なわずに送ることができません。\n")
			en.WriteString("  Reason: the upstream mail server does not support internationalised mail (SMTPUTF8); the message cannot be sent without corrupting it.\n")
		case strings.HasPrefix(rc.Status, "5.6.3"):
			ja.WriteString("  理由: 8ビットの本文に中継先が対応していないため、内容を損なわずに送ることができません。\n")
			en.WriteString("  Reason: the upstream mail server does not accept 8-bit content (8BITMIME); the message cannot be sent without corrupting it.\n")
		default:
			ja.WriteString("  理由: 中継先のメールサーバーが受け取りを拒否しました。宛先のアドレスに誤りがないかご確認ください。\n")
			en.WriteString("  Reason: the upstream mail server refused the message. Please check the address.\n")
		}
		if d != "" {
			ja.WriteString("  サーバーの応答: " + d + "\n")
			en.WriteString("  Server reply: " + d + "\n")
		}
		ja.WriteString("\n")
		en.WriteString("\n")
	}
	if id := asciiToken(r.QueueID); id != "" {
		ja.WriteString("受付ID: " + id + "\n")
		en.WriteString("Queue ID: " + id + "\n")
	}
	if !r.Arrival.IsZero() {
		ja.WriteString("受付日時: " + r.Arrival.Format("2006-01-02 15:04:05 MST") + "\n")
		en.WriteString("Received: " + r.Arrival.Format(time.RFC1123Z) + "\n")
	}
	ja.WriteString("元のメールのヘッダーを添付します（本文は添付しません）。ご不明な点は情報システム担当にお問い合わせください。\n")
	en.WriteString("The original message's headers are attached (its body is not). If in doubt, contact the IT department.\n")
	return ja.String() + "\n----------------------------------------------------------------\n\n" + en.String()
}

// statusCode returns a well-formed RFC 3463 code that agrees with the action.
func statusCode(s string, a Action) string {
	parts := strings.Split(strings.TrimSpace(s), ".")
	ok := len(parts) == 3
	for i, p := range parts {
		if !ok {
			break
		}
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			ok = false
		}
		if i == 0 && p != "2" && p != "4" && p != "5" {
			ok = false
		}
	}
	switch {
	case ok:
		return strings.Join(parts, ".")
	case a == Delayed:
		return "4.0.0"
	default:
		return "5.0.0"
	}
}

// diagnostic makes an upstream reply safe for one header line: ASCII
// printable only (SMTP replies are ASCII, RFC 5321 4.2), multi-line replies
// joined, bounded in length.
func diagnostic(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == '\r' || r == '\n' || r == '\t' || r == ' ' {
			space = true
			continue
		}
		if r < 0x21 || r > 0x7e {
			r = '?'
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		if b.Len() >= maxDiagnostic {
			break
		}
	}
	return b.String()
}

// cleanLine removes what would break a header line: CR, LF, NUL and other
// controls, invalid UTF-8, and angle brackets around an address.
func cleanLine(s string) string {
	s = strings.ToValidUTF8(s, "?")
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '<' || r == '>' {
			continue
		}
		b.WriteRune(r)
		if b.Len() >= maxDiagnostic {
			break
		}
	}
	return strings.TrimSpace(b.String())
}

// asciiToken keeps only characters that may appear in a host name or ID.
func asciiToken(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 255; i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func writeHeader(b *bytes.Buffer, k, v string) {
	b.WriteString(k)
	b.WriteString(": ")
	b.WriteString(v)
	b.WriteString("\r\n")
}

// writeBase64 writes p in base64 with 76-character lines (RFC 2045 6.8).
func writeBase64(b *bytes.Buffer, p []byte) {
	enc := base64.StdEncoding.EncodeToString(p)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	if enc != "" {
		b.WriteString(enc)
		b.WriteString("\r\n")
	}
}

func normaliseCRLF(p []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(p) + len(p)/32)
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\r':
			if i+1 < len(p) && p[i+1] == '\n' {
				continue
			}
			b.WriteString("\r\n") // a bare CR ends a line too
		case '\n':
			b.WriteString("\r\n")
		default:
			b.WriteByte(p[i])
		}
	}
	return b.Bytes()
}

func randomHex(n int) (string, error) {
	p := make([]byte, n)
	if _, err := rand.Read(p); err != nil {
		return "", err
	}
	return hex.EncodeToString(p), nil
}

// HeaderSection reads the header section of a message from r: everything
// up to and including the empty line that ends it (RFC 5322 2.1), at most
// max bytes, cut at a line boundary. A message without a body returns
// everything read.
func HeaderSection(r io.Reader, max int) ([]byte, error) {
	if max <= 0 {
		max = 64 << 10
	}
	br := bufio.NewReaderSize(io.LimitReader(r, int64(max)+1), 4096)
	var out []byte
	midLine := false // the previous piece was part of an overlong line
	for {
		line, err := br.ReadSlice('\n')
		if len(out)+len(line) > max {
			// Keep only whole lines; a truncated header is still useful.
			if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
				return out[:i+1], nil
			}
			return nil, nil
		}
		out = append(out, line...)
		if errors.Is(err, bufio.ErrBufferFull) {
			midLine = true
			continue
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if !midLine && (len(line) == 1 || (len(line) == 2 && line[0] == '\r')) {
			return out, nil
		}
		midLine = false
	}
}
