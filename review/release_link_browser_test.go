package review

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"dlpguard/download"
	"dlpguard/internal/chrometest"
)

// chrome is one headless Chromium (Debian's chromium) that saves
// downloads into dir and keeps what pages wrote on the console.
type chrome struct {
	t      *testing.T
	ctx    context.Context
	dir    string
	mu     sync.Mutex
	errors []string
}

func newChrome(t *testing.T) *chrome {
	t.Helper()
	// A phone's width: the page is for phones too.
	tctx := chrometest.Start(t, 420, 860)
	c := &chrome{t: t, ctx: tctx, dir: t.TempDir()}
	msgs := chromedp.Console(tctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.errors = append(c.errors, m.String()+" "+m.URL)
			c.mu.Unlock()
		}
	}()
	if _, err := chromedp.CallBrowser(tctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: c.dir}); err != nil {
		t.Fatalf("download behaviour: %v", err)
	}
	return c
}

func (c *chrome) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	if err := chromedp.Do(c.ctx, actions...); err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
}

func (c *chrome) text(sel string) string {
	c.t.Helper()
	s, err := chromedp.Run(c.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		c.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// screenshot saves the page to docs/screenshots when DLPGUARD_SCREENSHOTS
// is set (for the README).
func (c *chrome) screenshot(name string) {
	c.t.Helper()
	if os.Getenv("DLPGUARD_SCREENSHOTS") == "" {
		return
	}
	png, err := chromedp.Run(c.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		c.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// consoleErrors: what the pages wrote on the console except the
// expected status of the closed pages (410, 403, 404).
func (c *chrome) consoleErrors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.errors {
		if strings.Contains(e, "status of 410") || strings.Contains(e, "status of 403") || strings.Contains(e, "status of 404") {
			continue
		}
		out = append(out, e)
	}
	return out
}

// TestBrowserReleaseByLink is issue 13's walk in a real headless Chromium:
// a held message with an XLSX made by LibreOffice is released by link; the
// mail at the recording upstream carries no attachment and one link per
// recipient; the page asks for a code, the code arrives at the upstream,
// is entered, the file downloads and its SHA-256 is the original's.
// Another recipient's file is refused, wrong codes lock, a revoked and an
// expired link show a clear page, every step is audited.
func TestBrowserReleaseByLink(t *testing.T) {
	lf := newLinkFixture(t)
	c := newChrome(t)
	ctx := context.Background()
	sender, a, bAddr := "user521@city.example.lg.jp", "contact19@example.org", "other@example.net"
	id, _, raw := lf.hold("p017_personal_list.eml", sender, a, bAddr)
	want := sha256.Sum256(xlsxOf(t, raw))
	if _, err := lf.svc.Release(ctx, id, linkKacho, "相手先確認済み"); err != nil {
		t.Fatal(err)
	}
	rawA, _, linkA := lf.noticeFor(t, a)
	_, _, linkB := lf.noticeFor(t, bAddr)
	if _, ls := leaves(t, rawA); len(ls) != 1 || ls[0].ctype != "text/plain" {
		t.Fatalf("the mail carries more than the notice: %+v", ls)
	}

	c.do("open the link", chromedp.Navigate(linkA), chromedp.WaitVisible(chromedp.ID("send-code")))
	if s := c.text("main"); !strings.Contains(s, "要支援者名簿.xlsx") || !strings.Contains(s, "有効期限") {
		t.Fatalf("page: %s", s)
	}
	c.screenshot("download-code")
	before := len(lf.up.To(a))
	c.do("ask for a code", chromedp.Click(chromedp.ID("send-code")), chromedp.WaitVisible(chromedp.ID("msg")))
	code := lf.mailedCode(t, a, before)
	c.do("enter the code", chromedp.SendKeys(chromedp.ID("code"), code), chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.CSS("a.file")))
	c.screenshot("download-files")
	c.do("download the xlsx", chromedp.Click(chromedp.CSS(`a.file[href$="/f/1"]`)))
	path := filepath.Join(c.dir, "要支援者名簿.xlsx")
	var got []byte
	waitFor(t, "the downloaded file", func() bool {
		b, err := os.ReadFile(path)
		if err != nil || sha256.Sum256(b) != want {
			return false
		}
		got = b
		return true
	})
	if sha256.Sum256(got) != want {
		t.Fatal("downloaded file differs")
	}
	c.do("English", chromedp.Navigate(linkA+"?lang=en"), chromedp.WaitVisible(chromedp.CSS("a.file")))
	if s := c.text("h1"); s != "File download" {
		t.Fatalf("English title: %q", s)
	}
	c.screenshot("download-files-en")

	// Another recipient's file: A's session is no proof for B.
	c.do("B's file", chromedp.Navigate(linkB+"/f/1"), chromedp.WaitVisible(chromedp.ID("msg")))
	if s := c.text("#msg"); !strings.Contains(s, "ご本人専用") {
		t.Fatalf("B's file with A's session: %q", s)
	}
	// Wrong codes on B's page lock it.
	c.do("open B", chromedp.Navigate(linkB), chromedp.WaitVisible(chromedp.ID("send-code")),
		chromedp.Click(chromedp.ID("send-code")), chromedp.WaitVisible(chromedp.ID("msg")))
	for range download.DefaultCodeTries {
		// A fresh page each time (it has no #msg), so that waiting for
		// #msg waits for the answer to this very try.
		c.do("wrong code", chromedp.Navigate(linkB), chromedp.WaitVisible(chromedp.ID("code")),
			chromedp.SendKeys(chromedp.ID("code"), "12345678"),
			chromedp.Click(chromedp.ID("verify")), chromedp.WaitVisible(chromedp.ID("msg")))
	}
	c.do("B again", chromedp.Navigate(linkB), chromedp.WaitVisible(chromedp.ID("msg")))
	if s := c.text("#msg"); !strings.Contains(s, "ロックされました") {
		t.Fatalf("after wrong codes: %q", s)
	}
	c.screenshot("download-locked")

	// Revoked.
	if _, err := lf.dl.Revoke(ctx, id, linkKacho.Address, "宛先誤り"); err != nil {
		t.Fatal(err)
	}
	c.do("revoked", chromedp.Navigate(linkA), chromedp.WaitVisible(chromedp.ID("msg")))
	if s := c.text("#msg"); !strings.Contains(s, "取り消されました") {
		t.Fatalf("revoked page: %q", s)
	}
	c.screenshot("download-revoked")

	// Expired: another release, a week and a minute later.
	id2, _, _ := lf.hold("p017_personal_list.eml", sender, "third@example.com")
	if _, err := lf.svc.Release(ctx, id2, linkKacho, "確認済み"); err != nil {
		t.Fatal(err)
	}
	_, _, link3 := lf.noticeFor(t, "third@example.com")
	lf.clock.Add(download.DefaultExpiry + time.Minute)
	c.do("expired", chromedp.Navigate(link3), chromedp.WaitVisible(chromedp.ID("msg")))
	if s := c.text("#msg"); !strings.Contains(s, "有効期限が切れています") {
		t.Fatalf("expired page: %q", s)
	}
	c.screenshot("download-expired")
	if errs := c.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console messages (CSP violations are errors too): %q", errs)
	}

	lf.auditedSteps(t, id)
}
