package classify

import (
	"encoding/binary"
	"unicode"
	"unicode/utf8"
)

// On-the-fly normalisation: the scanner never copies text through NFKC.
// These helpers decode one rune at a byte offset and fold the look-alikes
// that matter for detection (detectors.md §10): full-width digits and
// letters, dash and space look-alikes, zero-width characters.

// runeAt decodes the rune at buf[i]; size 0 at the end.
func runeAt(buf []byte, i int) (rune, int) {
	if i >= len(buf) {
		return 0, 0
	}
	b := buf[i]
	if b < utf8.RuneSelf {
		return rune(b), 1
	}
	r, n := utf8.DecodeRune(buf[i:])
	return r, n
}

// runeBefore decodes the rune ending at buf[i]; size 0 at the start.
func runeBefore(buf []byte, i int) (rune, int) {
	if i <= 0 {
		return 0, 0
	}
	if i > len(buf) {
		i = len(buf)
	}
	b := buf[i-1]
	if b < utf8.RuneSelf {
		return rune(b), 1
	}
	return utf8.DecodeLastRune(buf[:i])
}

// fold maps full-width ASCII to ASCII and U+3000 to a space.
func fold(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFF01 + '!'
	case r == 0x3000 || r == 0x00A0:
		return ' '
	}
	return r
}

// digitAt returns the ASCII digit at buf[i] (half or full width) and the
// bytes it takes, or size 0.
func digitAt(buf []byte, i int) (byte, int) {
	if i >= len(buf) {
		return 0, 0
	}
	b := buf[i]
	if b >= '0' && b <= '9' {
		return b, 1
	}
	if b == 0xEF && i+2 < len(buf) && buf[i+1] == 0xBC && buf[i+2] >= 0x90 && buf[i+2] <= 0x99 {
		return '0' + buf[i+2] - 0x90, 3
	}
	return 0, 0
}

// digitBefore is digitAt for the rune ending at buf[i].
func digitBefore(buf []byte, i int) (byte, int) {
	if i >= 1 && buf[i-1] >= '0' && buf[i-1] <= '9' {
		return buf[i-1], 1
	}
	if i >= 3 && buf[i-3] == 0xEF && buf[i-2] == 0xBC && buf[i-1] >= 0x90 && buf[i-1] <= 0x99 {
		return '0' + buf[i-1] - 0x90, 3
	}
	return 0, 0
}

func isDash(r rune) bool {
	switch r {
	case '-', 0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0x2043,
		0x30FC, 0xFF0D, 0xFE63, 0xFF70:
		return true
	}
	return false
}

func isSpace(r rune) bool { return r == ' ' || r == 0x3000 || r == 0x00A0 }

func isZeroWidth(r rune) bool {
	return (r >= 0x200B && r <= 0x200D) || r == 0x2060 || r == 0xFEFF
}

// isAlnum reports an ASCII (or full-width) letter or digit.
func isAlnum(r rune) bool {
	r = fold(r)
	return (r >= '0' && r <= '9') || isLetter(r)
}

func isLetter(r rune) bool {
	r = fold(r)
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
}

// isGlue reports characters that bind digits to an alphanumeric token
// (URLs, base64, Message-IDs, file names).
func isGlue(r rune) bool {
	switch fold(r) {
	case '+', '/', '=', '_', '%', '.', '@', '<', '>', '#', '&', '?', '~', '-', '\\', '$':
		return true
	}
	return false
}

// isNameRune reports kanji, kana and the marks used in Japanese names.
func isNameRune(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF, r >= 0x3400 && r <= 0x4DBF, r >= 0x20000 && r <= 0x3FFFF,
		r >= 0xF900 && r <= 0xFAFF:
		return true
	case r >= 0x3041 && r <= 0x3096, r >= 0x30A1 && r <= 0x30FA:
		return true
	case r == 0x3005 || r == 0x30F6 || r == 0x30FC || r == 0x3006:
		return true
	}
	return false
}

func isLineBreak(r rune) bool { return r == '\n' || r == '\r' }

// foldString normalises s for comparisons of configured values: digits and
// letters to half width, dashes between digits to '-', spaces collapsed.
func foldString(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		r = fold(r)
		if isDash(r) {
			r = '-'
		}
		if isZeroWidth(r) {
			continue
		}
		out = append(out, r)
	}
	return string(out)
}

// digitsOnly keeps the (folded) digits of s.
func digitsOnly(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		r = fold(r)
		if r >= '0' && r <= '9' {
			b = append(b, byte(r))
		}
	}
	return string(b)
}

// appendFolded appends text to buf with the evasion characters folded
// (detectors.md §10.2), so that every detector sees through them:
//   - format characters (Cf: soft hyphen, zero-width and bidi controls,
//     word joiner, BOM) are dropped: they are invisible, and 1\u00ad2 is 12;
//   - space separators (Zs) other than those fold and isSpace know (thin,
//     narrow no-break, figure spaces …) become ' ';
//   - decimal digits of other scripts (Nd: Arabic-Indic, Devanagari,
//     mathematical bold …) become ASCII digits: an insider may type them,
//     staff never do, so reading them costs no false positive.
//
// Text with none of their lead bytes is appended as is (the common case).
func appendFolded(buf []byte, text string) []byte {
	// copy first, then look at the copy: it is in the cache, the text
	// may not be
	n := len(buf)
	buf = append(buf, text...)
	if !mayNeedFold(buf[n:]) {
		return buf
	}
	buf = buf[:n]
	for i := 0; i < len(text); {
		c := text[i]
		if c < 0xC2 || c >= 0xE3 && c <= 0xE9 {
			// ASCII, continuation bytes, and U+3000–U+9FFF (kana,
			// kanji, CJK punctuation): nothing to fold, copied as is
			buf = append(buf, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		if r == utf8.RuneError && n <= 1 {
			buf = append(buf, c)
			i++
			continue
		}
		if v, ok := exoticDigit(r); ok {
			// ①②③…, ¹²³, ❶❷: NFKC digits. A lone ① is a list marker
			// (①申請書) and stays; a run of them is a number.
			if prevExotic(text, i) || nextExotic(text, i+n) {
				buf = append(buf, byte('0'+v))
			} else {
				buf = append(buf, text[i:i+n]...)
			}
			i += n
			continue
		}
		switch {
		case r == 0x3000 || r == 0x00A0:
			// known to fold and isSpace; kept for the samples
			buf = append(buf, text[i:i+n]...)
		case r >= 0xFF10 && r <= 0xFF19:
			buf = append(buf, text[i:i+n]...)
		case unicode.Is(unicode.Cf, r), isVariation(r):
			// dropped
		case unicode.Is(unicode.Zs, r):
			buf = append(buf, ' ')
		case unicode.Is(unicode.Nd, r):
			buf = append(buf, byte('0'+digitValue(r)))
		default:
			buf = append(buf, text[i:i+n]...)
		}
		i += n
	}
	return buf
}

// mayNeedFold reports whether text has a lead byte of a rune appendFolded
// changes: U+0080–U+07FF (soft hyphen, Arabic-Indic digits …), U+0800–
// U+1FFF (Indic, Mongolian …), U+2000–U+207F (spaces, zero-width and bidi
// controls), U+A000–U+AFFF and U+FE00–U+FFFF (BOM, variation selectors,
// interlinear annotation; a few Nd blocks), and
// the supplementary planes (mathematical digits, tags).
func mayNeedFold(text []byte) bool {
	for i := 0; i < len(text); i++ {
		// plain ASCII thirty-two bytes at a time
		for i+32 <= len(text) {
			w := text[i : i+32 : i+32]
			if (binary.LittleEndian.Uint64(w)|binary.LittleEndian.Uint64(w[8:])|
				binary.LittleEndian.Uint64(w[16:])|binary.LittleEndian.Uint64(w[24:]))&hi8 != 0 {
				break
			}
			i += 32
		}
		for i < len(text) && text[i] < utf8.RuneSelf {
			i++
		}
		if i >= len(text) {
			break
		}
		c := text[i]
		if c >= 0xE3 && c <= 0xE9 && i+2 < len(text) && text[i+1]&0xC0 == 0x80 && text[i+2]&0xC0 == 0x80 {
			// kana and kanji (U+3000–U+9FFF): nothing to fold
			i += 2
			continue
		}
		if c < 0xC2 {
			continue
		}
		switch {
		case c <= 0xDF, c == 0xE0, c == 0xE1, c == 0xEA, c >= 0xF0:
			return true
		case c == 0xE2:
			if i+1 < len(text) && (text[i+1] <= 0x83 || text[i+1] >= 0x91 && text[i+1] <= 0x93 || text[i+1] == 0x9D || text[i+1] == 0x9E) {
				return true
			}
		case c == 0xEF:
			// BOM, variation selectors, interlinear annotation (Cf)
			if i+2 < len(text) && (text[i+1] == 0xBB && text[i+2] == 0xBF || text[i+1] == 0xB8 && text[i+2] < 0x90 ||
				text[i+1] == 0xBF && text[i+2] >= 0xB9 && text[i+2] <= 0xBB) {
				return true
			}
		}
	}
	return false
}

// exoticDigit maps the digits NFKC folds but Nd does not hold: circled,
// parenthesised, full-stop, dingbat, superscript and subscript digits.
func exoticDigit(r rune) (int, bool) {
	switch {
	case r >= 0x2460 && r <= 0x2468: // ①-⑨
		return int(r-0x2460) + 1, true
	case r == 0x24EA || r == 0x24FF || r == 0x1F10B || r == 0x1F10C: // ⓪ ⓿
		return 0, true
	case r >= 0x2474 && r <= 0x247C: // ⑴-⑼
		return int(r-0x2474) + 1, true
	case r >= 0x2488 && r <= 0x2490: // ⒈-⒐
		return int(r-0x2488) + 1, true
	case r >= 0x24F5 && r <= 0x24FD: // ⓵-⓽
		return int(r-0x24F5) + 1, true
	case r >= 0x2776 && r <= 0x277E: // ❶-❾
		return int(r-0x2776) + 1, true
	case r >= 0x2780 && r <= 0x2788: // ➀-➈
		return int(r-0x2780) + 1, true
	case r >= 0x278A && r <= 0x2792: // ➊-➒
		return int(r-0x278A) + 1, true
	case r == 0x2070 || r == 0x2080:
		return 0, true
	case r == 0x00B9:
		return 1, true
	case r == 0x00B2 || r == 0x00B3:
		return int(r - 0x00B0), true
	case r >= 0x2074 && r <= 0x2079:
		return int(r - 0x2070), true
	case r >= 0x2081 && r <= 0x2089:
		return int(r - 0x2080), true
	}
	return 0, false
}

func prevExotic(text string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(text[:i])
	_, ok := exoticDigit(r)
	return ok
}

func nextExotic(text string, i int) bool {
	r, _ := utf8.DecodeRuneInString(text[i:])
	_, ok := exoticDigit(r)
	return ok
}

// isVariation reports variation selectors and the combining keycap
// (1\uFE0F\u20E3 is a keycap "1"): marks that only change how a digit looks.
func isVariation(r rune) bool {
	return r >= 0xFE00 && r <= 0xFE0F || r >= 0xE0100 && r <= 0xE01EF || r == 0x20E3
}

// digitValue is the value of a decimal digit (Nd): Nd ranges are runs of
// whole sets of ten starting at a zero.
func digitValue(r rune) int {
	for _, rg := range unicode.Nd.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10
		}
	}
	return 0
}
