package mimemsg

import (
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/transform"
)

// utf7 decodes UTF-7 (RFC 2152), a registered MIME charset that
// x/text does not have. A sender may label a body UTF-7; read as ASCII it
// hides every non-ASCII character ("+UYt1alVqU/f/Gg-" is 個人番号：).
// Only decoding is needed: inspection never encodes.
type utf7 struct{}

func (utf7) NewDecoder() *encoding.Decoder { return &encoding.Decoder{Transformer: &utf7Decoder{}} }
func (utf7) NewEncoder() *encoding.Encoder { return encoding.Nop.NewEncoder() }

type utf7Decoder struct {
	in    bool   // inside a +… base64 run
	first bool   // right after '+'
	bits  uint32 // pending bits
	nbits uint
	high  rune // a high surrogate waiting for its pair
}

func (d *utf7Decoder) Reset() { *d = utf7Decoder{} }

func utf7Val(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}

func (d *utf7Decoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		if len(dst)-nDst < 2*utf8.UTFMax {
			return nDst, nSrc, transform.ErrShortDst
		}
		c := src[nSrc]
		if !d.in {
			if c == '+' {
				d.in, d.first, d.bits, d.nbits = true, true, 0, 0
			} else {
				dst[nDst] = c
				nDst++
			}
			nSrc++
			continue
		}
		v := utf7Val(c)
		if v < 0 {
			// end of the run: "+-" is a literal '+'; '-' is absorbed
			if d.first && c == '-' {
				dst[nDst] = '+'
				nDst++
			}
			if d.high != 0 {
				nDst += utf8.EncodeRune(dst[nDst:], utf8.RuneError)
				d.high = 0
			}
			d.in = false
			if c != '-' {
				dst[nDst] = c
				nDst++
			}
			nSrc++
			continue
		}
		d.first = false
		d.bits = d.bits<<6 | uint32(v)
		d.nbits += 6
		if d.nbits >= 16 {
			d.nbits -= 16
			u := rune(d.bits >> d.nbits & 0xFFFF)
			d.bits &= 1<<d.nbits - 1
			switch {
			case utf16.IsSurrogate(u) && u < 0xDC00:
				d.high = u
			case utf16.IsSurrogate(u) && d.high != 0:
				nDst += utf8.EncodeRune(dst[nDst:], utf16.DecodeRune(d.high, u))
				d.high = 0
			default:
				if d.high != 0 {
					nDst += utf8.EncodeRune(dst[nDst:], utf8.RuneError)
					d.high = 0
				}
				nDst += utf8.EncodeRune(dst[nDst:], u)
			}
		}
		nSrc++
	}
	return nDst, nSrc, nil
}
