package pdf

import (
	"errors"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// matrix is a PDF transformation matrix [a b c d e f] (§8.3.4).
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns m × n.
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2],
		m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2],
		m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4],
		m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func translate(x, y float64) matrix { return matrix{1, 0, 0, 1, x, y} }

// gstate is the part of the graphics state text extraction needs (§8.4,
// §9.3).
type gstate struct {
	ctm                       matrix
	tc, tw, th, tl, tfs, rise float64
	font                      *font
}

// Limits of the interpreter: nesting of q/Q, of Form XObjects, and the
// number of operators in the whole file (a cheap bound on CPU).
const (
	maxGStack   = 256
	maxFormNest = 12
	maxOps      = 20_000_000
)

var (
	errTruncated = errors.New("pdf: text limit reached")
	errTooMuch   = errors.New("pdf: too many content operators")
)

// extractor runs content streams and lays out their text.
type extractor struct {
	d     *document
	out   *textOut
	fonts map[objRef]*font
	ops   int
	// forms on the current Do chain, to break Form XObject cycles.
	forms   map[objRef]bool
	unknown int // glyphs without a known Unicode mapping
	images  int // image XObjects drawn
	// imagePages counts pages with images and no text.
	imagePages int
	// pageNo is the page being read (1-based); pictures are the image
	// XObjects it drew, scanned its pages without text (for OCR).
	pageNo   int
	pictures []*stream
	scanned  []ScannedPage
	// used holds the file offsets of the streams run as content, so that
	// those left over can be found.
	used map[int]bool
	// toks holds a tokenizer per Form XObject nesting level, for their
	// arenas.
	toks [maxFormNest + 2]*tokenizer
}

// runContent interprets one content stream with its resources.
func (x *extractor) runContent(data []byte, res dict, g *gstate, depth int) error {
	// Reuse the arenas of this nesting level.
	t := x.toks[min(depth, len(x.toks)-1)]
	if t == nil || depth >= len(x.toks)-1 {
		t = &tokenizer{}
		x.toks[min(depth, len(x.toks)-1)] = t
	}
	if x.d.spend(1 + int64(len(data))/64) {
		return errWork
	}
	t.l = lexer{buf: data, content: true}
	t.reset()
	ops := t.ops[:0]
	defer func() { t.ops = ops[:0] }()
	var stack []gstate
	var tm, tlm matrix = identity, identity
	for {
		o, kw, eof := t.next()
		if eof {
			return nil
		}
		if x.d.spend(1) {
			return errWork
		}
		if kw == nil {
			if len(ops) < 64 {
				ops = append(ops, o)
			}
			continue
		}
		x.ops++
		if x.ops > maxOps {
			return errTooMuch
		}
		if x.ops&0xfff == 0 {
			if err := x.d.ctx.Err(); err != nil {
				return err
			}
		}
		if err := x.op(kw, ops, &t.l, res, g, &stack, &tm, &tlm, depth); err != nil {
			return err
		}
		ops = ops[:0]
		t.reset()
	}
}

// nums returns the last n (at most 6) operands as numbers.
func nums(ops []operand, n int) ([6]float64, bool) {
	var out [6]float64
	if len(ops) < n || n > len(out) {
		return out, false
	}
	for i, o := range ops[len(ops)-n:] {
		v := o.n
		if o.kind != opNum || math.IsNaN(v) || math.IsInf(v, 0) {
			return out, false
		}
		out[i] = v
	}
	return out, true
}

// last returns the last operand when it has the kind k.
func last(ops []operand, k opKind) (operand, bool) {
	if len(ops) == 0 || ops[len(ops)-1].kind != k {
		return operand{}, false
	}
	return ops[len(ops)-1], true
}

func (x *extractor) op(op []byte, ops []operand, l *lexer, res dict, g *gstate, stack *[]gstate, tm, tlm *matrix, depth int) error {
	switch string(op) {
	case "q":
		if len(*stack) < maxGStack {
			*stack = append(*stack, *g)
		}
	case "Q":
		if n := len(*stack); n > 0 {
			*g = (*stack)[n-1]
			*stack = (*stack)[:n-1]
		}
	case "cm":
		if v, ok := nums(ops, 6); ok {
			g.ctm = matrix(v).mul(g.ctm)
		}
	case "BT":
		*tm, *tlm = identity, identity
	case "Tf":
		if len(ops) >= 2 {
			if fn := ops[len(ops)-2]; fn.kind == opName {
				g.font = x.font(res, name(fn.b))
			}
			if v := ops[len(ops)-1]; v.kind == opNum {
				g.tfs = v.n
			}
		}
	case "Tc":
		if v, ok := nums(ops, 1); ok {
			g.tc = v[0]
		}
	case "Tw":
		if v, ok := nums(ops, 1); ok {
			g.tw = v[0]
		}
	case "Tz":
		if v, ok := nums(ops, 1); ok {
			g.th = v[0] / 100
		}
	case "TL":
		if v, ok := nums(ops, 1); ok {
			g.tl = v[0]
		}
	case "Ts":
		if v, ok := nums(ops, 1); ok {
			g.rise = v[0]
		}
	case "Td":
		if v, ok := nums(ops, 2); ok {
			*tlm = translate(v[0], v[1]).mul(*tlm)
			*tm = *tlm
		}
	case "TD":
		if v, ok := nums(ops, 2); ok {
			g.tl = -v[1]
			*tlm = translate(v[0], v[1]).mul(*tlm)
			*tm = *tlm
		}
	case "Tm":
		if v, ok := nums(ops, 6); ok {
			*tlm = matrix(v)
			*tm = *tlm
		}
	case "T*":
		*tlm = translate(0, -g.tl).mul(*tlm)
		*tm = *tlm
	case "Tj":
		if s, ok := last(ops, opStr); ok {
			return x.show(s.b, g, tm)
		}
	case "'":
		*tlm = translate(0, -g.tl).mul(*tlm)
		*tm = *tlm
		if s, ok := last(ops, opStr); ok {
			return x.show(s.b, g, tm)
		}
	case "\"":
		if len(ops) >= 3 {
			if v, ok := nums(ops[:len(ops)-1], 2); ok {
				g.tw, g.tc = v[0], v[1]
			}
			*tlm = translate(0, -g.tl).mul(*tlm)
			*tm = *tlm
			if s, ok := last(ops, opStr); ok {
				return x.show(s.b, g, tm)
			}
		}
	case "TJ":
		if a, ok := last(ops, opArr); ok {
			for _, e := range a.arr {
				switch e.kind {
				case opStr:
					if err := x.show(e.b, g, tm); err != nil {
						return err
					}
				case opNum:
					adj := -e.n / 1000 * g.tfs
					if g.font != nil && g.font.vertical {
						*tm = translate(0, adj).mul(*tm)
					} else {
						*tm = translate(adj*g.th, 0).mul(*tm)
					}
				}
			}
		}
	case "Do":
		if n, ok := last(ops, opName); ok {
			return x.doXObject(res, name(n.b), g, depth)
		}
	case "ID":
		x.images++
		skipInlineImage(l)
	}
	return nil
}

// skipInlineImage moves past the data of an inline image (§8.9.7): it ends
// at "EI" between white space.
func skipInlineImage(l *lexer) {
	if l.pos < len(l.buf) && isSpace(l.buf[l.pos]) {
		l.pos++
	}
	for i := l.pos; i+1 < len(l.buf); i++ {
		if l.buf[i] == 'E' && l.buf[i+1] == 'I' && (i == 0 || isSpace(l.buf[i-1])) &&
			(i+2 == len(l.buf) || isSpace(l.buf[i+2])) {
			l.pos = i + 2
			return
		}
	}
	l.pos = len(l.buf)
}

func (x *extractor) font(res dict, fn name) *font {
	fonts := x.d.getDict(res, "Font")
	if fonts == nil {
		return nil
	}
	raw := fonts[fn]
	if r, ok := raw.(objRef); ok {
		if f, ok := x.fonts[r]; ok {
			return f
		}
		var f *font
		if fd, ok := x.d.resolve(r).(dict); ok {
			f = x.d.loadFont(fd)
		}
		x.fonts[r] = f
		return f
	}
	if fd, ok := x.d.resolve(raw).(dict); ok {
		return x.d.loadFont(fd)
	}
	return nil
}

func (x *extractor) doXObject(res dict, n name, g *gstate, depth int) error {
	xobjs := x.d.getDict(res, "XObject")
	if xobjs == nil {
		return nil
	}
	ref, _ := xobjs[n].(objRef)
	if x.forms[ref] || depth >= maxFormNest {
		return nil
	}
	s, ok := x.d.resolve(xobjs[n]).(*stream)
	if !ok {
		return nil
	}
	if s.dict["Subtype"] != name("Form") {
		if s.dict["Subtype"] == name("Image") {
			x.images++ // no text layer: counted for ImagesOnly
			x.pictures = append(x.pictures, s)
		}
		return nil
	}
	x.used[s.off] = true
	data, err := x.d.decodeStream(s)
	if err != nil {
		x.d.notes.add("form XObject /%s skipped: %v", n, err)
		return nil
	}
	fres := x.d.getDict(s.dict, "Resources")
	if fres == nil {
		fres = res // old files rely on the page's resources
	}
	sub := *g
	if m := x.d.getArray(s.dict, "Matrix"); len(m) == 6 {
		var mm matrix
		ok := true
		for i := range mm {
			v, isNum := num(x.d.resolve(m[i]))
			if !isNum {
				ok = false
			}
			mm[i] = v
		}
		if ok {
			sub.ctm = mm.mul(g.ctm)
		}
	}
	if ref.num != 0 {
		x.forms[ref] = true
		defer delete(x.forms, ref)
	}
	return x.runContent(data, fres, &sub, depth+1)
}

// show lays out the glyphs of one string (§9.4.4).
func (x *extractor) show(s []byte, g *gstate, tm *matrix) error {
	f := g.font
	if f == nil {
		// No font selected: take the bytes as Latin text rather than lose
		// them.
		f = &font{kind: codesSimple, dw: 0.5}
		for c := 32; c < 127; c++ {
			f.simple[c] = string(rune(c))
		}
	}
	// Within one string only the translation of the text matrix changes,
	// so the size and direction are the same for all its glyphs.
	m := tm.mul(g.ctm)
	var size, dx, dy float64
	if f.vertical {
		size = math.Abs(g.tfs) * math.Hypot(m[0], m[1])
		dx, dy = -m[2], -m[3]
	} else {
		size = math.Abs(g.tfs) * math.Hypot(m[2], m[3])
		dx, dy = m[0], m[1]
	}
	if h := math.Hypot(dx, dy); h > 0 {
		dx, dy = dx/h, dy/h
	} else {
		dx, dy = 1, 0
	}
	th := g.th
	var err error
	f.decode(s, func(gl glyph) {
		if err != nil {
			return
		}
		if !gl.known && gl.text == "" {
			x.unknown++
		}
		err = x.out.glyph(m[4], m[5], dx, dy, size, gl.text)
		// The glyph ends where its width ends; character and word
		// spacing after it are a gap, as a reader sees it (Ghostscript
		// writes word spaces as Tc).
		w := gl.width * g.tfs
		adv := w + g.tc
		if gl.space {
			adv += g.tw
		}
		// translate(tx, ty) × M moves the origin by tx·(a, b) + ty·(c, d).
		if f.vertical {
			x.out.end(m[4]-w*m[2], m[5]-w*m[3])
			tm[4], tm[5] = tm[4]-adv*tm[2], tm[5]-adv*tm[3]
			m[4], m[5] = m[4]-adv*m[2], m[5]-adv*m[3]
		} else {
			w *= th
			adv *= th
			x.out.end(m[4]+w*m[0], m[5]+w*m[1])
			tm[4], tm[5] = tm[4]+adv*tm[0], tm[5]+adv*tm[1]
			m[4], m[5] = m[4]+adv*m[0], m[5]+adv*m[1]
		}
	})
	return err
}

// textOut assembles text from positioned glyphs. Glyphs that follow each
// other on a baseline make a fragment; a gap between them becomes a space,
// or a tab when it is as wide as the gap between table cells. At the end of
// a page, horizontal fragments are grouped into lines by baseline, top to
// bottom and left to right, so that the cells of a table row written one
// after the other (or a row whose cell wraps) still come out on one line.
type textOut struct {
	b         strings.Builder
	max       int64
	truncated bool
	frags     []*frag
	cur       *frag
	pending   int64 // bytes in frags
	last      rune  // last rune written to b
}

// frag is a run of text on one baseline.
type frag struct {
	x, y   float64 // start of the first glyph
	ex, ey float64 // end of the last glyph
	dx, dy float64 // direction of the text
	size   float64
	seq    int
	text   strings.Builder
	lastR  rune
}

// Gap thresholds, in units of the font size. A word space is about 0.25
// em; LibreOffice's space between Japanese and Latin text is about 0.2 em;
// the gap between table cells is 0.45 em or more.
const (
	gapSpace = 0.12
	gapTab   = 0.4
	lineTol  = 0.6
)

// glyph adds the text of a glyph at (gx, gy) going in direction (dx, dy).
func (o *textOut) glyph(gx, gy, dx, dy, size float64, text string) error {
	if o.truncated {
		return errTruncated
	}
	if size < 0.01 {
		size = 1
	}
	f := o.cur
	if f != nil {
		sz := math.Max(size, f.size)
		vx, vy := gx-f.ex, gy-f.ey
		along := vx*dx + vy*dy
		perp := -vx*dy + vy*dx
		sameDir := math.Abs(dx-f.dx) < 0.05 && math.Abs(dy-f.dy) < 0.05
		if !sameDir || math.Abs(perp) > lineTol*sz || along < -sz {
			f = nil
		} else if text != "" {
			sep := ""
			switch {
			case along > gapTab*sz:
				sep = "\t"
			case along > gapSpace*sz || along < -gapSpace*sz:
				sep = " "
			}
			if sep != "" && f.text.Len() > 0 && !isSpaceRune(f.lastR) && !startsWithSpace(text) {
				f.add(sep)
				o.pending++
			}
		}
	}
	if f == nil {
		f = &frag{x: gx, y: gy, dx: dx, dy: dy, size: size, seq: len(o.frags)}
		o.frags = append(o.frags, f)
		o.cur = f
	}
	f.size = math.Max(f.size, size)
	if text != "" {
		f.add(text)
		o.pending += int64(len(text))
		if int64(o.b.Len())+o.pending > o.max {
			return o.flush()
		}
	}
	return nil
}

func (f *frag) add(s string) {
	f.text.WriteString(s)
	f.lastR, _ = utf8.DecodeLastRuneInString(s)
}

// end records where the last glyph ended.
func (o *textOut) end(x, y float64) {
	if o.cur != nil {
		o.cur.ex, o.cur.ey = x, y
	}
}

// flush lays out the fragments collected so far and writes them.
func (o *textOut) flush() error {
	frags := o.frags
	o.frags, o.cur, o.pending = nil, nil, 0
	if err := o.newline(); err != nil {
		return err
	}
	var horiz, other []*frag
	for _, f := range frags {
		if f.text.Len() == 0 {
			continue
		}
		if math.Abs(f.dy) < 0.05 && f.dx > 0 {
			horiz = append(horiz, f)
		} else {
			other = append(other, f)
		}
	}
	sort.SliceStable(horiz, func(i, j int) bool { return horiz[i].y > horiz[j].y })
	for i := 0; i < len(horiz); {
		// A line: fragments whose baselines are within tolerance of the
		// first one's.
		j := i + 1
		for j < len(horiz) && horiz[i].y-horiz[j].y <= lineTol*0.5*math.Max(horiz[i].size, horiz[j].size) {
			j++
		}
		line := horiz[i:j]
		sort.SliceStable(line, func(a, b int) bool {
			if line[a].x != line[b].x {
				return line[a].x < line[b].x
			}
			return line[a].seq < line[b].seq
		})
		var lb strings.Builder
		for k, f := range line {
			t := f.text.String()
			if k > 0 {
				prev := line[k-1]
				gap := f.x - prev.ex
				sz := math.Max(f.size, prev.size)
				// Fragments that were not written one after the other
				// but share a baseline are cells or columns.
				sep := " "
				if gap > gapSpace*sz {
					sep = "\t"
				}
				if !isSpaceRune(prev.lastR) && !startsWithSpace(t) {
					lb.WriteString(sep)
				}
			}
			lb.WriteString(t)
		}
		if err := o.line(lb.String()); err != nil {
			return err
		}
		i = j
	}
	for _, f := range other {
		if err := o.line(f.text.String()); err != nil {
			return err
		}
	}
	return nil
}

// line writes one laid-out line.
func (o *textOut) line(s string) error {
	if err := o.write(joinBoxDigits(s)); err != nil {
		return err
	}
	return o.newline()
}

// minBoxDigits single digits in a row, each apart, are joined.
const minBoxDigits = 10

// joinBoxDigits joins digits written one per box, as forms print a My
// Number (個人番号) or a phone number: "1 2 3 4 …" with a gap between each
// becomes "1234…" (dashes between them are kept), so that the number reads
// as one. Shorter runs stay apart: "1 2 3" is more often a list.
func joinBoxDigits(s string) string {
	if !strings.ContainsAny(s, " \t") {
		return s
	}
	// The tokens of s: byte spans between separators.
	type span struct{ start, end int }
	var spans []span
	for pos := 0; pos < len(s); {
		for pos < len(s) && (s[pos] == ' ' || s[pos] == '\t') {
			pos++
		}
		st := pos
		for pos < len(s) && s[pos] != ' ' && s[pos] != '\t' {
			pos++
		}
		if pos > st {
			spans = append(spans, span{st, pos})
		}
	}
	if len(spans) < minBoxDigits {
		return s
	}
	// box says whether a token is one digit, or one dash between digits.
	box := func(t string) (digit, ok bool) {
		r, n := utf8.DecodeRuneInString(t)
		if n != len(t) {
			return false, false
		}
		switch {
		case r >= '0' && r <= '9', r >= '０' && r <= '９':
			return true, true
		case r == '-', r == '－', r == 'ー', r == '―', r == '‐':
			return false, true
		}
		return false, false
	}
	inRun := make([]bool, len(spans))
	found := false
	for i := 0; i < len(spans); {
		n, j := 0, i
		for ; j < len(spans); j++ {
			d, ok := box(s[spans[j].start:spans[j].end])
			if !ok {
				break
			}
			if d {
				n++
			}
		}
		if n >= minBoxDigits {
			found = true
			for k := i; k < j; k++ {
				inRun[k] = true
			}
		}
		i = j + 1
	}
	if !found {
		return s
	}
	var b strings.Builder
	last := 0
	for i, sp := range spans {
		if i == 0 || !inRun[i] || !inRun[i-1] {
			b.WriteString(s[last:sp.start]) // keep the separator
		}
		b.WriteString(s[sp.start:sp.end])
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// text writes text that has no position (annotations, form fields, the
// document information) on its own line.
func (o *textOut) text(s string) error {
	if err := o.flush(); err != nil {
		return err
	}
	if err := o.write(s); err != nil {
		return err
	}
	return o.newline()
}

func isSpaceRune(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == 0x3000
}

func startsWithSpace(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isSpaceRune(r)
}

// write appends s, cutting it at maxText on a rune boundary.
func (o *textOut) write(s string) error {
	if o.truncated {
		return errTruncated
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == 0:
			return -1
		case r < 0x20 && r != '\n' && r != '\t':
			return ' '
		}
		return r
	}, s)
	if s == "" {
		return nil
	}
	room := o.max - int64(o.b.Len())
	if int64(len(s)) > room {
		cut := int(max(room, 0))
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		o.b.WriteString(s[:cut])
		o.truncated = true
		if cut > 0 {
			o.last, _ = utf8.DecodeLastRuneInString(s[:cut])
		}
		return errTruncated
	}
	o.b.WriteString(s)
	o.last, _ = utf8.DecodeLastRuneInString(s)
	return nil
}

// newline ends the current line of b.
func (o *textOut) newline() error {
	if o.b.Len() == 0 || o.last == '\n' {
		return nil
	}
	return o.write("\n")
}
