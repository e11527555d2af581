package classify

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strings"
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
	loc   string
	kind  inspect.Kind
	table bool
	open  bool
	// a Message-ID, References or In-Reply-To header: its <…@…> are
	// no addresses
	idHeader bool
	ocr      bool // the text was read by OCR (inspect: location "… (OCR)")
	buf      []byte
	base     int64 // absolute offset of buf[0] in the current text
	pos      int   // next position to scan
	skip     bool  // inside an over-long digit run that reached the buffer end
	lineAt   bool  // a table line starts at pos
	// keyword index over the current text (see keywords)
	kwBlk0 int64     // block number of kwBlk[0]
	kwBlk  []kwRange // per block from kwBlk0
	hits   []kwHit
	hits2  []kwHit // spare for compact
	// table and record state
	hdr      []colLabel
	delim    byte
	recLine  int64
	nameLine int64 // the last line checked for a name
	recCount int
	addrEnd  int64
	custDone int64
	keyedEnd int64 // where the last keyedMyNumber parse stopped (absolute)
	norm     []byte
	run      numRun
	scratch  []byte

	// the last recordB that changed nothing (repeated values, such as a
	// signature's address, skip the map)
	noopOK   bool
	noopDet  int
	noopConf Confidence
	noopVal  []byte

	// results
	values    []map[string]Confidence
	agg       [nDet]aggState
	customAgg []aggState
	customVal []map[string]Confidence
	personal  []locCount
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
	*s = Scanner{c: s.c, buf: s.buf[:0], hits: s.hits[:0], hits2: s.hits2[:0], kwBlk: s.kwBlk[:0], hdr: s.hdr[:0], norm: s.norm[:0],
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
	s.noopOK = false
	l := strings.ToLower(s.loc)
	s.idHeader = strings.HasPrefix(l, "header:message-id") || strings.HasPrefix(l, "header:references") || strings.HasPrefix(l, "header:in-reply-to")
	s.ocr = strings.HasSuffix(s.loc, ocrSuffix)
	s.buf = s.buf[:0]
	s.base, s.pos = 0, 0
	s.skip = false
	s.lineAt = ch.Table
	s.kwBlk0, s.kwBlk = 0, s.kwBlk[:0]
	s.hits = s.hits[:0]
	s.hdr = s.hdr[:0]
	s.delim = 0
	s.recLine, s.recCount, s.addrEnd, s.custDone, s.nameLine = -1, 0, -1, 0, -1
	s.keyedEnd = -1
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
	// drop the index of the blocks out of every window
	if nb := s.base / kwBlockSize; nb > s.kwBlk0 {
		d := int(min(nb-s.kwBlk0, int64(len(s.kwBlk))))
		s.kwBlk = s.kwBlk[:copy(s.kwBlk, s.kwBlk[d:])]
		s.kwBlk0 = nb
		// blocks are not indexed in order: copy the live hits out
		h := s.hits2[:0]
		for k := range s.kwBlk {
			r := &s.kwBlk[k]
			lo := len(h)
			h = append(h, s.hits[r.lo:r.hi]...)
			r.lo, r.hi = int32(lo), int32(len(h))
		}
		s.hits, s.hits2 = h, s.hits[:0]
	}
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
			i = nextStop(buf[:limit], i+1, table, skip)
			continue
		}
		if b < utf8.RuneSelf {
			switch {
			case b >= '0' && b <= '9':
				if i+2 < len(buf) && asciiLetter(buf[i+1]) && !s.c.ref {
					// 7f3a9c1e: a digit run glued to a letter is nothing
					// (plainRun); when the ASCII alphanumeric token ends
					// in a letter, neither is any digit run in it
					k := i + 2
					for k < len(buf) && isASCIIAlnum(buf[k]) {
						k++
					}
					if k < len(buf) && asciiLetter(buf[k-1]) {
						i = k
					} else {
						i++
					}
					break
				}
				if j := s.plainRun(i); j > 0 {
					i = j
					break
				}
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

// kwBlockSize is the grain of the keyword index: the text is cut into
// blocks at fixed offsets, and each block is indexed once, when the first
// window reaches it, so that a wide window after a narrow one sees all its
// keywords. The automaton goes on from the block before when that one is
// indexed, else starts afresh maxLen bytes before the block.
const kwBlockSize = 64

// kwRange is the index of one block: its hits are s.hits[lo:hi], in order
// of their end; n is how many of its bytes were indexed (a block at the
// end of the buffer is indexed again when more text came), st the
// automaton's state there. Twelve bytes a block of 64.
type kwRange struct {
	lo, hi int32
	st     uint16
	n      uint8
}

// keywords makes sure the keyword index covers buf[from:to].
func (s *Scanner) keywords(from, to int) {
	from = max(from, 0)
	to = min(to, len(s.buf))
	if from >= to {
		return
	}
	b0 := int((s.base+int64(from))/kwBlockSize - s.kwBlk0)
	b1 := int((s.base+int64(to)-1)/kwBlockSize - s.kwBlk0)
	if n := b1 + 1 - len(s.kwBlk); n > 0 {
		s.kwBlk = append(s.kwBlk, make([]kwRange, n)...)
	}
	for k := b0; k <= b1; k++ {
		bs := int((s.kwBlk0+int64(k))*kwBlockSize - s.base) // may be before buf[0]
		be := min(bs+kwBlockSize, len(s.buf))
		r := &s.kwBlk[k]
		if int(r.n) >= be-bs {
			continue
		}
		lo := len(s.hits)
		var st int
		if k > 0 && bs > 0 && s.kwBlk[k-1].n == kwBlockSize {
			st = s.acRun(bs, bs, be, int(s.kwBlk[k-1].st))
		} else {
			st = s.acRun(max(bs-s.c.ac.maxLen, 0), max(bs, 0), be, 0)
		}
		r.lo, r.hi, r.st, r.n = int32(lo), int32(len(s.hits)), uint16(st), uint8(be-bs)
	}
}

// acRun runs the keyword automaton over buf[i:to] from state st and adds
// the hits that end in buf[keep:to]; it returns the state at to. From the
// start state it passes over the places where no keyword starts (an ASCII
// keyword starts a word: tel, not hotel).
func (s *Scanner) acRun(i, keep, to, st int) int {
	ac := s.c.ac
	buf := s.buf
	nc := ac.nc
	delta, cls := ac.delta, &ac.cls
	f3, f1, sb := &ac.first3, &ac.first1, &ac.start
	for ; i < to; i++ {
		if st == 0 {
			// no partial match: skip to where a keyword can start
			for i+2 < to {
				b := buf[i]
				if sb[b] && (b >= 0x80 || i == 0 || !asciiLetter(buf[i-1])) {
					b1, b2 := buf[i+1], buf[i+2]
					x := tri(b, b1, b2)
					if f3[x>>6]&(1<<(x&63)) != 0 || f1[b] {
						break
					}
					if b >= 0xE0 && b1&0xC0 == 0x80 && b2&0xC0 == 0x80 {
						// a three-byte rune: no keyword starts at its
						// continuation bytes (keywords are valid UTF-8)
						i += 3
						continue
					}
				}
				i++
				if asciiLetter(b) {
					// the rest of an ASCII word: no keyword starts there
					for i+10 <= to {
						if m := nonLetters(binary.LittleEndian.Uint64(buf[i : i+8])); m != 0 {
							i += bits.TrailingZeros64(m) >> 3
							break
						}
						i += 8
					}
					for i+2 < to && asciiLetter(buf[i]) {
						i++
					}
				}
			}
			if i >= to {
				break // a rune passed over reached the end
			}
		}
		st = int(delta[st*nc+int(cls[buf[i]])])
		if st&outBit == 0 {
			continue
		}
		st &^= outBit
		if i < keep {
			continue
		}
		end := s.base + int64(i) + 1
		longest := 0
		for _, id := range ac.out[st] {
			longest = max(longest, len(ac.kw[id].text))
		}
		for _, id := range ac.out[st] {
			l := len(ac.kw[id].text)
			s.hits = append(s.hits, kwHit{start: end - int64(l), end: end, id: id, covered: l < longest})
		}
	}
	return st
}

// nextStop returns the offset of the first byte from buf[i] on that the
// hot loop must stop at (see swarStop), or len(buf): runs of plain ASCII
// sixteen bytes at a time (eight in tables), the tail one table lookup a
// byte.
func nextStop(buf []byte, i int, table bool, skip *[256]bool) int {
	if !table {
		// the same without the branch on table
		for ; i+16 <= len(buf); i += 16 {
			w := buf[i : i+16 : i+16]
			if m := swarStop(binary.LittleEndian.Uint64(w), false); m != 0 {
				return i + bits.TrailingZeros64(m)>>3
			}
			if m := swarStop(binary.LittleEndian.Uint64(w[8:]), false); m != 0 {
				return i + 8 + bits.TrailingZeros64(m)>>3
			}
		}
	}
	for ; i+8 <= len(buf); i += 8 {
		if m := swarStop(binary.LittleEndian.Uint64(buf[i:i+8]), table); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for i < len(buf) && skip[buf[i]] {
		i++
	}
	return i
}

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// swarStop marks (high bit of each byte) the bytes of x the hot loop must
// stop at: a non-ASCII byte, a digit, '@', or '\n' in tables; exact for
// every byte. With y the low seven bits of a byte, y+k carries into bit 7
// exactly when y >= 0x80-k, and never into the next byte: y+0x50 but not
// y+0x46 is 0x30 <= y < 0x3A.
func swarStop(x uint64, table bool) uint64 {
	y := x &^ hi8
	stop := x | (y+lo8*0x50)&^(y+lo8*0x46) | (y+lo8*0x40)&^(y+lo8*0x3F)
	if table {
		stop |= (y + lo8*0x76) &^ (y + lo8*0x75)
	}
	return stop & hi8
}

// leadBytes counts the bytes of x that start a rune (all but 10xxxxxx).
func leadBytes(x uint64) int {
	return 8 - bits.OnesCount64(x&^(x<<1)&hi8)
}

// nonLetters marks (high bit of each byte) the bytes of x that are not
// ASCII letters; exact for every byte.
func nonLetters(x uint64) uint64 {
	// 0x60 < b|0x20 < 0x7B, high bit clear
	const m, n = 0x60, 0x7B
	y := (x | lo8*0x20) & (lo8 * 127)
	letters := (lo8*(127+n) - y) &^ x & (y + lo8*(127-m)) & hi8
	return ^letters & hi8
}

// lastNewline is bytes.LastIndexByte(b, '\n'), eight bytes at a time
// (lines of prose are long).
func lastNewline(b []byte) int {
	i := len(b)
	for i >= 8 {
		x := binary.LittleEndian.Uint64(b[i-8:i]) ^ lo8*'\n'
		if m := (x - lo8) &^ x & hi8; m != 0 {
			break // the byte loop finds which (the mask may overstate above a match)
		}
		i -= 8
	}
	for i > 0 {
		i--
		if b[i] == '\n' {
			return i
		}
	}
	return -1
}

// runesBack returns the offset n runes before buf[i] (or 0): the n-th
// rune start before i, counted eight bytes at a time while far from it.
func runesBack(buf []byte, i, n int) int {
	for n > 8 && i >= 8 {
		c := leadBytes(binary.LittleEndian.Uint64(buf[i-8 : i]))
		if c >= n {
			break
		}
		i -= 8
		n -= c
	}
	for i > 0 && n > 0 {
		i--
		if buf[i]&0xC0 != 0x80 {
			n--
		}
	}
	return i
}

// runesFwd returns the offset n runes after buf[i] (or the end): the n-th
// rune start after i.
func runesFwd(buf []byte, i, n int) int {
	if i >= len(buf) {
		return len(buf)
	}
	if n <= 0 {
		return i
	}
	p := i + 1
	for n > 8 && p+8 <= len(buf) {
		c := leadBytes(binary.LittleEndian.Uint64(buf[p : p+8]))
		if c >= n {
			break
		}
		p += 8
		n -= c
	}
	for ; p < len(buf); p++ {
		if buf[p]&0xC0 != 0x80 {
			n--
			if n == 0 {
				return p
			}
		}
	}
	return len(buf)
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
	// window runes are at most 4*window bytes; stepping over them finds
	// the exact bound, so that ASCII text is not indexed four times too
	// far. (The reference mode takes the byte bound for wide windows.)
	var wb int
	if window <= 60 || !s.c.ref {
		lo0, hi0 := runesBack(s.buf, a, window+1), runesFwd(s.buf, b, window+1)
		wb = max(a-lo0, hi0-b)
	} else {
		wb = 4*window + 8
	}
	maxLen := s.c.ac.maxLen
	s.keywords(a-wb-maxLen, b+wb+maxLen)
	best, found := window+1, false
	kw := s.c.ac.kw
	// the blocks holding the hits that can reach: those ending in lo..hiEnd
	lo := s.base + int64(a-wb)
	hiEnd := s.base + int64(b+wb+maxLen)
	k0 := max(int((lo-1)/kwBlockSize-s.kwBlk0), 0)
	k1 := min(int((hiEnd-1)/kwBlockSize-s.kwBlk0), len(s.kwBlk)-1)
	for k := k0; k <= k1; k++ {
		r := s.kwBlk[k]
		for _, h := range s.hits[r.lo:r.hi] {
			if h.end < lo {
				continue
			}
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
	if k := lastNewline(s.buf[lo:i]); k >= 0 {
		ls = lo + k + 1
	}
	hi := min(len(s.buf), i+2048)
	le := hi
	if k := bytes.IndexByte(s.buf[i:hi], '\n'); k >= 0 {
		le = i + k
	}
	return ls, le
}
