package classify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"unicode/utf8"
)

// customDet is a compiled administrator detector. Its pattern runs over a
// normalised copy of each scanned segment (full-width folded, dashes
// between digits made '-', zero-width characters dropped): only
// installations with custom detectors pay for the copy.
type customDet struct {
	name     string
	re       *regexp.Regexp
	valid    func(string) bool
	kw, neg  []string
	window   int
	require  bool
	minCount int
	level    Level
}

// normalise appends the folded form of raw to dst and returns it with the
// output offsets of the raw offsets in marks (updated in place).
func normalise(dst, raw []byte, marks []int) []byte {
	mi := 0
	for i := 0; i < len(raw); {
		for mi < len(marks) && marks[mi] <= i {
			marks[mi] = len(dst)
			mi++
		}
		r, n := utf8.DecodeRune(raw[i:])
		prevDigit := len(dst) > 0 && dst[len(dst)-1] >= '0' && dst[len(dst)-1] <= '9'
		switch {
		case isZeroWidth(r) && prevDigit:
		case isDash(r) && prevDigit:
			dst = append(dst, '-')
		default:
			dst = utf8.AppendRune(dst, fold(r))
		}
		i += n
	}
	for ; mi < len(marks); mi++ {
		marks[mi] = len(dst)
	}
	return dst
}

func (s *Scanner) runCustom(final bool) {
	from := int(s.custDone - s.base)
	if from < 0 {
		from = 0
	}
	to := s.pos
	if final {
		to = len(s.buf)
	}
	if to <= from {
		return
	}
	maxW := 0
	for _, cd := range s.c.custom {
		if cd.window > maxW {
			maxW = cd.window
		}
	}
	ctxFrom := from - 4*maxW
	if ctxFrom < 0 {
		ctxFrom = 0
	}
	marks := []int{from - ctxFrom, to - ctxFrom}
	s.norm = normalise(s.norm[:0], s.buf[ctxFrom:], marks)
	nFrom, nTo := marks[0], marks[1]
	norm := s.norm
	if len(s.customAgg) < len(s.c.custom) {
		s.customAgg = make([]aggState, len(s.c.custom))
		s.customVal = make([]map[string]Confidence, len(s.c.custom))
	}
	for k, cd := range s.c.custom {
		for _, m := range cd.re.FindAllIndex(norm[nFrom:], -1) {
			ms, me := m[0]+nFrom, m[1]+nFrom
			if ms >= nTo {
				break
			}
			val := string(norm[ms:me])
			if cd.valid != nil {
				val = digitsOnly(val)
				if !cd.valid(val) {
					continue
				}
			}
			wb := 4 * cd.window
			lo, hi := ms-wb, me+wb
			if lo < 0 {
				lo = 0
			}
			if hi > len(norm) {
				hi = len(norm)
			}
			win := bytes.ToLower(norm[lo:hi])
			a, b := ms-lo, me-lo
			pos, posD := nearWord(win, a, b, cd.kw, cd.window)
			neg, negD := nearWord(win, a, b, cd.neg, 30)
			if cd.require && !pos {
				continue
			}
			conf := Medium
			if pos {
				conf = High
			}
			if neg && (!pos || negD < posD) {
				if conf == High {
					conf = Medium
				} else {
					conf = Low
				}
			}
			s.recordCustom(k, val, conf, maskDigits(string(norm[max(lo, ms-3*ctxRunes):min(hi, me+3*ctxRunes)])))
		}
	}
	s.custDone = s.base + int64(to)
}

// nearWord finds the nearest of words around win[a:b] within window runes.
func nearWord(win []byte, a, b int, words []string, window int) (bool, int) {
	best, found := window+1, false
	for _, w := range words {
		for off := 0; off < len(win); {
			k := bytes.Index(win[off:], []byte(w))
			if k < 0 {
				break
			}
			ws, we := off+k, off+k+len(w)
			d := 0
			switch {
			case we <= a:
				d = utf8.RuneCount(win[we:a])
			case ws >= b:
				d = utf8.RuneCount(win[b:ws])
			}
			if d <= window && d < best {
				best, found = d, true
			}
			off = ws + 1
		}
	}
	return found, best
}

func (s *Scanner) recordCustom(k int, val string, conf Confidence, ctx string) {
	cd := s.c.custom[k]
	for _, r := range s.c.cfg.Exclude.Ranges {
		if r.Detector == cd.name && len(val) == len(r.From) && val >= r.From && val <= r.To {
			return
		}
	}
	if len(s.c.hashes) > 0 {
		h := sha256.Sum256([]byte(val))
		if s.c.hashes[hex.EncodeToString(h[:])] {
			return
		}
	}
	m := s.customVal[k]
	if m == nil {
		m = map[string]Confidence{}
		s.customVal[k] = m
	}
	ag := &s.customAgg[k]
	old, seen := m[val]
	switch {
	case !seen && len(m) >= maxValues:
		ag.overflow++
	case !seen:
		m[val] = conf
		if len(ag.samples) < maxSamples {
			ag.samples = append(ag.samples, maskTail(val))
		}
	case conf.Rank() > old.Rank():
		m[val] = conf
	}
	if conf.Rank() > ag.conf.Rank() || ag.conf == "" {
		ag.conf = conf
	}
	ag.addLoc(s.loc)
	ag.addContext(ctx)
}
