package mimemsg

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"unicode/utf8"

	gmcharset "github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Canonical names reported in Part.Charset.
const (
	CharsetASCII       = "us-ascii"
	CharsetUTF8        = "utf-8"
	CharsetUTF16LE     = "utf-16le"
	CharsetUTF16BE     = "utf-16be"
	CharsetCP932       = "cp932"
	CharsetEUCJP       = "euc-jp"
	CharsetISO2022JP   = "iso-2022-jp"
	CharsetLatin1      = "iso-8859-1"
	CharsetWindows1252 = "windows-1252"
	CharsetUTF7        = "utf-7"
)

// japaneseAliases maps the labels Japanese mailers write (many of which
// ianaindex does not know) to the decoder we use. x/text's ShiftJIS decoder
// is the WHATWG "shift_jis", i.e. Windows-31J/CP932 with the NEC row 13
// (①, Ⅰ, ㈱) and the IBM extensions; its EUC-JP and ISO-2022-JP decoders use
// the same JIS X 0208 index, so CP51932 and CP50220/ISO-2022-JP-MS text
// decodes too (checked by TestJapaneseExtensions).
var japaneseAliases = map[string]struct {
	name string
	enc  encoding.Encoding
}{
	"shift_jis":           {CharsetCP932, japanese.ShiftJIS},
	"shift-jis":           {CharsetCP932, japanese.ShiftJIS},
	"shiftjis":            {CharsetCP932, japanese.ShiftJIS},
	"sjis":                {CharsetCP932, japanese.ShiftJIS},
	"x-sjis":              {CharsetCP932, japanese.ShiftJIS},
	"s-jis":               {CharsetCP932, japanese.ShiftJIS},
	"cssjis":              {CharsetCP932, japanese.ShiftJIS},
	"csshiftjis":          {CharsetCP932, japanese.ShiftJIS},
	"ms_kanji":            {CharsetCP932, japanese.ShiftJIS},
	"cp932":               {CharsetCP932, japanese.ShiftJIS},
	"ms932":               {CharsetCP932, japanese.ShiftJIS},
	"windows-31j":         {CharsetCP932, japanese.ShiftJIS},
	"cswindows31j":        {CharsetCP932, japanese.ShiftJIS},
	"x-ms-cp932":          {CharsetCP932, japanese.ShiftJIS},
	"ibm-943":             {CharsetCP932, japanese.ShiftJIS},
	"euc-jp":              {CharsetEUCJP, japanese.EUCJP},
	"eucjp":               {CharsetEUCJP, japanese.EUCJP},
	"x-euc-jp":            {CharsetEUCJP, japanese.EUCJP},
	"x-eucjp":             {CharsetEUCJP, japanese.EUCJP},
	"euc_jp":              {CharsetEUCJP, japanese.EUCJP},
	"cp51932":             {CharsetEUCJP, japanese.EUCJP},
	"eucjp-ms":            {CharsetEUCJP, japanese.EUCJP},
	"eucjp-win":           {CharsetEUCJP, japanese.EUCJP},
	"cseucpkdfmtjapanese": {CharsetEUCJP, japanese.EUCJP},
	"iso-2022-jp":         {CharsetISO2022JP, japanese.ISO2022JP},
	"iso2022jp":           {CharsetISO2022JP, japanese.ISO2022JP},
	"csiso2022jp":         {CharsetISO2022JP, japanese.ISO2022JP},
	"iso-2022-jp-1":       {CharsetISO2022JP, japanese.ISO2022JP},
	"iso-2022-jp-2":       {CharsetISO2022JP, japanese.ISO2022JP},
	"iso-2022-jp-3":       {CharsetISO2022JP, japanese.ISO2022JP},
	"iso-2022-jp-ms":      {CharsetISO2022JP, japanese.ISO2022JP},
	"cp50220":             {CharsetISO2022JP, japanese.ISO2022JP},
	"cp50221":             {CharsetISO2022JP, japanese.ISO2022JP},
	"cp50222":             {CharsetISO2022JP, japanese.ISO2022JP},
	"utf-8":               {CharsetUTF8, unicode.UTF8BOM},
	"utf8":                {CharsetUTF8, unicode.UTF8BOM},
	"x-utf-8":             {CharsetUTF8, unicode.UTF8BOM},
	"us-ascii":            {CharsetASCII, unicode.UTF8BOM},
	"ascii":               {CharsetASCII, unicode.UTF8BOM},
	"ansi_x3.4-1968":      {CharsetASCII, unicode.UTF8BOM},
	"utf-16":              {"utf-16", unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM)},
	"utf-16le":            {CharsetUTF16LE, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)},
	"utf-16be":            {CharsetUTF16BE, unicode.UTF16(unicode.BigEndian, unicode.UseBOM)},
}

func init() {
	// go-message's own charset reader (used by anyone in the program who
	// reads mail through go-message) learns the labels ianaindex lacks.
	// Registered once at start-up; the map is not written afterwards.
	for label, a := range japaneseAliases {
		gmcharset.RegisterEncoding(label, a.enc)
	}
}

// LookupCharset returns the decoder for a MIME charset label and its
// canonical name, or ok=false when the label is unknown.
func LookupCharset(label string) (enc encoding.Encoding, name string, ok bool) {
	l := strings.ToLower(strings.TrimSpace(strings.Trim(label, `"'`)))
	if l == "" {
		return nil, "", false
	}
	if a, found := japaneseAliases[l]; found {
		return a.enc, a.name, true
	}
	switch l {
	case "utf-7", "utf7", "unicode-1-1-utf-7", "csunicode11utf7":
		return utf7{}, CharsetUTF7, true
	}
	if e, err := ianaindex.MIME.Encoding(l); err == nil && e != nil {
		n, _ := ianaindex.MIME.Name(e)
		return e, strings.ToLower(n), true
	}
	if e, err := htmlindex.Get(l); err == nil && e != nil {
		n, _ := htmlindex.Name(e)
		return e, n, true
	}
	return nil, "", false
}

// EncodingFor returns the decoder for a canonical name from sniffCharset.
func EncodingFor(name string) encoding.Encoding {
	switch name {
	case CharsetASCII, CharsetUTF8:
		return unicode.UTF8BOM
	case CharsetUTF16LE:
		return unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)
	case CharsetUTF16BE:
		return unicode.UTF16(unicode.BigEndian, unicode.UseBOM)
	case CharsetCP932:
		return japanese.ShiftJIS
	case CharsetEUCJP:
		return japanese.EUCJP
	case CharsetISO2022JP:
		return japanese.ISO2022JP
	case CharsetWindows1252:
		return charmap.Windows1252
	}
	if e, _, ok := LookupCharset(name); ok {
		return e
	}
	return unicode.UTF8BOM
}

// Sniffer guesses the charset of unlabelled (or mislabelled) text. It is fed
// the whole text in pieces, so a file that is UTF-8 for its first megabyte and
// Shift_JIS later is still noticed. The order of preference follows the
// brief: BOM, ISO-2022-JP escapes, UTF-8 validity, strict CP932, EUC-JP, then
// best effort.
type Sniffer struct {
	n       int64
	first   [3]byte
	nfirst  int
	high    int64 // bytes >= 0x80
	esc     bool  // an ISO-2022-JP designation (ESC $ B, ESC $ @, ESC ( J, ESC ( I, ESC $ ( D …)
	escPend []byte

	utf8Bad   int64
	utf8Carry []byte

	sjisBad    int64
	sjisLead   byte
	sjisHalf   int64 // single-byte half-width katakana in the CP932 reading
	sjisDouble int64

	eucBad  int64
	eucNeed int // trail bytes still expected
	eucDbl  int64
}

func (s *Sniffer) Write(p []byte) (int, error) {
	for i := 0; i < len(p) && s.nfirst < 3; i++ {
		s.first[s.nfirst] = p[i]
		s.nfirst++
	}
	s.n += int64(len(p))
	// Most mail is plain ASCII: with no multi-byte state pending, a piece
	// without high bytes or ESC changes nothing else.
	if len(s.utf8Carry) == 0 && s.sjisLead == 0 && s.eucNeed == 0 && len(s.escPend) == 0 && PlainASCII(p) {
		return len(p), nil
	}

	// UTF-8: validate across piece boundaries by carrying an unfinished
	// rune into the next piece (exactly as if the text came whole).
	q := p
	if len(s.utf8Carry) > 0 {
		q = append(append([]byte(nil), s.utf8Carry...), p...)
		s.utf8Carry = s.utf8Carry[:0]
	}
	for len(q) > 0 {
		// Fast path over ASCII.
		i := 0
		for i < len(q) && q[i] < 0x80 {
			i++
		}
		q = q[i:]
		if len(q) == 0 {
			break
		}
		r, size := utf8.DecodeRune(q)
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(q) {
				s.utf8Carry = append(s.utf8Carry[:0], q...)
				break
			}
			s.utf8Bad++
			size = 1
		}
		q = q[size:]
	}

	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < 0x80 && c != 0x1b && s.sjisLead == 0 && s.eucNeed == 0 && len(s.escPend) == 0 {
			// ASCII outside any multi-byte sequence: nothing to track.
			continue
		}
		if c >= 0x80 {
			s.high++
		}
		// ISO-2022-JP designations.
		if c == 0x1b || len(s.escPend) > 0 {
			s.escPend = append(s.escPend, c)
			if len(s.escPend) >= 3 {
				e := s.escPend
				switch {
				case e[1] == '$' && (e[2] == 'B' || e[2] == '@'),
					e[1] == '(' && (e[2] == 'J' || e[2] == 'I' || e[2] == 'B'),
					e[1] == '$' && e[2] == '(':
					s.esc = true
				}
				s.escPend = s.escPend[:0]
			}
		}
		// Strict CP932: lead 81–9F, E0–EF (FA–FC IBM extensions); user-defined
		// F0–F9 and the undefined 85–86, EB–EF, F0–F9 are treated as bad so
		// that EUC-JP text is not mistaken for CP932.
		if s.sjisLead != 0 {
			if (c >= 0x40 && c <= 0x7e) || (c >= 0x80 && c <= 0xfc) {
				s.sjisDouble++
			} else {
				s.sjisBad++
			}
			s.sjisLead = 0
		} else {
			switch {
			case c < 0x80:
			case c >= 0xa1 && c <= 0xdf:
				s.sjisHalf++
			case (c >= 0x81 && c <= 0x84) || (c >= 0x87 && c <= 0x9f) || (c >= 0xe0 && c <= 0xea) || (c >= 0xed && c <= 0xee) || (c >= 0xfa && c <= 0xfc):
				s.sjisLead = c
			default:
				s.sjisBad++
			}
		}
		// EUC-JP: A1–FE pairs, 8E + A1–DF (half-width kana), 8F + two (JIS X 0212).
		if s.eucNeed > 0 {
			if c >= 0xa1 && c <= 0xfe {
				s.eucNeed--
				if s.eucNeed == 0 {
					s.eucDbl++
				}
			} else {
				s.eucBad++
				s.eucNeed = 0
			}
		} else {
			switch {
			case c < 0x80:
			case c == 0x8e:
				s.eucNeed = 1
			case c == 0x8f:
				s.eucNeed = 2
			case c >= 0xa1 && c <= 0xfe:
				s.eucNeed = 1
			default:
				s.eucBad++
			}
		}
	}
	return len(p), nil
}

// Result returns the canonical charset name and whether the guess is sure
// (the text is valid in it).
func (s *Sniffer) Result() (name string, sure bool) {
	if s.nfirst >= 3 && s.first[0] == 0xef && s.first[1] == 0xbb && s.first[2] == 0xbf {
		return CharsetUTF8, true
	}
	if s.nfirst >= 2 && s.first[0] == 0xff && s.first[1] == 0xfe {
		return CharsetUTF16LE, true
	}
	if s.nfirst >= 2 && s.first[0] == 0xfe && s.first[1] == 0xff {
		return CharsetUTF16BE, true
	}
	utf8Bad := s.utf8Bad
	if len(s.utf8Carry) > 0 {
		utf8Bad++
	}
	sjisBad := s.sjisBad
	if s.sjisLead != 0 {
		sjisBad++
	}
	eucBad := s.eucBad
	if s.eucNeed > 0 {
		eucBad++
	}
	if s.high == 0 {
		if s.esc {
			return CharsetISO2022JP, true
		}
		return CharsetASCII, true
	}
	if utf8Bad == 0 {
		return CharsetUTF8, true
	}
	if s.esc && s.sjisHalf == s.high {
		return CharsetISO2022JP, false
	}
	sjisOK, eucOK := sjisBad == 0, eucBad == 0
	switch {
	case sjisOK && eucOK:
		// EUC-JP read as CP932 is mostly half-width katakana; real CP932
		// text is mostly double-byte characters.
		if s.sjisHalf > s.sjisDouble {
			return CharsetEUCJP, true
		}
		return CharsetCP932, true
	case sjisOK:
		return CharsetCP932, true
	case eucOK:
		return CharsetEUCJP, true
	}
	// Best effort: the reading with the fewest errors.
	best, bad := CharsetUTF8, utf8Bad
	if sjisBad < bad {
		best, bad = CharsetCP932, sjisBad
	}
	if eucBad < bad {
		best = CharsetEUCJP
	}
	return best, false
}

// SniffCharset sniffs a whole text held in memory.
func SniffCharset(b []byte) (name string, sure bool) {
	var s Sniffer
	s.Write(b)
	return s.Result()
}

// VerifyDeclared reports whether text labelled name can really be in that
// charset. Mislabelled mail is common in Japan: "ISO-2022-JP" that is
// Shift_JIS, "us-ascii" or "utf-8" with CP932 bytes.
func VerifyDeclared(name string, s *Sniffer) bool {
	switch name {
	case CharsetUTF7:
		return s.high == 0
	case CharsetASCII:
		// ISO-2022-JP text labelled us-ascii is 7-bit too: its escapes
		// tell it apart.
		return s.high == 0 && !s.esc
	case CharsetISO2022JP:
		// CP50222 puts half-width katakana as raw 8-bit bytes between
		// ISO-2022-JP escapes: still ISO-2022-JP for the rest of the text.
		return s.high == 0 || (s.esc && s.sjisHalf == s.high)
	case CharsetUTF8:
		sn, _ := s.Result()
		return sn == CharsetUTF8 || sn == CharsetASCII
	case CharsetCP932:
		return s.sjisBad == 0 && s.sjisLead == 0
	case CharsetEUCJP:
		return s.eucBad == 0 && s.eucNeed == 0
	}
	// Any other label (ISO-8859-x, windows-125x …): 8-bit text that is
	// valid UTF-8 is UTF-8 mislabelled; Latin text almost never is.
	if s.high > 0 {
		if sn, _ := s.Result(); sn == CharsetUTF8 {
			return false
		}
	}
	return true
}

// DecodeBytes decodes b from the named charset to valid UTF-8.
func DecodeBytes(b []byte, enc encoding.Encoding) string {
	if enc == nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	out, _, err := transform.Bytes(enc.NewDecoder(), b)
	if err != nil {
		// A decoder error mid-way: fall back to what UTF-8 reading gives.
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// DecodeUnknown decodes header bytes with no (usable) label: valid UTF-8 is
// kept, anything else is sniffed (raw Shift_JIS in filenames and subjects is
// what Japanese clients send).
func DecodeUnknown(b []byte) string {
	if utf8.Valid(b) {
		if bytes.IndexByte(b, 0x1b) >= 0 {
			return DecodeBytes(b, japanese.ISO2022JP)
		}
		return string(b)
	}
	name, _ := SniffCharset(b)
	return DecodeBytes(b, EncodingFor(name))
}

// DecodingReader wraps r in the decoder for enc; the output is valid UTF-8
// (x/text decoders write U+FFFD for invalid input).
func DecodingReader(r io.Reader, enc encoding.Encoding) io.Reader {
	return transform.NewReader(r, enc.NewDecoder())
}

// PlainASCII reports whether p has no byte >= 0x80 and no ESC (0x1b),
// eight bytes at a time.
func PlainASCII(p []byte) bool {
	const hi, esc, ones = 0x8080808080808080, 0x1b1b1b1b1b1b1b1b, 0x0101010101010101
	for len(p) >= 8 {
		v := binary.LittleEndian.Uint64(p)
		x := v ^ esc // a zero byte where v had ESC
		if (v|((x-ones)&^x))&hi != 0 {
			return false
		}
		p = p[8:]
	}
	for _, c := range p {
		if c >= 0x80 || c == 0x1b {
			return false
		}
	}
	return true
}

// ValidUTF8NoBOM reports whether everything written was valid UTF-8 with
// no byte-order mark: decoding it as UTF-8 would change nothing.
func (s *Sniffer) ValidUTF8NoBOM() bool {
	bom := s.nfirst == 3 && s.first == [3]byte{0xef, 0xbb, 0xbf}
	return s.utf8Bad == 0 && len(s.utf8Carry) == 0 && !bom
}
