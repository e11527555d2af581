package classify

import (
	"encoding/binary"
	"math/bits"
)

// ymd packs a date as yyyymmdd for comparisons.
func ymd(y, m, d int) int { return y*10000 + m*100 + d }

func validYMD(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m]
	if m == 2 && (y%4 == 0 && (y%100 != 0 || y%400 == 0)) {
		days = 29
	}
	return d <= days
}

// Dates of birth (detectors.md §8.4): 西暦 and 和暦 dates with a calendar
// and era check; a date is personal data only as a date of birth, so a
// keyword (生年月日 …) or a column labelled as such is required.

type era struct {
	name       string
	lig        rune
	abbr       byte
	offset     int
	start, end int // yyyymmdd; boundary days belong to both eras
}

func eras() [5]era {
	return [5]era{
		{"明治", '㍾', 'M', 1867, 18680125, 19120730},
		{"大正", '㍽', 'T', 1911, 19120730, 19261225},
		{"昭和", '㍼', 'S', 1925, 19261225, 19890107},
		{"平成", '㍻', 'H', 1988, 19890108, 20190430},
		{"令和", '㋿', 'R', 2018, 20190501, 22000101},
	}
}

// eraBefore finds an era name ending at buf[i] (one space allowed).
func (s *Scanner) eraBefore(i int) (int, bool) {
	buf := s.buf
	if r, n := runeBefore(buf, i); n > 0 && isSpace(r) {
		i -= n
	}
	r, n := runeBefore(buf, i)
	if n == 0 {
		return 0, false
	}
	for k, e := range &s.c.eras {
		if r == e.lig {
			return k, true
		}
		if fr := fold(r); fr == rune(e.abbr) || fr == rune(e.abbr+32) {
			// a lone letter: not the end of a word
			if p, m := runeBefore(buf, i-n); m == 0 || !isAlnum(p) {
				return k, true
			}
		}
		if i >= len(e.name) && string(buf[i-len(e.name):i]) == e.name {
			return k, true
		}
	}
	return 0, false
}

func readNum(buf []byte, i, max int) (int, int, int) {
	v, c := 0, 0
	for c < max {
		d, n := digitAt(buf, i)
		if n == 0 {
			break
		}
		v = v*10 + int(d-'0')
		c++
		i += n
	}
	return v, i, c
}

// dateSep reads a date separator: kanji (年, 月) or / . - and look-alikes.
func dateSep(buf []byte, i int, kanji rune) (byte, int) {
	if i < len(buf) && buf[i] < 0x80 {
		switch buf[i] {
		case '/', '.', '-':
			return buf[i], 1
		}
		return 0, 0
	}
	r, n := runeAt(buf, i)
	switch {
	case n == 0:
		return 0, 0
	case r == kanji:
		return 'k', n
	case r == '/' || r == '／':
		return '/', n
	case r == '.' || r == '．':
		return '.', n
	case isDash(r):
		return '-', n
	}
	return 0, 0
}

// parseDate reads a date starting at the digit at buf[i]. It returns the
// date as yyyymmdd and its end.
func (s *Scanner) parseDate(i int) (int, int, bool) {
	buf := s.buf
	k, hasEra := 0, false
	y, j, yc := 0, i, 0
	// 元年: the digits start with the month
	if r, n := runeBefore(buf, i); n > 0 && r == '年' {
		if r2, n2 := runeBefore(buf, i-n); n2 > 0 && r2 == '元' {
			if k2, ok := s.eraBefore(i - n - n2); ok {
				k, hasEra, y, yc = k2, true, 1, 1
			}
		}
	}
	var sep1 byte
	if yc == 0 {
		y, j, yc = readNum(buf, i, 4)
		var n int
		sep1, n = dateSep(buf, j, '年')
		if n == 0 {
			return 0, 0, false
		}
		j += n
	} else {
		sep1 = 'k'
	}
	m, j2, mc := readNum(buf, j, 2)
	if mc == 0 {
		return 0, 0, false
	}
	sep2, n := dateSep(buf, j2, '月')
	if n == 0 || (sep1 == 'k') != (sep2 == 'k') || (sep1 != 'k' && sep1 != sep2) {
		return 0, 0, false
	}
	d, j3, dc := readNum(buf, j2+n, 2)
	if dc == 0 {
		return 0, 0, false
	}
	if _, m := digitAt(buf, j3); m > 0 {
		return 0, 0, false
	}
	if r, n := runeAt(buf, j3); n > 0 && r == '日' {
		j3 += n
	}
	if !hasEra && yc <= 2 {
		k, hasEra = s.eraBefore(i)
	}
	var gy int
	switch {
	case hasEra && yc <= 2 && y > 0:
		gy = y + s.c.eras[k].offset
	case !hasEra && yc == 4 && y >= 1868 && y <= 2200:
		gy = y
	default:
		return 0, 0, false
	}
	if !validYMD(gy, m, d) {
		return 0, 0, false
	}
	v := ymd(gy, m, d)
	if hasEra && (v < s.c.eras[k].start || v > s.c.eras[k].end) {
		return 0, 0, false
	}
	return v, j3, true
}

func (s *Scanner) judgeDate(i int) {
	if s.c.set[dBirth].disabled {
		return
	}
	v, end, ok := s.parseDate(i)
	if !ok {
		return
	}
	ctx := s.table && s.column(i).label&labBirth != 0 || s.birthMark(end)
	if !ctx {
		// most dates are in plain ASCII text (logs, signatures): there only
		// the ASCII keywords can match, and a direct search is cheaper
		// than the keyword index. In ASCII, runes are bytes: try the byte
		// window first.
		w := s.c.set[dBirth].window
		lo, hi := max(0, i-w-s.c.birthASCIIMax), min(len(s.buf), end+w+s.c.birthASCIIMax)
		if s.c.ref || !isASCII(s.buf[lo:hi]) {
			lo, hi = runesBack(s.buf, i, w), runesFwd(s.buf, end, w)
			lo, hi = max(0, lo-s.c.birthASCIIMax), min(len(s.buf), hi+s.c.birthASCIIMax)
		}
		if isASCII(s.buf[lo:hi]) {
			ctx = s.c.containsBirth(s.buf[lo:hi])
		} else {
			_, ctx = s.near(1<<dBirth, 0, 0, i, end, w, true, true)
		}
	}
	if !ctx {
		return
	}
	y, m, d := v/10000, v/100%100, v%100
	s.scratch = append(s.scratch[:0], byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
	s.recordB(dBirth, s.scratch, High, i, end)
	s.noteField(i)
}

func isASCII(b []byte) bool {
	var or uint64
	for len(b) >= 32 {
		or |= binary.LittleEndian.Uint64(b) | binary.LittleEndian.Uint64(b[8:]) |
			binary.LittleEndian.Uint64(b[16:]) | binary.LittleEndian.Uint64(b[24:])
		b = b[32:]
	}
	for len(b) >= 8 {
		or |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		or |= uint64(c)
	}
	return or&hi8 == 0
}

// containsBirth is containsFold with the ASCII keywords of birth_date
// (b is ASCII).
func (c *Classifier) containsBirth(b []byte) bool {
	f, sc := &c.birthFirst2, &c.birthSecond
	if f[0] == 0 {
		return containsFold(b, c.birthASCII, &c.birthFirst)
	}
	// candidates eight places at a time: a first letter of a keyword
	// followed by a second letter of one (b|0x20 is the lower case of a
	// letter; the zero tests may mark more, never less)
	p := 0
	for ; p+9 <= len(b); p += 8 {
		x0 := binary.LittleEndian.Uint64(b[p:]) | lo8*0x20
		x1 := binary.LittleEndian.Uint64(b[p+1:]) | lo8*0x20
		e0, e1 := x0^f[0], x0^f[1]
		first := (e0-lo8)&^e0 | (e1-lo8)&^e1
		if first&hi8 == 0 {
			continue
		}
		e0, e1, e2, e3 := x1^sc[0], x1^sc[1], x1^sc[2], x1^sc[3]
		m := first & ((e0-lo8)&^e0 | (e1-lo8)&^e1 | (e2-lo8)&^e2 | (e3-lo8)&^e3) & hi8
		for ; m != 0; m &= m - 1 {
			q := p + bits.TrailingZeros64(m)>>3
			if containsFold(b[q:min(len(b), q+c.birthASCIIMax)], c.birthASCII, &c.birthFirst) {
				return true
			}
		}
	}
	return containsFold(b[p:], c.birthASCII, &c.birthFirst)
}

// containsFold reports whether b contains one of the (lower-case ASCII)
// words, ASCII case folded; first marks their first bytes in both cases.
func containsFold(b []byte, words []string, first *[256]bool) bool {
	for i := 0; i < len(b); i++ {
		if !first[b[i]] {
			continue
		}
		c := lowerASCII(b[i])
		for _, w := range words {
			if w[0] != c || i+len(w) > len(b) {
				continue
			}
			k := 1
			for k < len(w) && lowerASCII(b[i+k]) == w[k] {
				k++
			}
			if k == len(w) {
				return true
			}
		}
	}
	return false
}
