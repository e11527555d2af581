package inspect

import (
	"bytes"
	"dlpguard/mimemsg"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// chunkSize is the size of the text chunks handed to the sink: big enough
// that detectors run over long stretches, small enough that no message is
// held whole.
const chunkSize = 64 << 10

// emitter cuts one continuous text into chunks on rune boundaries and hands
// them to the sink, within the message's MaxTextBytes.
type emitter struct {
	w         *walker
	loc       string
	kind      Kind
	table     bool
	buf       []byte
	started   bool
	truncated bool // MaxTextBytes reached
}

func (w *walker) newEmitter(loc string, kind Kind, table bool) *emitter {
	e := &emitter{w: w, loc: loc, kind: kind, table: table}
	if cap(w.chunkBuf) > 0 {
		e.buf = w.chunkBuf[:0]
		w.chunkBuf = nil
	}
	return e
}

func (e *emitter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		room := chunkSize - len(e.buf)
		if room <= 0 {
			e.flush(false)
			continue
		}
		if room > len(p) {
			room = len(p)
		}
		e.buf = append(e.buf, p[:room]...)
		p = p[room:]
	}
	return n, nil
}

func (e *emitter) WriteString(s string) (int, error) {
	n := len(s)
	for len(s) > 0 {
		room := chunkSize - len(e.buf)
		if room <= 0 {
			e.flush(false)
			continue
		}
		if room > len(s) {
			room = len(s)
		}
		e.buf = append(e.buf, s[:room]...)
		s = s[room:]
	}
	return n, nil
}

// flush hands the buffered text to the sink; unless final, an incomplete
// rune at the end is kept for the next chunk.
func (e *emitter) flush(final bool) {
	cut := len(e.buf)
	if !final {
		// Back up to a rune start (at most 3 bytes).
		for i := len(e.buf) - 1; i >= 0 && i >= len(e.buf)-utf8.UTFMax; i-- {
			if utf8.RuneStart(e.buf[i]) {
				if !utf8.FullRune(e.buf[i:]) {
					cut = i
				}
				break
			}
		}
	}
	if cut > 0 {
		e.send(e.buf[:cut])
	}
	rest := copy(e.buf, e.buf[cut:])
	e.buf = e.buf[:rest]
}

func (e *emitter) send(b []byte) {
	w := e.w
	if e.truncated || w.textFull {
		e.truncated = true
		return
	}
	if max := w.lim.MaxTextBytes; max > 0 && w.res.TextBytes+int64(len(b)) > max {
		room := int(max - w.res.TextBytes)
		if room < 0 {
			room = 0
		}
		for room > 0 && !utf8.RuneStart(b[room]) {
			room--
		}
		b = b[:room]
		e.truncated = true
		w.textFull = true
		w.problem("text limit reached (MaxTextBytes %d): the rest of the message was not scanned", max)
		if len(b) == 0 {
			return
		}
	}
	text := string(b)
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	if !e.started {
		e.started = true
		// Consecutive texts in the same location would read as one text to
		// the detectors: keep them apart.
		if w.lastLoc == e.loc {
			text = "\n\n" + text
		}
	}
	w.lastLoc = e.loc
	w.res.TextBytes += int64(len(text))
	w.sink.Chunk(Chunk{Location: e.loc, Kind: e.kind, Table: e.table, Text: text})
}

// close flushes the rest and gives the buffer back for reuse.
func (e *emitter) close() {
	e.flush(true)
	if cap(e.buf) >= chunkSize {
		e.w.chunkBuf = e.buf[:0]
	}
	e.buf = nil
}

// emitString sends one short text (a subject, a file name).
func (w *walker) emitString(loc string, kind Kind, s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	e := w.newEmitter(loc, kind, false)
	e.WriteString(s)
	e.close()
}

// --- HTML ---

// blockAtoms end a line when they open or close.
var blockAtoms = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Br: true, atom.Li: true, atom.Ul: true, atom.Ol: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Tr: true, atom.Table: true, atom.Blockquote: true, atom.Pre: true, atom.Hr: true,
	atom.Dl: true, atom.Dt: true, atom.Dd: true, atom.Section: true, atom.Article: true,
	atom.Header: true, atom.Footer: true, atom.Address: true, atom.Caption: true,
	atom.Thead: true, atom.Tbody: true, atom.Tfoot: true, atom.Title: true, atom.Option: true,
	atom.Form: true, atom.Fieldset: true, atom.Legend: true, atom.Figcaption: true, atom.Center: true,
}

// htmlToText streams the text of an HTML document to out: everything a
// recipient could read, including text hidden by CSS (it leaves with the
// message) and alt/title attributes; <style> content and comments are left
// out. Table rows end with '\n' and cells with '\t'.
func htmlToText(r io.Reader, out io.StringWriter) error {
	return htmlToTextData(r, out, nil)
}

// htmlToTextData is htmlToText that also hands each data: URI of a src or
// href attribute (a file carried inside the HTML) to onData.
func htmlToTextData(r io.Reader, out io.StringWriter, onData func(uri string)) error {
	z := html.NewTokenizer(r)
	// One token (a tagless run of text) is held whole by the tokenizer:
	// bound it, so memory follows the limits. A longer token ends the
	// part as not inspected.
	z.SetMaxBuf(16 << 20)
	skip := 0 // inside <style>
	pre := 0
	lastSpace := true
	write := func(s string) {
		if s == "" {
			return
		}
		out.WriteString(s)
		c := s[len(s)-1]
		lastSpace = c == ' ' || c == '\n' || c == '\t'
	}
	newline := func() {
		out.WriteString("\n")
		lastSpace = true
	}
	// Text no client shows but that leaves with the message (comments,
	// CSS generated content) is kept apart and written after the
	// document, so that a comment between digits does not split them.
	var hidden []string
	hiddenBytes := 0
	hide := func(s string) {
		if s = strings.TrimSpace(s); s != "" && hiddenBytes+len(s) <= maxHiddenHTML {
			hidden = append(hidden, s)
			hiddenBytes += len(s)
		}
	}
	flushHidden := func() {
		for _, h := range hidden {
			out.WriteString("\n\n")
			out.WriteString(h)
		}
		if len(hidden) > 0 {
			out.WriteString("\n")
		}
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			flushHidden()
			if z.Err() == io.EOF {
				return nil
			}
			return z.Err()
		case html.CommentToken:
			hide(collapseSpace(z.Text(), true))
		case html.TextToken:
			if skip > 0 {
				for _, c := range cssContent(z.Text()) {
					hide(c)
				}
				continue
			}
			t := z.Text()
			if pre > 0 {
				write(string(t))
				continue
			}
			s := collapseSpace(t, lastSpace)
			write(s)
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			if tt == html.EndTagToken {
				switch a {
				case atom.Style:
					if skip > 0 {
						skip--
					}
				case atom.Pre:
					if pre > 0 {
						pre--
					}
				case atom.Td, atom.Th:
					write("\t")
					continue
				}
				if blockAtoms[a] {
					newline()
				}
				continue
			}
			switch a {
			case atom.Style:
				if tt == html.StartTagToken {
					skip++
				}
			case atom.Pre:
				if tt == html.StartTagToken {
					pre++
				}
			}
			if blockAtoms[a] {
				newline()
			}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				switch string(k) {
				case "src", "href", "data":
					if onData != nil && len(v) > 5 && strings.EqualFold(string(v[:5]), "data:") {
						onData(string(v))
					}
					continue
				case "alt", "title", "placeholder", "summary", "aria-label", "label", "abbr", "content":
				case "value":
					if a != atom.Input && a != atom.Option && a != atom.Button {
						continue
					}
				default:
					// data-* attributes are not shown, but they are sent
					if !bytes.HasPrefix(k, []byte("data-")) {
						continue
					}
				}
				if s := strings.TrimSpace(string(v)); s != "" {
					if !lastSpace {
						write(" ")
					}
					write(s)
					write(" ")
				}
			}
		}
	}
}

// collapseSpace folds runs of HTML white space to one space, as a browser
// shows them.
func collapseSpace(t []byte, lastSpace bool) string {
	if len(t) == 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(len(t))
	space := lastSpace
	for _, c := range t {
		switch c {
		case ' ', '\t', '\n', '\r', '\f':
			if !space {
				b.WriteByte(' ')
				space = true
			}
		default:
			b.WriteByte(c)
			space = false
		}
	}
	return b.String()
}

// hasTable reports whether an HTML text contains a table.
func hasTable(r io.ReaderAt, size int64) bool {
	return size > 0 && containsAt(r, size, []byte("<table"), true)
}

// maxHiddenHTML bounds the comment and CSS text kept for one document.
const maxHiddenHTML = 1 << 20

// cssContent returns the strings of the CSS content properties in css
// (p::before{content:"…"}): generated text a browser shows.
func cssContent(css []byte) []string {
	var out []string
	for {
		i := bytes.Index(css, []byte("content"))
		if i < 0 {
			return out
		}
		css = css[i+len("content"):]
		j := 0
		for j < len(css) && (css[j] == ' ' || css[j] == '\t' || css[j] == '\n' || css[j] == '\r') {
			j++
		}
		if j >= len(css) || css[j] != ':' {
			continue
		}
		j++
		// the value: strings (and anything else) up to ';' or '}'
		var b strings.Builder
		for j < len(css) && css[j] != ';' && css[j] != '}' {
			if q := css[j]; q == '"' || q == '\'' {
				s, n := cssString(css[j+1:], q)
				b.WriteString(s)
				j += 1 + n
				continue
			}
			j++
		}
		if b.Len() > 0 {
			out = append(out, b.String())
		}
		css = css[j:]
	}
}

// cssString decodes a CSS string body up to the closing quote q (CSS
// Syntax §4.3.5: "\\31 " is a hex escape, "\\x" is x); it returns the text
// and the bytes used, closing quote included.
func cssString(b []byte, q byte) (string, int) {
	var s strings.Builder
	i := 0
	for i < len(b) {
		c := b[i]
		switch {
		case c == q:
			return s.String(), i + 1
		case c == '\\' && i+1 < len(b):
			j := i + 1
			for j < len(b) && j-i <= 6 && mimemsg.IsHex(b[j]) {
				j++
			}
			if j == i+1 {
				if b[j] != '\n' {
					s.WriteByte(b[j])
				}
				i = j + 1
				continue
			}
			if v, err := strconv.ParseUint(string(b[i+1:j]), 16, 32); err == nil && v > 0 && v <= 0x10FFFF {
				s.WriteRune(rune(v))
			}
			if j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n') {
				j++
			}
			i = j
		default:
			s.WriteByte(c)
			i++
		}
	}
	return s.String(), i
}
