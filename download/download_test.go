package download

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"dlpguard/audit"
)

// env is a Service on a loopback HTTP server whose mails are kept (the
// review service queues them in production; its tests go through SMTP).
type env struct {
	tb    testing.TB
	svc   *Service
	st    *SQLite
	log   *audit.Log
	srv   *httptest.Server
	mu    sync.Mutex
	mails map[string][]string
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	dir := tb.TempDir()
	key := make([]byte, 32)
	rand.Read(key)
	st, err := OpenSQLite(context.Background(), filepath.Join(dir, "download"), key)
	if err != nil {
		tb.Fatal(err)
	}
	lg, err := audit.Open(context.Background(), filepath.Join(dir, "audit.db"))
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{tb: tb, st: st, log: lg, mails: map[string][]string{}}
	e.srv = httptest.NewServer(http.NotFoundHandler())
	e.svc, err = New(Config{BaseURL: e.srv.URL},
		Deps{Store: st, Audit: lg, Logger: slog.New(slog.DiscardHandler), Mail: e.mail})
	if err != nil {
		tb.Fatal(err)
	}
	e.srv.Config.Handler = e.svc.Handler()
	tb.Cleanup(func() { e.srv.Close(); st.Close(); lg.Close() })
	return e
}

func (e *env) mail(_ context.Context, _ string, m Message) error {
	e.mu.Lock()
	e.mails[m.To] = append(e.mails[m.To], m.JA+"\n"+m.EN)
	e.mu.Unlock()
	return nil
}

var codeRE = regexp.MustCompile(`確認コード: ([0-9]{8})`)

// publish stores content as one file and links it for rcpt.
func (e *env) publish(rcpt string, content io.Reader) (string, File) {
	e.tb.Helper()
	ctx := context.Background()
	f, err := e.svc.StoreFile(ctx, "attachment", "名簿.xlsx", "application/octet-stream", content)
	if err != nil {
		e.tb.Fatal(err)
	}
	ps, err := e.svc.Publish(ctx, "H1", "user1@city.example.lg.jp", "", []string{rcpt}, []File{f}, "")
	if err != nil {
		e.tb.Fatal(err)
	}
	return ps[0].URL, f
}

// session proves rcpt's mailbox for link and returns the client.
func (e *env) session(link, rcpt string) *http.Client {
	e.tb.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(link+"/code", url.Values{})
	if err != nil {
		e.tb.Fatal(err)
	}
	resp.Body.Close()
	e.mu.Lock()
	m := codeRE.FindStringSubmatch(e.mails[rcpt][len(e.mails[rcpt])-1])
	e.mu.Unlock()
	resp, err = c.PostForm(link+"/verify", url.Values{"code": {m[1]}})
	if err != nil {
		e.tb.Fatal(err)
	}
	resp.Body.Close()
	return c
}

// TestTamperedFile: a sealed file changed on disk is never sent whole:
// the download breaks off and is audited as incomplete (3.3.4).
func TestTamperedFile(t *testing.T) {
	e := newEnv(t)
	content := bytes.Repeat([]byte("個人情報 "), 50000) // several segments
	link, f := e.publish("a@example.org", bytes.NewReader(content))
	c := e.session(link, "a@example.org")
	path := filepath.Join(e.st.dir, "files", f.ID)
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 1
	os.WriteFile(path, b, 0o600)
	resp, err := c.Get(link + "/f/0")
	var got []byte
	if err == nil {
		got, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if bytes.Equal(got, content) {
		t.Fatal("tampered content sent whole")
	}
	es, _, _ := e.log.List(context.Background(), audit.Filter{Action: ActionDownload})
	if len(es) != 1 || !strings.Contains(string(es[0].Details), `"complete":false`) {
		t.Fatalf("download entry: %+v", es)
	}
}

// TestDownloadLimit: after max_downloads complete downloads the link is
// used up; a code request limit locks the link.
func TestDownloadLimit(t *testing.T) {
	e := newEnv(t)
	e.svc.cfg.MaxDownloads = 2
	e.svc.cfg.CodeRequests = 2
	link, f := e.publish("a@example.org", strings.NewReader("hello"))
	c := e.session(link, "a@example.org")
	for i := 0; i < 2; i++ {
		resp, err := c.Get(link + "/f/0")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if sum := sha256.Sum256(b); resp.StatusCode != 200 || hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Fatalf("download %d: %d", i, resp.StatusCode)
		}
	}
	resp, _ := c.Get(link)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(page), "上限に達しました") {
		t.Fatalf("used up: %d", resp.StatusCode)
	}

	link2, _ := e.publish("b@example.org", strings.NewReader("x"))
	for i := 0; i < 3; i++ {
		resp, err := http.PostForm(link2+"/code", url.Values{})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if i == 2 && resp.StatusCode != http.StatusForbidden {
			t.Fatalf("third code request: %d", resp.StatusCode)
		}
	}
	if n := len(e.mails["b@example.org"]); n != 2 {
		t.Fatalf("%d codes mailed, want 2", n)
	}
}

// TestCrossSitePost: a form posted from another site (Sec-Fetch-Site)
// neither mails a code nor tries one.
func TestCrossSitePost(t *testing.T) {
	e := newEnv(t)
	link, _ := e.publish("a@example.org", strings.NewReader("x"))
	req, _ := http.NewRequest("POST", link+"/code", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(e.mails["a@example.org"]) != 0 {
		t.Fatalf("cross-site code request: %d, %d mails", resp.StatusCode, len(e.mails["a@example.org"]))
	}
}

// zeros is n zero bytes, never in memory.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

// TestStreams25MB: a 25 MB file is stored and downloaded without 25 MB
// of memory: the heap allocated by a whole download (server and client)
// stays a small fraction of the file.
func TestStreams25MB(t *testing.T) {
	e := newEnv(t)
	const size = 25 << 20
	link, f := e.publish("a@example.org", &zeros{size})
	c := e.session(link, "a@example.org")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, err := c.Get(link + "/f/0")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, _ := io.Copy(h, resp.Body)
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if n != size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		t.Fatalf("got %d bytes", n)
	}
	// Allocated, not live: even all garbage together is far below the file.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Fatalf("a 25 MB download allocated %d bytes", alloc)
	} else {
		t.Logf("a 25 MB download allocated %.1f MB in total", float64(alloc)/(1<<20))
	}
}

func BenchmarkDownload25MB(b *testing.B) {
	e := newEnv(b)
	const size = 25 << 20
	e.svc.cfg.MaxDownloads = -1 // no limit
	link, _ := e.publish("a@example.org", &zeros{size})
	c := e.session(link, "a@example.org")
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(link + "/f/0")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// TestPageMasked: the page shows file names masked as everything people
// see (classify.MaskText); the file keeps its name on download.
func TestPageMasked(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	f, err := e.svc.StoreFile(ctx, "attachment", "台帳_123456789018.xlsx", "application/octet-stream", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := e.svc.Publish(ctx, "H2", "user1@city.example.lg.jp", "山田 太郎", []string{"a@example.org"}, []File{f}, "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ps[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(page), "123456789018") || !strings.Contains(string(page), "9018.xlsx") {
		t.Fatalf("page not masked: %s", page)
	}
	for _, h := range []string{"Content-Security-Policy", "Referrer-Policy", "X-Frame-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s", h)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
}

// TestClientIP: X-Forwarded-For names the client only when the peer is
// a trusted reverse proxy (download.trusted_proxies); otherwise the peer.
func TestClientIP(t *testing.T) {
	s, err := New(Config{BaseURL: "https://dl.example", TrustedProxies: []string{"10.0.0.5", "fd00::/64"}},
		Deps{Store: &SQLite{}, Audit: &audit.Log{}, Mail: func(context.Context, string, Message) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ peer, xff, want string }{
		{"10.0.0.5:4711", "203.0.113.7", "203.0.113.7"},
		{"10.0.0.5:4711", "198.51.100.1, 203.0.113.7", "203.0.113.7"}, // the proxy's own addition counts
		{"[fd00::1]:443", "2001:db8::9", "2001:db8::9"},
		{"192.0.2.1:4711", "203.0.113.7", "192.0.2.1"}, // not a proxy: the header is the client's word
		{"10.0.0.5:4711", "", "10.0.0.5"},
		{"10.0.0.5:4711", "junk", "10.0.0.5"},
	} {
		r := httptest.NewRequest("GET", "/d/x", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := s.clientIP(r); got != c.want {
			t.Errorf("%s %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}
