package inspect

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// flowedReader undoes format=flowed (RFC 3676): a line ending in a space is
// joined to the next one, and with DelSp=yes that space goes too. Japanese
// clients break lines mid-word with DelSp=yes ("個人番 \r\n号"); read as
// written, the word would be split.
type flowedReader struct {
	br          *bufio.Reader
	delsp       bool
	out         []byte
	atLineStart bool
	softDepth   int // quote depth of a line that ended soft, -1 if none
	err         error
}

func newFlowed(r io.Reader, delsp bool) io.Reader {
	return &flowedReader{br: bufio.NewReaderSize(r, 16<<10), delsp: delsp, atLineStart: true, softDepth: -1}
}

func (f *flowedReader) Read(p []byte) (int, error) {
	for len(f.out) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		f.fill()
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

func (f *flowedReader) fill() {
	line, err := f.br.ReadSlice('\n')
	f.out = f.out[:0]
	if errors.Is(err, bufio.ErrBufferFull) {
		// Not a whole line: passed on as it is.
		f.out = append(f.out, line...)
		f.atLineStart = false
		return
	}
	if err != nil {
		f.err = err
	}
	start := f.atLineStart
	f.atLineStart = err == nil
	content := bytes.TrimRight(line, "\r\n")
	eol := line[len(content):]
	depth := 0
	for depth < len(content) && content[depth] == '>' {
		depth++
	}
	if start && f.softDepth >= 0 && depth != f.softDepth {
		// A change of quote depth ends the paragraph (RFC 3676 §4.5).
		f.out = append(f.out, '\n')
	}
	joined := start && f.softDepth >= 0 && depth == f.softDepth
	f.softDepth = -1
	switch {
	case joined && depth > 0:
		// A quoted paragraph continues: its quote marks are not text.
		content = bytes.TrimPrefix(content[depth:], []byte(" "))
	case start && depth == 0 && len(content) > 0 && content[0] == ' ':
		content = content[1:] // space-stuffing (RFC 3676 §4.4)
	}
	if len(eol) > 0 && len(content) > 0 && content[len(content)-1] == ' ' && !bytes.Equal(content, []byte("-- ")) {
		// A soft line break (RFC 3676 §4.2): the next line continues this one.
		if f.delsp {
			content = content[:len(content)-1]
		}
		f.out = append(f.out, content...)
		f.softDepth = depth
		return
	}
	f.out = append(f.out, content...)
	f.out = append(f.out, eol...)
}
