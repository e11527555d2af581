package classify

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Addresses (detectors.md §8.3): a prefecture, a municipality (市区町村郡)
// and a street number (丁目・番地・号 or n-n-n), anchored on the digits of
// the street number.

func prefectures() [47]string {
	return [47]string{"北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
		"群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県",
		"長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県",
		"和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県",
		"福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県"}
}

// prefectureAt returns the length of a prefecture name starting at buf[i].
func (s *Scanner) prefectureAt(i int) int {
	if i >= len(s.buf) || s.buf[i] < 0xE0 {
		return 0
	}
	for _, p := range &s.c.prefs {
		if i+len(p) <= len(s.buf) && string(s.buf[i:i+len(p)]) == p {
			return len(p)
		}
	}
	return 0
}

// prefectureEndingAt returns the start of a prefecture name ending at buf[i].
func (s *Scanner) prefectureEndingAt(i int) (int, bool) {
	for _, p := range &s.c.prefs {
		if i >= len(p) && string(s.buf[i-len(p):i]) == p {
			return i - len(p), true
		}
	}
	return 0, false
}

func isMuni(r rune) bool { return r == '市' || r == '区' || r == '町' || r == '村' || r == '郡' }

func isKanjiNumeral(r rune) bool { return strings.ContainsRune("一二三四五六七八九十〇", r) }

func (s *Scanner) judgeAddress(run *numRun) {
	if s.c.set[dAddress].disabled || s.base+int64(run.start) < s.addrEnd {
		return
	}
	buf := s.buf
	j := skipSpaces(buf, run.end)
	r, _ := runeAt(buf, j)
	dashed := len(run.seps) >= 1 && run.seps[0] == '-'
	if !(r == '丁' || r == '番' || r == '号' || isDash(r) || r == 'の' || dashed) {
		return
	}
	// look back along the line
	k, muni, start, pref := run.start, false, -1, false
	for steps := 0; steps < 40; steps++ {
		if s.base+int64(k) <= s.addrEnd {
			return // that address was reported already
		}
		r, n := runeBefore(buf, k)
		if n == 0 || r == '\n' || r == '\t' || r == ',' || r == '、' || r == '：' || r == ':' {
			break
		}
		if r == '都' || r == '道' || r == '府' || r == '県' {
			if ps, ok := s.prefectureEndingAt(k); ok {
				start, pref = ps, true
				break
			}
		}
		if isMuni(r) {
			muni = true
		}
		if !isNameRune(r) && !isSpace(r) && !isKanjiNumeral(r) && !(r >= '0' && r <= '9') && !isDash(r) {
			break
		}
		k -= n
		start = k
	}
	if !muni || start < 0 {
		return
	}
	if !pref {
		labelled := s.table && s.column(run.start).label&labAddress != 0
		if !labelled {
			if _, ok := s.near(1<<dAddress, 0, labAddress, run.start, run.end, s.c.set[dAddress].window, true, false); !ok {
				return
			}
		}
	}
	// the street-number block
	e := run.end
	for steps := 0; steps < 30; steps++ {
		r, n := runeAt(buf, e)
		if n == 0 {
			break
		}
		if _, d := digitAt(buf, e); d > 0 || r == '丁' || r == '目' || r == '番' || r == '地' || r == '号' || r == 'の' ||
			isDash(r) || isKanjiNumeral(r) || r == ' ' {
			e += n
			continue
		}
		break
	}
	for e > run.end && buf[e-1] == ' ' {
		e--
	}
	s.addrEnd = s.base + int64(e)
	s.scratch = appendCompactAddr(s.scratch[:0], buf[start:e])
	v := s.scratch
	for _, o := range s.c.org.addrs {
		if bytes.HasPrefix(v, []byte(o)) || strings.HasPrefix(o, string(v)) {
			return
		}
	}
	s.recordB(dAddress, v, High, start, e)
	s.noteField(run.start)
}

// appendCompactAddr is compactAddr into dst.
func appendCompactAddr(dst, a []byte) []byte {
	for i := 0; i < len(a); {
		r, n := utf8.DecodeRune(a[i:])
		i += n
		r = fold(r)
		switch {
		case isSpace(r) || r == '\t' || r == '\n' || r == '\r' || isZeroWidth(r):
		case isDash(r):
			dst = append(dst, '-')
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// compactAddr folds an address for comparison: half-width digits, one
// dash, no spaces.
func compactAddr(a string) string {
	var b strings.Builder
	for _, r := range foldString(a) {
		if isSpace(r) || r == '\t' || r == '\n' || r == '\r' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
