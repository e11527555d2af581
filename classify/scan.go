package classify

import (
	"bytes"
	"encoding/binary"
	"sort"
	"unicode/utf8"

	"dlpguard/inspect"
)

// Scanner classifies one message; it is an inspect.Sink. Not safe for
// concurrent use.
//
// Text of one location is kept in a sliding buffer: each chunk is appended,
// the scan runs up to margin bytes before the end (so that matches and
// keyword windows can cross chunk boundaries), and everything older than
// the look-back is dropped. Memory is bounded by the windows, not by the
// text.
type Scanner struct {
	c *Classifier

	// the current text
	loc    string
	kind   inspect.Kind
	table  bool
	open   bool
	buf    []byte
	base   int64 // absolute offset of buf[0] in the current text
	pos    int   // next position to scan
	skip   bool  // inside an over-long digit run that reached the buffer end
	lineAt bool  // a table line starts at pos
	// keyword index over the current text
	acState uint16
	kwDone  int64
	hits    []kwHit
	// table and record state
	hdr      []colLabel
	delim    byte
	recLine  int64
	nameLine int64 // the last line checked for a name
	recCount int
	addrEnd  int64
	custDone int64
	norm     []byte
	run      numRun
	scratch  []byte

	// results
	values    []map[string]Confidence
	agg       [nDet]aggState
	customAgg []aggState
	customVal []map[string]Confidence
	personal  []locCount
	markLevel Level
	multi     int // distinct my_number values found with context short of low
}

type kwHit struct {
	start, end int64
	id         uint16
	covered    bool // a longer keyword ends at the same place (電話番号 over 番号)
}

type colLabel struct {
	label uint32
	det   uint32 // detectors whose keyword labels the column (個人番号)
	neg   uint32 // detectors whose negative keyword labels it (受付番号)
}

type locCount struct {
	loc string
	n   int
}

// Reset makes the Scanner ready for the next message, keeping its buffers
// (callers scanning many messages reuse one Scanner per goroutine).
func (s *Scanner) Reset() {
	*s = Scanner{c: s.c, buf: s.buf[:0], hits: s.hits[:0], hdr: s.hdr[:0], norm: s.norm[:0],
		scratch: s.scratch[:0], values: s.values, personal: s.personal[:0]}
	for i := range s.values {
		s.values[i] = nil
	}
}

// Chunk takes the next piece of text.
func (s *Scanner) Chunk(ch inspect.Chunk) {
	if !s.open || ch.Location != s.loc || ch.Kind != s.kind || ch.Table != s.table {
		s.endText()
		s.startText(ch)
	}
	s.buf = appendFolded(s.buf, ch.Text)
	s.scan(false)
	s.compact()
}

func (s *Scanner) startText(ch inspect.Chunk) {
	s.open = true
	s.loc, s.kind, s.table = ch.Location, ch.Kind, ch.Table
	s.buf = s.buf[:0]
	s.base, s.pos = 0, 0
	s.skip = false
	s.lineAt = ch.Table
	s.acState, s.kwDone = 0, 0
	s.hits = s.hits[:0]
	s.hdr = s.hdr[:0]
	s.delim = 0
	s.recLine, s.recCount, s.addrEnd, s.custDone, s.nameLine = -1, 0, -1, 0, -1
}

// endText scans what is left of the current text.
func (s *Scanner) endText() {
	if !s.open {
		return
	}
	s.scan(true)
	if s.recCount > 0 {
		s.personal = append(s.personal, locCount{s.loc, s.recCount})
	}
	s.open = false
	s.buf = s.buf[:0]
}

// compact drops the text no window can reach any more.
func (s *Scanner) compact() {
	keep := s.pos - s.c.back
	if keep <= 0 {
		return
	}
	if c := int(s.custDone-s.base) - 256; len(s.c.custom) > 0 && c < keep {
		keep = c
	}
	if keep <= 0 {
		return
	}
	n := copy(s.buf, s.buf[keep:])
	s.buf = s.buf[:n]
	s.base += int64(keep)
	s.pos -= keep
	// drop keyword hits out of every window
	j := 0
	for _, h := range s.hits {
		if h.end >= s.base {
			s.hits[j] = h
			j++
		}
	}
	s.hits = s.hits[:j]
}

// triggerRunes are the 3-byte runes the hot loop stops at: full-width
// digits and @, and the anchors of the markings.
func triggerRunes() []rune {
	r := []rune{'＠', '秘', '㊙', '性', '機', '注', '限', '禁'}
	for d := '０'; d <= '９'; d++ {
		r = append(r, d)
	}
	return r
}

// scan runs the detectors from pos up to the end (final) or up to margin
// bytes before it.
func (s *Scanner) scan(final bool) {
	buf := s.buf
	limit := len(buf) - s.c.margin
	if final {
		limit = len(buf)
	}
	i := s.pos
	if s.skip {
		for i < len(buf) {
			if _, n := digitAt(buf, i); n > 0 {
				i += n
				continue
			}
			break
		}
		if i < len(buf) || final {
			s.skip = false
		}
	}
	if s.lineAt && i < limit {
		s.onLine(i)
		s.lineAt = false
	}
	trig := &s.c.trig
	table := s.table
	skip := &s.c.skipASCII
	if table {
		skip = &s.c.skipTable
	}
	for i < limit {
		b := buf[i]
		if skip[b] {
			// runs of plain ASCII: eight bytes at a time, then one table
			// lookup a byte
			i++
			for i+8 <= limit && !swarStop(binary.LittleEndian.Uint64(buf[i:]), table) {
				i += 8
			}
			for i < limit && skip[buf[i]] {
				i++
			}
			continue
		}
		if b < utf8.RuneSelf {
			switch {
			case b >= '0' && b <= '9':
				j := s.onDigits(i, final)
				if j < 0 {
					limit = i // wait for more text
					break
				}
				i = j
			case b == '@':
				s.onAt(i)
				i++
			case b == '\n' && table:
				i++
				if i < limit {
					s.onLine(i)
				} else {
					s.lineAt = true
				}
			default:
				i++
			}
			continue
		}
		if b >= 0xE0 && b < 0xF0 {
			if i+2 >= len(buf) {
				i++
				continue
			}
			r := rune(b&0x0F)<<12 | rune(buf[i+1]&0x3F)<<6 | rune(buf[i+2]&0x3F)
			if trig[r>>6]&(1<<(r&63)) == 0 {
				i += 3
				continue
			}
			if r >= '０' && r <= '９' {
				j := s.onDigits(i, final)
				if j < 0 {
					limit = i
					break
				}
				i = j
				continue
			}
			if r == '＠' {
				s.onAt(i)
			} else {
				s.onMarkRune(i, r)
			}
			i += 3
			continue
		}
		i++
	}
	if i > s.pos {
		s.pos = i
	}
	if len(s.c.custom) > 0 {
		s.runCustom(final)
	}
}

// keywords makes sure the keyword index covers buf[from:to].
func (s *Scanner) keywords(from, to int) {
	if from < 0 {
		from = 0
	}
	if to > len(s.buf) {
		to = len(s.buf)
	}
	ac := s.c.ac
	start := s.base + int64(from) - int64(ac.maxLen)
	if start < s.base {
		start = s.base
	}
	if s.kwDone < start {
		s.kwDone, s.acState = start, 0
	}
	buf := s.buf
	st := int(s.acState)
	nc := ac.nc
	delta, cls := ac.delta, &ac.cls
	f3, f1, sb := &ac.first3, &ac.first1, &ac.start
	for i := int(s.kwDone - s.base); i < to; i++ {
		if st == 0 {
			// no partial match: skip to where a keyword can start
			for i+2 < to {
				// an ASCII keyword starts a word (tel, not hotel)
				if b := buf[i]; sb[b] && (b >= 0x80 || i == 0 || !asciiLetter(buf[i-1])) {
					x := tri(b, buf[i+1], buf[i+2])
					if f3[x>>6]&(1<<(x&63)) != 0 || f1[b] {
						break
					}
				}
				i++
			}
		}
		st = int(delta[st*nc+int(cls[buf[i]])])
		if st&outBit != 0 {
			st &^= outBit
			out := ac.out[st]
			end := s.base + int64(i) + 1
			longest := 0
			for _, id := range out {
				longest = max(longest, len(ac.kw[id].text))
			}
			for _, id := range out {
				l := len(ac.kw[id].text)
				s.hits = append(s.hits, kwHit{start: end - int64(l), end: end, id: id, covered: l < longest})
			}
		}
	}
	if e := s.base + int64(to); e > s.kwDone {
		s.kwDone = e
		s.acState = uint16(st)
	}
}

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// swarStop reports whether the eight bytes in x hold one the hot loop must
// stop at: a non-ASCII byte, a digit, '@', or '\n' in tables (exact:
// the bit tricks of "Bit Twiddling Hacks", hasbetween and haszero).
func swarStop(x uint64, table bool) bool {
	if x&hi8 != 0 {
		return true
	}
	// 0x2F < b < 0x3A: the ASCII digits
	const m, n = 0x2F, 0x3A
	digits := (lo8*(127+n) - (x & (lo8 * 127))) &^ x & ((x & (lo8 * 127)) + lo8*(127-m)) & hi8
	at := x ^ (lo8 * '@')
	stop := digits | ((at - lo8) &^ at & hi8)
	if table {
		nl := x ^ (lo8 * '\n')
		stop |= (nl - lo8) &^ nl & hi8
	}
	return stop != 0
}

// runesBack returns the offset n runes before buf[i] (or 0).
func runesBack(buf []byte, i, n int) int {
	for i > 0 && n > 0 {
		i--
		if buf[i]&0xC0 != 0x80 {
			n--
		}
	}
	return i
}

// runesFwd returns the offset n runes after buf[i] (or the end).
func runesFwd(buf []byte, i, n int) int {
	if i > len(buf) {
		return len(buf)
	}
	for i < len(buf) && n > 0 {
		i++
		for i < len(buf) && buf[i]&0xC0 == 0x80 {
			i++
		}
		n--
	}
	return i
}

func asciiLetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }

// runesBetween counts runes in buf[a:b], giving up above limit.
func runesBetween(buf []byte, a, b, limit int) int {
	if a < 0 {
		a = 0
	}
	if b > len(buf) {
		b = len(buf)
	}
	if b-a <= limit {
		return utf8.RuneCount(buf[a:b])
	}
	if b-a > 4*limit {
		return limit + 1
	}
	return utf8.RuneCount(buf[a:b])
}

// near finds the nearest keyword hit of the given roles around buf[a:b]
// within window runes, returning its distance in runes.
// before/after restrict the side.
func (s *Scanner) near(pos, neg, label uint32, a, b, window int, before, after bool) (int, bool) {
	// window runes are at most 4*window bytes. Small windows are stepped
	// exactly, so that ASCII text is not indexed four times too far; wide
	// ones take the byte bound (the index is incremental, neighbouring
	// candidates share it, and stepping would cost as much).
	var wb int
	if window <= 60 {
		lo0, hi0 := runesBack(s.buf, a, window+1), runesFwd(s.buf, b, window+1)
		wb = max(a-lo0, hi0-b)
	} else {
		wb = 4*window + 8
	}
	s.keywords(a-wb-s.c.ac.maxLen, b+wb+s.c.ac.maxLen)
	best, found := window+1, false
	kw := s.c.ac.kw
	// hits are in order of their end: start at the first that can reach
	lo := s.base + int64(a-wb)
	hiEnd := s.base + int64(b+wb+s.c.ac.maxLen)
	first := sort.Search(len(s.hits), func(k int) bool { return s.hits[k].end >= lo })
	for _, h := range s.hits[first:] {
		if h.end > hiEnd {
			break
		}
		k := &kw[h.id]
		if k.pos&pos == 0 && k.neg&neg == 0 && k.label&label == 0 {
			continue
		}
		hs, he := int(h.start-s.base), int(h.end-s.base)
		if hs < 0 {
			continue
		}
		w := window
		if k.label&labGenericNumber != 0 && pos != 0 && k.pos&pos != 0 && k.label&label == 0 {
			// the bare 番号: only close by, and not inside a longer word
			if h.covered {
				continue
			}
			if w > 30 {
				w = 30
			}
		}
		var d int
		switch {
		case he <= a:
			if !before {
				continue
			}
			d = runesBetween(s.buf, he, a, w)
		case hs >= b:
			if !after {
				continue
			}
			d = runesBetween(s.buf, b, hs, w)
		default:
			d = 0
		}
		if d <= w && d < best {
			best, found = d, true
		}
	}
	return best, found
}

// hasKW reports a positive keyword of detector d within its window.
func (s *Scanner) hasKW(d, a, b int) bool {
	_, ok := s.near(1<<d, 0, 0, a, b, s.c.set[d].window, true, true)
	return ok
}

// lineBounds returns the line around buf[i] (bounded by what is kept).
func (s *Scanner) lineBounds(i int) (int, int) {
	lo := max(0, i-2048)
	ls := lo
	if k := bytes.LastIndexByte(s.buf[lo:i], '\n'); k >= 0 {
		ls = lo + k + 1
	}
	hi := min(len(s.buf), i+2048)
	le := hi
	if k := bytes.IndexByte(s.buf[i:hi], '\n'); k >= 0 {
		le = i + k
	}
	return ls, le
}
