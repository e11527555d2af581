package icap

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// reqmod answers one REQMOD (RFC 3507 4.8). It returns the ICAP status sent
// and whether the connection may be reused.
func (s *Server) reqmod(ctx context.Context, br *bufio.Reader, bw *bufio.Writer, req *request) (int, bool) {
	fail := func(code int, msg string) (int, bool) {
		s.log.Info("icap: malformed REQMOD", "status", code, "error", msg)
		writeStatus(bw, code, statusText(code), s.istag(), true)
		return code, false
	}
	enc := req.encap
	// 4.4.1: a REQMOD carries req-hdr and then req-body or null-body.
	if len(enc) != 2 || enc[0].name != "req-hdr" || (enc[1].name != "req-body" && enc[1].name != "null-body") {
		return fail(400, "Encapsulated must be req-hdr then req-body or null-body")
	}
	hdrLen := enc[1].offset
	if hdrLen <= 0 {
		return fail(400, "empty encapsulated HTTP header")
	}
	if int64(hdrLen) > s.cfg.MaxHeaderBytes {
		return fail(400, "encapsulated HTTP header too large")
	}
	raw := make([]byte, hdrLen)
	if _, err := io.ReadFull(br, raw); err != nil {
		return 0, false
	}
	if !bytes.HasSuffix(raw, []byte("\r\n\r\n")) && !bytes.HasSuffix(raw, []byte("\n\n")) {
		return fail(400, "req-body offset does not end the HTTP header")
	}
	hreq, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return fail(400, "bad encapsulated HTTP request: "+err.Error())
	}
	hasBody := enc[1].name == "req-body"
	allow204 := false
	for _, v := range req.header.Values("Allow") {
		for _, t := range strings.Split(v, ",") {
			if strings.TrimSpace(t) == "204" {
				allow204 = true
			}
		}
	}

	var body *os.File
	var size int64
	over := false
	if hasBody {
		f, err := os.CreateTemp(s.cfg.TempDir, "dlpguard-icap-*")
		if err != nil {
			// Fail closed: the body cannot be spooled, so it cannot be
			// inspected. Reply 500 (the proxy, with bypass=0, refuses).
			s.log.Error("icap: spool upload", "error", err)
			writeStatus(bw, 500, "Server Error", s.istag(), true)
			return 500, false
		}
		os.Remove(f.Name()) // unlinked: nothing is left behind on a crash
		defer f.Close()
		body = f
		cr := &chunkReader{br: br, budget: s.cfg.MaxHeaderBytes}
		n, o, err := spool(f, cr, s.cfg.MaxBodyBytes)
		size, over = n, o
		if err == nil && req.preview >= 0 {
			if cr.ieof {
				// The whole body fitted in the preview: a 204 may answer
				// it even without Allow: 204 (RFC 3507 4.5).
				allow204 = true
			} else {
				bw.WriteString("ICAP/1.0 100 Continue\r\n\r\n")
				if err = bw.Flush(); err != nil {
					return 0, false
				}
				cr = &chunkReader{br: br, budget: s.cfg.MaxHeaderBytes}
				n, o, err = spool(f, cr, s.cfg.MaxBodyBytes-size)
				size += n
				over = over || o
			}
		}
		if err != nil {
			var pe *protoError
			if errors.As(err, &pe) {
				return fail(pe.status, pe.msg)
			}
			if errors.Is(err, errSpool) {
				s.log.Error("icap: spool upload", "error", err)
				writeStatus(bw, 500, "Server Error", s.istag(), true)
				return 500, false
			}
			return 0, false // the client went away
		}
	}

	out := s.decide(ctx, req.header, hreq, body, size, over, hasBody)
	if !out.block {
		if allow204 {
			fmt.Fprintf(bw, "ICAP/1.0 204 No Content\r\nISTag: \"%s\"\r\nDate: %s\r\nEncapsulated: null-body=0\r\n\r\n", s.istag(), time.Now().UTC().Format(timeFormat))
			return 204, true
		}
		// 4.8.2: without Allow: 204 the unmodified request is sent back.
		fmt.Fprintf(bw, "ICAP/1.0 200 OK\r\nISTag: \"%s\"\r\nDate: %s\r\n", s.istag(), time.Now().UTC().Format(timeFormat))
		if !hasBody {
			fmt.Fprintf(bw, "Encapsulated: req-hdr=0, null-body=%d\r\n\r\n", len(raw))
			bw.Write(raw)
			return 200, true
		}
		fmt.Fprintf(bw, "Encapsulated: req-hdr=0, req-body=%d\r\n\r\n", len(raw))
		bw.Write(raw)
		if err := writeChunked(bw, io.NewSectionReader(body, 0, size)); err != nil {
			s.log.Error("icap: echo upload", "error", err)
			return 200, false
		}
		return 200, true
	}
	page := s.renderPage(out)
	hdr := fmt.Sprintf("HTTP/1.1 403 Forbidden\r\nContent-Type: text/html; charset=utf-8\r\nContent-Language: ja, en\r\nContent-Length: %d\r\nCache-Control: no-store\r\nX-Dlpguard-Reference: %s\r\n\r\n", len(page), out.ref)
	fmt.Fprintf(bw, "ICAP/1.0 200 OK\r\nISTag: \"%s\"\r\nDate: %s\r\nEncapsulated: res-hdr=0, res-body=%d\r\n\r\n", s.istag(), time.Now().UTC().Format(timeFormat), len(hdr))
	bw.WriteString(hdr)
	writeChunked(bw, bytes.NewReader(page))
	return 200, true
}

var errSpool = errors.New("spool")

// spool copies the chunked body to f up to limit bytes; beyond the limit it
// keeps reading (to keep the connection in step) but discards, and reports
// over. Errors from f are wrapped in errSpool.
func spool(f *os.File, r io.Reader, limit int64) (n int64, over bool, err error) {
	buf := make([]byte, 32<<10)
	for {
		m, rerr := r.Read(buf)
		if m > 0 {
			if !over && n+int64(m) > limit {
				over = true
			}
			if !over {
				if _, werr := f.Write(buf[:m]); werr != nil {
					return n, over, fmt.Errorf("%w: %v", errSpool, werr)
				}
				n += int64(m)
			}
		}
		if rerr == io.EOF {
			return n, over, nil
		}
		if rerr != nil {
			return n, over, rerr
		}
	}
}

// writeChunked writes r as an ICAP chunked body with the final zero chunk.
func writeChunked(bw *bufio.Writer, r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		m, err := r.Read(buf)
		if m > 0 {
			fmt.Fprintf(bw, "%x\r\n", m)
			bw.Write(buf[:m])
			bw.WriteString("\r\n")
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	_, err := bw.WriteString("0\r\n\r\n")
	return err
}
