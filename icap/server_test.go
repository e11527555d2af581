package icap

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"dlpguard/audit"
	"dlpguard/policy"
)

func TestOptions(t *testing.T) {
	eng := defaultEngine(t)
	ts := startServer(t, Config{MaxConnections: 7, OptionsTTL: 30 * time.Minute}, eng)
	r := ts.roundTrip(t, "OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
	want := map[string]string{
		"Methods": "REQMOD", "Allow": "204", "Max-Connections": "7", "Options-TTL": "1800",
		"Preview": "4096", "Transfer-Preview": "*", "Encapsulated": "null-body=0",
		"Istag": `"dlpg-` + eng.Version() + `"`,
	}
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	if r.header.Get("Service") == "" {
		t.Error("no Service header")
	}
	// The ISTag follows a policy reload (RFC 3507 4.7).
	other, err := policy.Parse([]byte("version: 1\nname: other\nallow_without: [my_number]\nallow_without_reason: ISTag test\n"), "other.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ts.eng.Store(other)
	r2 := ts.roundTrip(t, "OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
	if got := r2.header.Get("ISTag"); got == r.header.Get("ISTag") || !strings.Contains(got, other.Version()) {
		t.Errorf("ISTag after reload %q (before %q)", got, r.header.Get("ISTag"))
	}
}

func TestReqmodVerdicts(t *testing.T) {
	csv, numbers := myNumberCSV()
	mpCSV, bodyCSV := multipartBody(map[string]string{"職員名簿.csv": csv}, nil)
	mpOK, bodyOK := multipartBody(map[string]string{"会議.txt": harmless}, map[string]string{"comment": "よろしくお願いします"})
	mpField, bodyField := multipartBody(nil, map[string]string{"note": "個人番号 " + numbers[0]})
	json := []byte(`{"memo":"\u500b\u4eba\u756a\u53f7 ` + numbers[1] + `"}`)
	tests := []struct {
		name   string
		up     upload
		status int    // ICAP status
		http   string // "403" for a block page, "" otherwise
		rule   string
	}{
		{"harmless multipart, 204", upload{ctype: mpOK, body: bodyOK, allow204: true}, 204, "", ""},
		{"harmless raw PUT, 204", upload{method: "PUT", url: "http://files.example.com/a/report.txt", ctype: "application/octet-stream", body: []byte(harmless), allow204: true}, 204, "", ""},
		{"my number CSV blocked", upload{ctype: mpCSV, body: bodyCSV, allow204: true}, 200, "403", "mynumber-reject"},
		{"my number raw octet-stream blocked", upload{url: "http://files.example.com/up/list.csv", ctype: "application/octet-stream", body: []byte(csv), allow204: true}, 200, "403", "mynumber-reject"},
		{"my number in a form field", upload{ctype: mpField, body: bodyField, allow204: true}, 200, "403", "mynumber-reject"},
		{"my number in urlencoded form", upload{ctype: "application/x-www-form-urlencoded", body: []byte("q=%E5%80%8B%E4%BA%BA%E7%95%AA%E5%8F%B7+" + numbers[2]), allow204: true}, 200, "403", "mynumber-reject"},
		{"my number in JSON with escapes", upload{ctype: "application/json", body: json, allow204: true}, 200, "403", "mynumber-reject"},
		{"base64 file in JSON blocked", upload{ctype: "application/json", body: []byte(`{"name":"a.csv","content":"` + base64.StdEncoding.EncodeToString([]byte(csv)) + `"}`), allow204: true}, 200, "403", "mynumber-reject"},
		{"base64 data: URL in JSON blocked", upload{ctype: "application/json", body: []byte(`{"f":"data:text/csv;base64,` + base64.StdEncoding.EncodeToString([]byte(csv)) + `"}`), allow204: true}, 200, "403", "mynumber-reject"},
		{"base64 multipart part blocked", upload{ctype: "multipart/form-data; boundary=b64", body: []byte("--b64\r\nContent-Disposition: form-data; name=\"file\"; filename=\"C:\\Users\\taro\\list.csv\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte(csv)) + "\r\n--b64--\r\n"), allow204: true}, 200, "403", "mynumber-reject"},
		{"harmless JSON with a long non-base64 string", upload{ctype: "application/json", body: []byte(`{"memo":"` + strings.Repeat("会議の議事録です。", 20) + `"}`), allow204: true}, 204, "", ""},
		{"gzip-encoded CSV blocked", upload{ctype: "text/csv", cenc: "gzip", body: gzipped([]byte(csv)), allow204: true}, 200, "403", "mynumber-reject"},
		{"unknown content encoding fails closed", upload{ctype: "text/plain", cenc: "br", body: []byte(harmless), allow204: true}, 200, "403", "uninspectable-hold"},
		{"broken multipart fails closed", upload{ctype: "multipart/form-data; boundary=xyz", body: []byte("--xyz\r\nContent-Disposition: form-data; name=a\r\n\r\nabc"), allow204: true}, 200, "403", "uninspectable-hold"},
		{"GET without body passes", upload{method: "GET", nobody: true, allow204: true}, 204, "", ""},
		{"GET with a harmless query passes", upload{method: "GET", url: "http://search.example.com/s?q=%E4%BC%9A%E8%AD%B0&page=2", nobody: true, allow204: true}, 204, "", ""},
		{"GET form with a My Number in the query", upload{method: "GET", url: "http://form.example.com/send?memo=%E5%80%8B%E4%BA%BA%E7%95%AA%E5%8F%B7+" + numbers[3], nobody: true, allow204: true}, 200, "403", "mynumber-reject"},
		{"many tiny chunks (more chunk lines than the header limit)", upload{ctype: "text/plain", body: bytes.Repeat([]byte("abc def\n"), 12<<10), allow204: true, chunk: 1}, 204, "", ""},
		{"chunk extensions and small chunks", upload{ctype: mpCSV, body: bodyCSV, allow204: true, chunk: 7, ext: "; name=value"}, 200, "403", "mynumber-reject"},
	}
	ts := startServer(t, Config{}, defaultEngine(t))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.up.preview = -1
			r := ts.roundTrip(t, tc.up.full(ts.addr))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d (%q)", r.status, tc.status, r.httpHdr)
			}
			if r.header.Get("ISTag") == "" {
				t.Error("no ISTag")
			}
			if tc.http == "" {
				return
			}
			if !strings.HasPrefix(r.httpHdr, "HTTP/1.1 403") {
				t.Fatalf("encapsulated response %q", r.httpHdr)
			}
			page := string(r.body)
			for _, want := range []string{"送信されませんでした", "This upload was not sent", tc.rule, "UP-"} {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %q:\n%s", want, page)
				}
			}
			if strings.Index(page, "送信されませんでした") > strings.Index(page, "This upload was not sent") {
				t.Error("English before Japanese")
			}
			for _, n := range numbers {
				if strings.Contains(page, n) {
					t.Errorf("page shows the whole number %s", n)
				}
			}
			if tc.rule == "mynumber-reject" && (!strings.Contains(page, "3.3.5") || !strings.Contains(page, "****")) {
				t.Errorf("page lacks the clause or a masked sample:\n%s", page)
			}
		})
	}
}

func TestReqmodEchoWithout204(t *testing.T) {
	ts := startServer(t, Config{}, defaultEngine(t))
	mp, body := multipartBody(map[string]string{"会議.txt": harmless}, nil)
	up := upload{ctype: mp, body: body, chunk: 100}
	r := ts.roundTrip(t, up.full(ts.addr))
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if r.httpHdr != up.httpHeader() {
		t.Errorf("request header changed:\n%q\n%q", r.httpHdr, up.httpHeader())
	}
	if !bytes.Equal(r.body, body) {
		t.Errorf("body changed: %d bytes, want %d", len(r.body), len(body))
	}
	// A body-less request comes back with null-body.
	up = upload{method: "GET", nobody: true}
	r = ts.roundTrip(t, up.full(ts.addr))
	if r.status != 200 || r.httpHdr != up.httpHeader() || !strings.Contains(r.header.Get("Encapsulated"), "null-body") {
		t.Errorf("GET echo: %d %q %q", r.status, r.header.Get("Encapsulated"), r.httpHdr)
	}
}

func TestPreview(t *testing.T) {
	csv, numbers := myNumberCSV()
	ts := startServer(t, Config{}, defaultEngine(t))

	t.Run("whole body in preview (ieof)", func(t *testing.T) {
		up := upload{ctype: "text/plain", body: []byte(harmless), preview: 4096} // no Allow: 204
		c, br := ts.dial(t)
		io.WriteString(c, up.head(ts.addr)+chunked(up.body, 0, "")+"0; ieof\r\n\r\n")
		if r := readResponse(t, br); r.status != 204 {
			t.Fatalf("status %d, want 204 after ieof", r.status)
		}
	})
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
	}{
		{"100 Continue then pass", []byte(strings.Repeat("打ち合わせ資料です。", 200)), 204},
		{"100 Continue then block after the preview", []byte(strings.Repeat("x", 64) + "\n" + csv), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := upload{ctype: "text/plain", body: tc.body, preview: 32, allow204: true}
			c, br := ts.dial(t)
			io.WriteString(c, up.head(ts.addr)+chunked(tc.body[:32], 0, "")+"0\r\n\r\n")
			if r := readResponse(t, br); r.status != 100 {
				t.Fatalf("status %d, want 100 Continue", r.status)
			}
			io.WriteString(c, chunked(tc.body[32:], 1000, "")+"0\r\n\r\n")
			r := readResponse(t, br)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
			if tc.status == 200 && (!strings.Contains(string(r.body), "mynumber-reject") || strings.Contains(string(r.body), numbers[0])) {
				t.Errorf("block page:\n%s", r.body)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	hh := "POST http://x.example/ HTTP/1.1\r\nHost: x.example\r\n\r\n"
	n := len(hh)
	itoa := strconv.Itoa
	tests := []struct {
		name   string
		raw    string
		status int
	}{
		{"no Encapsulated", "REQMOD icap://h/reqmod ICAP/1.0\r\nHost: h\r\n\r\n", 400},
		{"Encapsulated garbage", "REQMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: what\r\n\r\n", 400},
		{"Encapsulated not from 0", "REQMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=5, req-body=60\r\n\r\n", 400},
		{"Encapsulated decreasing", "REQMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body=0\r\n\r\n", 400},
		{"Encapsulated body first", "REQMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: req-body=0, req-hdr=10\r\n\r\n", 400},
		{"Encapsulated response parts in REQMOD", "REQMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: res-hdr=0, res-body=10\r\n\r\n", 400},
		{"Encapsulated unknown entity", "REQMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: foo=0, req-body=10\r\n\r\n", 400},
		{"offset inside the HTTP header", "REQMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body=20\r\n\r\n" + hh + "0\r\n\r\n", 400},
		{"HTTP header garbage", "REQMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0, null-body=6\r\n\r\nxx\r\n\r\n", 400},
		{"bad chunk size", "REQMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body=" + itoa(n) + "\r\n\r\n" + hh + "zz\r\nabc\r\n0\r\n\r\n", 400},
		{"negative chunk size", "REQMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body=" + itoa(n) + "\r\n\r\n" + hh + "-3\r\nabc\r\n0\r\n\r\n", 400},
		{"huge chunk size", "REQMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body=" + itoa(n) + "\r\n\r\n" + hh + "fffffffffffffffff\r\nabc\r\n0\r\n\r\n", 400},
		{"chunk longer than its size", "REQMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body=" + itoa(n) + "\r\n\r\n" + hh + "2\r\nabc\r\n0\r\n\r\n", 400},
		{"ieof on a data chunk", "REQMOD icap://h/reqmod ICAP/1.0\r\nPreview: 10\r\nEncapsulated: req-hdr=0, req-body=" + itoa(n) + "\r\n\r\n" + hh + "3; ieof\r\nabc\r\n0\r\n\r\n", 400},
		{"bad Preview", "REQMOD icap://h/reqmod ICAP/1.0\r\nPreview: many\r\nEncapsulated: req-hdr=0, null-body=" + itoa(n) + "\r\n\r\n" + hh, 400},
		{"request line", "REQMOD icap://h/reqmod\r\n\r\n", 400},
		{"not an icap URI", "REQMOD http://h/reqmod ICAP/1.0\r\n\r\n", 400},
		{"bad header line", "OPTIONS icap://h/reqmod ICAP/1.0\r\nno colon here\r\n\r\n", 400},
		{"version", "OPTIONS icap://h/reqmod ICAP/2.0\r\n\r\n", 505},
		{"unknown service", "OPTIONS icap://h/avscan ICAP/1.0\r\n\r\n", 404},
		{"RESPMOD not offered", "RESPMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: res-hdr=0, res-body=10\r\n\r\n", 405},
		{"unknown method", "BREW icap://h/reqmod ICAP/1.0\r\n\r\n", 501},
		{"header too large", "OPTIONS icap://h/reqmod ICAP/1.0\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("a", 1000)+"\r\n", 80) + "\r\n", 400},
	}
	ts := startServer(t, Config{MaxHeaderBytes: 16 << 10}, defaultEngine(t))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.roundTrip(t, tc.raw)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
			if r.header.Get("ISTag") == "" {
				t.Error("error response without ISTag")
			}
		})
	}
}

// TestSplitReads feeds a request one byte per read: chunk sizes, data and
// CRLFs split anywhere must parse the same.
func TestSplitReads(t *testing.T) {
	eng := defaultEngine(t)
	csv, _ := myNumberCSV()
	s := New(Config{TempDir: t.TempDir()}, func() *policy.Engine { return eng }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	for _, tc := range []struct {
		body   []byte
		status string
	}{{[]byte(harmless), "ICAP/1.0 204"}, {[]byte(csv), "ICAP/1.0 200"}} {
		up := upload{ctype: "text/csv", body: tc.body, allow204: true, chunk: 5, ext: ";x=\"y\""}
		raw := up.full("h") + up.full("h") // two requests, persistent
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		s.handle(context.Background(), bufio.NewReader(iotest.OneByteReader(strings.NewReader(raw))), bw, func(bool) bool { return true }, nil)
		bw.Flush()
		if got := strings.Count(out.String(), tc.status); got != 2 {
			t.Errorf("%d × %q in %q", got, tc.status, out.String())
		}
	}
}

func TestPersistentConnection(t *testing.T) {
	ts := startServer(t, Config{}, defaultEngine(t))
	csv, _ := myNumberCSV()
	c, br := ts.dial(t)
	mp, body := multipartBody(map[string]string{"a.txt": harmless}, nil)
	mpBad, bodyBad := multipartBody(map[string]string{"b.csv": csv}, nil)
	steps := []struct {
		raw    string
		status int
	}{
		{"OPTIONS icap://h/reqmod ICAP/1.0\r\nHost: h\r\n\r\n", 200},
		{upload{ctype: mp, body: body, allow204: true}.full("h"), 204},
		{upload{ctype: mpBad, body: bodyBad, allow204: true}.full("h"), 200},
		{upload{ctype: mp, body: body}.full("h"), 200},
		{upload{ctype: mp, body: body, allow204: true}.full("h"), 204},
	}
	for i, st := range steps {
		io.WriteString(c, st.raw)
		r := readResponse(t, br)
		if r.status != st.status {
			t.Fatalf("request %d: status %d, want %d", i, r.status, st.status)
		}
	}
}

func TestDeniedHost(t *testing.T) {
	yaml := string(policy.DefaultYAML()) + `
  - id: consumer-storage-reject
    when:
      destination: [dropbox.com, "*.dropbox.com", "*.box.com"]
    action: reject
    clause: "9.2"
    message:
      ja: "許可されていない外部サービスへのアップロードは禁止されています（対策基準 9.2）。"
      en: "Uploads to unapproved external services are not allowed (standard 9.2)."
`
	eng, err := policy.Parse([]byte(yaml), "deny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{}, eng)
	mp, body := multipartBody(map[string]string{"会議.txt": harmless}, nil)
	for _, tc := range []struct {
		url    string
		status int
	}{
		{"http://www.dropbox.com/upload", 200},
		{"http://content.dropbox.com:8080/upload", 200},
		{"http://app.box.com/u", 200},
		{"http://upload.example.com/upload", 204},
		{"http://dropbox.com.example.net/upload", 204},
	} {
		r := ts.roundTrip(t, upload{url: tc.url, ctype: mp, body: body, allow204: true}.full(ts.addr))
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.url, r.status, tc.status)
			continue
		}
		if tc.status == 200 && (!strings.Contains(string(r.body), "consumer-storage-reject") || !strings.Contains(string(r.body), "9.2")) {
			t.Errorf("%s: page lacks the rule:\n%s", tc.url, r.body)
		}
	}
}

func TestLimitsFailClosed(t *testing.T) {
	eng := defaultEngine(t)
	ts := startServer(t, Config{MaxBodyBytes: 1000}, eng)
	c, br := ts.dial(t)
	big := []byte(strings.Repeat("harmless text\n", 200))
	io.WriteString(c, upload{ctype: "text/plain", body: big, allow204: true, chunk: 300}.full("h"))
	r := readResponse(t, br)
	if r.status != 200 || !strings.HasPrefix(r.httpHdr, "HTTP/1.1 403") || !strings.Contains(string(r.body), "上限") {
		t.Fatalf("over-limit upload: %d %q\n%s", r.status, r.httpHdr, r.body)
	}
	// The connection stays in step after the over-limit body.
	io.WriteString(c, upload{ctype: "text/plain", body: []byte(harmless), allow204: true}.full("h"))
	if r := readResponse(t, br); r.status != 204 {
		t.Fatalf("next request: %d", r.status)
	}
	if got := ts.counter(t, "dlpguard_icap_uploads_total", map[string]string{"action": "block", "rule": "size-limit"}); got != 1 {
		t.Errorf("size-limit blocks counted %v", got)
	}

	// No policy loaded: block, never pass.
	ts.eng.Store(nil)
	r = ts.roundTrip(t, upload{ctype: "text/plain", body: []byte(harmless), allow204: true}.full("h"))
	if r.status != 200 || !strings.HasPrefix(r.httpHdr, "HTTP/1.1 403") {
		t.Fatalf("without a policy: %d %q", r.status, r.httpHdr)
	}
}

func TestMaxConnections(t *testing.T) {
	ts := startServer(t, Config{MaxConnections: 1}, defaultEngine(t))
	c1, br1 := ts.dial(t)
	io.WriteString(c1, "OPTIONS icap://h/reqmod ICAP/1.0\r\n\r\n")
	if r := readResponse(t, br1); r.status != 200 {
		t.Fatal(r.status)
	}
	// c1 holds the only slot.
	_, br2 := ts.dial(t)
	if r := readResponse(t, br2); r.status != 503 {
		t.Fatalf("second connection: %d, want 503", r.status)
	}
}

func TestAuditAndMetrics(t *testing.T) {
	ctx := context.Background()
	alog, err := audit.Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer alog.Close()
	ts := startServer(t, Config{Audit: alog}, defaultEngine(t))
	csv, _ := myNumberCSV()
	r := ts.roundTrip(t, upload{ctype: "text/csv", body: []byte(csv), allow204: true}.full("h"))
	if r.status != 200 {
		t.Fatal(r.status)
	}
	// A postal code is a finding that does not block: counted and audited too.
	r = ts.roundTrip(t, upload{ctype: "text/plain", body: []byte("〒190-0001 東京都若葉市"), allow204: true}.full("h"))
	if r.status != 204 {
		t.Fatal(r.status)
	}
	if got := ts.counter(t, "dlpguard_icap_uploads_total", map[string]string{"action": "block", "rule": "mynumber-reject"}); got != 1 {
		t.Errorf("blocks counted %v", got)
	}
	entries, _, err := alog.List(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
		if !strings.HasPrefix(e.Subject, "UP-") || e.Actor != "icap" {
			t.Errorf("entry %+v", e)
		}
		if strings.Contains(string(e.Details), "12345678901") {
			t.Errorf("audit details hold a number: %s", e.Details)
		}
	}
	joined := strings.Join(actions, ",")
	if !strings.Contains(joined, "upload-block") {
		t.Errorf("audit actions %v", actions)
	}
	if ts.counter(t, "dlpguard_icap_uploads_total", map[string]string{"action": "allow"}) > 0 && !strings.Contains(joined, "upload-allow") {
		t.Errorf("allowed upload with findings not audited: %v", actions)
	}
}

func TestShutdown(t *testing.T) {
	s := New(Config{TempDir: t.TempDir()}, func() *policy.Engine { return defaultEngine(t) }, nil, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "OPTIONS icap://h/reqmod ICAP/1.0\r\n\r\n")
	readResponse(t, bufio.NewReader(c))
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != ErrServerClosed {
		t.Fatalf("Serve returned %v", err)
	}
	// The idle connection was closed.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("idle connection still open after Shutdown")
	}
}

// TestHoldBlocksWithApprover: a hold-class upload is blocked (it cannot
// wait); the page names the approved route and, when the proxy says who
// uploads, the department's 情報セキュリティ管理責任者. The audit entry
// names the client.
func TestHoldBlocksWithApprover(t *testing.T) {
	yaml := string(policy.DefaultYAML()) + `
departments:
  - name: 市民課
    senders: ["*@shimin.city.example.lg.jp"]
    manager: shimin-kacho@city.example.lg.jp
`
	eng, err := policy.Parse([]byte(yaml), "dept.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	alog, err := audit.Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer alog.Close()
	ts := startServer(t, Config{Audit: alog, ApprovedRoute: "庁内ファイル転送サービス"}, eng)
	user := base64.StdEncoding.EncodeToString([]byte("Local://taro@shimin.city.example.lg.jp"))
	up := upload{ctype: "text/plain", body: []byte("【極秘】人事異動案\n"), allow204: true,
		icapHdr: "X-Client-IP: 10.1.2.3\r\nX-Authenticated-User: " + user + "\r\n"}
	r := ts.roundTrip(t, up.full(ts.addr))
	if r.status != 200 || !strings.HasPrefix(r.httpHdr, "HTTP/1.1 403") {
		t.Fatalf("hold-class upload: %d %q", r.status, r.httpHdr)
	}
	page := string(r.body)
	for _, want := range []string{"marking-i-hold", "庁内ファイル転送サービス", "shimin-kacho@city.example.lg.jp", "承認"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	entries, _, err := alog.List(ctx, audit.Filter{})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit: %v %d entries", err, len(entries))
	}
	if d := string(entries[0].Details); !strings.Contains(d, "10.1.2.3") || !strings.Contains(d, "taro@shimin.city.example.lg.jp") {
		t.Errorf("audit details %s", d)
	}
}

func TestListenAndServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := New(Config{Listen: addr, TempDir: t.TempDir()}, func() *policy.Engine { return defaultEngine(t) }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if got := s.Config().Listen; got != addr {
		t.Fatalf("Listen %q", got)
	}
	if d := New(Config{}, nil, nil, nil).Config(); d.Listen != "127.0.0.1:1344" || d.Service != "/reqmod" || d.MaxBodyBytes != 100<<20 {
		t.Errorf("defaults %+v", d)
	}
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe() }()
	var c net.Conn
	for i := 0; i < 100; i++ { // until the listener is up
		if c, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "OPTIONS icap://h/reqmod ICAP/1.0\r\n\r\n")
	if r := readResponse(t, bufio.NewReader(c)); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	s.Shutdown(context.Background())
	if err := <-done; err != ErrServerClosed {
		t.Fatalf("ListenAndServe returned %v", err)
	}
}

// TestSpoolFailureIs500: when the body cannot be spooled it cannot be
// inspected: ICAP 500 (Squid with bypass=0 then refuses the upload).
func TestSpoolFailureIs500(t *testing.T) {
	ts := startServer(t, Config{TempDir: filepath.Join(t.TempDir(), "missing")}, defaultEngine(t))
	r := ts.roundTrip(t, upload{ctype: "text/plain", body: []byte(harmless), allow204: true, preview: -1}.full("h"))
	if r.status != 500 {
		t.Fatalf("status %d, want 500", r.status)
	}
	if got := ts.counter(t, "dlpguard_icap_requests_total", map[string]string{"method": "REQMOD", "status": "500"}); got != 1 {
		t.Errorf("500s counted %v", got)
	}
}
