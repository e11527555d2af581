package release

import (
	"io"
	"mime"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/japanese"
)

// filename is a part's file name as Japanese mailers write it: RFC 2231
// (any charset), RFC 2047 inside the quoted parameter (Outlook), or raw
// Shift_JIS bytes. "" when there is none.
func filename(h textproto.Header) string {
	ah := mail.AttachmentHeader{Header: message.Header{Header: h}}
	name, _ := ah.Filename()
	if strings.Contains(name, "=?") {
		// go-message decodes RFC 2047 words only in the charsets its
		// global CharsetReader knows; ISO-2022-JP needs ours.
		if s, err := wordDecoder.DecodeHeader(name); err == nil {
			name = s
		}
	}
	if name != "" && utf8.ValidString(name) {
		return clean(name)
	}
	if name != "" {
		// Raw 8-bit bytes: Japanese Windows mailers send CP932.
		if s, err := japanese.ShiftJIS.NewDecoder().String(name); err == nil {
			return clean(s)
		}
	}
	// The standard library drops RFC 2231 values in charsets other than
	// UTF-8 and US-ASCII (filename*=shift_jis''%8B%40…).
	for _, f := range []string{"Content-Disposition", "Content-Type"} {
		for _, p := range []string{"filename", "name"} {
			if s := rfc2231(h.Get(f), p); s != "" {
				return clean(s)
			}
		}
	}
	return ""
}

var wordDecoder = mime.WordDecoder{CharsetReader: func(charset string, r io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(r), nil
}}

var paramRE = regexp.MustCompile(`(?i);\s*([a-z]+)\*(?:(\d+)(\*)?|())\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)`)

// rfc2231 decodes param* or param*0*, param*1… (RFC 2231 §3, §4) in the
// charset named in the first section.
func rfc2231(v, param string) string {
	type section struct {
		n       int
		encoded bool
		val     string
	}
	var secs []section
	for _, m := range paramRE.FindAllStringSubmatch(v, -1) {
		if !strings.EqualFold(m[1], param) {
			continue
		}
		n, enc := 0, true
		if m[2] != "" {
			n, _ = strconv.Atoi(m[2])
			enc = m[3] == "*"
		}
		val := m[5]
		if strings.HasPrefix(val, `"`) {
			val = strings.ReplaceAll(strings.Trim(val, `"`), `\"`, `"`)
		}
		secs = append(secs, section{n, enc, val})
	}
	if len(secs) == 0 {
		return ""
	}
	sort.Slice(secs, func(i, j int) bool { return secs[i].n < secs[j].n })
	charset := "utf-8"
	var raw strings.Builder
	for i, s := range secs {
		val := s.val
		if i == 0 && s.encoded {
			parts := strings.SplitN(val, "'", 3)
			if len(parts) != 3 {
				return ""
			}
			charset, val = parts[0], parts[2]
		}
		if s.encoded {
			u, err := url.PathUnescape(val)
			if err != nil {
				return ""
			}
			val = u
		}
		raw.WriteString(val)
	}
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return ""
	}
	out, err := enc.NewDecoder().String(raw.String())
	if err != nil {
		return ""
	}
	return out
}

// clean keeps only the last path element and drops control characters,
// so a name cannot point anywhere on the recipient's disk.
func clean(s string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}
