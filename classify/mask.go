package classify

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Masking, one way for everything staff see (issue 11 item 8): the
// findings' samples, the console's text pane, headers and subjects, the
// notices and `scan --json`. Two views of one value that each hide a
// different part of it would together give it whole (a birth date shown
// as 1980-**-** in one place and ****-01-10 in another), so every view
// masks with MaskText and reveals the same part of a value:
//
//   - a number of seven digits or more (separators allowed between the
//     digits, one or two at a time): only its last four digits;
//   - a date (1980-01-10, 1980/1/10, 1980年1月10日, 昭和55年1月10日,
//     19800110, S55.1.10): only its year, never month or day;
//   - shorter numbers are left alone (counts, times, amounts): no
//     identifier the detectors report is shorter than seven digits.
//
// Samples are MaskText of the normalised value, with a last-four-characters
// fallback for a value MaskText would leave whole; contexts (a few
// characters around a match) hide every digit, so they never add to what
// MaskText shows. The rows of a personal list are masked whole
// (MaskRecords): names and addresses have no part that may be shown.

// maskMinDigits: a run of this many digits or more is an identifier to
// mask (postal codes and bank accounts have 7; My Numbers 12, cards 16).
const maskMinDigits = 7

// maskKeep is how many trailing digits of a number stay readable
// ("**** **** 1234", as in the scan contract's samples).
const maskKeep = 4

func isDigit(r rune) bool { return r >= '0' && r <= '9' || r >= '０' && r <= '９' }

// digitVal is the value of a half- or full-width digit.
func digitVal(r rune) int {
	if r >= '０' {
		return int(r - '０')
	}
	return int(r - '0')
}

// isNumSep is a character that may sit between the digits of one number:
// hyphens and dashes of every width, spaces, dots, slashes and the
// zero-width characters used to break up numbers.
func isNumSep(r rune) bool {
	switch r {
	case '-', '‐', '‑', '‒', '–', '—', '―', '−', 'ー', '－', '﹣',
		' ', '　', '.', '．', '/', '／', '_',
		'\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad':
		return true
	}
	return false
}

// MaskText masks every identifier in s as described above; the result has
// as many runes as s (a '*' for each digit hidden). It is idempotent.
func MaskText(s string) string { return mask(s, false) }

// MaskTextLoose is MaskText except that a number glued to ASCII letters
// (hashes, IDs, timestamps such as 2026-11-25T10:00) is left alone: for the
// audit log, whose details carry hashes and only masked findings.
func MaskTextLoose(s string) string { return mask(s, true) }

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func mask(s string, loose bool) string {
	b := []byte(s)
	out := make([]byte, 0, len(b))
	i := 0
	for i < len(b) {
		if c := b[i]; c < utf8.RuneSelf {
			// ASCII fast path: most text between numbers.
			if c < '0' || c > '9' {
				out = append(out, c)
				i++
				continue
			}
		} else if r, n := utf8.DecodeRune(b[i:]); !isDigit(r) {
			out = append(out, b[i:i+n]...)
			i += n
			continue
		}
		end, digits := runEnd(b, i)
		if loose && (i > 0 && isASCIILetter(b[i-1]) || end < len(b) && isASCIILetter(b[end])) {
			out = append(out, b[i:end]...)
			i = end
			continue
		}
		if dEnd, yEnd, ok := matchDate(b, i, end, digits); ok {
			out = append(out, b[i:yEnd]...)
			out = appendMasked(out, b[yEnd:dEnd], len(b))
			i = dEnd
			continue
		}
		if digits >= maskMinDigits {
			out = appendMasked(out, b[i:end], digits-maskKeep)
		} else {
			out = append(out, b[i:end]...)
		}
		i = end
	}
	return string(out)
}

// runEnd returns the end of the number starting at the digit at i and how
// many digits it has: digits with groups of one or two separators between.
func runEnd(b []byte, i int) (end, digits int) {
	j := i
	for j < len(b) {
		r, n := utf8.DecodeRune(b[j:])
		if isDigit(r) {
			digits++
			j += n
			end = j
			continue
		}
		k, seps := j, 0
		for k < len(b) && seps < 3 {
			r2, n2 := utf8.DecodeRune(b[k:])
			if !isNumSep(r2) {
				break
			}
			k += n2
			seps++
		}
		if seps == 0 || seps > 2 || k >= len(b) {
			break
		}
		if r2, _ := utf8.DecodeRune(b[k:]); !isDigit(r2) {
			break
		}
		j = k
	}
	return end, digits
}

// digitsAt reads up to max digits at i: their value, count and end.
func digitsAt(b []byte, i, max int) (v, n, end int) {
	end = i
	for end < len(b) && n < max {
		r, size := utf8.DecodeRune(b[end:])
		if !isDigit(r) {
			break
		}
		v = v*10 + digitVal(r)
		n++
		end += size
	}
	return v, n, end
}

// eraBefore reports whether an era name (昭和, 平成, 令和, 大正, 明治, ㍼…
// or the letters M T S H R) ends at i.
func eraBefore(b []byte, i int) bool {
	r, n := utf8.DecodeLastRune(b[:i])
	if n == 0 {
		return false
	}
	switch r {
	case '㍾', '㍽', '㍼', '㍻', '㋿', 'M', 'T', 'S', 'H', 'R':
		return true
	}
	for _, e := range []string{"明治", "大正", "昭和", "平成", "令和"} {
		if bytes.HasSuffix(b[:i], []byte(e)) {
			return true
		}
	}
	return false
}

// matchDate recognises a date starting at the digit at i, whose number run
// (as runEnd found it) ends at runEnd with digits digits. It returns the
// date's end and the end of its year: 1980-01-10, 1980/1/10, 1980.1.10,
// 19800110 (a calendar date of 1900–2099), 1980年1月10日 and, after an
// era, 55年1月10日 or S55.1.10. A run longer than the date is no date.
func matchDate(b []byte, i, runEnd, digits int) (end, yearEnd int, ok bool) {
	y, yn, ye := digitsAt(b, i, 4)
	// A year of one or two digits only after an era name (looked for
	// last: most numbers are no dates).
	if yn == 3 || yn < 3 && !eraBefore(b, i) {
		return 0, 0, false
	}
	if yn == 4 && digits == 8 && runEnd == i+8 {
		// Compact: exactly eight ASCII digits (full-width counted as runes
		// would not be i+8) that form a date of 1900–2099.
		m, d := digitVal(rune(b[i+4]))*10+digitVal(rune(b[i+5])), digitVal(rune(b[i+6]))*10+digitVal(rune(b[i+7]))
		if (y/100 == 19 || y/100 == 20) && validYMD(y, m, d) {
			return runEnd, ye, true
		}
	}
	r, n := utf8.DecodeRune(b[ye:])
	if r == '年' {
		m, mn, me := digitsAt(b, ye+n, 2)
		if mn == 0 || !bytes.HasPrefix(b[me:], []byte("月")) {
			return 0, 0, false
		}
		d, dn, de := digitsAt(b, me+len("月"), 2)
		if dn == 0 || !validYMD(max(y, 2000), m, d) {
			return 0, 0, false
		}
		if bytes.HasPrefix(b[de:], []byte("日")) {
			de += len("日")
		}
		return de, ye, true
	}
	// Separated: the whole number run must be year, month and day.
	if runEnd <= ye || (r != '-' && r != '/' && r != '.' && r != '／' && r != '．' && r != '－' && r != '‐' && r != '−') {
		return 0, 0, false
	}
	m, mn, me := digitsAt(b, ye+n, 2)
	if mn == 0 || me >= len(b) {
		return 0, 0, false
	}
	r2, n2 := utf8.DecodeRune(b[me:])
	if r2 != r {
		return 0, 0, false
	}
	d, dn, de := digitsAt(b, me+n2, 2)
	if dn == 0 || de != runEnd || !validYMD(max(y, 2000), m, d) {
		return 0, 0, false
	}
	return de, ye, true
}

// appendMasked appends run with its first n digits replaced by '*'.
func appendMasked(dst, run []byte, n int) []byte {
	for len(run) > 0 {
		r, size := utf8.DecodeRune(run)
		if isDigit(r) && n > 0 {
			dst = append(dst, '*')
			n--
		} else {
			dst = append(dst, run[:size]...)
		}
		run = run[size:]
	}
	return dst
}

// maskValue is the sample of a value detector d found: MaskText of the
// normalised value, so that it reveals what the text pane reveals of the
// same value and no other part. An e-mail address keeps its first letter
// and domain; an address hides every digit (its text is no identifier on
// its own). Should MaskText leave the value whole (a custom pattern, or a
// number shorter than seven digits), only its last four characters stay.
func maskValue(d int, v string) string {
	switch d {
	case dMyNumber:
		if len(v) == 12 {
			// Grouped as the scan contract shows it (**** **** 9018);
			// the same four digits as MaskText shows.
			return MaskText(v[:4] + " " + v[4:8] + " " + v[8:])
		}
	case dAddress:
		return maskDigits(v)
	case dEmail:
		if at := strings.IndexByte(v, '@'); at > 0 {
			return v[:1] + "***" + maskDigits(v[at:])
		}
	}
	if m := MaskText(v); m != v {
		return m
	}
	return maskTail(v)
}

// MaskValue is the sample of a value found by the named detector (as
// classify reports it), for views that hold a value rather than text.
func MaskValue(detector, v string) string {
	for d, name := range detNames() {
		if name == detector {
			return maskValue(d, v)
		}
	}
	return maskTail(v)
}

// maskDigits replaces every digit (any width) by '*' and tabs and line
// breaks by spaces: for contexts, which may cut a number anywhere and so
// must show none of its digits.
func maskDigits(t string) string {
	var sb strings.Builder
	sb.Grow(len(t))
	for _, r := range t {
		switch {
		case fold(r) >= '0' && fold(r) <= '9':
			sb.WriteByte('*')
		case r == '\t' || r == '\r' || r == '\n':
			sb.WriteByte(' ')
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// maskTail masks all but the last four characters.
func maskTail(v string) string {
	r := []rune(v)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	return strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
}

// recordMask stands for one masked field of a personal list's row: fixed,
// so that not even a name's length shows.
const recordMask = "＊＊＊"

// isFieldSep separates the fields of a record line (tables extracted as
// tab-separated text, CSV, and lists typed with spaces).
func isFieldSep(r rune) bool {
	switch r {
	case '\t', ',', '，', '、', '|', '｜', ' ', '　', ';':
		return true
	}
	return false
}

// MaskRecords masks the text of a location where a personal list was
// found: every field of every line becomes ＊＊＊ (the separators kept), so
// a reviewer sees the shape of the list — how many rows and columns — and
// no name, address or number in it. Only the column headings stay: the
// first line of two or more tab-, comma- or bar-separated fields with no
// digit in it (氏名 住所 電話番号), shown as MaskText shows it.
func MaskRecords(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	header := false
	for _, line := range strings.SplitAfter(s, "\n") {
		body := strings.TrimRight(line, "\r\n")
		if !header && isHeading(body) {
			sb.WriteString(MaskText(line))
			header = true
			continue
		}
		inField := false
		for _, r := range body {
			if isFieldSep(r) {
				sb.WriteRune(r)
				inField = false
				continue
			}
			if !inField {
				sb.WriteString(recordMask)
				inField = true
			}
		}
		sb.WriteString(line[len(body):])
	}
	return sb.String()
}

// isHeading: two or more fields separated by tabs, commas or bars, and no
// digit (a record has a number, a date or an address with one).
func isHeading(line string) bool {
	if strings.ContainsFunc(line, isDigit) {
		return false
	}
	n := len(strings.FieldsFunc(line, func(r rune) bool {
		return r == '\t' || r == ',' || r == '，' || r == '|' || r == '｜'
	}))
	return n >= 2
}
