package classify

// keyedWindow is how far (in runes) before the digits a My Number keyword
// may stand for the digits to be read in any grouping: a form's label and
// its field, or a label cell and the row beside or under it.
const keyedWindow = 20

// keyedMaxSep bounds the separators between two digits of a keyed My
// Number (" - ", a full-width space, a TAB between cells, a line break in
// a cell).
const keyedMaxSep = 3

// keyedMyNumber reads a My Number written as people fill in forms, right
// after a My Number keyword or label (issue 12): twelve digits in any
// grouping — one digit per space (half or full width), 3-3-3-3, 2-4-4-2,
// dots, dashes, one digit per cell of a spreadsheet row (TABs), digits
// across a line break in a table cell. The known groupings (12, 4-4-4)
// are judge12's; without a keyword within keyedWindow runes before, the
// same digits stay out, so tables of single digits hold nothing. A
// negative keyword (受付番号 …) nearer than the keyword keeps it out too.
// With context the number is high (3.3.5, 4: reject).
//
// It returns -1 when the digits may go on past the buffer (the caller
// waits for more text), else 0; what it finds is recorded.
func (s *Scanner) keyedMyNumber(i int, final bool) int {
	buf := s.buf
	if s.c.set[dMyNumber].disabled || s.base+int64(i) < s.keyedEnd {
		// a later start in a sequence already read: its keyword could
		// only be farther away (digits and separators lie between)
		return 0
	}
	var d [12]byte
	var groups [12]int
	ng, n, j := 0, 0, i
	for {
		c, m := digitAt(buf, j)
		if m == 0 {
			break
		}
		if n == 12 {
			s.keyedEnd = s.base + int64(j)
			return 0 // a thirteenth digit: a longer number, not ours
		}
		d[n] = c
		n++
		groups[ng]++
		j += m
		if groups[0] >= 12 {
			return 0 // an ungrouped run: judge12's
		}
		// separators before the next digit
		k, seps := j, 0
		for seps < keyedMaxSep {
			_, sn := sepAt(buf, k)
			if sn == 0 {
				break
			}
			k += sn
			seps++
		}
		if k >= len(buf) && !final {
			return -1
		}
		if seps == 0 {
			continue // the same group goes on
		}
		if _, m := digitAt(buf, k); m == 0 {
			break
		}
		if n == 12 {
			s.keyedEnd = s.base + int64(k)
			return 0 // more digits after twelve: not one number
		}
		ng++
		j = k
	}
	if n < 12 && j >= len(buf) && !final {
		return -1
	}
	s.keyedEnd = s.base + int64(j)
	if n != 12 || j >= len(buf) && !final {
		return 0
	}
	g := groups[:ng+1]
	if eqGroups(g, 4, 4, 4) || ng == 0 {
		return 0 // judge12's
	}
	if gl, _ := s.glued(i, j); gl {
		return 0
	}
	v := string(d[:])
	if !ValidMyNumber(v) {
		return 0
	}
	kwDist, kw := s.near(1<<dMyNumber, 0, 0, i, j, keyedWindow, true, false)
	if !kw {
		return 0
	}
	if negDist, neg := s.near(0, 1<<dMyNumber, 0, i, j, s.c.negWin, true, true); neg && negDist < kwDist {
		return 0
	}
	s.record(dMyNumber, v, High, i, j)
	return 0
}

// keyedCandidate reports a run that keyedMyNumber must look at: the
// normal parse could not make twelve digits of it (more groups than it
// keeps, a TAB or line break it does not join, a grouping it does not
// know). Most runs (dates, times, amounts, known groupings) are not, and
// cost nothing more.
func (s *Scanner) keyedCandidate(run *numRun) bool {
	switch {
	case run.long:
		return true
	case run.n == 12:
		return len(run.groups) > 1 && !eqGroups(run.groups, 4, 4, 4)
	case run.n > 12 || len(run.groups) == 0 || run.groups[0] > 6:
		return false
	}
	// the run ends at a separator it did not take, and a digit follows.
	// Most runs end at a letter, a kanji (年, 円) or punctuation: a look
	// at one byte settles them (separators are ASCII space, dash, dot and
	// controls, or start with 0xC2, 0xE2, 0xE3 or 0xEF).
	if run.end < len(s.buf) {
		switch c := s.buf[run.end]; {
		case c < 0x80:
			if c != ' ' && c != '-' && c != '.' && c >= 0x20 && c != 0x7F {
				return false
			}
		case c != 0xC2 && c != 0xE2 && c != 0xE3 && c != 0xEF:
			return false
		}
	}
	k, seps := run.end, 0
	for seps < keyedMaxSep {
		_, n := sepAt(s.buf, k)
		if n == 0 {
			break
		}
		k += n
		seps++
	}
	if seps == 0 {
		return false
	}
	_, m := digitAt(s.buf, k)
	return m > 0 || k >= len(s.buf)
}
