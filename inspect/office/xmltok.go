package office

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
)

// tokenizer is a small, lenient XML tokenizer returning encoding/xml token
// values, as Decoder.RawToken does (names keep their prefix in Space; end
// tags are not matched against start tags). It exists for speed: office
// parts are large and regular, and encoding/xml spends most of its time on
// namespace and allocation work these parsers do not need.
//
// It reads elements, attributes, character data (entities and CDATA
// decoded, line ends normalised, invalid UTF-8 replaced), and skips
// comments, processing instructions and DOCTYPE (whose entity definitions
// are never expanded: no entity bombs).
type tokenizer struct {
	br        *bufio.Reader
	lt        bool           // a '<' was consumed by the last character data
	pend      xml.EndElement // the end of a self-closing tag, due next
	hasPend   bool
	attrs     []xml.Attr
	buf       []byte // the current tag or text, raw
	text      []byte // decoded character data (reused)
	names     map[string]string
	err       error
	firstDone bool
}

// maxToken bounds one tag (not text, which the part limit bounds).
const maxToken = 1 << 20

var errTokenTooLong = errors.New("xml: tag too long")

func newTokenizer(r io.Reader) *tokenizer {
	return &tokenizer{br: bufio.NewReaderSize(r, 64<<10), names: map[string]string{}}
}

// start handles a byte order mark and an XML declaration naming another
// encoding than UTF-8 (XML 1.0, 4.3.3 and appendix F).
func (z *tokenizer) start() {
	z.firstDone = true
	head, _ := z.br.Peek(256)
	var enc string
	switch {
	case bytes.HasPrefix(head, []byte{0xef, 0xbb, 0xbf}):
		z.br.Discard(3)
		return
	case bytes.HasPrefix(head, []byte{0xff, 0xfe}), bytes.HasPrefix(head, []byte{0xfe, 0xff}):
		dec := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()
		z.br = bufio.NewReaderSize(dec.Reader(z.br), 64<<10)
		return
	case bytes.HasPrefix(head, []byte("<?xml")):
		end := bytes.Index(head, []byte("?>"))
		if end < 0 {
			return
		}
		decl := string(head[:end])
		i := strings.Index(decl, "encoding=")
		if i < 0 || i+10 > len(decl) {
			return
		}
		q := decl[i+9]
		rest := decl[i+10:]
		if j := strings.IndexByte(rest, q); j >= 0 {
			enc = strings.ToLower(rest[:j])
		}
	}
	if enc == "" || enc == "utf-8" || enc == "utf8" || enc == "us-ascii" {
		return
	}
	e, err := htmlindex.Get(enc)
	if err != nil {
		return // read as UTF-8; invalid bytes become U+FFFD
	}
	z.br = bufio.NewReaderSize(e.NewDecoder().Reader(z.br), 64<<10)
}

// RawToken returns the next token: xml.StartElement, xml.EndElement or
// xml.CharData (valid until the next call). io.EOF at the end.
func (z *tokenizer) RawToken() (xml.Token, error) {
	if !z.firstDone {
		z.start()
	}
	if z.hasPend {
		z.hasPend = false
		return z.pend, nil
	}
	for {
		if z.err != nil {
			return nil, z.err
		}
		if !z.lt {
			// Character data up to the next '<'.
			z.buf = z.buf[:0]
			for {
				chunk, err := z.br.ReadSlice('<')
				if err == nil {
					z.buf = append(z.buf, chunk[:len(chunk)-1]...)
					z.lt = true
					break
				}
				z.buf = append(z.buf, chunk...)
				if err == bufio.ErrBufferFull {
					continue
				}
				if err != io.EOF {
					z.err = err
				} else {
					z.err = io.EOF
				}
				break
			}
			if len(z.buf) > 0 {
				return xml.CharData(z.decodeText(z.buf)), nil
			}
			continue
		}
		// Markup after '<'.
		z.lt = false
		c, err := z.br.ReadByte()
		if err != nil {
			z.err = io.ErrUnexpectedEOF
			continue
		}
		switch c {
		case '?':
			if err := z.skipUntil("?>"); err != nil {
				z.err = err
			}
			continue
		case '!':
			tok, err := z.bang()
			if err != nil {
				z.err = err
				continue
			}
			if tok != nil {
				return tok, nil
			}
			continue
		case '/':
			if err := z.readTag(); err != nil {
				z.err = err
				continue
			}
			name := bytes.TrimSpace(z.buf[:len(z.buf)-1])
			return xml.EndElement{Name: z.name(name)}, nil
		}
		z.br.UnreadByte()
		if err := z.readTag(); err != nil {
			z.err = err
			continue
		}
		return z.startElement(), nil
	}
}

// readTag reads up to the '>' that ends a tag, '>' inside quoted
// attribute values included, into z.buf.
func (z *tokenizer) readTag() error {
	z.buf = z.buf[:0]
	var quote byte
	for {
		chunk, err := z.br.ReadSlice('>')
		if len(z.buf)+len(chunk) > maxToken {
			return errTokenTooLong
		}
		start := len(z.buf)
		z.buf = append(z.buf, chunk...)
		if err == bufio.ErrBufferFull {
			quote = quoteState(z.buf[start:], quote)
			continue
		}
		if err != nil {
			return io.ErrUnexpectedEOF
		}
		quote = quoteState(z.buf[start:], quote)
		if quote == 0 {
			return nil
		}
	}
}

// quoteState follows quotes through b, starting inside quote (0: none).
func quoteState(b []byte, quote byte) byte {
	for _, c := range b {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		}
	}
	return quote
}

// skipUntil discards input through the string end.
func (z *tokenizer) skipUntil(end string) error {
	last := end[len(end)-1]
	window := make([]byte, 0, len(end))
	for n := 0; ; n++ {
		c, err := z.br.ReadByte()
		if err != nil {
			return io.ErrUnexpectedEOF
		}
		if len(window) == cap(window) {
			copy(window, window[1:])
			window = window[:len(window)-1]
		}
		window = append(window, c)
		if c == last && string(window) == end {
			return nil
		}
	}
}

// bang handles "<!": a comment, CDATA (returned as text), or a DOCTYPE or
// other declaration (skipped, internal subset included).
func (z *tokenizer) bang() (xml.Token, error) {
	head, _ := z.br.Peek(7)
	switch {
	case bytes.HasPrefix(head, []byte("--")):
		z.br.Discard(2)
		return nil, z.skipUntil("-->")
	case bytes.HasPrefix(head, []byte("[CDATA[")):
		z.br.Discard(7)
		z.buf = z.buf[:0]
		for {
			c, err := z.br.ReadByte()
			if err != nil {
				return nil, io.ErrUnexpectedEOF
			}
			z.buf = append(z.buf, c)
			if c == '>' && bytes.HasSuffix(z.buf, []byte("]]>")) {
				z.buf = z.buf[:len(z.buf)-3]
				z.text = append(z.text[:0], z.buf...)
				z.text = normalise(z.text)
				return xml.CharData(z.text), nil
			}
		}
	}
	depth := 0
	for {
		c, err := z.br.ReadByte()
		if err != nil {
			return nil, io.ErrUnexpectedEOF
		}
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case '>':
			if depth <= 0 {
				return nil, nil
			}
		}
	}
}

// startElement parses the tag in z.buf (without '<', with '>').
func (z *tokenizer) startElement() xml.Token {
	b := z.buf[:len(z.buf)-1]
	self := false
	if len(b) > 0 && b[len(b)-1] == '/' {
		self = true
		b = b[:len(b)-1]
	}
	i := 0
	for i < len(b) && !isSpace(b[i]) {
		i++
	}
	// The attribute slice is reused: the parsers never keep a token past
	// the next call (as with Decoder.RawToken's CharData).
	se := xml.StartElement{Name: z.name(b[:i]), Attr: z.attrs[:0]}
	b = b[i:]
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		if len(b) == 0 {
			break
		}
		j := 0
		for j < len(b) && b[j] != '=' && !isSpace(b[j]) {
			j++
		}
		an := b[:j]
		b = bytes.TrimLeft(b[j:], " \t\r\n")
		if len(b) == 0 || b[0] != '=' {
			// An attribute without a value (lenient, as Strict=false).
			if len(an) > 0 {
				se.Attr = append(se.Attr, xml.Attr{Name: z.name(an), Value: string(an)})
			}
			continue
		}
		b = bytes.TrimLeft(b[1:], " \t\r\n")
		var val []byte
		if len(b) > 0 && (b[0] == '"' || b[0] == '\'') {
			q := b[0]
			k := bytes.IndexByte(b[1:], q)
			if k < 0 {
				val, b = b[1:], nil
			} else {
				val, b = b[1:1+k], b[2+k:]
			}
		} else {
			k := 0
			for k < len(b) && !isSpace(b[k]) {
				k++
			}
			val, b = b[:k], b[k:]
		}
		se.Attr = append(se.Attr, xml.Attr{Name: z.name(an), Value: string(z.decodeText(val))})
	}
	z.attrs = se.Attr
	if len(se.Attr) == 0 {
		se.Attr = nil
	}
	if self {
		z.pend = xml.EndElement{Name: se.Name}
		z.hasPend = true
	}
	return se
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// name splits prefix:local, interning both (a part repeats few names).
func (z *tokenizer) name(b []byte) xml.Name {
	if i := bytes.IndexByte(b, ':'); i >= 0 {
		return xml.Name{Space: z.intern(b[:i]), Local: z.intern(b[i+1:])}
	}
	return xml.Name{Local: z.intern(b)}
}

func (z *tokenizer) intern(b []byte) string {
	if s, ok := z.names[string(b)]; ok {
		return s
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if len(z.names) < 4096 {
		z.names[s] = s
	}
	return s
}

// decodeText decodes entities and character references, normalises line
// ends (XML 1.0, 2.11) and replaces invalid UTF-8, into z.text.
func (z *tokenizer) decodeText(raw []byte) []byte {
	if bytes.IndexByte(raw, '&') < 0 && bytes.IndexByte(raw, '\r') < 0 && utf8.Valid(raw) {
		return raw
	}
	out := z.text[:0]
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '&')
		if i < 0 {
			out = append(out, raw...)
			break
		}
		out = append(out, raw[:i]...)
		raw = raw[i:]
		semi := bytes.IndexByte(raw[:min(len(raw), 12)], ';')
		if semi < 0 {
			out = append(out, '&')
			raw = raw[1:]
			continue
		}
		ent := string(raw[1:semi])
		switch ent {
		case "lt":
			out = append(out, '<')
		case "gt":
			out = append(out, '>')
		case "amp":
			out = append(out, '&')
		case "apos":
			out = append(out, '\'')
		case "quot":
			out = append(out, '"')
		default:
			r, ok := charRef(ent)
			if !ok {
				out = append(out, raw[:semi+1]...) // unknown: as written
			} else {
				out = utf8.AppendRune(out, r)
			}
		}
		raw = raw[semi+1:]
	}
	out = normalise(out)
	z.text = out
	return out
}

// charRef decodes "#123" and "#x1F".
func charRef(ent string) (rune, bool) {
	if len(ent) < 2 || ent[0] != '#' {
		return 0, false
	}
	var n uint64
	var err error
	if ent[1] == 'x' || ent[1] == 'X' {
		n, err = strconv.ParseUint(ent[2:], 16, 32)
	} else {
		n, err = strconv.ParseUint(ent[1:], 10, 32)
	}
	if err != nil {
		return 0, false
	}
	r := rune(n)
	if !utf8.ValidRune(r) {
		r = utf8.RuneError
	}
	return r, true
}

// normalise turns CR LF and lone CR into LF and invalid UTF-8 into U+FFFD,
// in place where it can.
func normalise(b []byte) []byte {
	if bytes.IndexByte(b, '\r') >= 0 {
		w := 0
		for i := 0; i < len(b); i++ {
			c := b[i]
			if c == '\r' {
				c = '\n'
				if i+1 < len(b) && b[i+1] == '\n' {
					i++
				}
			}
			b[w] = c
			w++
		}
		b = b[:w]
	}
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	return b
}
