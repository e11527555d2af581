package mimemsg

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/textproto"
	"strings"
	"unicode/utf8"
)

// Field is one header field, unfolded, value as raw bytes (not yet
// decoded; NUL bytes removed).
type Field struct {
	Key   string // canonical
	Value string
	// Raw is the field as read, folded lines and line ends included (nil
	// for a field made by a program): a rewrite copies it unchanged.
	Raw []byte
}

// Header is a header block in order. Lookups are linear: header blocks are
// small and bounded by MaxHeaderBytes.
type Header []Field

// Get returns the value of the first field named key ("" when none).
func (h Header) Get(key string) string {
	key = textproto.CanonicalMIMEHeaderKey(key)
	for _, f := range h {
		if f.Key == key {
			return f.Value
		}
	}
	return ""
}

// Values returns the values of every field named key, in order.
func (h Header) Values(key string) []string {
	key = textproto.CanonicalMIMEHeaderKey(key)
	var vs []string
	for _, f := range h {
		if f.Key == key {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// HeaderResult is what ReadHeader found besides the fields.
type HeaderResult struct {
	// leftover holds bytes read that belong to the body: the first line of
	// a part that has no header, or of a body whose blank separator line is
	// missing.
	Leftover  []byte
	Truncated bool   // MaxHeaderBytes reached: the rest of the block was skipped
	Problem   string // a malformation worth reporting
}

// validFieldName reports whether b is a field name (RFC 5322 §3.6.8: printable
// US-ASCII except colon); trailing white space before the colon is tolerated
// (obsolete syntax, RFC 5322 §4.5.3).
func validFieldName(b []byte) bool {
	b = bytes.TrimRight(b, " \t")
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// ReadHeader reads a header block leniently: \r\r\n and bare \n line ends,
// NUL bytes, overlong lines and a missing blank line are tolerated. A line
// that cannot start a field ends the block and is handed back as the start of
// the body, so that no text is lost to a malformed header.
func ReadHeader(br *bufio.Reader, max int64) (Header, HeaderResult, error) {
	var (
		h    Header
		res  HeaderResult
		used int64
		line []byte
	)
	if max <= 0 {
		max = 1 << 20
	}
	for {
		var err error
		line, err = ReadLine(br, line[:0], max+1)
		if err != nil && !errors.Is(err, io.EOF) {
			return h, res, err
		}
		if len(line) == 0 && err != nil {
			// EOF: header without body.
			return h, res, nil
		}
		raw := line
		used += int64(len(raw))
		content := TrimEOL(raw)
		if len(content) == 0 {
			return h, res, nil // the blank line ending the block
		}
		if res.Truncated || used > max {
			if !res.Truncated {
				res.Truncated = true
			}
			if err != nil {
				return h, res, nil
			}
			continue // skip the rest of an overlong block
		}
		if content[0] == ' ' || content[0] == '\t' {
			if len(h) > 0 {
				// RFC 5322 §2.2.3: unfolding removes the CRLF only.
				h[len(h)-1].Value += string(bytes.ReplaceAll(content, []byte{0}, nil))
				h[len(h)-1].Raw = append(h[len(h)-1].Raw, raw...)
				if err != nil {
					return h, res, nil
				}
				continue
			}
		}
		colon := bytes.IndexByte(content, ':')
		if colon <= 0 || !validFieldName(content[:colon]) {
			if len(h) == 0 && isMboxFrom(content) {
				// An mbox "From " line before the header.
				if err != nil {
					return h, res, nil
				}
				continue
			}
			if len(h) > 0 {
				res.Problem = "header not ended by a blank line"
			}
			res.Leftover = append([]byte(nil), raw...)
			return h, res, nil
		}
		key := textproto.CanonicalMIMEHeaderKey(string(bytes.TrimRight(content[:colon], " \t")))
		val := bytes.TrimLeft(content[colon+1:], " \t")
		h = append(h, Field{Key: key, Value: string(bytes.ReplaceAll(val, []byte{0}, nil)), Raw: append([]byte(nil), raw...)})
		if err != nil {
			return h, res, nil
		}
	}
}

// ReadLine reads one line including its end, at most max bytes of it (the
// rest of an overlong line is discarded).
func ReadLine(br *bufio.Reader, buf []byte, max int64) ([]byte, error) {
	for {
		seg, err := br.ReadSlice('\n')
		if int64(len(buf)) < max {
			room := max - int64(len(buf))
			if int64(len(seg)) > room {
				buf = append(buf, seg[:room]...)
			} else {
				buf = append(buf, seg...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return buf, err
	}
}

// TrimEOL removes the line end, including the stray CRs of "\r\r\n".
func TrimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// DecodeHeader decodes RFC 2047 encoded words (RFC 2047 §6.2: white space
// between adjacent encoded words is dropped). Adjacent words in the same
// charset are joined before decoding, because Japanese mailers split
// ISO-2022-JP text mid-shift-state and UTF-8 mid-character. Raw 8-bit
// bytes outside encoded words are sniffed (UTF-8, CP932, EUC-JP), and raw
// ISO-2022-JP escapes are decoded.
func DecodeHeader(s string) string {
	if !strings.Contains(s, "=?") {
		// Raw ISO-2022-JP (7-bit, with escapes) is ASCII to isASCII but
		// not to a reader: decodeUnknown decodes it.
		if IsASCII(s) && !strings.Contains(s, "\x1b") {
			return s
		}
		return DecodeUnknown([]byte(s))
	}
	var (
		out     strings.Builder
		pend    []byte
		pendCS  string
		hasPend bool
	)
	flush := func() {
		if !hasPend {
			return
		}
		if enc, _, ok := LookupCharset(pendCS); ok {
			out.WriteString(DecodeBytes(pend, enc))
		} else {
			out.WriteString(DecodeUnknown(pend))
		}
		pend, hasPend = pend[:0], false
	}
	raw := func(t string) {
		if t == "" {
			return
		}
		flush()
		if IsASCII(t) && !strings.Contains(t, "\x1b") {
			out.WriteString(t)
		} else {
			out.WriteString(DecodeUnknown([]byte(t)))
		}
	}
	i := 0
	for i < len(s) {
		j := strings.Index(s[i:], "=?")
		if j < 0 {
			raw(s[i:])
			break
		}
		pre := s[i : i+j]
		cs, data, end, ok := parseEncodedWord(s[i+j:])
		if !ok {
			raw(pre + "=?")
			i += j + 2
			continue
		}
		if !(hasPend && strings.TrimLeft(pre, " \t\r\n") == "") {
			raw(pre)
		}
		if hasPend && !strings.EqualFold(cs, pendCS) {
			flush()
		}
		pendCS, hasPend = cs, true
		pend = append(pend, data...)
		i += j + end
	}
	flush()
	return strings.ToValidUTF8(out.String(), "\uFFFD")
}

// parseEncodedWord parses "=?charset?B|Q?text?=" at the start of s and
// returns the charset (language suffix of RFC 2231 §5 removed), the decoded
// bytes and the length consumed.
func parseEncodedWord(s string) (cs string, data []byte, n int, ok bool) {
	if !strings.HasPrefix(s, "=?") {
		return "", nil, 0, false
	}
	// Searches are bounded: a header full of "=?" must stay linear.
	q1 := strings.IndexByte(s[2:min(len(s), 2+65)], '?')
	if q1 <= 0 {
		return "", nil, 0, false
	}
	cs = s[2 : 2+q1]
	if strings.ContainsAny(cs, " \t\r\n\"") {
		return "", nil, 0, false
	}
	if star := strings.IndexByte(cs, '*'); star >= 0 {
		cs = cs[:star]
	}
	rest := s[2+q1+1:]
	if len(rest) < 2 || rest[1] != '?' {
		return "", nil, 0, false
	}
	enc := rest[0]
	text := rest[2:]
	// RFC 2047 §2 allows 75 characters; real mailers overrun it, but not
	// by kilobytes.
	end := strings.Index(text[:min(len(text), maxWordText)], "?=")
	if end < 0 {
		return "", nil, 0, false
	}
	text = text[:end]
	switch enc {
	case 'B', 'b':
		data, _ = DecodeBase64([]byte(text))
	case 'Q', 'q':
		data = decodeQWord(text)
	default:
		return "", nil, 0, false
	}
	return cs, data, 2 + q1 + 1 + 2 + end + 2, true
}

// maxWordText bounds the text of one encoded word.
const maxWordText = 4096

func decodeQWord(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			out = append(out, ' ')
		case c == '=' && i+2 < len(s) && IsHex(s[i+1]) && IsHex(s[i+2]):
			out = append(out, Unhex(s[i+1])<<4|Unhex(s[i+2]))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

// IsASCII reports whether s has no byte >= 0x80.
func IsASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// IsHex reports whether c is a hexadecimal digit.
func IsHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// Unhex is the value of the hexadecimal digit c (0 for another byte).
func Unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

// ParseParams parses a Content-Type or Content-Disposition value leniently:
// "type/subtype; a=b; c="d"; e*=charset'lang'%XX; f*0*=…; f*1=…". Unlike
// mime.ParseMediaType it never fails, keeps the first of duplicate
// parameters, decodes RFC 2231 values in any charset (the stdlib drops all
// but UTF-8 and US-ASCII), RFC 2047 words inside quoted values (Outlook and
// Japanese clients), and raw 8-bit bytes (sniffed).
func ParseParams(v string) (string, map[string]string) {
	params := map[string]string{}
	semi := strings.IndexByte(v, ';')
	value := v
	rest := ""
	if semi >= 0 {
		value, rest = v[:semi], v[semi+1:]
	}
	value = strings.ToLower(strings.TrimSpace(value))
	if i := strings.IndexAny(value, " \t("); i >= 0 {
		value = value[:i]
	}

	type piece struct {
		val      string
		extended bool
	}
	type ext struct {
		pieces  map[int]piece
		simple  *piece // name*= without continuation
		charset string
	}
	exts := map[string]*ext{}
	var order []string

	for len(rest) > 0 {
		rest = strings.TrimLeft(rest, " \t\r\n;")
		if rest == "" {
			break
		}
		// The first of '=' and ';' decides, so that the scan stays linear.
		eq := strings.IndexAny(rest, "=;")
		if eq < 0 {
			break
		}
		if rest[eq] == ';' {
			// A token without value: skip it.
			rest = rest[eq+1:]
			continue
		}
		name := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t\r\n")
		var val string
		if strings.HasPrefix(rest, `"`) {
			val, rest = Unquote(rest[1:])
		} else {
			end := strings.IndexByte(rest, ';')
			if end < 0 {
				end = len(rest)
			}
			val = strings.TrimSpace(rest[:end])
			rest = rest[end:]
		}
		if name == "" {
			continue
		}
		// RFC 2231 §3 and §4: name*N, name*N*, name*.
		base, idx, extended := name, -1, false
		if strings.HasSuffix(base, "*") {
			extended = true
			base = strings.TrimSuffix(base, "*")
		}
		if star := strings.LastIndexByte(base, '*'); star >= 0 {
			if n, ok := atoiSmall(base[star+1:]); ok {
				idx = n
				base = base[:star]
			}
		}
		if idx < 0 && !extended {
			if _, dup := params[base]; !dup {
				params[base] = DecodeHeader(val)
			}
			continue
		}
		e := exts[base]
		if e == nil {
			e = &ext{pieces: map[int]piece{}}
			exts[base] = e
			order = append(order, base)
		}
		if extended && (idx <= 0) {
			// charset'language'value
			if a := strings.IndexByte(val, '\''); a >= 0 {
				if b := strings.IndexByte(val[a+1:], '\''); b >= 0 {
					e.charset = val[:a]
					val = val[a+1+b+1:]
				}
			}
		}
		if idx < 0 {
			p := piece{val, extended}
			e.simple = &p
		} else if _, dup := e.pieces[idx]; !dup && idx < 1000 {
			e.pieces[idx] = piece{val, extended}
		}
	}
	for _, base := range order {
		e := exts[base]
		var buf []byte
		if e.simple != nil {
			buf = PercentDecode(e.simple.val, e.simple.extended)
		} else {
			for i := 0; ; i++ {
				p, ok := e.pieces[i]
				if !ok {
					break
				}
				buf = append(buf, PercentDecode(p.val, p.extended)...)
			}
		}
		var s string
		if enc, _, ok := LookupCharset(e.charset); ok && e.charset != "" {
			s = DecodeBytes(buf, enc)
		} else {
			s = DecodeUnknown(buf)
		}
		// The RFC 2231 form wins over the plain one (it is the precise one).
		if s != "" || params[base] == "" {
			params[base] = s
		}
	}
	return value, params
}

func atoiSmall(s string) (int, bool) {
	if s == "" || len(s) > 4 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// PercentDecode undoes the %XX escapes of an RFC 2231 extended value; a
// value that is not extended is returned as it is.
func PercentDecode(s string, extended bool) []byte {
	if !extended {
		return []byte(s)
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && IsHex(s[i+1]) && IsHex(s[i+2]) {
			out = append(out, Unhex(s[i+1])<<4|Unhex(s[i+2]))
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return out
}

// Unquote reads a quoted string whose opening quote was consumed; it returns
// the value and the rest after the closing quote. In text that is not valid
// UTF-8 (raw Shift_JIS), a backslash that is the second byte of a
// double-byte character (表 is 0x95 0x5C) is not an escape.
func Unquote(s string) (string, string) {
	var b strings.Builder
	sjis := !utf8.ValidString(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case sjis && ((c >= 0x81 && c <= 0x9f) || (c >= 0xe0 && c <= 0xfc)) && i+1 < len(s):
			b.WriteByte(c)
			b.WriteByte(s[i+1])
			i++
		case c == '\\' && i+1 < len(s):
			b.WriteByte(s[i+1])
			i++
		case c == '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// isMboxFrom recognises the "From sender date" line mbox files put before a
// message; a text line that merely starts with "From " is not one.
func isMboxFrom(line []byte) bool {
	f := strings.Fields(string(line))
	if len(f) < 4 || f[0] != "From" {
		return false
	}
	if !strings.Contains(f[1], "@") && f[1] != "MAILER-DAEMON" && f[1] != "-" {
		return false
	}
	for _, x := range f[2:] {
		if len(x) == 8 && x[2] == ':' && x[5] == ':' {
			return true
		}
	}
	return false
}
