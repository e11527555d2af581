package classify

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"dlpguard/inspect"
)

const (
	maxValues   = 100000 // distinct values kept per detector; more are counted only
	maxSamples  = 3
	maxContexts = 3
	ctxRunes    = 12
)

type aggState struct {
	locs     []string
	samples  []string
	contexts []string
	conf     Confidence
	overflow int
	level    Level
	marks    map[string]bool
}

// locSeen: the current location is already listed (and the contexts are full).
func (s *Scanner) locSeen(ag *aggState) bool {
	n := len(ag.locs)
	return n > 0 && ag.locs[n-1] == s.loc && len(ag.contexts) >= maxContexts
}

func (a *aggState) addLoc(loc string) {
	if n := len(a.locs); n > 0 && a.locs[n-1] == loc {
		return
	}
	for _, l := range a.locs {
		if l == loc {
			return
		}
	}
	a.locs = append(a.locs, loc)
}

func (a *aggState) addContext(c string) {
	if c == "" || len(a.contexts) >= maxContexts {
		return
	}
	for _, o := range a.contexts {
		if o == c {
			return
		}
	}
	a.contexts = append(a.contexts, c)
}

// excludedVal: configured ranges and hashes of normalised values.
func (s *Scanner) excludedVal(d int, val string) bool {
	for _, r := range s.c.ranges[d] {
		if len(val) == len(r.From) && val >= r.From && val <= r.To {
			return true
		}
	}
	if len(s.c.hashes) > 0 {
		h := sha256.Sum256([]byte(val))
		if s.c.hashes[hex.EncodeToString(h[:])] {
			return true
		}
	}
	return false
}

// excluded reports whether buf[a:b] lies inside configured signature or
// disclaimer text.
func (s *Scanner) excluded(a, b int) bool {
	for _, t := range s.c.excl {
		from := b - len(t)
		if from < 0 {
			from = 0
		}
		to := a + len(t)
		if to > len(s.buf) {
			to = len(s.buf)
		}
		for from < to {
			k := bytes.Index(s.buf[from:to], t)
			if k < 0 {
				break
			}
			if from+k <= a && from+k+len(t) >= b {
				return true
			}
			from += k + 1
		}
	}
	return false
}

// record adds one value found by detector d at buf[a:b].
func (s *Scanner) record(d int, val string, conf Confidence, a, b int) {
	s.recordB(d, []byte(val), conf, a, b)
}

// recordB is record for a value in a scratch buffer: a value seen before
// costs no allocation.
func (s *Scanner) recordB(d int, vb []byte, conf Confidence, a, b int) {
	if s.ocr {
		conf = ocrConfidence(d, vb, conf)
	}
	m := s.values[d]
	if m == nil {
		m = map[string]Confidence{}
		s.values[d] = m
	}
	if s.noopOK && d == s.noopDet && conf == s.noopConf && string(vb) == string(s.noopVal) {
		return // as last time: nothing new (ranks only grow; same location)
	}
	ag := &s.agg[d]
	old, seen := m[string(vb)]
	if seen && conf.Rank() <= old.Rank() && conf.Rank() <= ag.conf.Rank() && s.locSeen(ag) {
		s.noopOK, s.noopDet, s.noopConf, s.noopVal = true, d, conf, append(s.noopVal[:0], vb...)
		return // nothing new
	}
	val := string(vb)
	if s.excludedVal(d, val) || s.excluded(a, b) {
		return
	}
	switch {
	case !seen && len(m) >= maxValues:
		ag.overflow++
	case !seen:
		m[val] = conf
		if len(ag.samples) < maxSamples {
			ag.samples = append(ag.samples, maskValue(d, val))
		}
	case conf.Rank() > old.Rank():
		m[val] = conf
	}
	if conf.Rank() > ag.conf.Rank() || ag.conf == "" {
		ag.conf = conf
	}
	ag.addLoc(s.loc)
	if len(ag.contexts) < maxContexts {
		ag.addContext(s.context(a, b))
	}
}

func (s *Scanner) addMark(tok string, lvl Level, loc, ctx string) {
	ag := &s.agg[dMarking]
	if ag.marks == nil {
		ag.marks = map[string]bool{}
	}
	if !ag.marks[tok] {
		ag.marks[tok] = true
		if len(ag.samples) < maxSamples*2 {
			ag.samples = append(ag.samples, tok)
		}
	}
	if lvl.Rank() > ag.level.Rank() || ag.level == "" {
		ag.level = lvl
	}
	ag.conf = High
	ag.addLoc(loc)
	ag.addContext(ctx)
}

// context returns a few runes around buf[a:b] on one line, digits masked.
func (s *Scanner) context(a, b int) string {
	buf := s.buf
	for k := 0; k < ctxRunes; k++ {
		r, n := runeBefore(buf, a)
		if n == 0 || isLineBreak(r) {
			break
		}
		a -= n
	}
	for k := 0; k < ctxRunes; k++ {
		r, n := runeAt(buf, b)
		if n == 0 || isLineBreak(r) {
			break
		}
		b += n
	}
	return maskDigits(string(buf[a:b]))
}

// onAt finds an e-mail address around the @ at buf[i].
func (s *Scanner) onAt(i int) {
	if s.c.set[dEmail].disabled || s.buf[i] != '@' {
		return
	}
	if s.idHeader {
		return
	}
	buf := s.buf
	a := i
	for a > 0 && i-a < 64 && isLocalChar(buf[a-1]) {
		a--
	}
	b, dots, lastDot := i+1, 0, -1
	for b < len(buf) && b-i < 255 && (isDomainChar(buf[b])) {
		if buf[b] == '.' {
			dots++
			lastDot = b
		}
		b++
	}
	for b > i+1 && (buf[b-1] == '.' || buf[b-1] == '-') {
		b--
		if b == lastDot {
			dots--
		}
	}
	if a == i || dots == 0 || b-lastDot-1 < 2 {
		return
	}
	for k := lastDot + 1; k < b; k++ {
		if !(buf[k] >= 'a' && buf[k] <= 'z' || buf[k] >= 'A' && buf[k] <= 'Z') {
			return
		}
	}
	// the address in lower case (local and domain characters are ASCII)
	v := s.scratch[:0]
	for _, c := range buf[a:b] {
		v = append(v, lowerASCII(c))
	}
	s.scratch = v
	dom := v[i-a+1:]
	for _, d := range s.c.org.domains {
		if string(dom) == d || len(dom) > len(d) && dom[len(dom)-len(d)-1] == '.' && string(dom[len(dom)-len(d):]) == d {
			return
		}
	}
	s.recordB(dEmail, v, High, a, b)
	// a name with an e-mail address is a record (issue 12); no name rune
	// is ASCII, so where the text before is ASCII (logs, English prose:
	// long lines) the line is not searched for one
	if !isASCII(buf[max(0, a-96):a]) {
		s.noteField(a)
	}
}

func isLocalChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		b == '.' || b == '_' || b == '%' || b == '+' || b == '-'
}

func isDomainChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '-'
}

// Report returns the findings so far and the level they imply.
func (s *Scanner) Report() Report {
	s.endText()
	rep := Report{Findings: []Finding{}, Level: LevelIII}
	raise := func(l Level) {
		if l.Rank() > rep.Level.Rank() {
			rep.Level = l
		}
	}
	for d := 0; d < nDet; d++ {
		ag := &s.agg[d]
		switch d {
		case dPersonal:
			f := Finding{Detector: PersonalList, Confidence: High, Locations: []string{}, Samples: []string{}}
			for _, lc := range s.personal {
				if lc.n >= s.c.set[dPersonal].minCount {
					f.Count += lc.n
					f.Locations = append(f.Locations, lc.loc)
				}
			}
			if f.Count > 0 && !s.c.set[dPersonal].disabled {
				rep.Findings = append(rep.Findings, f)
				raise(LevelI)
			}
			continue
		case dMarking:
			if len(ag.marks) == 0 {
				continue
			}
			rep.Findings = append(rep.Findings, Finding{Detector: Marking, Count: len(ag.marks), Locations: ag.locs,
				Confidence: High, Samples: ag.samples, Level: ag.level, Contexts: ag.contexts})
			raise(ag.level)
			continue
		}
		n := len(s.values[d]) + ag.overflow
		if n == 0 || n < s.c.set[d].minCount {
			continue
		}
		conf := ag.conf
		if d == dMyNumber {
			// several valid numbers in one message are a list (3.3.5)
			ctx := 0
			for _, c := range s.values[d] {
				if c != Low {
					ctx++
				}
			}
			if ctx >= 2 {
				conf = High
			}
		}
		rep.Findings = append(rep.Findings, Finding{Detector: detNames()[d], Count: n, Locations: ag.locs,
			Confidence: conf, Samples: ag.samples, Contexts: ag.contexts})
		switch d {
		case dMyNumber, dResident, dPension, dDL, dPassport, dCard:
			raise(LevelI) // 3.1: personal information whose leak harms residents
		}
	}
	for k, cd := range s.c.custom {
		if k >= len(s.customAgg) {
			break
		}
		ag := &s.customAgg[k]
		n := len(s.customVal[k]) + ag.overflow
		if n == 0 || n < cd.minCount {
			continue
		}
		rep.Findings = append(rep.Findings, Finding{Detector: cd.name, Count: n, Locations: ag.locs,
			Confidence: ag.conf, Samples: ag.samples, Level: cd.level, Contexts: ag.contexts})
		raise(cd.level)
	}
	return rep
}

// ---- tables and personal records ----

// cellLabels returns the label and detector bits of a header cell.
func (c *Classifier) cellLabels(cell []byte) colLabel {
	type h struct{ s, e, id int }
	var hits []h
	st := 0
	for i := 0; i < len(cell); i++ {
		st = int(c.ac.delta[st*c.ac.nc+int(c.ac.cls[cell[i]])])
		if st&outBit == 0 {
			continue
		}
		st &^= outBit
		for _, id := range c.ac.out[st] {
			hits = append(hits, h{i + 1 - len(c.ac.kw[id].text), i + 1, int(id)})
		}
	}
	var out colLabel
	for i, x := range hits {
		covered := false
		for j, y := range hits {
			if i != j && y.s <= x.s && y.e >= x.e && y.e-y.s > x.e-x.s {
				covered = true
			}
		}
		k := c.ac.kw[x.id]
		if covered {
			// 電話 inside 電話番号 (a negative keyword of my_number)
			// still labels the column a phone column
			out.label |= k.label &^ labGenericNumber
			continue
		}
		out.label |= k.label &^ labGenericNumber
		out.det |= k.pos
		out.neg |= k.neg
	}
	return out
}

// cells splits a table line at the delimiter (quotes respected).
func splitCells(line []byte, delim byte, out [][]byte) [][]byte {
	out = out[:0]
	inq, start := false, 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			inq = !inq
		case delim:
			if !inq {
				out = append(out, line[start:i])
				start = i + 1
			}
		}
	}
	return append(out, line[start:])
}

func hasDigit(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if _, n := digitAt(b, i); n > 0 {
			return true
		}
	}
	return false
}

// onLine looks at a table line starting at buf[i]: a header sets the
// column labels; a row with a name and an address, phone or birth date is
// a personal record.
func (s *Scanner) onLine(i int) {
	_, le := s.lineBounds(i)
	line := bytes.TrimRight(s.buf[i:le], "\r")
	if len(line) == 0 {
		return
	}
	if s.delim == 0 {
		switch {
		case bytes.IndexByte(line, '\t') >= 0:
			s.delim = '\t'
		case bytes.IndexByte(line, ',') >= 0:
			s.delim = ','
		default:
			return
		}
	}
	var cb [32][]byte
	cells := splitCells(line, s.delim, cb[:0])
	if len(cells) < 2 {
		return
	}
	if !hasDigit(line) {
		var hdr []colLabel
		any := false
		for _, c := range cells {
			l := s.c.cellLabels(c)
			if splitNameHead(c) {
				l.label |= labName // 姓・名 split over two columns (issue 12)
			}
			any = any || l.label != 0 || l.det != 0 || l.neg != 0
			hdr = append(hdr, l)
		}
		if any {
			s.hdr = append(s.hdr[:0], hdr...)
			return
		}
	}
	if len(s.hdr) == 0 {
		return
	}
	name, other := false, false
	for k, c := range cells {
		if k >= len(s.hdr) {
			break
		}
		if len(bytes.TrimSpace(bytes.Trim(c, "\""))) == 0 {
			continue
		}
		if s.hdr[k].label&labName != 0 {
			name = true
		}
		if s.hdr[k].label&(labAddress|labPhone|labBirth) != 0 {
			other = true
		}
	}
	if name && other {
		s.recLine = s.base + int64(i)
		s.recCount++
	}
}

// column returns the labels of the table column holding buf[i].
func (s *Scanner) column(i int) colLabel {
	if len(s.hdr) == 0 || s.delim == 0 {
		return colLabel{}
	}
	ls, _ := s.lineBounds(i)
	idx, inq := 0, false
	for k := ls; k < i; k++ {
		switch s.buf[k] {
		case '"':
			inq = !inq
		case s.delim:
			if !inq {
				idx++
			}
		}
	}
	if idx < len(s.hdr) {
		return s.hdr[idx]
	}
	return colLabel{}
}

// noteField counts the line holding buf[i] as a personal record when it
// also has a name-like field (rows of text lists, PDF tables).
func (s *Scanner) noteField(i int) {
	ls, le := s.lineBounds(i)
	abs := s.base + int64(ls)
	if abs == s.recLine || abs == s.nameLine || (s.table && len(s.hdr) > 0) {
		return
	}
	s.nameLine = abs
	if s.nameLike(ls, le) {
		s.recLine = abs
		s.recCount++
	}
}

func orgSuffix(r rune) bool {
	return strings.ContainsRune("課係室部所局庁署館市区町村県都府道会社校園店", r)
}

// nameLike finds a family and a given name separated by spaces: 山田　太郎.
func (s *Scanner) nameLike(ls, le int) bool {
	buf := s.buf[:le]
	i := ls
	for i < le {
		// no name rune is ASCII: pass over ASCII eight bytes at a time
		for i+8 <= le && binary.LittleEndian.Uint64(buf[i:i+8])&hi8 == 0 {
			i += 8
		}
		for i < le && buf[i] < utf8.RuneSelf {
			i++
		}
		if i >= le {
			break
		}
		// a boundary, then 1–5 name runes, spaces, 1–5 name runes, a boundary
		r, n := runeAt(buf, i)
		if n == 0 {
			return false
		}
		if !isNameRune(r) {
			i += n
			continue
		}
		if pr, pn := runeBefore(buf, i); i > ls && pn > 0 && !nameBoundary(pr) {
			i += n
			continue
		}
		j, c1, last := i, 0, rune(0)
		for {
			r, n := runeAt(buf, j)
			if n == 0 || !isNameRune(r) {
				break
			}
			last = r
			c1++
			j += n
		}
		next := j
		if c1 > 5 || orgSuffix(last) {
			i = next
			continue
		}
		sp := 0
		for {
			r, n := runeAt(buf, j)
			if n == 0 || !isSpace(r) {
				break
			}
			sp++
			j += n
		}
		if sp == 0 || sp > 4 {
			i = next
			continue
		}
		c2 := 0
		for {
			r, n := runeAt(buf, j)
			if n == 0 || !isNameRune(r) {
				break
			}
			last = r
			c2++
			j += n
		}
		if c2 >= 1 && c2 <= 5 && !orgSuffix(last) {
			r, n := runeAt(buf, j)
			if n == 0 || isSpace(r) || r == '\t' || r == ',' || r == '(' || r == '（' || r == '様' || fold(r) >= '0' && fold(r) <= '9' {
				return true
			}
		}
		i = next
	}
	return false
}

var _ inspect.Sink = (*Scanner)(nil)
