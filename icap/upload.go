package icap

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"dlpguard/classify"
	"dlpguard/inspect"
	"dlpguard/policy"
)

// outcome is the decision on one upload.
type outcome struct {
	block   bool
	reason  string // "policy", "size-limit", "uninspectable", "internal-error", "" for a pass
	ref     string // reference ID shown to staff and logged
	url     string
	host    string
	verdict *policy.Verdict // nil when the upload was not evaluated
	problem string          // why it could not be inspected (for the page)
	size    int64
	client  string // X-Client-IP from the proxy
	user    string // X-Authenticated-User from the proxy
}

// clientOf reads who uploads from the headers Squid adds when
// icap_send_client_ip and icap_send_client_username are on.
func clientOf(h textproto.MIMEHeader) (ip, user string) {
	ip = printable(h.Get("X-Client-Ip"), 64)
	u := strings.TrimSpace(h.Get("X-Authenticated-User"))
	if b, err := base64.StdEncoding.DecodeString(u); err == nil && u != "" {
		u = string(b) // Squid encodes it by default (icap_client_username_encode)
	}
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:] // "Local://name", "LDAP://…"
	}
	return ip, printable(u, 256)
}

// printable keeps printable ASCII, at most n bytes (header values go to logs).
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r > 0x20 && r < 0x7f && b.Len() < n {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// newRef makes a reference ID staff can quote to the security office.
func newRef(now time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return "UP-" + now.Format("20060102-150405") + "-" + strings.ToUpper(hex.EncodeToString(b[:]))
}

// destination is the URL and host the upload is sent to.
func destination(r *http.Request) (string, string) {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	u := *r.URL
	if u.Host == "" {
		u.Host = host
	}
	if u.Scheme == "" {
		u.Scheme = "http"
		if r.Method == http.MethodConnect {
			u.Scheme = "https"
		}
	}
	return u.String(), host
}

// decide inspects the upload and applies the policy. It fails closed:
// any problem that leaves content unread blocks the upload.
func (s *Server) decide(ctx context.Context, ih textproto.MIMEHeader, hreq *http.Request, body *os.File, size int64, over, hasBody bool) *outcome {
	now := time.Now()
	u, host := destination(hreq)
	out := &outcome{url: u, host: host, size: size}
	out.client, out.user = clientOf(ih)
	if !hasBody && hreq.URL.RawQuery == "" {
		// A request without a body or query uploads nothing (GET, HEAD …).
		return out
	}
	out.ref = newRef(now)
	log := s.log.With("ref", out.ref, "url", redactURL(u), "size", size, "client", out.client, "user", out.user)
	defer func() {
		if p := recover(); p != nil {
			// Never pass what could not be inspected.
			out.block, out.reason, out.verdict = true, "internal-error", nil
			out.problem = "内部エラー / internal error"
			log.Error("icap: inspection panicked", "panic", fmt.Sprint(p))
		}
		s.record(ctx, out, now, log)
	}()
	var eng *policy.Engine
	if s.engine != nil {
		eng = s.engine()
	}
	switch {
	case eng == nil:
		out.block, out.reason = true, "internal-error"
		out.problem = "ポリシーが読み込まれていません / no policy loaded"
		return out
	case over:
		out.block, out.reason = true, "size-limit"
		out.problem = fmt.Sprintf("アップロードが上限 %s を超えています / the upload exceeds the limit of %s", humanSize(s.cfg.MaxBodyBytes), humanSize(s.cfg.MaxBodyBytes))
		return out
	}
	var raw io.Reader
	if hasBody {
		raw = io.NewSectionReader(body, 0, size)
	}
	v, err := s.evaluate(ctx, eng, hreq, raw, size, u, host, out.user, now)
	if err != nil {
		out.block, out.reason = true, "internal-error"
		out.problem = "検査できませんでした / the upload could not be inspected"
		log.Error("icap: inspection failed", "error", err)
		return out
	}
	if !hasBody && len(v.Report.Findings) == 0 {
		// A query with nothing in it is browsing, not an upload: the
		// destination rules are for uploads.
		return out
	}
	out.verdict = v
	// Uploads cannot wait for an approver: hold and delay block (3.3.5).
	if v.TransferBlocks() {
		out.block, out.reason = true, "policy"
	}
	return out
}

// evaluate runs every file and form field of the upload through inspect
// with one classifier scan, so the upload is judged as a whole (a list
// split over two files is still a list).
func (s *Server) evaluate(ctx context.Context, eng *policy.Engine, hreq *http.Request, raw io.Reader, size int64, u, host, user string, now time.Time) (*policy.Verdict, error) {
	// The one evaluation entry point of policy, as for mail (3.3.5).
	ev := eng.NewEvaluation(s.cfg.TempDir)
	ev.UseOCR(s.cfg.OCR)
	lim := ev.Limits()
	add := func(name string, r io.Reader) error { return ev.File(ctx, name, r) }
	problem := ev.Problem

	// A form sent with GET carries its fields in the query.
	if q := hreq.URL.RawQuery; q != "" {
		if err := add("url-query.txt", strings.NewReader(queryText(q))); err != nil {
			ev.Discard()
			return nil, err
		}
	}
	if raw == nil {
		return ev.Decide(transferInput(size, now, u, host, "", user)), nil
	}

	// Content-Encoding (RFC 9110 8.4): decode what we can; anything else
	// cannot be read and so is not passed.
	var body io.Reader = raw
	switch ce := strings.ToLower(strings.TrimSpace(hreq.Header.Get("Content-Encoding"))); ce {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			problem("Content-Encoding gzip: %v", err)
			body = nil
		} else {
			defer zr.Close()
			body = zr
		}
	case "deflate":
		zr := flate.NewReader(raw)
		defer zr.Close()
		body = zr
	default:
		problem("Content-Encoding %q is not supported: the upload could not be read", ce)
		body = nil
	}
	var firstFile string
	if body != nil {
		// A decompression bomb stops at the decoded-bytes limit.
		lr := &limitReader{r: body, n: lim.MaxDecodedBytes}
		body = lr
		if err := s.extract(ctx, hreq, body, add, problem, &firstFile, lim); err != nil {
			ev.Discard()
			return nil, err
		}
		if lr.hit {
			problem("decoded upload larger than %d bytes: the rest was not read", lim.MaxDecodedBytes)
		}
	}
	return ev.Decide(transferInput(size, now, u, host, firstFile, user)), nil
}

func transferInput(size int64, now time.Time, u, host, file, user string) policy.Input {
	in := policy.Input{Size: size, Now: now, Transfer: &policy.Transfer{URL: u, Host: host, FileName: file}}
	if strings.Contains(user, "@") {
		// The proxy user's address finds the department and its
		// 情報セキュリティ管理責任者 (shown on the page as whom to ask).
		in.Sender = user
	}
	return in
}

// queryText is a query string decoded to "name: value" lines (the raw
// text when it does not parse).
func queryText(q string) string {
	vals, err := url.ParseQuery(q)
	if err != nil || len(vals) == 0 {
		if u, err := url.QueryUnescape(q); err == nil {
			return u
		}
		return q
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range vals[k] {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	return b.String()
}

// extract splits the body into files and fields by its Content-Type.
func (s *Server) extract(ctx context.Context, hreq *http.Request, body io.Reader, add func(string, io.Reader) error, problem func(string, ...any), firstFile *string, lim inspect.Limits) error {
	mt, params, err := mime.ParseMediaType(hreq.Header.Get("Content-Type"))
	if err != nil {
		mt = ""
	}
	switch {
	case mt == "multipart/form-data" || (strings.HasPrefix(mt, "multipart/") && params["boundary"] != ""):
		if params["boundary"] == "" {
			problem("multipart upload without a boundary")
			return add(rawName(hreq), body)
		}
		mr := multipart.NewReader(body, params["boundary"])
		n := 0
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				// The rest of the upload cannot be split: fail closed.
				problem("malformed multipart upload: %v", err)
				break
			}
			if n++; n > lim.MaxParts {
				problem("more than %d parts in the upload: the rest was not read", lim.MaxParts)
				p.Close()
				break
			}
			// Go decodes quoted-printable parts; base64 ones (not sent by
			// browsers, but by scripts) are decoded here, so encoding does
			// not hide the content.
			var pr io.Reader = p
			if strings.EqualFold(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding")), "base64") {
				pr = base64.NewDecoder(base64.StdEncoding, p)
			}
			if fn := p.FileName(); fn != "" {
				fn = path.Base(strings.ReplaceAll(fn, `\`, "/")) // browsers on Windows may send a path
				if *firstFile == "" {
					*firstFile = fn
				}
				err = add(fn, pr)
			} else {
				err = add(fieldName(p.FormName()), pr)
			}
			p.Close()
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				// A part that ends early is malformed, not an internal
				// error; either way the upload is not passed.
				problem("malformed multipart upload: %v", err)
				break
			}
		}
		return nil
	case mt == "application/x-www-form-urlencoded":
		data, err := io.ReadAll(io.LimitReader(body, lim.MaxPartBytes+1))
		if err != nil {
			return err
		}
		if int64(len(data)) > lim.MaxPartBytes {
			problem("form larger than %d bytes: the rest was not read", lim.MaxPartBytes)
			data = data[:lim.MaxPartBytes]
		}
		vals, _ := url.ParseQuery(string(data)) // what parsed is inspected; the raw text below covers the rest
		keys := make([]string, 0, len(vals))
		for k := range vals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			for _, v := range vals[k] {
				b.WriteString(k + ": " + v + "\n")
			}
		}
		if len(keys) == 0 {
			b.Write(data)
		}
		return add("form.txt", strings.NewReader(b.String()))
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		data, err := io.ReadAll(io.LimitReader(body, lim.MaxPartBytes+1))
		if err != nil {
			return err
		}
		if int64(len(data)) > lim.MaxPartBytes {
			problem("JSON body larger than %d bytes: the rest was not read", lim.MaxPartBytes)
			data = data[:lim.MaxPartBytes]
		}
		// JSON may escape Japanese (\u30de…): inspect its decoded strings.
		if txt, blobs, ok := jsonText(data); ok {
			if err := add("body.json.txt", strings.NewReader(txt)); err != nil {
				return err
			}
			// APIs upload files as base64 strings in JSON: each is
			// inspected as the file it encodes.
			for i, b := range blobs {
				if err := add(fmt.Sprintf("body.json-file-%d", i+1), bytes.NewReader(b)); err != nil {
					return err
				}
			}
			return nil
		}
		return add(rawName(hreq), bytes.NewReader(data))
	default:
		name := rawName(hreq)
		*firstFile = name
		return add(name, body)
	}
}

// fieldName names a form field's text for findings' locations.
func fieldName(name string) string {
	if name == "" {
		name = "field"
	}
	return "form-field-" + name + ".txt"
}

// rawName is the file name of a raw PUT/POST body: Content-Disposition's
// filename, else the last URL path segment, else "upload".
func rawName(r *http.Request) string {
	if _, p, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil && p["filename"] != "" {
		return path.Base(strings.ReplaceAll(p["filename"], `\`, "/"))
	}
	if b := path.Base(r.URL.Path); b != "" && b != "/" && b != "." {
		return b
	}
	return "upload"
}

// jsonText lists every key and string value of a JSON document, one a line,
// and decodes long base64 strings (files sent through an API; data: URLs
// too) into blobs.
func jsonText(data []byte) (string, [][]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var b strings.Builder
	var blobs [][]byte
	for {
		t, err := dec.Token()
		if err == io.EOF {
			return b.String(), blobs, true
		}
		if err != nil {
			return "", nil, false
		}
		switch v := t.(type) {
		case string:
			if blob := base64Blob(v); blob != nil && len(blobs) < 100 {
				blobs = append(blobs, blob)
			}
			b.WriteString(v)
			b.WriteByte('\n')
		case json.Number:
			b.WriteString(v.String())
			b.WriteByte('\n')
		}
	}
}

// base64Blob decodes s when it is a long base64 string (or a base64 data:
// URL); nil otherwise.
func base64Blob(s string) []byte {
	if strings.HasPrefix(s, "data:") {
		i := strings.Index(s, ";base64,")
		if i < 0 {
			return nil
		}
		s = s[i+len(";base64,"):]
	}
	if len(s) < 64 {
		return nil
	}
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	return nil
}

// limitReader stops at n bytes and remembers that it did.
type limitReader struct {
	r   io.Reader
	n   int64
	hit bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Check whether anything is left beyond the limit.
		var one [1]byte
		m, _ := l.r.Read(one[:])
		if m > 0 {
			l.hit = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	m, err := l.r.Read(p)
	l.n -= int64(m)
	return m, err
}

// redactURL drops the query (it may hold personal data) from log lines.
func redactURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// record logs, counts and audits every block and every allowed upload
// with findings.
func (s *Server) record(ctx context.Context, out *outcome, now time.Time, log interface {
	Info(string, ...any)
}) {
	var findings []classify.Finding
	if out.verdict != nil {
		findings = out.verdict.Report.Findings
	}
	if !out.block && len(findings) == 0 {
		return
	}
	action := "allow"
	if out.block {
		action = "block"
	}
	var rules []string
	if out.verdict != nil {
		for _, h := range out.verdict.Rules {
			rules = append(rules, h.ID)
		}
	}
	if len(rules) == 0 {
		r := out.reason
		if r == "" {
			r = "none"
		}
		rules = []string{r}
	}
	for _, r := range rules {
		s.metrics.uploads.WithLabelValues(action, r).Inc()
	}
	attrs := []any{"action", action, "reason", out.reason, "host", out.host}
	if out.verdict != nil {
		attrs = append(attrs, "verdict", out.verdict)
	}
	if out.problem != "" {
		attrs = append(attrs, "problem", out.problem)
	}
	log.Info("upload", attrs...)
	if s.cfg.Audit != nil {
		type det struct {
			Detector string `json:"detector"`
			Count    int    `json:"count"`
		}
		d := struct {
			URL           string   `json:"url"`
			Host          string   `json:"host"`
			Client        string   `json:"client,omitempty"`
			User          string   `json:"user,omitempty"`
			Size          int64    `json:"size"`
			Reason        string   `json:"reason,omitempty"`
			Rules         []string `json:"rules,omitempty"`
			Findings      []det    `json:"findings,omitempty"`
			PolicyVersion string   `json:"policy_version,omitempty"`
		}{URL: redactURL(out.url), Host: out.host, Client: out.client, User: out.user, Size: out.size, Reason: out.reason}
		if out.verdict != nil {
			d.Rules = rules
			d.PolicyVersion = out.verdict.PolicyVersion
			for _, f := range findings {
				d.Findings = append(d.Findings, det{f.Detector, f.Count})
			}
		}
		if _, err := s.cfg.Audit.Append(ctx, "icap", "upload-"+action, out.ref, d); err != nil {
			log.Info("icap: audit append failed", "error", err)
		}
	}
}
