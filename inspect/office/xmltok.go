package office

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
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
	lt        bool   // a '<' was consumed by the last character data
	hasPend   bool   // a self-closing tag: its end is due next
	pendName  []byte // its name
	qname     []byte // name of the current tag
	rawAttrs  []byte // attribute text of the current start tag
	chars     []byte // the current character data
	attrs     []xml.Attr
	buf       []byte // the current tag or text, raw
	text      []byte // decoded character data (reused)
	names     map[string]string
	err       error
	firstDone bool

	// Well-formedness, checked as the part is read (element nesting, one
	// root, no text outside it): reading goes on leniently, but the first
	// problem is returned instead of io.EOF at the end, so a damaged part
	// never reads as complete (3.3.5: not passed as inspected).
	open     []byte // names of the open elements, concatenated
	openEnd  []int  // end of each name in open
	rootSeen bool
	damage   string // the first problem found, "" while none
	// report, when set, receives the problem at the end of the part
	// instead of an error (see extractor.damaged).
	report func(why string)
}

// ErrMalformed means an XML part of the document is not well-formed (cut
// short, tags that do not match, no root element, binary garbage): its
// text was read as far as it goes, but the document is damaged.
var ErrMalformed = errors.New("office: XML part is damaged")

// maxToken bounds one tag (not text, which the part limit bounds).
const maxToken = 1 << 20

var errTokenTooLong = errors.New("xml: tag too long")

func newTokenizer(r io.Reader) *tokenizer {
	return newTokenizerSize(r, 64<<10)
}

func newTokenizerSize(r io.Reader, size int) *tokenizer {
	return &tokenizer{br: bufio.NewReaderSize(r, size), names: map[string]string{}}
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

// Token kinds of next.
const (
	kStart = iota + 1
	kEnd
	kText
)

// next reads the next token without building encoding/xml values: after
// kStart, z.qname is the tag name and z.rawAttrs its attribute text (see
// attrVal); after kEnd, z.qname; after kText, z.chars. All are valid until
// the next call. The error is io.EOF at the end.
func (z *tokenizer) next() (int, error) {
	if !z.firstDone {
		z.start()
	}
	if z.hasPend {
		z.hasPend = false
		z.qname = append(z.qname[:0], z.pendName...)
		return kEnd, nil
	}
	for {
		if z.err != nil {
			if z.err == io.EOF {
				if len(z.openEnd) > 0 {
					z.damaged("the part ends inside <" + string(z.top()) + ">")
				} else if !z.rootSeen {
					z.damaged("no root element")
				}
				if z.damage != "" {
					if z.report != nil {
						// The extractor goes on reading the other parts
						// and fails the document at the end.
						z.report(z.damage)
						z.damage = ""
					} else {
						z.err = fmt.Errorf("%w: %s", ErrMalformed, z.damage)
					}
				}
			}
			return 0, z.err
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
				z.err = err
				break
			}
			if len(z.buf) > 0 {
				z.chars = z.decodeText(z.buf)
				if len(z.openEnd) == 0 && len(bytes.TrimSpace(z.chars)) > 0 {
					z.damaged("text outside the root element")
				}
				return kText, nil
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
			text, err := z.bang()
			if err != nil {
				z.err = err
				continue
			}
			if text {
				if len(z.openEnd) == 0 {
					z.damaged("CDATA outside the root element")
				}
				return kText, nil
			}
			continue
		case '/':
			if err := z.readTag(); err != nil {
				z.err = err
				continue
			}
			z.qname = bytes.TrimSpace(z.buf[:len(z.buf)-1])
			z.pop(z.qname)
			return kEnd, nil
		}
		z.br.UnreadByte()
		if err := z.readTag(); err != nil {
			z.err = err
			continue
		}
		b := z.buf[:len(z.buf)-1]
		if len(b) > 0 && b[len(b)-1] == '/' {
			b = b[:len(b)-1]
			z.hasPend = true
		}
		i := 0
		for i < len(b) && !isSpace(b[i]) {
			i++
		}
		z.qname, z.rawAttrs = b[:i], b[i:]
		if z.hasPend {
			z.pendName = append(z.pendName[:0], z.qname...)
		}
		z.push(z.qname)
		return kStart, nil
	}
}

// damaged records the first well-formedness problem of the part.
func (z *tokenizer) damaged(why string) {
	if z.damage == "" {
		z.damage = why
	}
}

// top is the name of the innermost open element.
func (z *tokenizer) top() []byte {
	n := len(z.openEnd)
	start := 0
	if n > 1 {
		start = z.openEnd[n-2]
	}
	return z.open[start:z.openEnd[n-1]]
}

// push opens an element (a self-closing one opens and closes at once).
func (z *tokenizer) push(name []byte) {
	if len(z.openEnd) == 0 {
		if z.rootSeen {
			z.damaged("a second root element <" + string(name) + ">")
		}
		z.rootSeen = true
	}
	if len(name) == 0 || !nameStart(name[0]) {
		z.damaged("a tag that is not a name: <" + truncName(name) + ">")
	}
	if z.hasPend {
		return
	}
	z.open = append(z.open, name...)
	z.openEnd = append(z.openEnd, len(z.open))
}

// pop closes the innermost element; the end tag must name it.
func (z *tokenizer) pop(name []byte) {
	n := len(z.openEnd)
	if n == 0 {
		z.damaged("</" + truncName(name) + "> closes nothing")
		return
	}
	if top := z.top(); !bytes.Equal(top, name) {
		z.damaged("</" + truncName(name) + "> closes <" + truncName(top) + ">")
	}
	z.openEnd = z.openEnd[:n-1]
	if n > 1 {
		z.open = z.open[:z.openEnd[n-2]]
	} else {
		z.open = z.open[:0]
	}
}

// nameStart reports a byte that may begin an XML name (XML 1.0 §2.3;
// any non-ASCII byte passes: names in other scripts are rare but valid).
func nameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || c >= 0x80
}

// truncName bounds a name quoted in a reason.
func truncName(b []byte) string {
	if len(b) > 40 {
		b = b[:40]
	}
	return strings.ToValidUTF8(string(b), "?")
}

// local is the local part of the current tag name.
func (z *tokenizer) local() []byte {
	if i := bytes.IndexByte(z.qname, ':'); i >= 0 {
		return z.qname[i+1:]
	}
	return z.qname
}

// RawToken returns the next token: xml.StartElement, xml.EndElement or
// xml.CharData (valid until the next call). io.EOF at the end.
func (z *tokenizer) RawToken() (xml.Token, error) {
	k, err := z.next()
	if err != nil {
		return nil, err
	}
	switch k {
	case kStart:
		return z.startElement(), nil
	case kEnd:
		return xml.EndElement{Name: z.name(z.qname)}, nil
	}
	return xml.CharData(z.chars), nil
}

// eachAttr calls f with each attribute's raw name and raw (undecoded)
// value in z.rawAttrs; f returns false to stop.
func (z *tokenizer) eachAttr(f func(name, val []byte) bool) {
	b := z.rawAttrs
	for {
		b = trimSpaceLeft(b)
		if len(b) == 0 {
			return
		}
		j := 0
		for j < len(b) && b[j] != '=' && !isSpace(b[j]) {
			j++
		}
		an := b[:j]
		b = trimSpaceLeft(b[j:])
		if len(b) == 0 || b[0] != '=' {
			// An attribute without a value (lenient, as Strict=false).
			if len(an) > 0 && !f(an, an) {
				return
			}
			continue
		}
		b = trimSpaceLeft(b[1:])
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
		if !f(an, val) {
			return
		}
	}
}

// attrVal returns the decoded value of the attribute with that local name
// on the current start tag (valid until the next call), or nil.
func (z *tokenizer) attrVal(local string) []byte {
	var out []byte
	z.eachAttr(func(name, val []byte) bool {
		if i := bytes.IndexByte(name, ':'); i >= 0 {
			name = name[i+1:]
		}
		if string(name) != local {
			return true
		}
		out = z.decodeText(val)
		if out == nil {
			out = []byte{}
		}
		return false
	})
	return out
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
func (z *tokenizer) bang() (bool, error) {
	head, _ := z.br.Peek(7)
	switch {
	case bytes.HasPrefix(head, []byte("--")):
		z.br.Discard(2)
		return false, z.skipUntil("-->")
	case bytes.HasPrefix(head, []byte("[CDATA[")):
		z.br.Discard(7)
		z.buf = z.buf[:0]
		for {
			c, err := z.br.ReadByte()
			if err != nil {
				return false, io.ErrUnexpectedEOF
			}
			z.buf = append(z.buf, c)
			if c == '>' && bytes.HasSuffix(z.buf, []byte("]]>")) {
				z.buf = z.buf[:len(z.buf)-3]
				z.text = append(z.text[:0], z.buf...)
				z.text = normalise(z.text)
				z.chars = z.text
				return true, nil
			}
		}
	}
	depth := 0
	for {
		c, err := z.br.ReadByte()
		if err != nil {
			return false, io.ErrUnexpectedEOF
		}
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case '>':
			if depth <= 0 {
				return false, nil
			}
		}
	}
}

// startElement builds the xml.StartElement of the current start tag.
func (z *tokenizer) startElement() xml.StartElement {
	// The attribute slice is reused: the parsers never keep a token past
	// the next call (as with Decoder.RawToken's CharData).
	se := xml.StartElement{Name: z.name(z.qname), Attr: z.attrs[:0]}
	z.eachAttr(func(name, val []byte) bool {
		se.Attr = append(se.Attr, xml.Attr{Name: z.name(name), Value: string(z.decodeText(val))})
		return true
	})
	z.attrs = se.Attr
	if len(se.Attr) == 0 {
		se.Attr = nil
	}
	return se
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func trimSpaceLeft(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

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
