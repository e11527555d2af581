package pdf

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// cmap is a parsed CMap (Adobe TN 5014, ISO 32000-1 §9.7.5 and §9.10.3):
// the code space, which says how many bytes each code takes, and the
// bfchar/bfrange mappings of a ToUnicode CMap.
type cmap struct {
	space  []codeRange
	chars  map[uint64]string // key: length<<32 | code
	ranges []bfRange
}

type codeRange struct {
	n      int
	lo, hi [4]byte
}

type bfRange struct {
	n      int
	lo, hi uint32
	dst    []rune   // first destination; the last rune is incremented
	arr    []string // array form: one destination per code
	hasArr bool
}

// CMap bounds: real ToUnicode maps have at most tens of thousands of
// entries.
const (
	maxCMapEntries = 1 << 18
	maxCMapRange   = 1 << 16
)

func charKey(code uint32, n int) uint64 { return uint64(n)<<32 | uint64(code) }

func codeOf(b []byte) (uint32, int) {
	var c uint32
	n := min(len(b), 4)
	for _, x := range b[:n] {
		c = c<<8 | uint32(x)
	}
	return c, n
}

// parseCMap reads the mappings we need from a CMap program. It ignores
// PostScript it does not understand.
func parseCMap(data []byte) *cmap {
	cm := &cmap{chars: map[uint64]string{}}
	l := &lexer{buf: data, content: true}
	var stack []any
	entries := 0
	for entries < maxCMapEntries {
		t := l.next()
		if _, eof := t.(lexEOF); eof {
			break
		}
		kw, ok := t.(keyword)
		if !ok {
			stack = append(stack, t)
			if len(stack) > 3 {
				stack = stack[1:]
			}
			continue
		}
		stack = stack[:0]
		switch kw {
		case "begincodespacerange":
			for {
				lo, ok1 := l.next().(pdfString)
				hi, ok2 := l.next().(pdfString)
				if !ok1 || !ok2 {
					break
				}
				entries++
				if len(lo) == 0 || len(lo) > 4 || len(lo) != len(hi) {
					continue
				}
				r := codeRange{n: len(lo)}
				copy(r.lo[:], lo)
				copy(r.hi[:], hi)
				cm.space = append(cm.space, r)
			}
		case "beginbfchar":
			for entries < maxCMapEntries {
				src, ok := l.next().(pdfString)
				if !ok || len(src) == 0 {
					break
				}
				entries++
				code, n := codeOf([]byte(src))
				cm.chars[charKey(code, n)] = dstString(l.next())
			}
		case "beginbfrange":
			for entries < maxCMapEntries {
				lo, ok1 := l.next().(pdfString)
				hi, ok2 := l.next().(pdfString)
				if !ok1 || !ok2 || len(lo) == 0 {
					break
				}
				entries++
				dst := l.next()
				a, n := codeOf([]byte(lo))
				b, _ := codeOf([]byte(hi))
				if b < a || b-a > maxCMapRange {
					continue
				}
				r := bfRange{n: n, lo: a, hi: b}
				switch x := dst.(type) {
				case pdfString:
					r.dst = []rune(decodeUTF16(x))
				case array:
					r.hasArr = true
					for _, e := range x {
						r.arr = append(r.arr, dstString(e))
					}
				default:
					continue
				}
				cm.ranges = append(cm.ranges, r)
			}
		}
	}
	sort.Slice(cm.ranges, func(i, j int) bool { return cm.ranges[i].lo < cm.ranges[j].lo })
	return cm
}

func dstString(v any) string {
	switch x := v.(type) {
	case pdfString:
		return decodeUTF16(x)
	case name:
		return glyphToUnicode(string(x))
	}
	return ""
}

// decodeUTF16 decodes a ToUnicode destination: UTF-16BE (§9.10.3). A single
// byte (some writers) is taken as Latin-1.
func decodeUTF16(s pdfString) string {
	if len(s) == 1 {
		return string(rune(s[0]))
	}
	u := make([]uint16, 0, len(s)/2)
	for i := 0; i+1 < len(s); i += 2 {
		u = append(u, uint16(s[i])<<8|uint16(s[i+1]))
	}
	return string(utf16.Decode(u))
}

// lookup maps a code of n bytes to Unicode.
func (cm *cmap) lookup(code uint32, n int) (string, bool) {
	if cm == nil {
		return "", false
	}
	if s, ok := cm.chars[charKey(code, n)]; ok {
		return s, true
	}
	// The last range starting at or below code.
	i := sort.Search(len(cm.ranges), func(i int) bool { return cm.ranges[i].lo > code }) - 1
	// Ranges rarely overlap; look back a little for those that do.
	for k := i; k >= 0 && k > i-64; k-- {
		r := &cm.ranges[k]
		if code < r.lo || code > r.hi || (r.n != n && n != 0) {
			continue
		}
		off := code - r.lo
		if r.hasArr {
			if int(off) < len(r.arr) {
				return r.arr[off], true
			}
			return "", false
		}
		if len(r.dst) == 0 {
			return "", false
		}
		out := append([]rune(nil), r.dst...)
		out[len(out)-1] += rune(off)
		if !utf8.ValidRune(out[len(out)-1]) {
			return "", false
		}
		return string(out), true
	}
	return "", false
}

// split returns the length of the code at the start of b according to the
// code space, or 0 when the code space does not say.
func (cm *cmap) split(b []byte) int {
	if cm == nil || len(cm.space) == 0 {
		return 0
	}
	for n := 1; n <= 4 && n <= len(b); n++ {
		for _, r := range cm.space {
			if r.n != n {
				continue
			}
			ok := true
			for i := 0; i < n; i++ {
				if b[i] < r.lo[i] || b[i] > r.hi[i] {
					ok = false
					break
				}
			}
			if ok {
				return n
			}
		}
	}
	// Not in any range (§9.7.6.3): consume as many bytes as the shortest
	// range takes.
	short := 4
	for _, r := range cm.space {
		short = min(short, r.n)
	}
	return min(short, len(b))
}

// glyphToUnicode maps a glyph name to text: the Adobe Glyph List names that
// matter for text search, uniXXXX and uXXXX[XX] (AGL specification).
func glyphToUnicode(g string) string {
	if i := strings.IndexByte(g, '.'); i > 0 {
		g = g[:i] // "one.oldstyle"
	}
	if s, ok := glyphNames[g]; ok {
		return s
	}
	if len(g) == 1 && g[0] < 0x80 {
		return g
	}
	if strings.HasPrefix(g, "uni") && len(g) >= 7 && (len(g)-3)%4 == 0 {
		var u []uint16
		for i := 3; i+4 <= len(g); i += 4 {
			v, err := strconv.ParseUint(g[i:i+4], 16, 16)
			if err != nil {
				return ""
			}
			u = append(u, uint16(v))
		}
		return string(utf16.Decode(u))
	}
	if strings.HasPrefix(g, "u") && len(g) >= 5 && len(g) <= 7 {
		if v, err := strconv.ParseUint(g[1:], 16, 32); err == nil && utf8.ValidRune(rune(v)) {
			return string(rune(v))
		}
	}
	return ""
}
