package pdf

// Content streams are most of the work: their operands are read without
// boxing each number and string into an interface (which costs an
// allocation each).

// opKind is the type of a content stream operand.
type opKind uint8

const (
	opOther opKind = iota // booleans, null, dictionaries, nested arrays
	opNum
	opStr
	opName
	opArr
)

// operand is one operand of a content stream operator.
type operand struct {
	kind opKind
	n    float64   // opNum
	b    []byte    // opStr, opName: valid until the next operator
	arr  []operand // opArr: valid until the next operator
}

// tokenizer reads content stream tokens. Decoded strings and array
// elements live in arenas reset at each operator.
type tokenizer struct {
	l     lexer
	arena []byte
	elems []operand
	ops   []operand
}

// reset drops the operands of the previous operator.
func (t *tokenizer) reset() {
	t.arena = t.arena[:0]
	t.elems = t.elems[:0]
}

// next reads one token: an operand into o, or an operator (kw != nil).
// eof is true at the end of the data.
func (t *tokenizer) next() (o operand, kw []byte, eof bool) {
	l := &t.l
	l.skipSpace()
	if l.pos >= len(l.buf) {
		return o, nil, true
	}
	c := l.buf[l.pos]
	switch {
	case c == '/':
		start := len(t.arena)
		t.arena = l.appendName(t.arena)
		o = operand{kind: opName, b: t.arena[start:len(t.arena):len(t.arena)]}
	case c == '(':
		start := len(t.arena)
		t.arena = l.appendLiteral(t.arena)
		o = operand{kind: opStr, b: t.arena[start:len(t.arena):len(t.arena)]}
	case c == '<' && l.pos+1 < len(l.buf) && l.buf[l.pos+1] == '<':
		l.object(0) // a property list or inline image dictionary: not needed
		o = operand{kind: opOther}
	case c == '<':
		start := len(t.arena)
		t.arena = l.appendHex(t.arena)
		o = operand{kind: opStr, b: t.arena[start:len(t.arena):len(t.arena)]}
	case c == '[':
		l.pos++
		start := len(t.elems)
		for {
			l.skipSpace()
			if l.pos >= len(l.buf) {
				break
			}
			if l.buf[l.pos] == ']' {
				l.pos++
				break
			}
			e, k, _ := t.element()
			if k != nil {
				continue // an operator inside an array: ignore it
			}
			t.elems = append(t.elems, e)
		}
		o = operand{kind: opArr, arr: t.elems[start:len(t.elems):len(t.elems)]}
	case c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9'):
		start := l.pos
		if c == '+' || c == '-' {
			l.pos++
		}
		for l.pos < len(l.buf) && (l.buf[l.pos] == '.' || (l.buf[l.pos] >= '0' && l.buf[l.pos] <= '9')) {
			l.pos++
		}
		b := l.buf[start:l.pos]
		v, ok := parseReal(b)
		if !ok {
			if f, isNum := num(l.numberFrom(b)); isNum {
				v = f
			}
		}
		o = operand{kind: opNum, n: v}
	case c == ')' || c == '>' || c == ']' || c == '{' || c == '}':
		l.pos++
		return o, l.buf[l.pos-1 : l.pos], false
	default:
		start := l.pos
		for l.pos < len(l.buf) && isRegular(l.buf[l.pos]) {
			l.pos++
		}
		if l.pos == start {
			l.pos++
		}
		w := l.buf[start:l.pos]
		switch string(w) {
		case "true", "false", "null":
			o = operand{kind: opOther}
			return o, nil, false
		}
		return o, w, false
	}
	return o, nil, false
}

// element reads one array element; nested arrays are skipped.
func (t *tokenizer) element() (o operand, kw []byte, eof bool) {
	l := &t.l
	if l.buf[l.pos] == '[' {
		l.object(0)
		return operand{kind: opOther}, nil, false
	}
	return t.next()
}

// numberFrom parses a number token that parseReal does not take (very long
// digit strings).
func (l *lexer) numberFrom(b []byte) any {
	sub := lexer{buf: b, content: true}
	return sub.number()
}
