package icap

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"dlpguard/policy"
)

// myNumber makes a valid 12-digit My Number from an 11-digit base (the
// check digit of the 個人番号 rules).
func myNumber(base string) string {
	sum := 0
	for i := 0; i < 11; i++ {
		n := i + 1 // position from the right, 1-based
		p := int(base[10-i] - '0')
		q := n + 1
		if n > 6 {
			q = n - 5
		}
		sum += p * q
	}
	r := sum % 11
	cd := 0
	if r > 1 {
		cd = 11 - r
	}
	return base + strconv.Itoa(cd)
}

// myNumberCSV is a staff list with a My Number column.
func myNumberCSV() (csv string, numbers []string) {
	var b strings.Builder
	b.WriteString("氏名,個人番号,住所\n")
	for i := 0; i < 5; i++ {
		n := myNumber(fmt.Sprintf("%011d", 12345678901+int64(i)*7919))
		numbers = append(numbers, n)
		fmt.Fprintf(&b, "若葉 太郎%d,%s,東京都若葉市中央%d-1\n", i, n, i+1)
	}
	return b.String(), numbers
}

const harmless = "会議資料\n来週の打ち合わせは 10 時からです。\nThe meeting starts at ten.\n"

type testServer struct {
	srv  *Server
	addr string
	eng  atomic.Pointer[policy.Engine]
	reg  *prometheus.Registry
}

func defaultEngine(t testing.TB) *policy.Engine {
	t.Helper()
	e, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func startServer(t testing.TB, cfg Config, eng *policy.Engine) *testServer {
	t.Helper()
	ts := &testServer{reg: prometheus.NewRegistry()}
	ts.eng.Store(eng)
	if cfg.TempDir == "" {
		cfg.TempDir = t.TempDir()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ts.srv = New(cfg, ts.eng.Load, log, ts.reg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- ts.srv.Serve(ln) }()
	t.Cleanup(func() {
		ts.srv.Shutdown(t.Context())
		<-done
	})
	return ts
}

func (ts *testServer) dial(t testing.TB) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// upload describes a REQMOD to build.
type upload struct {
	service  string // default /reqmod
	method   string // HTTP method, default POST
	url      string // default http://upload.example.com/upload
	host     string // Host header; default from url
	ctype    string
	cenc     string
	body     []byte
	nobody   bool
	allow204 bool
	preview  int // -1 no preview
	chunk    int // chunk size; 0 = one chunk
	ext      string
	icapHdr  string // extra ICAP header lines, each ending in CRLF
}

func multipartBody(files map[string]string, fields map[string]string) (string, []byte) {
	var b bytes.Buffer
	bd := "----dlpguardtestboundary"
	for k, v := range fields {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", bd, k, v)
	}
	for name, v := range files {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=%q\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n", bd, name, v)
	}
	fmt.Fprintf(&b, "--%s--\r\n", bd)
	return "multipart/form-data; boundary=" + bd, b.Bytes()
}

func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// httpHeader is the encapsulated HTTP request header of u.
func (u upload) httpHeader() string {
	method := u.method
	if method == "" {
		method = "POST"
	}
	url := u.url
	if url == "" {
		url = "http://upload.example.com/upload"
	}
	host := u.host
	if host == "" {
		host = strings.SplitN(strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://"), "/", 2)[0]
	}
	var h strings.Builder
	fmt.Fprintf(&h, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, url, host)
	if u.ctype != "" {
		fmt.Fprintf(&h, "Content-Type: %s\r\n", u.ctype)
	}
	if u.cenc != "" {
		fmt.Fprintf(&h, "Content-Encoding: %s\r\n", u.cenc)
	}
	if !u.nobody {
		fmt.Fprintf(&h, "Content-Length: %d\r\n", len(u.body))
	}
	h.WriteString("\r\n")
	return h.String()
}

func chunked(b []byte, size int, ext string) string {
	var s strings.Builder
	if size <= 0 {
		size = len(b)
	}
	for len(b) > 0 {
		n := min(size, len(b))
		fmt.Fprintf(&s, "%x%s\r\n%s\r\n", n, ext, b[:n])
		b = b[n:]
	}
	return s.String()
}

// head is the ICAP request up to (not including) the body chunks.
func (u upload) head(addr string) string {
	svc := u.service
	if svc == "" {
		svc = "/reqmod"
	}
	hh := u.httpHeader()
	var s strings.Builder
	fmt.Fprintf(&s, "REQMOD icap://%s%s ICAP/1.0\r\nHost: %s\r\n", addr, svc, addr)
	if u.allow204 {
		s.WriteString("Allow: 204\r\n")
	}
	s.WriteString(u.icapHdr)
	if u.preview >= 0 && !u.nobody {
		fmt.Fprintf(&s, "Preview: %d\r\n", u.preview)
	}
	if u.nobody {
		fmt.Fprintf(&s, "Encapsulated: req-hdr=0, null-body=%d\r\n\r\n", len(hh))
	} else {
		fmt.Fprintf(&s, "Encapsulated: req-hdr=0, req-body=%d\r\n\r\n", len(hh))
	}
	s.WriteString(hh)
	return s.String()
}

// full is the whole request without preview.
func (u upload) full(addr string) string {
	u.preview = -1
	s := u.head(addr)
	if !u.nobody {
		s += chunked(u.body, u.chunk, u.ext) + "0\r\n\r\n"
	}
	return s
}

// response is a parsed ICAP response.
type response struct {
	status  int
	header  textproto.MIMEHeader
	httpHdr string // encapsulated HTTP header (req-hdr or res-hdr)
	body    []byte // decoded encapsulated body
}

func readResponse(t testing.TB, br *bufio.Reader) *response {
	t.Helper()
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		t.Fatalf("read status line: %v", err)
	}
	f := strings.SplitN(line, " ", 3)
	if len(f) < 2 || f[0] != "ICAP/1.0" {
		t.Fatalf("bad status line %q", line)
	}
	r := &response{}
	r.status, _ = strconv.Atoi(f[1])
	if r.status == 100 {
		tp.ReadLine()
		return r
	}
	r.header, err = tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("read header: %v", err)
	}
	enc, err := parseEncapsulated(r.header.Get("Encapsulated"))
	if err != nil {
		t.Fatalf("response Encapsulated %q: %v", r.header.Get("Encapsulated"), err)
	}
	last := enc[len(enc)-1]
	if last.offset > 0 {
		b := make([]byte, last.offset)
		if _, err := io.ReadFull(br, b); err != nil {
			t.Fatal(err)
		}
		r.httpHdr = string(b)
	}
	if last.name != "null-body" {
		cr := &chunkReader{br: br, budget: 1 << 20}
		r.body, err = io.ReadAll(cr)
		if err != nil {
			t.Fatalf("read body: %v", err)
		}
	}
	return r
}

// roundTrip sends raw and reads one response on a new connection.
func (ts *testServer) roundTrip(t testing.TB, raw string) *response {
	t.Helper()
	c, br := ts.dial(t)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, br)
}

func (ts *testServer) counter(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := ts.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
