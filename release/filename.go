package release

import (
	"bytes"
	"strings"

	"github.com/emersion/go-message/textproto"

	"dlpguard/mimemsg"
)

// filename is a part's file name as inspection read it (mimemsg.Filename:
// RFC 2231 in any charset, RFC 2047 inside the quoted parameter as Outlook
// writes it, raw Shift_JIS bytes), reduced to its last path element. ""
// when there is none.
func filename(h textproto.Header) string {
	name, _ := mimemsg.Filename(mimemsg.Header{
		{Key: "Content-Type", Value: h.Get("Content-Type")},
		{Key: "Content-Disposition", Value: h.Get("Content-Disposition")},
	})
	return clean(name)
}

// clean keeps only the last path element, printable and on one line, so
// a name cannot point anywhere on the recipient's disk.
func clean(s string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	return mimemsg.CleanName(s)
}

// toTP is h as go-message's header, for writing; field order is kept (a
// textproto.Header lists its fields last first), and a field read from the
// message is written byte for byte.
func toTP(h mimemsg.Header) textproto.Header {
	var th textproto.Header
	for i := len(h) - 1; i >= 0; i-- {
		if raw := h[i].Raw; rawOK(raw) {
			th.AddRaw(raw)
			continue
		}
		th.AddRaw(formatField(h[i].Key, h[i].Value))
	}
	return th
}

// formatField writes a field made by the program, or read without a
// proper line end: a stray CR or LF would end it early, and go-message's
// own folding panics on field names longer than a line. Long values are
// folded at spaces (RFC 5322 §2.2.3), words are never split.
func formatField(key, value string) []byte {
	words := strings.Split(crlf.Replace(value), " ")
	b := make([]byte, 0, len(key)+len(value)+8)
	b = append(b, key...)
	b = append(b, ':')
	col := len(b)
	for i, w := range words {
		if i > 0 && len(w) > 0 && col+1+len(w) > 76 {
			b = append(b, "\r\n"...)
			col = 0
		}
		b = append(b, ' ')
		b = append(b, w...)
		col += 1 + len(w)
	}
	return append(b, "\r\n"...)
}

var crlf = strings.NewReplacer("\r", " ", "\n", " ", "\x00", "")

// rawOK: the raw field ends in CRLF, every line end in it is CRLF and
// is followed by folding white space, and it has no NUL.
func rawOK(raw []byte) bool {
	if len(raw) < 3 || !bytes.HasSuffix(raw, []byte("\r\n")) || bytes.IndexByte(raw, 0) >= 0 || bytes.IndexByte(raw, ':') < 0 {
		return false
	}
	body := raw[:len(raw)-2]
	for i, c := range body {
		switch c {
		case '\r':
			if i+2 >= len(body) || body[i+1] != '\n' || (body[i+2] != ' ' && body[i+2] != '\t') {
				return false
			}
		case '\n':
			if i == 0 || body[i-1] != '\r' {
				return false
			}
		}
	}
	return true
}
