package inspect

import (
	"bufio"
	"bytes"
	"dlpguard/mimemsg"
	"errors"
	"io"
	"path"
)

// Some mailers and scripts still paste files into the text as uuencode
// ("begin 644 name" … "end"). Read as text they are noise that hides what
// they carry, so each block is decoded and inspected as an attachment.

// uuBegin parses a "begin MODE NAME" line.
func uuBegin(line []byte) (string, bool) {
	rest, ok := bytes.CutPrefix(line, []byte("begin "))
	if !ok {
		return "", false
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '7' {
		i++
	}
	if i < 3 || i > 4 || i >= len(rest) || rest[i] != ' ' {
		return "", false
	}
	name := mimemsg.CleanName(mimemsg.DecodeUnknown(bytes.TrimSpace(rest[i+1:])))
	return name, name != ""
}

// uuencoded finds the uuencoded blocks of a text part and inspects each.
func (w *walker) uuencoded(p *Part, sp *spill, depth int) {
	if !containsAt(sp, sp.size, []byte("begin "), false) {
		return
	}
	if depth+1 > w.lim.MaxDepth {
		w.problem("uuencoded data nested deeper than %d (MaxDepth)", w.lim.MaxDepth)
		return
	}
	br := bufio.NewReaderSize(sp.reader(), 16<<10)
	var line []byte
	for {
		var err error
		line, err = mimemsg.ReadLine(br, line[:0], 64<<10)
		if name, ok := uuBegin(mimemsg.TrimEOL(line)); ok {
			if !w.countPart() {
				return
			}
			full := name
			if p.Name != "" {
				full = p.Name + "/" + name
			}
			w.attachmentCTE(full, path.Base(name), "", nil, &uuReader{br: br}, nil, depth+1, scope{})
		}
		if err != nil {
			return
		}
	}
}

// uuReader decodes uuencoded lines up to "end".
type uuReader struct {
	br      *bufio.Reader
	line    []byte
	pending []byte
	out     []byte
	done    bool
}

func (u *uuReader) Read(p []byte) (int, error) {
	for len(u.pending) == 0 {
		if u.done {
			return 0, io.EOF
		}
		var err error
		u.line, err = mimemsg.ReadLine(u.br, u.line[:0], 64<<10)
		l := mimemsg.TrimEOL(u.line)
		if bytes.Equal(bytes.TrimSpace(l), []byte("end")) || (err != nil && len(l) == 0) {
			u.done = true
			if err != nil && !errors.Is(err, io.EOF) {
				return 0, err
			}
			continue
		}
		u.pending = u.decode(l)
		if err != nil {
			u.done = true
		}
	}
	n := copy(p, u.pending)
	u.pending = u.pending[n:]
	return n, nil
}

// decode one line: a length character, then groups of four characters
// for three bytes each (a space or '`' is zero).
func (u *uuReader) decode(l []byte) []byte {
	if len(l) == 0 {
		return nil
	}
	n := int((l[0] - ' ') & 63)
	u.out = u.out[:0]
	for i := 1; i < len(l) && len(u.out) < n; i += 4 {
		var c [4]byte
		for j := 0; j < 4; j++ {
			if i+j < len(l) {
				c[j] = (l[i+j] - ' ') & 63
			}
		}
		u.out = append(u.out, c[0]<<2|c[1]>>4, c[1]<<4|c[2]>>2, c[2]<<6|c[3])
	}
	if len(u.out) > n {
		u.out = u.out[:n]
	}
	return u.out
}

// containsAt reports whether the first size bytes of a buffered part
// contain needle (ASCII, case-folded when fold; then needle must be lower
// case), looking in overlapping windows. It runs on every text part, so
// the window is no larger than the part and is folded in place.
func containsAt(r io.ReaderAt, size int64, needle []byte, fold bool) bool {
	const win = 64 << 10
	n0 := int64(win)
	if size < n0 {
		n0 = size
	}
	if n0 <= 0 {
		return false
	}
	buf := make([]byte, n0+int64(len(needle)))
	for off := int64(0); off < size; off += win {
		n, _ := r.ReadAt(buf, off)
		if n <= 0 {
			return false
		}
		hay := buf[:n]
		if fold {
			for i, c := range hay {
				if 'A' <= c && c <= 'Z' {
					hay[i] = c + ('a' - 'A')
				}
			}
		}
		if bytes.Contains(hay, needle) {
			return true
		}
		if n < len(buf) {
			return false
		}
	}
	return false
}

// uuBody decodes a body sent with Content-Transfer-Encoding x-uuencode:
// lines up to "begin …" are skipped, then the block is decoded.
func uuBody(r io.Reader) io.Reader {
	br := bufio.NewReaderSize(r, 16<<10)
	var line []byte
	for {
		var err error
		line, err = mimemsg.ReadLine(br, line[:0], 64<<10)
		if bytes.HasPrefix(line, []byte("begin ")) {
			return &uuReader{br: br}
		}
		if err != nil {
			return errReaderOnly{errors.New("x-uuencode body without a begin line")}
		}
	}
}

// errReaderOnly is a reader that fails: the part is then not inspected.
type errReaderOnly struct{ err error }

func (e errReaderOnly) Read([]byte) (int, error) { return 0, e.err }
