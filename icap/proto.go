package icap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strconv"
	"strings"
)

// protoError is a malformed request: it is answered with status and the
// connection is closed (the stream cannot be resynchronised).
type protoError struct {
	status int
	msg    string
}

func (e *protoError) Error() string { return fmt.Sprintf("icap %d: %s", e.status, e.msg) }

func badRequest(format string, args ...any) error {
	return &protoError{status: 400, msg: fmt.Sprintf(format, args...)}
}

// request is one ICAP request line and header (RFC 3507 4.3).
type request struct {
	method  string
	uri     string
	path    string // service path of the URI, e.g. "/reqmod"
	header  textproto.MIMEHeader
	encap   []encapEntity
	preview int // -1: no Preview header
}

// encapEntity is one entry of the Encapsulated header (RFC 3507 4.4.1).
type encapEntity struct {
	name   string
	offset int
}

const maxLine = 8 << 10

// readLine reads one CRLF (or LF) terminated line of at most maxLine bytes;
// *budget is decremented by the bytes read (header size limit).
func readLine(br *bufio.Reader, budget *int64) (string, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		*budget -= int64(len(frag))
		if *budget < 0 {
			return "", &protoError{status: 400, msg: "header too large"}
		}
		if len(line) > maxLine {
			return "", badRequest("line too long")
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		break
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return string(line), nil
}

// readRequest reads the request line and ICAP header. io.EOF before the
// first byte means the client closed a persistent connection.
func readRequest(br *bufio.Reader, maxHeader int64) (*request, error) {
	budget := maxHeader
	var line string
	var err error
	for {
		line, err = readLine(br, &budget)
		if err != nil {
			return nil, err
		}
		// RFC 9112 2.2 (applied by ICAP implementations alike): ignore
		// empty lines before the request line.
		if line != "" {
			break
		}
	}
	f := strings.Split(line, " ")
	if len(f) != 3 {
		return nil, badRequest("malformed request line")
	}
	r := &request{method: f[0], uri: f[1], preview: -1, header: textproto.MIMEHeader{}}
	if f[2] != "ICAP/1.0" {
		return nil, &protoError{status: 505, msg: "ICAP version not supported"}
	}
	if !strings.HasPrefix(strings.ToLower(r.uri), "icap://") {
		return nil, badRequest("request URI is not an icap:// URI")
	}
	rest := r.uri[len("icap://"):]
	if i := strings.IndexAny(rest, "/"); i >= 0 {
		r.path = rest[i:]
	} else {
		r.path = "/"
	}
	if i := strings.IndexAny(r.path, "?#"); i >= 0 {
		r.path = r.path[:i]
	}
	n := 0
	for {
		l, err := readLine(br, &budget)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if l == "" {
			break
		}
		if n++; n > 200 {
			return nil, badRequest("too many header fields")
		}
		i := strings.IndexByte(l, ':')
		if i <= 0 || strings.ContainsAny(l[:i], " \t") {
			return nil, badRequest("malformed header field")
		}
		r.header.Add(textproto.CanonicalMIMEHeaderKey(l[:i]), strings.TrimSpace(l[i+1:]))
	}
	if v := r.header.Get("Preview"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 1<<20 {
			return nil, badRequest("bad Preview")
		}
		r.preview = p
	}
	if vs := r.header.Values("Encapsulated"); len(vs) > 0 {
		if len(vs) > 1 {
			return nil, badRequest("more than one Encapsulated header")
		}
		enc, err := parseEncapsulated(vs[0])
		if err != nil {
			return nil, err
		}
		r.encap = enc
	}
	return r, nil
}

// parseEncapsulated parses "req-hdr=0, req-body=412" (RFC 3507 4.4.1):
// offsets start at 0, increase, and the last entity is a body.
func parseEncapsulated(v string) ([]encapEntity, error) {
	var out []encapEntity
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		name, off, ok := strings.Cut(item, "=")
		if !ok {
			return nil, badRequest("malformed Encapsulated %q", v)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		switch name {
		case "req-hdr", "res-hdr", "req-body", "res-body", "null-body", "opt-body":
		default:
			return nil, badRequest("unknown Encapsulated entity %q", name)
		}
		o, err := strconv.Atoi(strings.TrimSpace(off))
		if err != nil || o < 0 {
			return nil, badRequest("bad Encapsulated offset in %q", v)
		}
		if len(out) == 0 && o != 0 {
			return nil, badRequest("Encapsulated must start at offset 0")
		}
		if len(out) > 0 && o < out[len(out)-1].offset {
			return nil, badRequest("Encapsulated offsets must increase")
		}
		for _, e := range out {
			if e.name == name {
				return nil, badRequest("duplicate Encapsulated entity %q", name)
			}
			if isBody(e.name) {
				return nil, badRequest("Encapsulated body must be last")
			}
		}
		out = append(out, encapEntity{name: name, offset: o})
	}
	if len(out) == 0 || !isBody(out[len(out)-1].name) {
		return nil, badRequest("Encapsulated must end with a body entity")
	}
	return out, nil
}

func isBody(name string) bool {
	return name == "req-body" || name == "res-body" || name == "null-body" || name == "opt-body"
}

// chunkReader reads an ICAP chunked body (RFC 3507 4.5, RFC 9112 7.1):
// hex size, optional extensions (";ieof" marks the end of the whole body in
// a preview), CRLF, data, CRLF; a zero chunk ends it.
type chunkReader struct {
	br     *bufio.Reader
	left   int64 // bytes left in the current chunk
	done   bool
	ieof   bool
	budget int64 // header budget for chunk lines and trailers
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	if c.left == 0 {
		if err := c.next(); err != nil {
			return 0, err
		}
		if c.done {
			return 0, io.EOF
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && c.left == 0 {
		err = c.crlf()
	}
	return n, err
}

func (c *chunkReader) crlf() error {
	b, err := c.br.ReadByte()
	if err == nil && b == '\r' {
		b, err = c.br.ReadByte()
	}
	if err != nil {
		return noEOF(err)
	}
	if b != '\n' {
		return badRequest("chunk data not followed by CRLF")
	}
	return nil
}

func (c *chunkReader) next() error {
	// Each chunk-size line is bounded on its own (a long body has many);
	// the trailer shares the header budget.
	lineBudget := int64(maxLine)
	line, err := readLine(c.br, &lineBudget)
	if err != nil {
		return noEOF(err)
	}
	sz, ext, _ := strings.Cut(line, ";")
	sz = strings.TrimRight(sz, " \t")
	if sz == "" || len(sz) > 15 {
		return badRequest("bad chunk size %q", line)
	}
	n, err := strconv.ParseInt(sz, 16, 64)
	if err != nil || n < 0 {
		return badRequest("bad chunk size %q", line)
	}
	for _, e := range strings.Split(ext, ";") {
		if strings.EqualFold(strings.TrimSpace(e), "ieof") {
			c.ieof = true
		}
	}
	if c.ieof && n != 0 {
		return badRequest("ieof on a non-zero chunk")
	}
	if n == 0 {
		// Trailer fields up to the empty line.
		for {
			l, err := readLine(c.br, &c.budget)
			if err != nil {
				return noEOF(err)
			}
			if l == "" {
				break
			}
		}
		c.done = true
		return nil
	}
	c.left = n
	return nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
