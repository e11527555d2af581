package inspect

import (
	"bytes"
	"dlpguard/mimemsg"
	"html"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/encoding"
)

// Some text formats write their text in a way a reader of the raw bytes
// does not see it: iCalendar and vCard fold long lines (RFC 5545 §3.1,
// RFC 6350 §3.2), so a number folded at 75 octets is split; JSON writes
// non-ASCII as \u escapes (json.dumps by default), so 個人番号 becomes
// \u500b\u4eba…; XML writes character references (&#x500B;). For these a
// decoded view is sent after the raw text, as a second text of the same
// location: the raw view keeps what the decoding might lose.

// maxViewBytes bounds the text held to build one decoded view.
const maxViewBytes = 16 << 20

type viewKind int

const (
	viewNone viewKind = iota
	viewFolded
	viewJSON
	viewXML
)

func viewFor(p *Part) viewKind {
	ext := strings.ToLower(path.Ext(p.Name))
	for _, t := range []string{p.Type, strings.ToLower(p.DeclaredType)} {
		switch {
		case t == "text/calendar" || t == "text/vcard" || t == "text/x-vcard" || t == "text/directory":
			return viewFolded
		case t == "application/json" || strings.HasSuffix(t, "+json"):
			return viewJSON
		case t == "text/xml" || t == "application/xml" || strings.HasSuffix(t, "+xml"):
			return viewXML
		}
	}
	switch ext {
	case ".ics", ".vcs", ".vcf":
		return viewFolded
	case ".json", ".geojson":
		return viewJSON
	case ".xml", ".xsd", ".svg", ".kml", ".gpx":
		return viewXML
	}
	return viewNone
}

// decodedView sends the decoded view of a text part when its format has
// one and the raw text needs it.
func (w *walker) decodedView(p *Part, sp *spill, enc encoding.Encoding, loc string, kind Kind, table bool) {
	vk := viewFor(p)
	if vk == viewNone {
		return
	}
	raw, err := io.ReadAll(io.LimitReader(mimemsg.DecodingReader(sp.reader(), enc), maxViewBytes+1))
	if err != nil {
		return // the raw view was read; its error is already reported
	}
	if len(raw) > maxViewBytes {
		p.Reason = joinReason(p.Reason, "too large for a decoded view: only the raw text was read")
		raw = raw[:maxViewBytes]
	}
	var out string
	switch vk {
	case viewFolded:
		if !bytes.Contains(raw, []byte("\n ")) && !bytes.Contains(raw, []byte("\n\t")) && !bytes.Contains(raw, []byte(`\n`)) {
			return
		}
		out = unfoldContentLines(raw)
	case viewJSON:
		if !bytes.Contains(raw, []byte(`\u`)) {
			return
		}
		out = unescapeJSON(raw)
	case viewXML:
		if !bytes.Contains(raw, []byte("&")) {
			return
		}
		out = html.UnescapeString(string(raw))
	}
	e := w.newEmitter(loc, kind, table)
	e.WriteString(out)
	e.close()
	if e.truncated {
		p.Reason = joinReason(p.Reason, "text limit reached (MaxTextBytes)")
		p.Inspected = false
	}
}

// unfoldContentLines joins folded lines (CRLF or LF followed by one space
// or tab) and turns the \n, \, and \; escapes of property values into text.
func unfoldContentLines(b []byte) string {
	var s strings.Builder
	s.Grow(len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\r' && i+2 < len(b) && b[i+1] == '\n' && (b[i+2] == ' ' || b[i+2] == '\t'):
			i += 2
		case c == '\n' && i+1 < len(b) && (b[i+1] == ' ' || b[i+1] == '\t'):
			i++
		case c == '\\' && i+1 < len(b):
			switch b[i+1] {
			case 'n', 'N':
				s.WriteByte('\n')
			case ',', ';', '\\', ':':
				s.WriteByte(b[i+1])
			default:
				s.WriteByte(c)
				continue
			}
			i++
		default:
			s.WriteByte(c)
		}
	}
	return s.String()
}

// unescapeJSON turns the escapes of JSON strings into text everywhere in
// b (RFC 8259 §7), pairing UTF-16 surrogates; a bad escape stays as is.
func unescapeJSON(b []byte) string {
	var s strings.Builder
	s.Grow(len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			s.WriteByte(c)
			continue
		}
		switch b[i+1] {
		case 'u':
			r, n := jsonRune(b[i:])
			if n == 0 {
				s.WriteByte(c)
				continue
			}
			s.WriteRune(r)
			i += n - 1
		case 'n':
			s.WriteByte('\n')
			i++
		case 't':
			s.WriteByte('\t')
			i++
		case 'r', 'b', 'f':
			s.WriteByte(' ')
			i++
		case '"', '\\', '/':
			s.WriteByte(b[i+1])
			i++
		default:
			s.WriteByte(c)
		}
	}
	return s.String()
}

// jsonRune decodes \uXXXX (and a following low surrogate) at b; n is the
// bytes used, 0 when b holds no valid escape.
func jsonRune(b []byte) (rune, int) {
	hex4 := func(b []byte) (rune, bool) {
		if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(b[2:6]), 16, 16)
		return rune(v), err == nil
	}
	r, ok := hex4(b)
	if !ok {
		return 0, 0
	}
	if utf16.IsSurrogate(r) {
		if r2, ok := hex4(b[6:]); ok && len(b) >= 12 {
			if d := utf16.DecodeRune(r, r2); d != 0xFFFD {
				return d, 12
			}
		}
		return 0xFFFD, 6
	}
	return r, 6
}
