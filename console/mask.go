package console

import (
	"unicode/utf8"
)

// maskMinDigits: a run of this many digits or more is an identifier to
// mask (postal codes and bank accounts have 7; My Numbers 12, cards 16).
const maskMinDigits = 7

// maskKeep is how many trailing digits stay readable ("**** **** 1234", as
// in the scan contract's samples).
const maskKeep = 4

func isDigit(r rune) bool { return r >= '0' && r <= '9' || r >= '０' && r <= '９' }

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

// Mask replaces every digit but the last four of each run of at least
// seven digits (separators allowed between them, one or two at a time)
// with '*'. Used on every text the console shows from a message, so that
// no My Number or card number is ever displayed whole, whatever the
// detectors found (fail closed).
func Mask(s string) string { return mask(s, false) }

// MaskLoose is Mask except that a number glued to ASCII letters (hashes,
// IDs, timestamps such as 2026-11-25T10:00) is left alone: for the audit
// log, whose details carry hashes and only masked findings.
func MaskLoose(s string) string { return mask(s, true) }

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
