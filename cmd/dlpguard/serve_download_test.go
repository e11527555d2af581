package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
)

// TestServeReleaseByLink: serve with review.no_key: link — a message
// held over SMTP, released through the API, goes out as a notice with a
// link on the download listener (which serves nothing of the console);
// the code arrives in the recipient's mailbox and opens the file, whose
// SHA-256 is the original's.
func TestServeReleaseByLink(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(fukushiPolicy("kacho@city.example.lg.jp")), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr, dlAddr := freePort(t), freePort(t)
	cfgFile := filepath.Join(dir, "dlpguard.yaml")
	r, cfg := startServe(t, cfgFile, "hostname: relay.test\ndata_dir: data\nsmtp:\n  listen: [\"127.0.0.1:0\"]\nhttp:\n  listen: \""+httpAddr+
		"\"\npolicy:\n  file: policy.yaml\nreview:\n  no_key: link\ndownload:\n  listen: \""+dlAddr+"\"\n  base_url: http://"+dlAddr+"\n")
	defer r.shutdown(time.Second)

	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "samples", "p017_personal_list.eml"))
	if err != nil {
		t.Fatal(err)
	}
	rcpt := "contact19@example.org"
	_, text := smtpSend(t, r.smtpAddrs[0], "user521@city.example.lg.jp", rcpt, raw)
	m := regexp.MustCompile(`held as ([0-9A-Z]+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("not held: %q", text)
	}
	id := m[1]
	var out, errb bytes.Buffer
	if code := runTokens([]string{"add", "--config", cfgFile, "--name", "kacho@city.example.lg.jp"}, &out, &errb); code != 0 {
		t.Fatalf("tokens add: exit %d %q", code, errb.String())
	}
	req, _ := http.NewRequest("POST", "http://"+httpAddr+"/api/v1/holds/"+id+"/release", strings.NewReader(`{"reason":"相手先確認済み"}`))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(out.String()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"method": "link"`) {
		t.Fatalf("release: %d %s", resp.StatusCode, body)
	}

	box := filepath.Join(cfg.DataDir, "mailbox", rcpt, "new")
	mails := func() []string {
		files, _ := os.ReadDir(box)
		var texts []string
		for _, f := range files {
			b, _ := os.ReadFile(filepath.Join(box, f.Name()))
			texts = append(texts, decodeNotice(t, b))
		}
		return texts
	}
	hkWait(t, "the link notice", func() bool { return len(mails()) == 1 })
	link := regexp.MustCompile(`http://` + regexp.QuoteMeta(dlAddr) + `/d/[A-Za-z0-9_-]{43}`).FindString(mails()[0])
	if link == "" {
		t.Fatalf("no link in %q", mails()[0])
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(u string) (int, []byte) {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, _ := get("http://" + dlAddr + "/console/"); st != http.StatusNotFound {
		t.Fatalf("the console on the download listener: %d", st)
	}
	if st, _ := get("http://" + dlAddr + "/api/v1/holds"); st != http.StatusNotFound {
		t.Fatalf("the API on the download listener: %d", st)
	}
	if st, page := get(link); st != 200 || !bytes.Contains(page, []byte("確認コードを送信")) {
		t.Fatalf("page: %d", st)
	}
	if resp, err := c.PostForm(link+"/code", url.Values{}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("code: %v", err)
	} else {
		resp.Body.Close()
	}
	var code string
	hkWait(t, "the code", func() bool {
		for _, s := range mails() {
			if m := regexp.MustCompile(`確認コード: ([0-9]{8})`).FindStringSubmatch(s); m != nil {
				code = m[1]
				return true
			}
		}
		return false
	})
	if resp, err := c.PostForm(link+"/verify", url.Values{"code": {code}}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("verify: %v", err)
	} else {
		resp.Body.Close()
	}
	e, _ := message.Read(bytes.NewReader(raw))
	mr := e.MultipartReader()
	var orig []byte
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		if _, params, _ := p.Header.ContentDisposition(); strings.HasSuffix(params["filename"], ".xlsx") {
			orig, _ = io.ReadAll(p.Body)
		}
	}
	st, got := get(link + "/f/1")
	if st != 200 || len(orig) == 0 || sha256.Sum256(got) != sha256.Sum256(orig) {
		t.Fatalf("download: %d, %d bytes, want the %d bytes of the xlsx", st, len(got), len(orig))
	}
}
