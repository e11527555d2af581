package inspect

import (
	"bufio"
	"bytes"
	"dlpguard/mimemsg"
	"strconv"
	"unicode/utf8"
)

// A file pasted into a text body as base64 (by hand, or by a mailer that
// labels a base64 body 8bit) reads as noise, and the noise hides what it
// carries. Like uuencode, each block of base64 lines is decoded; when the
// result is text or a container inspect reads (ZIP, gzip, PDF, OLE, 7z), it
// is inspected as an attachment. Other binary results (keys, hashes,
// random tokens) are left alone: holding on them would hold mail for
// nothing, and they carry no readable text.

const (
	minPastedChars = 32      // shorter runs are tokens, not files
	maxPastedBytes = 8 << 20 // base64 characters kept for one block
)

// base64Line reports a line of the base64 alphabet only, padding at the
// end, at least 16 characters, not all hex digits (hashes and ids).
func base64Line(l []byte) bool {
	l = bytes.TrimRight(l, " \t")
	if len(l) < 16 {
		return false
	}
	pad, hex := 0, true
	for i, c := range l {
		switch {
		case c == '=':
			pad++
			if i < len(l)-2 {
				return false
			}
		case pad > 0:
			return false
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '+', c == '/':
			hex = false
		default:
			return false
		}
	}
	return !hex
}

// pastedBase64 finds the base64 blocks of a text part and inspects those
// that decode to something readable.
func (w *walker) pastedBase64(p *Part, sp *spill, depth int) {
	if depth+1 > w.lim.MaxDepth {
		return
	}
	br := bufio.NewReaderSize(sp.reader(), 16<<10)
	var (
		line  []byte
		block []byte
		armor bool // inside -----BEGIN … ----- (PGP, certificates): not a file
		n     int
	)
	flush := func() {
		b := block
		block = block[:0]
		if len(bytes.TrimSpace(b)) < minPastedChars || w.stopped {
			return
		}
		data, _ := mimemsg.DecodeBase64(b)
		if !readableBlob(data) {
			return
		}
		if !w.countPart() {
			return
		}
		n++
		name := "pasted-base64-" + strconv.Itoa(n)
		if p.Name != "" {
			name = p.Name + "/" + name
		}
		w.attachment(name, "", bytes.NewReader(data), depth+1, scope{})
	}
	for {
		var err error
		line, err = mimemsg.ReadLine(br, line[:0], 64<<10)
		l := bytes.TrimSpace(mimemsg.TrimEOL(line))
		switch {
		case bytes.HasPrefix(l, []byte("-----BEGIN ")):
			flush()
			armor = true
		case bytes.HasPrefix(l, []byte("-----END ")):
			armor = false
			block = block[:0]
		case armor:
		case base64Line(l):
			if len(block)+len(l) <= maxPastedBytes {
				block = append(block, l...)
			}
		default:
			flush()
		}
		if err != nil {
			flush()
			return
		}
	}
}

// readableBlob reports decoded bytes that are text (UTF-8 without
// controls) or start like a container inspect reads.
func readableBlob(b []byte) bool {
	for _, magic := range [][]byte{{'P', 'K', 3, 4}, {0x1f, 0x8b}, []byte("%PDF-"),
		{0xD0, 0xCF, 0x11, 0xE0}, {'7', 'z', 0xBC, 0xAF}, []byte("Rar!")} {
		if bytes.HasPrefix(b, magic) {
			return true
		}
	}
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}
