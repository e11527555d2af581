package pdf

import (
	"bytes"
	"strconv"
	"strings"
)

// The PDF object model (ISO 32000-1 §7.3), as plain Go values:
//
//	null → nil, boolean → bool, integer → int64, real → float64,
//	string → pdfString, name → name, array → array, dictionary → dict,
//	indirect reference → objRef, stream → *stream, operator → keyword.
type (
	pdfString string
	name      string
	keyword   string
	array     []any
	dict      map[name]any
	objRef    struct{ num, gen int }
)

// stream is a dictionary plus its raw (still encoded) bytes.
type stream struct {
	dict dict
	raw  []byte
	ref  objRef // the object the stream is, for decryption
	off  int    // offset of its data in the file
}

// maxNesting bounds array and dictionary nesting (§7.3: no limit is set by the
// standard; real files stay far below this).
const maxNesting = 64

// lexer reads PDF tokens and objects from a byte slice. It never reads
// outside buf and never panics on malformed input.
type lexer struct {
	buf []byte
	pos int
	// content is true for content streams: "R" is an operator there, not an
	// indirect reference.
	content bool
}

func isSpace(c byte) bool {
	switch c {
	case 0, '\t', '\n', '\f', '\r', ' ':
		return true
	}
	return false
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func isRegular(c byte) bool { return !isSpace(c) && !isDelim(c) }

// skipSpace skips white space and comments (§7.2.3).
func (l *lexer) skipSpace() {
	for l.pos < len(l.buf) {
		c := l.buf[l.pos]
		if isSpace(c) {
			l.pos++
			continue
		}
		if c == '%' {
			for l.pos < len(l.buf) && l.buf[l.pos] != '\n' && l.buf[l.pos] != '\r' {
				l.pos++
			}
			continue
		}
		return
	}
}

// lexEOF is the token returned when the input ended.
type lexEOF struct{}

// next returns the next object or keyword. Nested structures are parsed
// whole; a closing delimiter without an opening one is returned as a keyword.
func (l *lexer) next() any { return l.object(0) }

func (l *lexer) object(depth int) any {
	l.skipSpace()
	if l.pos >= len(l.buf) {
		return lexEOF{}
	}
	c := l.buf[l.pos]
	switch {
	case c == '/':
		return l.name()
	case c == '(':
		return l.literal()
	case c == '<':
		if l.pos+1 < len(l.buf) && l.buf[l.pos+1] == '<' {
			l.pos += 2
			return l.dict(depth + 1)
		}
		return l.hex()
	case c == '[':
		l.pos++
		return l.array(depth + 1)
	case c == '>' && l.pos+1 < len(l.buf) && l.buf[l.pos+1] == '>':
		l.pos += 2
		return keyword(">>")
	case c == ']' || c == ')' || c == '>' || c == '{' || c == '}':
		l.pos++
		return keyword(string(c))
	case c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9'):
		return l.number()
	}
	start := l.pos
	for l.pos < len(l.buf) && isRegular(l.buf[l.pos]) {
		l.pos++
	}
	if l.pos == start { // cannot happen: c is regular here; guard anyway
		l.pos++
	}
	w := l.buf[start:l.pos]
	switch string(w) {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	// Operators repeat by the thousand in content streams: do not
	// allocate a string for each.
	if k, ok := knownKeywords[string(w)]; ok {
		return k
	}
	return keyword(w)
}

var knownKeywords = func() map[string]keyword {
	m := map[string]keyword{}
	for _, k := range strings.Fields(`obj endobj stream endstream R xref trailer startxref
		b B b* B* BDC BI BMC BT BX c cm CS cs d d0 d1 Do DP EI EMC ET EX f F f* G g gs h i ID j J
		K k l m M MP n q Q re RG rg ri s S SC sc SCN scn sh T* Tc Td TD Tf Tj TJ TL Tm Tr Ts Tw Tz
		v w W W* y ' " def begin end dict findresource pop defineresource usecmap
		begincmap endcmap begincodespacerange endcodespacerange beginbfchar endbfchar
		beginbfrange endbfrange begincidrange endcidrange begincidchar endcidchar
		beginnotdefrange endnotdefrange`) {
		m[k] = keyword(k)
	}
	return m
}()

func (l *lexer) number() any {
	start := l.pos
	if c := l.buf[l.pos]; c == '+' || c == '-' {
		l.pos++
	}
	real := false
	for l.pos < len(l.buf) {
		c := l.buf[l.pos]
		if c == '.' {
			real = true
		} else if c < '0' || c > '9' {
			// Some writers emit "--5" or "1.2.3"; stop at the first
			// irregular character and let the rest become a keyword.
			break
		}
		l.pos++
	}
	b := l.buf[start:l.pos]
	if !real {
		n, ok := parseInt(b)
		if ok {
			if !l.content {
				if r, ok := l.refAfter(n); ok {
					return r
				}
			}
			return n
		}
	}
	if f, ok := parseReal(b); ok {
		return f
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return float64(0)
	}
	return f
}

// parseInt parses [+-]digits without allocating; false on overflow or no
// digits.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// parseReal parses the common [+-]digits.digits without allocating; false
// sends the caller to strconv.
func parseReal(b []byte) (float64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var mant int64
	frac := -1
	digits := 0
	for _, c := range b {
		switch {
		case c == '.':
			if frac >= 0 {
				return 0, false
			}
			frac = 0
		case c >= '0' && c <= '9':
			mant = mant*10 + int64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	f := float64(mant)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16}

// refAfter checks whether "n G R" follows and consumes it (§7.3.10).
func (l *lexer) refAfter(n int64) (objRef, bool) {
	if n < 0 || n > 1<<30 {
		return objRef{}, false
	}
	save := l.pos
	l.skipSpace()
	gs := l.pos
	for l.pos < len(l.buf) && l.buf[l.pos] >= '0' && l.buf[l.pos] <= '9' {
		l.pos++
	}
	if l.pos == gs || l.pos-gs > 6 {
		l.pos = save
		return objRef{}, false
	}
	g, _ := strconv.Atoi(string(l.buf[gs:l.pos]))
	l.skipSpace()
	if l.pos < len(l.buf) && l.buf[l.pos] == 'R' && (l.pos+1 == len(l.buf) || !isRegular(l.buf[l.pos+1])) {
		l.pos++
		return objRef{int(n), g}, true
	}
	l.pos = save
	return objRef{}, false
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// name reads a name with #xx escapes (§7.3.5).
func (l *lexer) name() name { return name(l.appendName(nil)) }

// appendName reads a name and appends its bytes to b.
func (l *lexer) appendName(b []byte) []byte {
	l.pos++ // '/'
	for l.pos < len(l.buf) && isRegular(l.buf[l.pos]) {
		c := l.buf[l.pos]
		if c == '#' && l.pos+2 < len(l.buf) {
			h, ok1 := unhex(l.buf[l.pos+1])
			lo, ok2 := unhex(l.buf[l.pos+2])
			if ok1 && ok2 {
				b = append(b, h<<4|lo)
				l.pos += 3
				continue
			}
		}
		b = append(b, c)
		l.pos++
	}
	return b
}

// literal reads a literal string with escapes and balanced parentheses
// (§7.3.4.2).
func (l *lexer) literal() pdfString { return pdfString(l.appendLiteral(nil)) }

// appendLiteral reads a literal string and appends its bytes to b.
func (l *lexer) appendLiteral(b []byte) []byte {
	l.pos++ // '('
	depth := 1
	for l.pos < len(l.buf) {
		c := l.buf[l.pos]
		l.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return b
			}
		case '\r':
			// An unescaped end of line is a line feed.
			if l.pos < len(l.buf) && l.buf[l.pos] == '\n' {
				l.pos++
			}
			c = '\n'
		case '\\':
			if l.pos >= len(l.buf) {
				return b
			}
			e := l.buf[l.pos]
			l.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.pos < len(l.buf) && l.buf[l.pos] == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for i := 0; i < 2 && l.pos < len(l.buf); i++ {
						d := l.buf[l.pos]
						if d < '0' || d > '7' {
							break
						}
						v = v*8 + int(d-'0')
						l.pos++
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		b = append(b, c)
	}
	return b
}

// hex reads a hexadecimal string; an odd final digit is followed by 0
// (§7.3.4.3).
func (l *lexer) hex() pdfString { return pdfString(l.appendHex(nil)) }

// appendHex reads a hexadecimal string and appends its bytes to b.
func (l *lexer) appendHex(b []byte) []byte {
	l.pos++ // '<'
	b, n := appendHexDigits(b, l.buf[l.pos:])
	l.pos += n
	return b
}

func (l *lexer) array(depth int) any {
	var a array
	for {
		if depth > maxNesting {
			l.pos = len(l.buf)
			return a
		}
		l.skipSpace()
		if l.pos >= len(l.buf) {
			return a
		}
		if l.buf[l.pos] == ']' {
			l.pos++
			return a
		}
		o := l.object(depth)
		switch o.(type) {
		case lexEOF:
			return a
		case keyword:
			if k := o.(keyword); k == ">>" || k == "endobj" || k == "stream" {
				return a
			}
		}
		a = append(a, o)
	}
}

func (l *lexer) dict(depth int) any {
	d := dict{}
	for {
		if depth > maxNesting {
			l.pos = len(l.buf)
			return d
		}
		l.skipSpace()
		if l.pos >= len(l.buf) {
			return d
		}
		if l.buf[l.pos] == '>' {
			l.pos++
			if l.pos < len(l.buf) && l.buf[l.pos] == '>' {
				l.pos++
			}
			return d
		}
		k := l.object(depth)
		key, ok := k.(name)
		if !ok {
			if kw, isKw := k.(keyword); isKw && (kw == "endobj" || kw == "stream") {
				l.pos -= len(kw)
				return d
			}
			if _, isEOF := k.(lexEOF); isEOF {
				return d
			}
			continue // skip junk between entries
		}
		l.skipSpace()
		if l.pos < len(l.buf) && l.buf[l.pos] == '>' {
			d[key] = nil
			continue
		}
		v := l.object(depth)
		switch v.(type) {
		case lexEOF:
			return d
		case keyword:
			kw := v.(keyword)
			if kw == "endobj" || kw == "stream" {
				l.pos -= len(kw)
				return d
			}
		}
		if v != nil {
			d[key] = v
		}
	}
}

// hasKeywordAt reports whether kw is at l.pos, ending at a delimiter.
func (l *lexer) hasKeywordAt(kw string) bool {
	if !bytes.HasPrefix(l.buf[l.pos:], []byte(kw)) {
		return false
	}
	e := l.pos + len(kw)
	return e == len(l.buf) || !isRegular(l.buf[e])
}
