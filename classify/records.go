package classify

import "bytes"

// Personal records in the layouts city mail uses (issue 12). A record is a
// line with a person's name (nameLike: family and given name apart) and a
// field of personal data; noteField counts it. Besides the addresses with
// a prefecture, phones and birth dates with a keyword counted before,
// these count as the field: an e-mail address (outside the organisation's
// domains), a bank account number, an age (30歳), a birth date marked 生
// (平成2年5月7日生), and a street number after a town (緑町4-5-6: a
// city's own mail leaves out the prefecture). An address label block — a
// 〒 line, then within three lines a line with a name and 様 — is one
// record. Organisations stay out: nameLike refuses names ending in 課, 係,
// 会社 … (orgSuffix).

// splitNameHeads are header cells that are one part of a person's name in
// a table that splits it (姓・名, 氏・名, セイ・メイ): too short to be
// keywords of the running text, they are matched as whole cells.
var splitNameHeads = [...]string{"姓", "名", "氏", "姓名", "セイ", "メイ", "せい", "めい",
	"姓（カナ）", "名（カナ）", "姓(カナ)", "名(カナ)", "氏名（カナ）", "カナ姓", "カナ名", "姓カナ", "名カナ"}

// splitNameHead reports a header cell that names a part of a person's
// name.
func splitNameHead(cell []byte) bool {
	c := bytes.TrimSpace(bytes.Trim(bytes.TrimSpace(cell), "\""))
	for _, h := range splitNameHeads {
		if string(c) == h {
			return true
		}
	}
	return false
}

// nameBoundary reports a rune that may stand right before a name: a space
// or cell delimiter, or the bullet or numbering of a list line (・, ●, 1.,
// (3), ③ is folded to 3).
func nameBoundary(r rune) bool {
	switch r {
	case '\t', ',', '>', '|', '・', '●', '○', '■', '□', '◆', '◇', '※', '、', '.', '．', ')', '）', ':', '：', '-', '*', '「', '【', '】':
		return true
	}
	return isSpace(r)
}

// ageField counts the line of a short number followed by 歳 or 才 (an
// age) when it also holds a name.
func (s *Scanner) ageField(run *numRun) {
	if run.n > 3 || len(run.groups) != 1 {
		return
	}
	// 歳 and 才 start with 0xE6: one byte dismisses most runs
	k := run.end
	if k < len(s.buf) && s.buf[k] == ' ' {
		k++
	}
	if k >= len(s.buf) || s.buf[k] != 0xE6 {
		return
	}
	if r, _ := runeAt(s.buf, k); r == '歳' || r == '才' {
		s.noteField(run.start)
	}
}

// streetField counts the line of a street number written after a town
// without a prefecture (緑町4-5-6, 本町1丁目2-3) when it also holds a
// name.
func (s *Scanner) streetField(run *numRun) {
	if len(run.groups) < 2 || len(run.groups) > 4 || run.n > 8 {
		return
	}
	for _, k := range run.seps {
		if k != '-' {
			return
		}
	}
	r, _ := runeBefore(s.buf, run.start)
	if r == '町' || r == '目' || r == '村' || r == '区' || r == '通' {
		s.noteField(run.start)
	}
}

// birthMark reports 生 right after a date (平成2年5月7日生, 1990/5/7生):
// the date is a birth date.
func (s *Scanner) birthMark(end int) bool {
	r, _ := runeAt(s.buf, end)
	return r == '生'
}

// labelBlock counts an address label: after the 〒 line at buf[i], a line
// within the next three with a name and 様.
func (s *Scanner) labelBlock(i int) {
	_, le := s.lineBounds(i)
	for k := 0; k < 3 && le < len(s.buf); k++ {
		ls := le + 1
		_, le = s.lineBounds(ls)
		line := s.buf[ls:le]
		if !bytes.Contains(line, []byte("様")) {
			continue
		}
		abs := s.base + int64(ls)
		if abs != s.recLine && s.nameLike(ls, le) {
			s.recLine = abs
			s.recCount++
		}
		return
	}
}
