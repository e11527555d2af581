package classify

import (
	"sort"
	"strings"
	"unicode/utf8"

	"dlpguard/inspect"
)

// Classification markings (detectors.md §9): anchored on a few runes
// (秘 ㊙ 性 機 注 限 禁) and judged by the words around them, so that 秘書課,
// 秘密保持契約, 重要性の高い and 取扱注意事項 are not markings.
//
// Decisions: a bare 秘 counts only in brackets (【秘】), as ㊙, as 秘密文書 or
// 秘扱い, or standing alone on a line (a stamp); 秘密保持契約 names a
// contract, not a marking. The weak words (取扱注意, 関係者限り, the
// handling restrictions such as 転送禁止) count only when they end at a
// boundary (line end, bracket, punctuation, です, 情報, 文書, 資料).

// DefaultMarkings maps the canonical marking tokens to levels (clause 3.1:
// 重要性Ⅰ is the most important; 機密性 runs the other way, 3 highest).
// Config.Markings overrides entries.
func DefaultMarkings() map[string]Level {
	return map[string]Level{
		"重要性1": LevelI, "重要性2": LevelII, "重要性3": LevelIII, "重要性4": LevelIII,
		"機密性3": LevelI, "機密性2": LevelII, "機密性1": LevelIII, "要機密": LevelII,
		"極秘": LevelI, "秘": LevelI,
		"部外秘": LevelII, "社外秘": LevelII, "庁外秘": LevelII, "課外秘": LevelII, "外部秘": LevelII, "関係者外秘": LevelII,
		"取扱注意": LevelII, "関係者限り": LevelII, "内部限り": LevelII, "庁内限り": LevelII, "社内限り": LevelII,
		"取扱制限": LevelII,
	}
}

func (s *Scanner) before(i int, w string) bool {
	return i >= len(w) && string(s.buf[i-len(w):i]) == w
}

func (s *Scanner) after(j int, w string) bool {
	return j+len(w) <= len(s.buf) && string(s.buf[j:j+len(w)]) == w
}

func isOpen(r rune) bool  { return strings.ContainsRune("【［[（(〈《「『<＜〔", r) }
func isClose(r rune) bool { return strings.ContainsRune("】］]）)〉》」』>＞〕", r) }
func isPunct(r rune) bool {
	return strings.ContainsRune("。、．，・:：!！?？/／|｜,.;；", r)
}

func (s *Scanner) prevBoundary(i int) bool {
	r, n := runeBefore(s.buf, i)
	return n == 0 || isLineBreak(r) || isSpace(r) || r == '\t' || isOpen(r) || isPunct(r)
}

func (s *Scanner) nextBoundary(j int) bool {
	r, n := runeAt(s.buf, j)
	if n == 0 || isLineBreak(r) || isSpace(r) || r == '\t' || isClose(r) || isPunct(r) {
		return true
	}
	for _, w := range []string{"情報", "文書", "資料", "です", "扱い", "のため"} {
		if s.after(j, w) {
			return true
		}
	}
	return false
}

// aloneOnLine: only spaces between the token and the line ends.
func (s *Scanner) aloneOnLine(a, b int) bool {
	for {
		r, n := runeBefore(s.buf, a)
		if n == 0 || isLineBreak(r) {
			break
		}
		if !isSpace(r) && r != '\t' {
			return false
		}
		a -= n
	}
	for {
		r, n := runeAt(s.buf, b)
		if n == 0 || isLineBreak(r) {
			return true
		}
		if !isSpace(r) && r != '\t' {
			return false
		}
		b += n
	}
}

// numeral reads 1–4 as Ⅰ-Ⅳ, I-IV or digits after a 重要性/機密性 word.
func (s *Scanner) numeral(j int) (int, int) {
	buf := s.buf
	if s.after(j, "分類") {
		j += len("分類")
	}
	for k := 0; k < 3; k++ {
		r, n := runeAt(buf, j)
		if n > 0 && (isSpace(r) || r == ':' || r == '：') {
			j += n
		}
	}
	r, n := runeAt(buf, j)
	v := 0
	switch {
	case n == 0:
		return 0, 0
	case r >= 'Ⅰ' && r <= 'Ⅳ':
		v = int(r-'Ⅰ') + 1
		j += n
	case fold(r) >= '1' && fold(r) <= '4':
		v = int(fold(r) - '0')
		j += n
	case fold(r) == 'I' || fold(r) == 'V':
		roman := ""
		for len(roman) < 4 {
			r2, n2 := runeAt(buf, j)
			if n2 == 0 || (fold(r2) != 'I' && fold(r2) != 'V') {
				break
			}
			roman += string(fold(r2))
			j += n2
		}
		switch roman {
		case "I":
			v = 1
		case "II":
			v = 2
		case "III":
			v = 3
		case "IV":
			v = 4
		default:
			return 0, 0
		}
	default:
		return 0, 0
	}
	// not the start of a longer number or word
	if r2, n2 := runeAt(buf, j); n2 > 0 && (isAlnum(r2) || (r2 >= 'Ⅰ' && r2 <= 'Ⅻ')) {
		return 0, 0
	}
	return v, j
}

func (s *Scanner) onMarkRune(i int, r rune) {
	if s.c.set[dMarking].disabled {
		return
	}
	j := i + utf8.RuneLen(r)
	switch r {
	case '㊙':
		s.mark("秘", i, j)
	case '秘':
		for _, p := range []string{"関係者外", "部外", "社外", "庁外", "課外", "外部"} {
			if s.before(i, p) {
				s.mark(p+"秘", i-len(p), j)
				return
			}
		}
		if s.before(i, "極") {
			if !s.after(j, "裏") {
				s.mark("極秘", i-len("極"), j)
			}
			return
		}
		if s.after(j, "密文書") || s.after(j, "扱い") || s.after(j, "文書") {
			s.mark("秘", i, j)
			return
		}
		rp, np := runeBefore(s.buf, i)
		rn, nn := runeAt(s.buf, j)
		if np > 0 && nn > 0 && isOpen(rp) && isClose(rn) {
			s.mark("秘", i-np, j+nn)
			return
		}
		if s.aloneOnLine(i, j) || ((s.kind == inspect.KindSubject || s.kind == inspect.KindHeader || s.kind == inspect.KindFileName) && s.prevBoundary(i) && (nn == 0 || isSpace(rn))) {
			s.mark("秘", i, j)
		}
	case '性':
		if s.before(i, "重要") {
			if v, e := s.numeral(j); v > 0 {
				s.mark("重要性"+string(rune('0'+v)), i-len("重要"), e)
			}
		} else if s.before(i, "機密") {
			if v, e := s.numeral(j); v > 0 && v <= 3 {
				s.mark("機密性"+string(rune('0'+v)), i-len("機密"), e)
			}
		}
	case '機':
		if s.before(i, "要") && s.after(j, "密") && !s.after(j, "密性") {
			s.mark("要機密", i-len("要"), j+len("密"))
			return
		}
		rp, np := runeBefore(s.buf, i)
		if np > 0 && isOpen(rp) {
			if d, n := digitAt(s.buf, j); n > 0 && d >= '1' && d <= '3' {
				if rc, nc := runeAt(s.buf, j+n); nc > 0 && isClose(rc) {
					s.mark("機密性"+string(rune(d)), i-np, j+n+nc)
				}
			}
		}
	case '注':
		if !s.after(j, "意") {
			return
		}
		for _, p := range []string{"取扱厳重", "取扱い厳重", "取り扱い厳重", "取り扱い", "取扱い", "取扱"} {
			if s.before(i, p) && s.nextBoundary(j+len("意")) {
				s.mark("取扱注意", i-len(p), j+len("意"))
				return
			}
		}
	case '限':
		if !s.after(j, "り") {
			return
		}
		for _, p := range []string{"関係者", "内部", "庁内", "社内"} {
			if s.before(i, p) && s.nextBoundary(j+len("り")) {
				tok := p + "限り"
				s.mark(tok, i-len(p), j+len("り"))
				return
			}
		}
	case '禁':
		if !s.after(j, "止") {
			return
		}
		for _, p := range []string{"複製", "複写", "配布", "配付", "転送", "持出", "持ち出し", "再利用", "送信", "印刷"} {
			if s.before(i, p) && s.nextBoundary(j+len("止")) {
				s.mark("取扱制限", i-len(p), j+len("止"))
				return
			}
		}
	}
}

// mark records a marking token found in the text.
func (s *Scanner) mark(tok string, a, b int) {
	lvl, ok := s.c.markings[tok]
	if !ok {
		return
	}
	if s.excluded(a, b) {
		return
	}
	s.addMark(tok, lvl, s.loc, s.context(a, b))
}

// Headers takes the top-level header fields (canonical names, decoded
// values) and reports the configured marking headers, e.g.
// `Sensitivity: Company-Confidential` or an msip_labels label.
func (s *Scanner) Headers(raw map[string][]string) {
	if s.c.set[dMarking].disabled {
		return
	}
	for _, mh := range s.c.markHdrs {
		for name, vals := range raw {
			if !strings.EqualFold(name, mh.Header) {
				continue
			}
			subs := make([]string, 0, len(mh.Values))
			for sub := range mh.Values {
				subs = append(subs, sub)
			}
			sort.Strings(subs) // deterministic samples
			for _, v := range vals {
				lv := strings.ToLower(v)
				for _, sub := range subs {
					if strings.Contains(lv, strings.ToLower(sub)) {
						s.addMark(mh.Header+": "+sub, mh.Values[sub], "header:"+name, "")
					}
				}
			}
		}
	}
}
