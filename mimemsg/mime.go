package mimemsg

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"

	"golang.org/x/text/transform"
)

// --- Content-Transfer-Encoding (RFC 2045 §6), decoded leniently ---

var b64val = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	// URL-safe letters some broken encoders use.
	t['-'] = 62
	t['_'] = 63
	return t
}()

// b64std marks the standard alphabet (no padding, no URL-safe letters).
var b64std = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = true
	}
	return t
}()

// Base64Decoder decodes base64 best-effort (RFC 2045 §6.8: characters outside
// the alphabet are ignored); it counts what it had to skip so that the part
// can report it. Padding in the middle (concatenated encodings) restarts
// decoding rather than ending it.
type Base64Decoder struct {
	acc     uint32
	n       int
	Invalid int64
	Partial bool // a quantum was left incomplete
}

func (d *Base64Decoder) Reset() { *d = Base64Decoder{} }

func (d *Base64Decoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		if d.n == 0 {
			// Fast path: a run of whole quanta in the standard alphabet
			// (a line of a well-formed body) goes to the stdlib decoder.
			k := nSrc
			for k < len(src) && b64std[src[k]] {
				k++
			}
			k = nSrc + (k-nSrc)/4*4
			if room := (len(dst) - nDst) / 3 * 4; k-nSrc > room {
				k = nSrc + room
			}
			if k-nSrc >= 16 {
				n, derr := base64.StdEncoding.Decode(dst[nDst:], src[nSrc:k])
				if derr == nil {
					nDst += n
					nSrc = k
					continue
				}
			}
		}
		c := src[nSrc]
		v := b64val[c]
		if v == 0xff {
			switch c {
			case '=':
				if len(dst)-nDst < 2 {
					return nDst, nSrc, transform.ErrShortDst
				}
				nDst += d.flush(dst[nDst:])
			case ' ', '\t', '\r', '\n':
			default:
				d.Invalid++
			}
			nSrc++
			continue
		}
		if d.n == 3 && len(dst)-nDst < 3 {
			return nDst, nSrc, transform.ErrShortDst
		}
		d.acc = d.acc<<6 | uint32(v)
		d.n++
		nSrc++
		if d.n == 4 {
			dst[nDst] = byte(d.acc >> 16)
			dst[nDst+1] = byte(d.acc >> 8)
			dst[nDst+2] = byte(d.acc)
			nDst += 3
			d.acc, d.n = 0, 0
		}
	}
	if atEOF && d.n > 0 {
		if len(dst)-nDst < 2 {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += d.flush(dst[nDst:])
	}
	return nDst, nSrc, nil
}

// flush writes the bytes of an incomplete quantum (padding, or the end of
// the input) to dst, which has room for two, and returns their number.
func (d *Base64Decoder) flush(dst []byte) int {
	n := 0
	switch d.n {
	case 1:
		d.Partial = true
	case 2:
		dst[0] = byte(d.acc >> 4)
		n = 1
	case 3:
		dst[0] = byte(d.acc >> 10)
		dst[1] = byte(d.acc >> 2)
		n = 2
	}
	d.acc, d.n = 0, 0
	return n
}

// DecodeBase64 decodes b leniently and returns how many characters it
// skipped.
func DecodeBase64(b []byte) ([]byte, int64) {
	var d Base64Decoder
	out, _, _ := transform.Bytes(&d, b)
	return out, d.Invalid
}

// QPDecoder decodes quoted-printable best-effort (RFC 2045 §6.7): a "=" not
// followed by two hex digits or a line end is kept as it is and counted.
type QPDecoder struct {
	Invalid int64
}

func (d *QPDecoder) Reset() { *d = QPDecoder{} }

func (d *QPDecoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		if nDst >= len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		c := src[nSrc]
		if c != '=' {
			dst[nDst] = c
			nDst++
			nSrc++
			continue
		}
		rest := src[nSrc+1:]
		// Soft line break: "=" then optional white space then a line end.
		j := 0
		for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t') {
			j++
		}
		k := j
		for k < len(rest) && rest[k] == '\r' {
			k++
		}
		if k < len(rest) && rest[k] == '\n' {
			nSrc += 1 + k + 1
			continue
		}
		if k == len(rest) && !atEOF && len(rest) < 64 {
			return nDst, nSrc, transform.ErrShortSrc
		}
		if len(rest) >= 2 && IsHex(rest[0]) && IsHex(rest[1]) {
			dst[nDst] = Unhex(rest[0])<<4 | Unhex(rest[1])
			nDst++
			nSrc += 3
			continue
		}
		if len(rest) < 2 && !atEOF {
			return nDst, nSrc, transform.ErrShortSrc
		}
		if k == len(rest) && atEOF {
			// "=" at the very end: a soft break with no line after it.
			nSrc += 1 + len(rest)
			continue
		}
		d.Invalid++
		dst[nDst] = c
		nDst++
		nSrc++
	}
	return nDst, nSrc, nil
}

// --- multipart (RFC 2046 §5.1), split leniently ---

// MultipartReader splits a multipart body into parts. It differs from
// mime/multipart (and go-message's copy of it) where real mail differs from
// the RFC: a part without a header, a header without a blank line, a missing
// final boundary and \r\r\n line ends do not lose the text of the part; and
// the preamble is handed back so that a body whose boundary never appears is
// still read.
type MultipartReader struct {
	br    *bufio.Reader
	dash  []byte // "--" + boundary
	cur   *PartReader
	done  bool // input ended or final delimiter seen
	final bool // the final delimiter was seen
	parts int
	// epilogue holds the start (up to maxEpilogue bytes) of the text after
	// the final delimiter: not content for a client (RFC 2046 §5.1.1), but
	// it leaves with the message, so it is scanned.
	epilogue []byte
	epiOver  bool
}

const maxEpilogue = 1 << 20

// NewMultipartReader splits r, the body of a multipart entity, at boundary.
func NewMultipartReader(r io.Reader, boundary string) *MultipartReader {
	mr := &MultipartReader{br: bufio.NewReaderSize(r, 32<<10), dash: []byte("--" + boundary)}
	mr.cur = &PartReader{mr: mr, atLineStart: true}
	return mr
}

// Parts is the number of parts NextPart returned.
func (mr *MultipartReader) Parts() int { return mr.parts }

// Final reports whether the final delimiter was seen (false: the body
// ended without it, the message may be truncated).
func (mr *MultipartReader) Final() bool { return mr.final }

// Epilogue returns the start of the text after the final delimiter (at
// most 1 MiB) and whether there was more; valid once NextPart returned
// io.EOF.
func (mr *MultipartReader) Epilogue() ([]byte, bool) { return mr.epilogue, mr.epiOver }

// Preamble returns the reader of the text before the first delimiter; it
// must be consumed (or is drained) before the first NextPart.
func (mr *MultipartReader) Preamble() io.Reader { return mr.cur }

// NextPart returns the raw content of the next part (header and body) or
// io.EOF.
func (mr *MultipartReader) NextPart() (*PartReader, error) {
	if mr.cur != nil {
		if _, err := io.Copy(io.Discard, mr.cur); err != nil {
			return nil, err
		}
		mr.cur = nil
	}
	if mr.done {
		return nil, io.EOF
	}
	mr.parts++
	mr.cur = &PartReader{mr: mr, atLineStart: true}
	return mr.cur, nil
}

// delimiter classifies a line: 0 no, 1 delimiter, 2 final delimiter.
func (mr *MultipartReader) delimiter(line []byte) int {
	if !bytes.HasPrefix(line, mr.dash) {
		return 0
	}
	rest := line[len(mr.dash):]
	final := false
	if bytes.HasPrefix(rest, []byte("--")) {
		final = true
		rest = rest[2:]
	}
	for _, c := range rest {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return 0
		}
	}
	if final {
		return 2
	}
	return 1
}

func (mr *MultipartReader) readEpilogue() {
	buf := make([]byte, 4096)
	for {
		n, err := mr.br.Read(buf)
		if room := maxEpilogue - len(mr.epilogue); room > 0 {
			mr.epilogue = append(mr.epilogue, buf[:min(n, room)]...)
			if n > room {
				mr.epiOver = true
			}
		} else if n > 0 {
			mr.epiOver = true
		}
		if err != nil {
			return
		}
	}
}

// PartReader reads one part up to the next delimiter line. The line end before
// a delimiter belongs to the delimiter (RFC 2046 §5.1.1), so each line end
// is held back until the next line is known.
type PartReader struct {
	mr          *MultipartReader
	held        []byte // line end held back
	pending     []byte
	buf         []byte
	atLineStart bool
	eof         bool
	err         error
}

func (p *PartReader) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		if len(p.pending) > 0 {
			c := copy(b[n:], p.pending)
			p.pending = p.pending[c:]
			n += c
			continue
		}
		if p.eof {
			if n > 0 {
				return n, nil
			}
			if p.err != nil {
				return 0, p.err
			}
			return 0, io.EOF
		}
		p.fill()
	}
	return n, nil
}

func (p *PartReader) fill() {
	mr := p.mr
	line, err := mr.br.ReadSlice('\n')
	if p.atLineStart && len(line) > 0 {
		if d := mr.delimiter(line); d > 0 {
			if d == 2 {
				mr.final = true
				mr.done = true
				// The epilogue is not content (RFC 2046 §5.1.1), but
				// it leaves with the message: keep its start.
				mr.readEpilogue()
			}
			p.eof = true
			p.held = nil
			return
		}
	}
	p.buf = append(p.buf[:0], p.held...)
	p.held = p.held[:0]
	switch {
	case err == nil:
		content := line
		end := len(content) - 1 // '\n'
		for end > 0 && content[end-1] == '\r' {
			end--
		}
		p.buf = append(p.buf, content[:end]...)
		p.held = append(p.held, content[end:]...)
		p.atLineStart = true
	case errors.Is(err, bufio.ErrBufferFull):
		p.buf = append(p.buf, line...)
		p.atLineStart = false
	default:
		p.buf = append(p.buf, line...)
		p.eof = true
		mr.done = true
		if !errors.Is(err, io.EOF) {
			p.err = err
		}
	}
	p.pending = p.buf
}

// ContentType returns the media type and parameters of an entity, with the
// default of RFC 2045 §5.2 (or message/rfc822 inside multipart/digest,
// RFC 2046 §5.1.5); bad is true when a field was there but unreadable.
func ContentType(h Header, parentDigest bool) (mt string, params map[string]string, bad bool) {
	return ContentTypeOf(h.Get("Content-Type"), parentDigest)
}

// ContentTypeOf is ContentType for the value of a Content-Type field.
func ContentTypeOf(v string, parentDigest bool) (string, map[string]string, bool) {
	mt, params := ParseParams(v)
	if mt == "" || !strings.Contains(mt, "/") {
		if parentDigest {
			return "message/rfc822", params, v != ""
		}
		return "text/plain", params, v != ""
	}
	return mt, params, false
}

// TransferEncoding is the Content-Transfer-Encoding of an entity, lower
// case, without comments or parameters ("" when there is none).
func TransferEncoding(h Header) string {
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	if i := strings.IndexAny(cte, " \t;("); i >= 0 {
		cte = cte[:i]
	}
	return cte
}

// DecodeTransfer undoes a Content-Transfer-Encoding as inspection does:
// base64 and quoted-printable leniently (RFC 2045 §6.7, §6.8); any other
// encoding is returned as it is.
func DecodeTransfer(cte string, r io.Reader) io.Reader {
	switch cte {
	case "base64":
		return transform.NewReader(r, &Base64Decoder{})
	case "quoted-printable":
		return transform.NewReader(r, &QPDecoder{})
	}
	return r
}
