package classify

import "unicode/utf8"

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
