package inspect

import (
	"bufio"
	"dlpguard/mimemsg"
	"errors"
	"io"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

// RTF (Word, WordPad, Outlook) keeps Japanese text as \'hh escapes in the
// document's code page or as \uN: read raw, a marking such as 秘 or a
// keyword such as 個人番号 would not be seen. rtfToText reads the text a
// reader sees; formatting, font and colour tables, pictures and embedded
// objects are skipped.

// rtfSkipDest are destinations with no readable text.
var rtfSkipDest = map[string]bool{
	"fonttbl": true, "colortbl": true, "stylesheet": true, "info": true, "pict": true,
	"object": true, "objdata": true, "themedata": true, "colorschememapping": true,
	"latentstyles": true, "datastore": true, "xmlnstbl": true, "listtable": true,
	"listoverridetable": true, "rsidtbl": true, "generator": true, "fldinst": true,
	"filetbl": true, "revtbl": true, "pgdsctbl": true, "mmathPr": true, "wgrffmtfilter": true,
	"bkmkstart": true, "bkmkend": true, "background": true, "shppict": true, "nonshppict": true,
}

// rtfCharsetCP maps \fcharset values to decoders (the ones seen in
// Japanese documents, and Latin).
func rtfCharset(n int) encoding.Encoding {
	switch n {
	case 128: // SHIFTJIS_CHARSET
		return japanese.ShiftJIS
	case 0, 1:
		return charmap.Windows1252
	}
	return nil
}

func rtfCodepage(n int) encoding.Encoding {
	switch n {
	case 932, 943:
		return japanese.ShiftJIS
	case 20932, 51932:
		return japanese.EUCJP
	case 50220, 50221, 50222:
		return japanese.ISO2022JP
	case 1252:
		return charmap.Windows1252
	}
	return nil
}

type rtfState struct {
	skip bool // inside a destination that is not text
	uc   int  // fallback characters after \uN
	font int
}

type rtfReader struct {
	br       *bufio.Reader
	out      io.StringWriter
	stack    []rtfState
	st       rtfState
	docEnc   encoding.Encoding
	fonts    map[int]encoding.Encoding
	inFonts  int // depth of the font table (its entries are parsed)
	curFont  int
	pending  []byte // \'hh bytes waiting to be decoded together
	skipNext int    // fallback characters still to drop
}

func rtfToText(r io.Reader, out io.StringWriter) error {
	x := &rtfReader{
		br:     bufio.NewReaderSize(r, 32<<10),
		out:    out,
		st:     rtfState{uc: 1},
		docEnc: charmap.Windows1252,
		fonts:  map[int]encoding.Encoding{},
	}
	return x.run()
}

func (x *rtfReader) enc() encoding.Encoding {
	if e := x.fonts[x.st.font]; e != nil {
		return e
	}
	return x.docEnc
}

func (x *rtfReader) flushBytes() {
	if len(x.pending) == 0 {
		return
	}
	x.out.WriteString(mimemsg.DecodeBytes(x.pending, x.enc()))
	x.pending = x.pending[:0]
}

func (x *rtfReader) text(s string) {
	if x.st.skip || s == "" {
		return
	}
	x.flushBytes()
	x.out.WriteString(s)
}

func (x *rtfReader) run() error {
	for {
		c, err := x.br.ReadByte()
		if err != nil {
			x.flushBytes()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch c {
		case '{':
			x.flushBytes()
			if len(x.stack) > 1000 {
				return errors.New("rtf: groups nested too deep")
			}
			x.stack = append(x.stack, x.st)
		case '}':
			x.flushBytes()
			if n := len(x.stack); n > 0 {
				x.st = x.stack[n-1]
				x.stack = x.stack[:n-1]
			}
			if x.inFonts > len(x.stack) {
				x.inFonts = 0
			}
		case '\\':
			if err := x.control(); err != nil {
				x.flushBytes()
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		case '\r', '\n':
		default:
			if x.skipNext > 0 {
				x.skipNext--
				continue
			}
			x.text(string(c))
		}
	}
}

// control reads a control word or symbol after the backslash.
func (x *rtfReader) control() error {
	c, err := x.br.ReadByte()
	if err != nil {
		return err
	}
	if !isLetter(c) {
		switch c {
		case '\'':
			h1, err1 := x.br.ReadByte()
			h2, err2 := x.br.ReadByte()
			if err1 != nil || err2 != nil {
				return io.EOF
			}
			if x.skipNext > 0 {
				x.skipNext--
				return nil
			}
			if !x.st.skip && mimemsg.IsHex(h1) && mimemsg.IsHex(h2) {
				x.pending = append(x.pending, mimemsg.Unhex(h1)<<4|mimemsg.Unhex(h2))
			}
		case '*':
			// An ignorable destination: its text is not content.
			x.st.skip = true
		case '~':
			x.text("\u00a0")
		case '_':
			x.text("-")
		case '\\', '{', '}':
			x.text(string(c))
		case '\r', '\n':
			x.text("\n")
		case '\t':
			x.text("\t")
		}
		return nil
	}
	var word strings.Builder
	word.WriteByte(c)
	for {
		c, err = x.br.ReadByte()
		if err != nil {
			return err
		}
		if !isLetter(c) || word.Len() > 32 {
			break
		}
		word.WriteByte(c)
	}
	num, hasNum, neg := 0, false, false
	if c == '-' {
		neg = true
		if c, err = x.br.ReadByte(); err != nil {
			return err
		}
	}
	for c >= '0' && c <= '9' {
		hasNum = true
		if num < 1<<24 {
			num = num*10 + int(c-'0')
		}
		if c, err = x.br.ReadByte(); err != nil {
			return err
		}
	}
	if neg {
		num = -num
	}
	if c != ' ' {
		x.br.UnreadByte()
	}
	return x.word(word.String(), num, hasNum)
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func (x *rtfReader) word(w string, n int, hasNum bool) error {
	if rtfSkipDest[w] {
		x.flushBytes()
		x.st.skip = true
		if w == "fonttbl" {
			x.inFonts = len(x.stack)
		}
		return nil
	}
	switch w {
	case "bin":
		// Binary data: skip n bytes.
		if hasNum && n > 0 {
			_, err := io.CopyN(io.Discard, x.br, int64(n))
			return err
		}
	case "ansicpg":
		if e := rtfCodepage(n); e != nil {
			x.docEnc = e
		}
	case "f":
		x.flushBytes()
		x.st.font = n
		x.curFont = n
	case "fcharset":
		if x.inFonts > 0 {
			if e := rtfCharset(n); e != nil {
				x.fonts[x.curFont] = e
			}
		}
	case "uc":
		x.st.uc = n
	case "u":
		if n < 0 {
			n += 65536
		}
		x.text(string(rune(n)))
		x.skipNext = x.st.uc
	case "par", "line", "row", "sect", "page":
		x.text("\n")
	case "tab", "cell":
		x.text("\t")
	case "emdash":
		x.text("—")
	case "endash":
		x.text("–")
	case "lquote":
		x.text("‘")
	case "rquote":
		x.text("’")
	case "ldblquote":
		x.text("“")
	case "rdblquote":
		x.text("”")
	case "bullet":
		x.text("•")
	}
	return nil
}
