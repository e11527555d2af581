package release

import (
	"io"
	"mime"
	"net/textproto"
	"slices"
	"strings"

	gmtextproto "github.com/emersion/go-message/textproto"

	"dlpguard/mimemsg"
)

// DefaultSubject replaces a Subject that carried findings: it says that
// the message is encrypted and nothing of what it is about.
const DefaultSubject = "[dlpguard] 暗号化されたメッセージ"

// headerFileName is the encrypted attachment with the protected fields.
const headerFileName = "元のヘッダー.txt"

// FieldsWithFindings returns the top-level header fields named by finding
// locations ("subject" is Subject, "header:X-Note" is X-Note), canonical
// and each once. Locations inside attachments ("attachment:…") are not
// header fields of the message.
func FieldsWithFindings(locations []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range locations {
		var f string
		switch {
		case l == "subject":
			f = "Subject"
		case strings.HasPrefix(l, "header:"):
			f = textproto.CanonicalMIMEHeaderKey(strings.TrimPrefix(l, "header:"))
		default:
			continue
		}
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// addressFields keep their addresses (delivery and replies need them)
// when protected: only the display names go.
var addressFields = map[string]bool{"From": true, "Sender": true, "Reply-To": true, "To": true, "Cc": true,
	"Resent-From": true, "Resent-Sender": true, "Resent-To": true, "Resent-Cc": true}

func (rw *rewriter) protects(key string) bool {
	for _, f := range rw.opts.ProtectHeaders {
		if strings.EqualFold(f, key) {
			return true
		}
	}
	return false
}

// protectsAny reports whether a field of the message's own header is to
// be protected (a field with a finding in a part only is removed there).
func (rw *rewriter) protectsAny(h mimemsg.Header) bool {
	for _, f := range h {
		if !structural[f.Key] && rw.protects(f.Key) {
			return true
		}
	}
	return false
}

// structural fields describe the content and are never protected
// (inspection never reads them as text).
var structural = map[string]bool{"Content-Type": true, "Content-Transfer-Encoding": true, "Content-Disposition": true}

// strip removes protected fields from a part's header: a Content-
// Description with a finding says what the part hides. The fields that
// describe the content stay (inspection never reads them as text).
func (rw *rewriter) strip(h mimemsg.Header) mimemsg.Header {
	if len(rw.opts.ProtectHeaders) == 0 {
		return h
	}
	out := make(mimemsg.Header, 0, len(h))
	for _, f := range h {
		if !structural[f.Key] && rw.protects(f.Key) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// protected writes the message with its protected header fields replaced
// and the originals in an encrypted attachment (3.3.5: class I/II content
// never leaves in clear, a Subject with a My Number least of all). The
// message becomes a multipart/mixed: the original content (rewritten as
// always) as its first part, 元のヘッダー.txt.pgp as its last.
func (rw *rewriter) protected(w io.Writer, h mimemsg.Header, body io.Reader) error {
	outer, content, orig := rw.splitHeader(h)
	boundary := gmtextproto.NewMultipartWriter(nil).Boundary()
	outer = append(outer, mimemsg.Field{Key: "MIME-Version", Value: "1.0"},
		mimemsg.Field{Key: "Content-Type", Value: mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": boundary})})
	if err := gmtextproto.WriteHeader(w, toTP(outer)); err != nil {
		return err
	}
	mw := gmtextproto.NewMultipartWriter(w)
	if err := mw.SetBoundary(boundary); err != nil {
		return err
	}
	if err := rw.entity(mw.CreatePart, toTP(content), body, 0, false); err != nil {
		return err
	}
	var hh gmtextproto.Header
	hh.Set("Content-Type", "text/plain; charset=utf-8")
	if err := rw.encryptPart(mw.CreatePart, hh, strings.NewReader(orig), headerFileName, headerFileName+".pgp", "header"); err != nil {
		return err
	}
	return mw.Close()
}

// encodeWord is s as an RFC 2047 encoded word when it is not ASCII.
func encodeWord(s string) string {
	if mimemsg.IsASCII(s) {
		return s
	}
	return mime.BEncoding.Encode("UTF-8", s)
}

// splitHeader splits the message's own header into the fields that stay
// outside (protected ones replaced: the Subject by opts.Subject, address
// fields without display names), the fields that describe the content,
// and the text of the protected originals (3.3.5).
func (rw *rewriter) splitHeader(h mimemsg.Header) (outer, content mimemsg.Header, orig string) {
	var b strings.Builder
	b.WriteString("このファイルには、元のメールのヘッダー（件名など）が入っています。個人情報等を含むため、" +
		"情報セキュリティ対策基準 3.3.5 に基づき暗号化して、メールの外側では置き換えました。\r\n" +
		"This file holds the original header fields of the message (subject and others). They contain " +
		"personal information, so under clause 3.3.5 of the standard they were encrypted and replaced outside.\r\n\r\n")
	for _, f := range h {
		switch {
		case structural[f.Key] || (strings.HasPrefix(f.Key, "Content-") && !rw.protects(f.Key)):
			content = append(content, f)
			continue
		case f.Key == "Mime-Version":
			continue
		case !rw.protects(f.Key):
			outer = append(outer, f)
			continue
		}
		b.WriteString(f.Key + ": " + mimemsg.DecodeHeader(f.Value) + "\r\n")
		if !slices.Contains(rw.res.ProtectedHeaders, f.Key) {
			rw.res.ProtectedHeaders = append(rw.res.ProtectedHeaders, f.Key)
		}
		switch {
		case f.Key == "Subject":
			outer = append(outer, mimemsg.Field{Key: "Subject", Value: encodeWord(rw.opts.Subject)})
		case addressFields[f.Key]:
			var addrs []string
			for _, a := range mimemsg.ParseAddressList([]string{f.Value}) {
				if a.Address != "" {
					addrs = append(addrs, "<"+a.Address+">")
				}
			}
			if len(addrs) == 0 && f.Key == "To" {
				addrs = []string{"undisclosed-recipients:;"}
			}
			if len(addrs) > 0 {
				outer = append(outer, mimemsg.Field{Key: f.Key, Value: strings.Join(addrs, ", ")})
			}
		}
	}
	return outer, content, b.String()
}
