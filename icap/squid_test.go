package icap

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"dlpguard/icap/squidtest"
	"dlpguard/policy"
)

// denyPolicy is the default policy plus a 9.2 deny-list of consumer storage.
func denyPolicy(t testing.TB) *policy.Engine {
	t.Helper()
	yaml := string(policy.DefaultYAML()) + `
  - id: consumer-storage-reject
    when:
      destination: [dropbox.com, "*.dropbox.com"]
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
	return eng
}

// sink is the upload target behind the proxy; it records what arrived.
type sink struct {
	mu    sync.Mutex
	files map[string][]byte // by file name
	n     int
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	mr, err := r.MultipartReader()
	if err != nil {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
		return
	}
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		if p.FileName() != "" {
			s.mu.Lock()
			s.files[p.FileName()] = b
			s.mu.Unlock()
		}
	}
	fmt.Fprint(w, "stored")
}

func multipartUpload(name string, content []byte) (string, []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	mw.WriteField("comment", "資料を送ります")
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

// TestSquidEndToEnd uploads through a real Squid that adapts requests with
// this service (icap_service … bypass=0): refused uploads never reach the
// server, allowed ones arrive byte for byte.
func TestSquidEndToEnd(t *testing.T) {
	if !squidtest.Available() {
		t.Skip("squid is not installed (" + squidtest.Binary + "); apt-get install -y squid")
	}
	ts := startServer(t, Config{}, denyPolicy(t))
	sk := &sink{files: map[string][]byte{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: sk}
	go hs.Serve(ln)
	defer hs.Close()

	sq, err := squidtest.Start(t.Context(), squidtest.Options{ICAP: "icap://" + ts.addr + "/reqmod"})
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Stop()
	proxy, _ := url.Parse("http://" + sq.Addr)
	// One connection per upload, as curl does: after an adapted (blocked)
	// response Squid may close a kept-alive client connection, and Go does
	// not retry a POST on a reused connection that closed.
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy), DisableKeepAlives: true}}
	target := "http://" + ln.Addr().String() + "/upload"

	var big bytes.Buffer
	for i := 0; big.Len() < 1<<20; i++ {
		fmt.Fprintf(&big, "%06d 議事録の本文です。The minutes of the meeting.\n", i)
	}
	csv, numbers := myNumberCSV()
	tests := []struct {
		name    string
		url     string
		file    string
		content []byte
		status  int
		rule    string
	}{
		{"harmless 1 MiB file arrives intact", target, "議事録.txt", big.Bytes(), 200, ""},
		{"small harmless file", target, "memo.txt", []byte(harmless), 200, ""},
		{"My Number CSV refused", target, "名簿.csv", []byte(csv), 403, "mynumber-reject"},
		{"My Number CSV after 1 MiB refused (100 Continue)", target, "big.csv", append(big.Bytes(), csv...), 403, "mynumber-reject"},
		{"denied host refused", "http://www.dropbox.com/upload", "memo2.txt", []byte(harmless), 403, "consumer-storage-reject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := multipartUpload(tc.file, tc.content)
			resp, err := client.Post(tc.url, ct, bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%v\n%s", err, sq.Log())
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("HTTP %d, want %d: %s\n%s", resp.StatusCode, tc.status, page, sq.Log())
			}
			sk.mu.Lock()
			got, arrived := sk.files[tc.file]
			sk.mu.Unlock()
			if tc.status == 200 {
				if !arrived || sha256.Sum256(got) != sha256.Sum256(tc.content) {
					t.Fatalf("file arrived %v, %d bytes of %d", arrived, len(got), len(tc.content))
				}
				return
			}
			if arrived {
				t.Fatal("a refused upload reached the server")
			}
			p := string(page)
			for _, want := range []string{"送信されませんでした", "This upload was not sent", tc.rule, "UP-"} {
				if !strings.Contains(p, want) {
					t.Errorf("page lacks %q:\n%s", want, p)
				}
			}
			for _, n := range numbers {
				if strings.Contains(p, n) {
					t.Errorf("page shows %s unmasked", n)
				}
			}
		})
	}
}

// TestSquidServiceDownBlocks: with bypass=0, an upload while dlpguard is
// unreachable is refused by Squid and never reaches the server.
func TestSquidServiceDownBlocks(t *testing.T) {
	if !squidtest.Available() {
		t.Skip("squid is not installed (" + squidtest.Binary + "); apt-get install -y squid")
	}
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // nothing listens there now
	sk := &sink{files: map[string][]byte{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: sk}
	go hs.Serve(ln)
	defer hs.Close()
	sq, err := squidtest.Start(t.Context(), squidtest.Options{ICAP: "icap://" + deadAddr + "/reqmod"})
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Stop()
	proxy, _ := url.Parse("http://" + sq.Addr)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy), DisableKeepAlives: true}}
	ct, body := multipartUpload("memo.txt", []byte(harmless))
	resp, err := client.Post("http://"+ln.Addr().String()+"/upload", ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 500 {
		t.Errorf("HTTP %d with the ICAP service down, want a 5xx refusal", resp.StatusCode)
	}
	sk.mu.Lock()
	defer sk.mu.Unlock()
	if sk.n != 0 {
		t.Errorf("the server got %d requests while the guard was down", sk.n)
	}
}
