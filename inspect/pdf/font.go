package pdf

import (
	"strings"
	"unicode/utf16"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

// codeKind says how a composite font's codes become text without a
// ToUnicode CMap: through a predefined CMap whose codes are Unicode or a
// Japanese legacy encoding (§9.7.5.2).
type codeKind int

const (
	codesCID    codeKind = iota // codes are CIDs: only ToUnicode gives text
	codesUTF16                  // Uni*-UCS2-*, Uni*-UTF16-*
	codesSJIS                   // *RKSJ*
	codesEUC                    // EUC-*
	codesSimple                 // a simple font: one byte per code
)

// font is what text extraction needs of a font: how to cut a string into
// codes, each code's text and its advance width.
type font struct {
	composite bool
	kind      codeKind
	toUni     *cmap
	encCMap   *cmap // an embedded encoding CMap of a Type0 font: its code space
	simple    [256]string
	widths    [256]float64 // simple fonts, in text space units
	hasWidth  [256]bool
	cidW      map[uint32]float64
	cidRanges []cidWidth
	dw        float64 // default width, text space units
	vertical  bool
	japan1    bool // CIDs are Adobe-Japan1
}

type cidWidth struct {
	lo, hi uint32
	w      float64
}

// glyph is one decoded code.
type glyph struct {
	text  string
	width float64 // horizontal advance (or vertical, for vertical fonts) in text space units
	space bool    // single-byte code 32: word spacing applies (§9.3.3)
	known bool    // text came from a mapping, not a guess
}

// maxCIDWidths bounds the /W array we read.
const maxCIDWidths = 1 << 16

func (d *document) loadFont(fd dict) *font {
	f := &font{dw: 1}
	subtype, _ := d.get(fd, "Subtype").(name)
	if s, ok := d.get(fd, "ToUnicode").(*stream); ok {
		if data, err := d.decodeStream(s); err == nil {
			f.toUni = parseCMap(data)
		} else {
			d.notes.info("font ToUnicode unreadable: %v", err)
		}
	}
	if subtype == "Type0" {
		f.composite = true
		f.loadComposite(d, fd)
		return f
	}
	f.kind = codesSimple
	f.loadSimple(d, fd, subtype)
	return f
}

func (f *font) loadComposite(d *document, fd dict) {
	f.kind = codesCID
	switch enc := d.get(fd, "Encoding").(type) {
	case name:
		e := string(enc)
		switch {
		case strings.Contains(e, "UCS2") || strings.Contains(e, "UTF16"):
			f.kind = codesUTF16
		case strings.Contains(e, "RKSJ"):
			f.kind = codesSJIS
		case strings.HasPrefix(e, "EUC") || strings.Contains(e, "-EUC"):
			f.kind = codesEUC
		}
		f.vertical = strings.HasSuffix(e, "-V")
	case *stream:
		if data, err := d.decodeStream(enc); err == nil {
			f.encCMap = parseCMap(data)
		}
		if wm, ok := d.get(enc.dict, "WMode").(int64); ok && wm == 1 {
			f.vertical = true
		}
	}
	desc := d.getArray(fd, "DescendantFonts")
	if len(desc) == 0 {
		return
	}
	cf, _ := d.resolve(desc[0]).(dict)
	if si := d.getDict(cf, "CIDSystemInfo"); si != nil {
		ord, _ := d.get(si, "Ordering").(pdfString)
		f.japan1 = string(ord) == "Japan1"
	}
	if w, ok := num(d.get(cf, "DW")); ok && w > 0 {
		f.dw = w / 1000
	}
	if f.vertical {
		// Vertical advance from /DW2 (default [880 -1000], §9.7.4.3).
		f.dw = 1
		if dw2 := d.getArray(cf, "DW2"); len(dw2) == 2 {
			if w, ok := num(d.resolve(dw2[1])); ok && w != 0 {
				f.dw = -w / 1000
			}
		}
		return
	}
	w := d.getArray(cf, "W")
	f.cidW = map[uint32]float64{}
	count := 0
	for i := 0; i < len(w) && count < maxCIDWidths; {
		first, ok := num(d.resolve(w[i]))
		if !ok || i+1 >= len(w) || first < 0 {
			break
		}
		switch x := d.resolve(w[i+1]).(type) {
		case array:
			for j, e := range x {
				if v, ok := num(d.resolve(e)); ok {
					f.cidW[uint32(first)+uint32(j)] = v / 1000
				}
				count++
			}
			i += 2
		default:
			last, ok1 := num(x)
			if i+2 >= len(w) {
				i = len(w)
				break
			}
			v, ok2 := num(d.resolve(w[i+2]))
			if ok1 && ok2 && last >= first {
				f.cidRanges = append(f.cidRanges, cidWidth{uint32(first), uint32(last), v / 1000})
			}
			count++
			i += 3
		}
	}
}

func (f *font) loadSimple(d *document, fd dict, subtype name) {
	// Base encoding: TrueType fonts without one use WinAnsi in practice;
	// Type1 fonts use their built-in encoding, Standard for text fonts.
	base := "StandardEncoding"
	if subtype == "TrueType" {
		base = "WinAnsiEncoding"
	}
	var diffs array
	switch enc := d.get(fd, "Encoding").(type) {
	case name:
		base = string(enc)
	case dict:
		if b, ok := d.get(enc, "BaseEncoding").(name); ok {
			base = string(b)
		}
		diffs = d.getArray(enc, "Differences")
	}
	for c := 0; c < 256; c++ {
		f.simple[c] = baseEncoding(base, byte(c))
	}
	code := -1
	for _, x := range diffs {
		switch v := d.resolve(x).(type) {
		case int64:
			code = int(v)
		case name:
			if code >= 0 && code < 256 {
				f.simple[code] = glyphToUnicode(string(v))
			}
			code++
		}
	}
	scale := 0.001
	if subtype == "Type3" {
		// Type 3 widths are in glyph space, mapped by /FontMatrix
		// (§9.6.5).
		if m := d.getArray(fd, "FontMatrix"); len(m) >= 1 {
			if v, ok := num(d.resolve(m[0])); ok && v != 0 {
				scale = v
			}
		}
	}
	missing := 0.0
	if desc := d.getDict(fd, "FontDescriptor"); desc != nil {
		if v, ok := num(d.get(desc, "MissingWidth")); ok {
			missing = v * scale
		}
	}
	f.dw = missing
	if f.dw == 0 {
		f.dw = 0.5 // a typical Latin advance when the font says nothing
	}
	fc, _ := num(d.get(fd, "FirstChar"))
	for i, x := range d.getArray(fd, "Widths") {
		c := int(fc) + i
		if c < 0 || c > 255 {
			break
		}
		if v, ok := num(d.resolve(x)); ok {
			f.widths[c] = v * scale
			f.hasWidth[c] = true
		}
	}
}

func baseEncoding(base string, c byte) string {
	switch base {
	case "WinAnsiEncoding":
		if c < 0x20 {
			return ""
		}
		return string(charmap.Windows1252.DecodeByte(c))
	case "MacRomanEncoding":
		if c < 0x20 {
			return ""
		}
		return string(charmap.Macintosh.DecodeByte(c))
	}
	// StandardEncoding and anything unknown.
	if s, ok := standardHigh[c]; ok {
		return s
	}
	if c >= 0x20 && c < 0x7f {
		return string(rune(c))
	}
	return ""
}

// decode cuts s into codes and calls fn for each glyph.
func (f *font) decode(s []byte, fn func(g glyph)) {
	for len(s) > 0 {
		n := 1
		if f.composite {
			n = f.codeLen(s)
		}
		code, _ := codeOf(s[:n])
		g := glyph{space: n == 1 && code == 32}
		if t, ok := f.toUni.lookup(code, n); ok {
			g.text, g.known = t, true
		} else {
			g.text, g.known = f.fallbackText(s[:n], code)
		}
		g.width = f.width(code)
		fn(g)
		s = s[n:]
	}
}

func (f *font) codeLen(s []byte) int {
	var n int
	switch f.kind {
	case codesSJIS:
		// Shift_JIS lead bytes take two bytes (§9.7.5.2, 90ms-RKSJ).
		if c := s[0]; (c >= 0x81 && c <= 0x9f) || (c >= 0xe0 && c <= 0xfc) {
			n = 2
		} else {
			n = 1
		}
	case codesEUC:
		if s[0] >= 0x80 {
			n = 2
		} else {
			n = 1
		}
	default:
		n = f.encCMap.split(s)
		if n == 0 {
			n = f.toUni.split(s)
		}
		if n == 0 || f.kind == codesUTF16 {
			n = 2
		}
	}
	return max(1, min(n, len(s)))
}

func (f *font) fallbackText(b []byte, code uint32) (string, bool) {
	switch f.kind {
	case codesSimple:
		t := f.simple[code&0xff]
		return t, t != ""
	case codesCID:
		if f.japan1 && f.encCMap == nil {
			if r := japan1Rune(code); r != 0 {
				return string(r), true
			}
		}
	case codesUTF16:
		if len(b) == 2 {
			return string(utf16.Decode([]uint16{uint16(code)})), true
		}
	case codesSJIS:
		if t, err := japanese.ShiftJIS.NewDecoder().Bytes(b); err == nil {
			return string(t), true
		}
	case codesEUC:
		if t, err := japanese.EUCJP.NewDecoder().Bytes(b); err == nil {
			return string(t), true
		}
	}
	return "", false
}

func (f *font) width(code uint32) float64 {
	if !f.composite {
		if code < 256 && f.hasWidth[code] {
			return f.widths[code]
		}
		return f.dw
	}
	if f.vertical {
		return f.dw
	}
	if w, ok := f.cidW[code]; ok {
		return w
	}
	for _, r := range f.cidRanges {
		if code >= r.lo && code <= r.hi {
			return r.w
		}
	}
	return f.dw
}

// japan1Rune maps the Adobe-Japan1 CIDs of Latin letters and digits to
// Unicode (Adobe TN #5078), for Identity-encoded fonts without a ToUnicode
// map: enough to read numbers and identifiers; 0 for anything else.
func japan1Rune(cid uint32) rune {
	switch {
	case cid >= 1 && cid <= 95: // proportional ASCII
		return rune(0x20 + cid - 1)
	case cid >= 231 && cid <= 290: // half-width ASCII up to '['
		return rune(0x20 + cid - 231)
	case cid == 291:
		return '¥'
	case cid >= 292 && cid <= 325: // half-width ']' to '~'
		return rune(0x5d + cid - 292)
	case cid >= 780 && cid <= 789: // full-width digits
		return rune(0xff10 + cid - 780)
	case cid >= 790 && cid <= 815: // full-width capitals
		return rune(0xff21 + cid - 790)
	case cid >= 816 && cid <= 841: // full-width small letters
		return rune(0xff41 + cid - 816)
	}
	return 0
}
