package classify

import (
	"encoding/binary"
	"math/bits"
	"unicode"
	"unicode/utf8"
)

// Numeric identifiers: one parse of a digit run (half or full width, with
// space, dash and dot look-alikes between groups), then each detector
// judges the groups.

const maxRunDigits = 40

type numRun struct {
	start, end int // bytes in buf
	n          int // digits
	digits     [maxRunDigits]byte
	groups     []int // digits per group
	gs, ge     []int // byte bounds per group
	seps       []byte
	long       bool
	// backing arrays, so that a run needs no allocation
	grA, gsA, geA [8]int
	sepA          [8]byte
}

// sepAt returns the separator kind at buf[i] and its size: ' ' for a
// space, '-' for a dash, '.' for a dot, '\n' for a line break (CR LF,
// LF, CR, U+2028, U+2029, NEL) and 'c' for the other characters that
// separate without showing: TAB and every other control character (Cc:
// NUL, VT, FF, ESC, DEL, C1), and the space separators (Zs) and format
// characters (Cf) that appendFolded did not fold. Line breaks and controls
// group like spaces (soft) but give no context of their own: a TAB is what
// a paste from a spreadsheet gives, and a line break is how a clerk types
// 4-4-4 into three lines (issue 17, detectors.md §10.2).
func sepAt(buf []byte, i int) (byte, int) {
	if i < len(buf) && buf[i] < 0x80 {
		switch c := buf[i]; {
		case c == ' ':
			return ' ', 1
		case c == '-':
			return '-', 1
		case c == '.':
			return '.', 1
		case c == '\r':
			if i+1 < len(buf) && buf[i+1] == '\n' {
				return '\n', 2
			}
			return '\n', 1
		case c == '\n':
			return '\n', 1
		case c < 0x20 || c == 0x7F:
			return 'c', 1
		}
		return 0, 0
	}
	r, n := runeAt(buf, i)
	switch {
	case n == 0:
		return 0, 0
	case isSpace(r):
		return ' ', n
	case isDash(r):
		return '-', n
	case r == '.' || r == '．':
		return '.', n
	case r == 0x2028 || r == 0x2029 || r == 0x85:
		return '\n', n
	case r >= 0x80 && r <= 0x9F:
		return 'c', n
	case r >= 0x80 && (unicode.Is(unicode.Zs, r) || unicode.Is(unicode.Cf, r)):
		return 'c', n
	}
	return 0, 0
}

// soft maps the separators that group like a space to ' '.
func soft(k byte) byte {
	if k == '\n' || k == 'c' {
		return ' '
	}
	return k
}

// groupSpan returns the digits (at most maxRunDigits+1) of the group at
// buf[i] and where it ends.
func groupSpan(buf []byte, i int) (int, int) {
	n := 0
	for n <= maxRunDigits {
		_, m := digitAt(buf, i)
		if m == 0 {
			break
		}
		n++
		i += m
	}
	return n, i
}

// knownGroupings are the groupings of the identifiers (knownGrouping).
var knownGroupings = [...][]int{{4, 4, 4}, {4, 4, 4, 4}, {4, 6, 5}, {4, 6, 4}, {1, 4, 4, 4}, {4, 4, 4, 4, 3}}

// knownPrefix reports whether groups g, then a group of next digits, begin
// a known grouping.
func knownPrefix(g []int, next int) bool {
	for _, k := range knownGroupings {
		if len(g) < len(k) && k[len(g)] == next && eqGroups(g, k[:len(g)]...) {
			return true
		}
	}
	return false
}

// commaAt reports three digits and a comma at buf[i]: where a
// comma-grouped number (commaGrouped) may start.
func commaAt(buf []byte, i int) bool {
	for k := 0; k < 3; k++ {
		_, n := digitAt(buf, i)
		if n == 0 {
			return false
		}
		i += n
	}
	return i < len(buf) && buf[i] == ','
}

// groupLen counts the digits (at most limit+1) of the group at buf[i].
func groupLen(buf []byte, i, limit int) int {
	n := 0
	for n <= limit {
		_, m := digitAt(buf, i)
		if m == 0 {
			break
		}
		n++
		i += m
	}
	return n
}

// plainRun is the shortcut for the commonest digit runs of ASCII text
// (7f3a9c1e, 12ms, 10:15, id=42;, 4711 was, section-4.html,
// 2026-11-25T10:15): a run of ASCII digits at buf[i], in groups joined by
// single separators (' ', '-', '.'), whose next byte rules out every
// detector before onDigits and judgeRun would do any work. It returns the
// run's end, as onDigits would, or 0 when the run needs the full parse.
// What it passes over:
//   - a run glued to an ASCII letter after it, without a space: judgeRun
//     drops it (unless it is too long for one run: onDigits then ends it
//     early);
//   - one group of a length no identifier has (idLength) followed by
//     ASCII other than '-' (an address or phone dash), a comma after
//     three digits (123,456,789,018) or ')' after a leading zero
//     ((03)1234-5678), with, after ' ', '.' or '/', an ASCII letter, and
//     after a control character (TAB, CR LF …) anything but a digit: the
//     run ends there, no date parses (it needs a date separator right
//     after at most four digits, then more digits), no street number
//     starts at ASCII other than a dash, and judge has no length to try.
func (s *Scanner) plainRun(i int) int {
	if s.c.ref {
		return 0
	}
	buf := s.buf
	j, groups, spaced := i, 0, false
	for {
		j = digitsEnd(buf, j)
		groups++
		// ' ', '-' or '.' (one shift, no branch per byte value)
		const seps uint64 = 1<<' ' | 1<<'-' | 1<<'.'
		if j+2 < len(buf) && seps>>buf[j]&1 != 0 && buf[j+1]-'0' < 10 {
			spaced = spaced || buf[j] == ' '
			j++
			continue
		}
		break
	}
	if j+1 >= len(buf) {
		return 0 // the run may go on in the next chunk
	}
	c := buf[j]
	if asciiLetter(c) {
		if groups > 1 && (spaced || groups > len(s.run.grA) || j-i-groups+1 > maxRunDigits) {
			return 0 // the groups before the glued part are judged (judgeRun, onDigits)
		}
		return j
	}
	n := j - i
	if groups > 1 || c >= utf8.RuneSelf || idLength(n) {
		return 0
	}
	if c < 0x20 || c == 0x7F {
		// TAB, a line break or another control: the run goes on when
		// the group after it continues a known grouping (onDigits)
		k := j + 1
		if c == '\r' && buf[k] == '\n' {
			k++
		}
		if k >= len(buf) || buf[k] >= utf8.RuneSelf {
			return 0
		}
		if buf[k]-'0' < 10 {
			e := digitsEnd(buf, k)
			g := [1]int{n}
			if e >= len(buf) || buf[e] >= utf8.RuneSelf || knownPrefix(g[:], e-k) {
				return 0
			}
			if n == 1 && e-k == 1 {
				return 0 // one digit per cell: a form's row (keyedMyNumber)
			}
		}
		return j
	}
	switch c {
	case '-':
		return 0
	case ' ', '.', '/':
		if !asciiLetter(buf[j+1]) {
			return 0
		}
	case ',':
		if n == 3 {
			return 0
		}
	case ')':
		if buf[i] == '0' {
			return 0
		}
	}
	return j
}

// digitsEnd returns the end of the run of ASCII digits at buf[j]: eight
// bytes at a time (the digit test of swarStop, exact for every byte), so
// that the length of a run costs no branch.
func digitsEnd(buf []byte, j int) int {
	for j+8 <= len(buf) {
		y := binary.LittleEndian.Uint64(buf[j:j+8]) &^ hi8
		digits := (y + lo8*0x50) &^ (y + lo8*0x46)
		if m := ^digits & hi8; m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
		j += 8
	}
	for j < len(buf) && buf[j]-'0' < 10 {
		j++
	}
	return j
}

// onDigits handles the digit run at buf[i]; it returns where scanning goes
// on, or -1 when the run may continue past the buffer end.
func (s *Scanner) onDigits(i int, final bool) int {
	buf := s.buf
	if end := s.commaGrouped(i, final); end != 0 {
		return end
	}
	run := &s.run
	run.start, run.n, run.long = i, 0, false
	ng, ns := 0, 0 // groups and separators so far (slices are set once at the end)
	j := i
	for {
		gstart := j
		cnt := 0
		for j < len(buf) {
			if d, n := digitAt(buf, j); n > 0 {
				if run.n < maxRunDigits {
					run.digits[run.n] = d
				}
				run.n++
				cnt++
				j += n
				continue
			}
			// zero-width characters inside a digit run are an evasion
			if j >= len(buf) || (buf[j] != 0xE2 && buf[j] != 0xEF) {
				break
			}
			if r, n := runeAt(buf, j); n > 0 && isZeroWidth(r) {
				if _, m := digitAt(buf, j+n); m > 0 {
					j += n
					continue
				}
			}
			break
		}
		if ng < len(run.grA) {
			run.grA[ng], run.gsA[ng], run.geA[ng] = cnt, gstart, j
			ng++
		} else {
			run.long = true
		}
		if j >= len(buf) && !final {
			if j-i > 1024 {
				s.skip = true
				return j
			}
			return -1
		}
		k, n := sepAt(buf, j)
		if k == ' ' || k == '-' {
			// "1234 - 5678 - 9018": spaces around a dash are one dash
			if d, dn := sepAt(buf, j+n); k == ' ' && d == '-' {
				k, n = '-', n+dn
			}
			if k == '-' {
				if sp, sn := sepAt(buf, j+n); sp == ' ' {
					n += sn
				}
			}
		}
		if n == 0 && ng == 1 && run.digits[0] == '0' && cnt >= 2 && cnt <= 5 {
			// (03)1234-5678: an area code in brackets
			if o, on := runeBefore(buf, i); on > 0 && (o == '(' || o == '（') {
				if c, cn := runeAt(buf, j); cn > 0 && (c == ')' || c == '）') {
					k, n = '-', cn
					if r2, n2 := runeAt(buf, j+cn); n2 > 0 && isSpace(r2) {
						n += n2
					}
				}
			}
		}
		if n == 0 {
			break
		}
		nx := j + n
		// a separator may be followed by a line break (wrapped table cells)
		if (k == '-' || k == '.') && nx < len(buf) && (buf[nx] == '\n' || buf[nx] == '\r') {
			for nx < len(buf) && (buf[nx] == '\n' || buf[nx] == '\r' || buf[nx] == ' ') && nx-j < 8 {
				nx++
			}
		}
		if nx >= len(buf) && !final {
			return -1
		}
		if _, m := digitAt(buf, nx); m == 0 {
			break
		}
		if k == 'c' || k == '\n' {
			// a TAB, line break or other control joins only groups on
			// their way to a known grouping of at most three groups
			// (1234<TAB>5678<LF>9018): a table row is not joined to the
			// next (…9018<LF>2345<TAB>…), and a cell after a number cell
			// starts a run of its own, as before
			m, e := groupSpan(buf, nx)
			if e >= len(buf) && !final {
				return -1
			}
			if ng >= 3 || !knownPrefix(run.grA[:ng], m) {
				break
			}
		}
		if soft(k) == ' ' && (ng == len(run.grA) || run.n+groupLen(buf, nx, maxRunDigits) > maxRunDigits || commaAt(buf, nx)) {
			// a space, TAB or line break where the run would outgrow
			// what judgeRun takes, or before 123,456,…: end it here, so
			// that the numbers after (a row of spreadsheet cells) are
			// judged on their own instead of the whole run being
			// dropped, and commaGrouped sees its start
			break
		}
		if ns < len(run.sepA) {
			run.sepA[ns] = k
			ns++
		} else {
			run.long = true
		}
		j = nx
	}
	run.end = j
	run.groups, run.gs, run.ge, run.seps = run.grA[:ng], run.gsA[:ng], run.geA[:ng], run.sepA[:ns]
	if s.keyedCandidate(run) && s.keyedMyNumber(i, final) < 0 {
		return -1
	}
	if run.n > maxRunDigits || run.long {
		return j
	}
	s.judgeRun(run)
	return j
}

// sub is one candidate number: some consecutive groups of a run.
type sub struct {
	start, end int
	val        string
	groups     []int
	sep        byte // uniform separator, 0 when none; 'x' when mixed
	ctrl       bool // a TAB, line break or other control between groups
}

func (s *Scanner) judgeRun(run *numRun) {
	// digits inside an ASCII word (hex ids, 12ms, v2, abc123) are none
	// of ours: every detector needs a boundary after the number, and
	// before it at most the two letters of a passport, the T of an
	// invoice number or a TEL label.
	buf := s.buf
	if run.end < len(buf) && asciiLetter(buf[run.end]) {
		// only the last part is glued (…9018<LF>3F, …9018 5kg): the
		// groups before the last space, TAB or line break are judged
		// as a run of their own
		last := -1
		for g := len(run.seps) - 1; g >= 0; g-- {
			if soft(run.seps[g]) == ' ' {
				last = g
				break
			}
		}
		if last < 0 {
			return
		}
		n := 0
		for _, c := range run.groups[:last+1] {
			n += c
		}
		run.groups, run.gs, run.ge, run.seps = run.groups[:last+1], run.gs[:last+1], run.ge[:last+1], run.seps[:last]
		run.end, run.n = run.ge[last], n
	}
	// a short number followed by ASCII other than a date separator or a
	// space (12:30, 200 OK, 4,800) is no date, address or identifier
	if run.n < 7 && len(run.groups) == 1 && run.end < len(buf) {
		if c := buf[run.end]; c < 0x80 && c != '/' && c != '.' && c != '-' && c != ' ' {
			return
		}
	}
	if run.start >= 2 && asciiLetter(buf[run.start-1]) && isASCIIAlnum(buf[run.start-2]) &&
		!(run.n == 7 && len(run.groups) == 1) && run.n != 10 && run.n != 11 { // passports; TEL0312345678
		return
	}
	// dates and addresses look at the run with their own rules. A date
	// may start at any group after a space, TAB or line break (a number
	// cell before a date cell: 1<TAB>1985/04/01).
	s.judgeDate(run.start)
	for g := 1; g < len(run.groups); g++ {
		if soft(run.seps[g-1]) == ' ' {
			s.judgeDate(run.gs[g])
		}
	}
	s.judgeAddress(run)
	s.ageField(run)
	s.streetField(run)
	if run.n < 7 {
		return // no identifier is this short
	}
	// whole run, when its separators are uniform and its grouping is a
	// known format.
	// +81 90-1234-5678: the international form of a Japanese number
	if run.start > 0 && buf[run.start-1] == '+' && len(run.groups) >= 3 && run.groups[0] == 2 &&
		run.digits[0] == '8' && run.digits[1] == '1' && !s.c.set[dPhone].disabled {
		g := append([]int{run.groups[1] + 1}, run.groups[2:]...)
		p := sub{start: run.start - 1, end: run.end, val: "0" + string(run.digits[2:run.n]), groups: g, sep: '-'}
		s.judgePhone(&p)
		return
	}
	s.judgeSpan(run, 0, len(run.groups)-1, 0)
}

// judgeSpan judges groups g0 to g1 of run (off is the index of the first
// one's first digit): the whole span when its separators are uniform and
// its grouping is a known format, else each line, else each part between
// spaces.
func (s *Scanner) judgeSpan(run *numRun, g0, g1, off int) {
	var sep byte
	mixed, ctrl, lines := false, false, false
	for _, k := range run.seps[g0:g1] {
		ctrl = ctrl || k == 'c' || k == '\n'
		lines = lines || k == '\n'
		if k = soft(k); sep == 0 {
			sep = k
		} else if k != sep {
			mixed = true
		}
	}
	if !mixed && (sep != ' ' || knownGrouping(run.groups[g0:g1+1])) {
		n := 0
		for _, c := range run.groups[g0 : g1+1] {
			n += c
		}
		if idLength(n) {
			whole := sub{start: run.gs[g0], end: run.ge[g1], val: string(run.digits[off : off+n]), groups: run.groups[g0 : g1+1], sep: sep, ctrl: ctrl}
			s.judge(&whole)
		}
		return
	}
	if lines {
		// a run over several lines (cells of a pasted table): each
		// line is a run of its own
		a, o := g0, off
		for g := g0; g <= g1; g++ {
			if g == g1 || run.seps[g] == '\n' {
				s.judgeSpan(run, a, g, o)
				for k := a; k <= g; k++ {
					o += run.groups[k]
				}
				a = g + 1
			}
		}
		return
	}
	// split at spaces: each part is its own number
	p0 := g0
	for g := g0; g <= g1; g++ {
		if g < g1 && soft(run.seps[g]) != ' ' {
			continue
		}
		var ps byte
		pm := false
		for _, k := range run.seps[p0:g] {
			if ps == 0 {
				ps = k
			} else if k != ps {
				pm = true
			}
		}
		if pm {
			ps = 'x'
		}
		n := 0
		for _, c := range run.groups[p0 : g+1] {
			n += c
		}
		if idLength(n) {
			p := sub{start: run.gs[p0], end: run.ge[g], val: string(run.digits[off : off+n]), groups: run.groups[p0 : g+1], sep: ps}
			s.judge(&p)
		}
		off += n
		p0 = g + 1
	}
}

func isASCIIAlnum(b byte) bool { return asciiLetter(b) || b >= '0' && b <= '9' }

func eqGroups(g []int, want ...int) bool {
	if len(g) != len(want) {
		return false
	}
	for i := range g {
		if g[i] != want[i] {
			return false
		}
	}
	return true
}

func knownGrouping(g []int) bool {
	for _, k := range knownGroupings {
		if eqGroups(g, k...) {
			return true
		}
	}
	return false
}

// glued reports whether buf[a:b] is part of a longer alphanumeric token:
// a URL, base64, a Message-ID, a product code. letterLeft reports a letter
// right before a (for the T of invoice numbers and passports).
func (s *Scanner) glued(a, b int) (glued bool, letterLeft int) {
	buf := s.buf
	// left
	i := a
	if tagBefore(buf, a) || noLabelBefore(buf, a) {
		i = 0 // <MyNumber>123456789018, No.123456789018: a label, not glue
	}
	for steps := 0; steps < 64 && i > 0; steps++ {
		r, n := runeBefore(buf, i)
		if n == 0 {
			break
		}
		if isLetter(r) || (r >= '0' && r <= '9') || (r >= '０' && r <= '９') {
			if i == a && isLetter(r) {
				// count letters directly before
				k, c := i, 0
				for {
					r2, n2 := runeBefore(buf, k)
					if n2 == 0 || !isLetter(r2) {
						if n2 > 0 && isAlnum(r2) || n2 > 0 && isGlue(r2) {
							c = 99
						}
						break
					}
					c++
					k -= n2
				}
				letterLeft = c
			}
			glued = true
			break
		}
		if !isGlue(r) {
			break
		}
		i -= n
	}
	// right
	i = b
	if b+1 < len(buf) && buf[b] == '<' && buf[b+1] == '/' {
		// 123456789018</MyNumber>: a closing tag ends the token
		return glued, letterLeft
	}
	if isExtension(buf, b) && !isTimestamp(digitsOnly(string(buf[a:b]))) {
		// 山田_123456789018.pdf: a file extension ends the token, it does
		// not glue the number to a longer one; but scanners and cameras
		// name files by the time (202611251000.pdf), and such names stay
		// glued.
		return glued, letterLeft
	}
	for steps := 0; steps < 64; steps++ {
		r, n := runeAt(buf, i)
		if n == 0 {
			break
		}
		if isAlnum(r) {
			glued = true
			break
		}
		if !isGlue(r) {
			break
		}
		// a sentence-ending dot or dash followed by a non-alnum is fine
		i += n
	}
	return glued, letterLeft
}

// idLength reports a length of digits some built-in identifier has.
func idLength(n int) bool { return n == 7 || n >= 10 && n <= 19 }

func (s *Scanner) judge(p *sub) {
	n := len(p.val)
	if !idLength(n) {
		return // no built-in identifier has this length
	}
	c := s.c
	g, letters := s.glued(p.start, p.end)
	plain := p.sep != 'x'
	switch {
	case n == 12 && plain && (eqGroups(p.groups, 12) || eqGroups(p.groups, 4, 4, 4)):
		if g {
			return
		}
		s.judge12(p)
	case n == 11 && plain && eqGroups(p.groups, 11):
		if g {
			return
		}
		if s.table && s.column(p.start).det&(1<<dMyNumber) != 0 && ValidMyNumber("0"+p.val) {
			// spreadsheet number cells lose the leading zero
			q := *p
			q.val = "0" + p.val
			s.judge12(&q)
			return
		}
		if !c.set[dResident].disabled && s.hasKW(dResident, p.start, p.end) {
			if isMobile(p.val) && s.hasKW(dPhone, p.start, p.end) {
				break
			}
			s.recordID(dResident, p.val, High, p.start, p.end)
			return
		}
	case n == 13 && plain && (eqGroups(p.groups, 13) || eqGroups(p.groups, 1, 4, 4, 4)):
		if (g && letters != 1) || c.set[dCorporate].disabled || !ValidCorporateNumber(p.val) {
			break
		}
		conf := Medium
		if s.hasKW(dCorporate, p.start, p.end) || letters == 1 {
			conf = High
		}
		s.recordID(dCorporate, p.val, conf, p.start, p.end)
		return
	case n == 7 && eqGroups(p.groups, 7) && letters == 2:
		if !c.set[dPassport].disabled && s.hasKW(dPassport, p.start, p.end) {
			// include the two letters in the value
			a := p.start
			for k := 0; k < 2; k++ {
				_, m := runeBefore(s.buf, a)
				a -= m
			}
			v := upperFold(string(s.buf[a:p.start])) + p.val
			s.recordID(dPassport, v, High, a, p.end)
		}
		return
	}
	if g {
		// phone numbers may follow a letter label such as TEL
		if letters == 0 {
			return
		}
	}
	if n == 10 && plain && (eqGroups(p.groups, 4, 6) || eqGroups(p.groups, 10)) && p.sep != '.' {
		if !c.set[dPension].disabled && s.hasKW(dPension, p.start, p.end) {
			s.recordID(dPension, p.val, High, p.start, p.end)
			return
		}
	}
	if n >= 13 && n <= 19 && plain && (len(p.groups) == 1 || knownGrouping(p.groups)) && !c.set[dCard].disabled &&
		ValidLuhn(p.val) && cardBrandOK(p.val) {
		// a keyword (or 有効期限) makes it high; a card's own grouping
		// (4-4-4-4, 4-6-5, 4-6-4) medium; a bare run of digits with
		// neither is more likely an order or tracking number.
		switch {
		case s.hasKW(dCard, p.start, p.end):
			s.recordID(dCard, p.val, High, p.start, p.end)
			return
		case len(p.groups) > 1:
			s.recordID(dCard, p.val, Medium, p.start, p.end)
			return
		}
	}
	if n == 7 && eqGroups(p.groups, 7) && !c.set[dBank].disabled {
		if _, ok := s.near(1<<dBank, 0, 0, p.start, p.end, c.set[dBank].window, true, false); ok {
			s.recordID(dBank, p.val, High, p.start, p.end)
			s.noteField(p.start) // a name with an account is a record
			return
		}
	}
	if s.judgePostal(p) {
		return
	}
	s.judgePhone(p)
}

// judge12 decides between a My Number and a driver's licence number.
func (s *Scanner) judge12(p *sub) {
	c := s.c
	valid := ValidMyNumber(p.val)
	dlDist, dl := 0, false
	if !c.set[dDL].disabled {
		dlDist, dl = s.near(1<<dDL, 0, 0, p.start, p.end, c.set[dDL].window, true, true)
	}
	if !valid && !dl && !c.ref {
		// neither a My Number nor a licence: the wide window of the My
		// Number keywords would decide nothing (nine in ten 12-digit
		// numbers fail the check digit)
		return
	}
	mnDist, mn := s.near(1<<dMyNumber, 0, 0, p.start, p.end, c.set[dMyNumber].window, true, true)
	var cl colLabel
	if s.table {
		cl = s.column(p.start)
	}
	col := cl.det&(1<<dMyNumber) != 0
	negCol := !col && cl.neg&(1<<dMyNumber) != 0
	// 4-4-4 is context (the card prints it) only when the groups are
	// spaced as a person types or prints them: cells of a pasted table
	// or lines (TAB, line break) may be any three 4-digit numbers
	grouped := eqGroups(p.groups, 4, 4, 4) && !p.ctrl
	if p.sep == ',' && !(mn || col) {
		return // 123,456,789,018 without context is an amount
	}
	// A licence number, unless the nearest label is a ticket's: then the
	// digits still go on to the My Number test below (fail closed).
	if dl && (!valid || !(mn || col || grouped) || dlDist < mnDist) && !s.ticket(dDL, p.start, p.end) {
		conf := Medium
		if validDriversLicense(p.val) {
			conf = High
		}
		s.record(dDL, p.val, conf, p.start, p.end)
		return
	}
	if !valid || c.set[dMyNumber].disabled {
		return
	}
	conf := Medium
	if mn || grouped {
		conf = High
	}
	// negative keywords (注文番号 …) close by, or a column labelled with
	// one, lower it, unless a positive one is nearer.
	if negDist, neg := s.near(0, 1<<dMyNumber, 0, p.start, p.end, c.negWin, true, true); negCol || neg && (!mn || negDist < mnDist) {
		if conf == High {
			conf = Medium
		} else {
			conf = Low
		}
	}
	if col {
		conf = High // 3.3.5: a column labelled 個人番号 is context enough
	}
	s.record(dMyNumber, p.val, conf, p.start, p.end)
}

// recordID records a number found by one of the ID detectors besides My
// Number, unless its nearest label is a ticket's (受付番号, 注文番号 …, the
// detector's negative keywords; or the column's heading): then it is that
// ticket's number. A corporate number (no hold of its own) only loses a
// rank; the others, which the default policy holds at any confidence
// (3.3.5), are not recorded, so a 4-6 受付番号 near 年金 holds nothing.
func (s *Scanner) recordID(d int, val string, conf Confidence, a, b int) {
	if s.ticket(d, a, b) {
		if d != dCorporate {
			return
		}
		if conf == High {
			conf = Medium
		} else {
			conf = Low
		}
	}
	s.record(d, val, conf, a, b)
}

// ticket reports a negative keyword of detector d close to buf[a:b]
// (within the negative window) and nearer than any positive one, or a
// table column headed by one.
func (s *Scanner) ticket(d, a, b int) bool {
	if s.table {
		if cl := s.column(a); cl.neg&(1<<d) != 0 && cl.det&(1<<d) == 0 {
			return true
		}
	}
	negDist, neg := s.near(0, 1<<d, 0, a, b, s.c.negWin, true, true)
	if !neg {
		return false
	}
	posDist, pos := s.near(1<<d, 0, 0, a, b, s.c.set[d].window, true, true)
	return !pos || negDist < posDist
}

func isMobile(v string) bool {
	return len(v) == 11 && v[0] == '0' && v[1] >= '5' && v[1] <= '9' && v[2] == '0'
}

// judgePhone: Japanese numbers (detectors.md §8.1).
func (s *Scanner) judgePhone(p *sub) {
	v := p.val
	if s.c.set[dPhone].disabled || len(v) < 10 || len(v) > 11 || v[0] != '0' || (p.sep != '-' && p.sep != 0) {
		return
	}
	g := p.groups
	ok := false
	switch {
	case len(v) == 11 && isMobile(v):
		ok = eqGroups(g, 3, 4, 4) || eqGroups(g, 11)
	case len(v) == 11 && v[:4] == "0800":
		ok = eqGroups(g, 4, 3, 4) || eqGroups(g, 11)
	case len(v) == 10 && (v[:4] == "0120" || v[:4] == "0570"):
		ok = eqGroups(g, 4, 3, 3) || eqGroups(g, 10)
	case len(v) == 10 && v[1] != '0':
		if len(g) == 3 && g[2] == 4 && g[0] >= 2 && g[0] <= 5 {
			ok = true
		} else if len(g) == 1 {
			_, ok = s.near(1<<dPhone, 0, 0, p.start, p.end, s.c.set[dPhone].window, true, false)
		}
	}
	if !ok {
		return
	}
	if s.c.org.phones[v] {
		return
	}
	for _, pre := range s.c.org.prefixes {
		if len(v) >= len(pre) && v[:len(pre)] == pre {
			return
		}
	}
	s.record(dPhone, v, High, p.start, p.end)
	s.noteField(p.start)
}

// judgePostal: 〒NNN-NNNN or 郵便番号 NNNNNNN (detectors.md §8.2).
func (s *Scanner) judgePostal(p *sub) bool {
	if s.c.set[dPostal].disabled || len(p.val) != 7 {
		return false
	}
	if !(eqGroups(p.groups, 3, 4) && p.sep == '-') && !eqGroups(p.groups, 7) {
		return false
	}
	if _, ok := s.near(1<<dPostal, 0, 0, p.start, p.end, s.c.set[dPostal].window, true, false); !ok {
		if !(eqGroups(p.groups, 3, 4) && s.prefectureAt(skipSpaces(s.buf, p.end)) > 0) {
			return false
		}
	}
	s.record(dPostal, p.val[:3]+"-"+p.val[3:], High, p.start, p.end)
	s.labelBlock(p.start)
	return true
}

func skipSpaces(buf []byte, i int) int {
	for {
		r, n := runeAt(buf, i)
		if n == 0 || !isSpace(r) {
			return i
		}
		i += n
	}
}

func upperFold(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		r = fold(r)
		if r >= 'a' && r <= 'z' {
			r -= 32
		}
		if r < 128 {
			b = append(b, byte(r))
		}
	}
	return string(b)
}

// isExtension reports whether buf[i:] starts with a file name extension
// that ends the token: '.', one to five letters or digits (at least one
// letter; half or full width, as the digits before may be), then the end
// of the text or a rune that is neither alphanumeric nor glue.
func isExtension(buf []byte, i int) bool {
	r, n := runeAt(buf, i)
	if n == 0 || fold(r) != '.' {
		return false
	}
	i += n
	k, letter := 0, false
	for ; k <= 5; k++ {
		r, m := runeAt(buf, i)
		if m == 0 || !isAlnum(r) {
			break
		}
		letter = letter || isLetter(r)
		i += m
	}
	if k == 0 || k > 5 || !letter {
		return false
	}
	if i >= len(buf) {
		return true
	}
	r, _ = runeAt(buf, i)
	return !isAlnum(r) && !isGlue(r)
}

// isTimestamp reports a 12-digit YYYYMMDDhhmm or YYMMDDhhmmss with
// plausible fields (a scanner's file name).
func isTimestamp(d string) bool {
	if len(d) != 12 {
		return false
	}
	n := func(i, j int) int {
		v := 0
		for _, c := range d[i:j] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	ok := func(mo, dd, hh, mi int) bool {
		return mo >= 1 && mo <= 12 && dd >= 1 && dd <= 31 && hh <= 23 && mi <= 59
	}
	if y := n(0, 4); y >= 1990 && y <= 2099 && ok(n(4, 6), n(6, 8), n(8, 10), n(10, 12)) {
		return true
	}
	return ok(n(2, 4), n(4, 6), n(6, 8), n(8, 10)) && n(10, 12) <= 59
}

// commaGrouped handles 123,456,789,018 at buf[i]: a spreadsheet's comma
// style on a 12-digit number (a My Number column exported to CSV). It is a
// My Number only with a keyword or a column label (judge12); without, an
// amount. It returns where scanning goes on, -1 when the text may go on
// past the buffer, or 0 when buf[i:] is no such number.
func (s *Scanner) commaGrouped(i int, final bool) int {
	buf := s.buf
	if i > 0 && buf[i-1] == ',' {
		return 0
	}
	if _, n := digitBefore(buf, i); n > 0 {
		return 0
	}
	var d [12]byte
	j := i
	for g := 0; g < 4; g++ {
		if g > 0 {
			if j >= len(buf) {
				if final {
					return 0
				}
				return -1
			}
			if buf[j] != ',' {
				return 0
			}
			j++
		}
		for k := 0; k < 3; k++ {
			if j >= len(buf) {
				if final {
					return 0
				}
				return -1
			}
			c, n := digitAt(buf, j)
			if n == 0 {
				return 0
			}
			d[g*3+k] = c
			j += n
		}
	}
	if j >= len(buf) && !final {
		return -1
	}
	if j < len(buf) {
		c := buf[j]
		if _, n := digitAt(buf, j); n > 0 || asciiLetter(c) {
			return 0
		}
		if c == ',' {
			if _, n := digitAt(buf, j+1); n > 0 || j+1 >= len(buf) && !final {
				return 0
			}
		}
	}
	p := sub{start: i, end: j, val: string(d[:]), groups: []int{3, 3, 3, 3}, sep: ','}
	s.judge12(&p)
	return j
}

// tagBefore reports a markup start tag ending right before buf[a]
// (<MyNumber>, <cell r="B2">, <個人番号>): '>' and, within 128 bytes, its
// '<' followed by a name, with no '@' (a Message-ID <…@…> is no tag).
func tagBefore(buf []byte, a int) bool {
	if a == 0 || buf[a-1] != '>' {
		return false
	}
	for k := a - 2; k >= 0 && k >= a-128; k-- {
		switch buf[k] {
		case '<':
			if k+1 >= a-1 {
				return false
			}
			c := buf[k+1]
			return asciiLetter(c) || c >= 0x80 || c == '_'
		case '>', '@', '\n':
			return false
		}
	}
	return false
}

// noLabelBefore reports "No." (any case) right before buf[a], itself not
// part of a longer word: the label a clerk writes before a number.
func noLabelBefore(buf []byte, a int) bool {
	if a < 3 || buf[a-1] != '.' || (buf[a-2] != 'o' && buf[a-2] != 'O') || (buf[a-3] != 'n' && buf[a-3] != 'N') {
		return false
	}
	r, n := runeBefore(buf, a-3)
	return n == 0 || !isAlnum(r) && !isGlue(r)
}
