package console

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"dlpguard/hold"
	"dlpguard/internal/chrometest"
)

// browser is one headless Chromium (Debian package chromium) with what
// its pages said on the console.
type browser struct {
	t      *testing.T
	ctx    context.Context
	mu     sync.Mutex
	errors []string
	quiet  bool // a page expected to fail loading (404) is being shown
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	tctx := chrometest.Start(t, 1360, 1000)
	b := &browser{t: t, ctx: tctx}
	msgs := chromedp.Console(tctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.note(m.String() + " " + m.URL)
		}
	}()
	// Prove the listener hears the page before trusting its silence.
	if _, err := chromedp.Run(tctx, chromedp.Evaluate[any](`console.error("probe")`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the console probe", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.errors) == 1 && strings.Contains(b.errors[0], "probe")
	})
	b.mu.Lock()
	b.errors = nil
	b.mu.Unlock()
	// The confirmation before a decision: accept it.
	dialogs := chromedp.Events(tctx, cdppage.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(tctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return b
}

func (b *browser) note(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.quiet && strings.Contains(s, "404") {
		return
	}
	b.errors = append(b.errors, s)
}

func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// noConsoleErrors: the pages so far wrote nothing on the console and
// threw nothing (CSP violations are console errors too).
func (b *browser) noConsoleErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		b.t.Fatalf("console messages: %q", b.errors)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *browser) signIn(base, user string) {
	b.t.Helper()
	b.do("sign in as "+user,
		chromedp.Navigate(base+"/console/holds"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.CSS("h1 .count")),
	)
}

func (b *browser) signOut() {
	b.t.Helper()
	b.do("sign out", chromedp.Click(chromedp.CSS("form.inline button")), chromedp.WaitVisible(chromedp.ID("username")))
}

// screenshot saves the page to docs/screenshots when
// DLPGUARD_SCREENSHOTS is set (for the README).
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if os.Getenv("DLPGUARD_SCREENSHOTS") == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// TestBrowserReview is the reviewers' day in a real headless Chromium:
// sign in, open a held message, release it and see it delivered to the
// upstream; reject another; another department's reviewer cannot see
// it; every page renders without console errors.
func TestBrowserReview(t *testing.T) {
	f := newFixture(t)
	b := newBrowser(t)
	base := f.srv.URL
	idRel := f.hold("p020_marking.eml", "user2@city.example.lg.jp", "partner@example.com")
	idRej := f.hold("p022_marking.eml", "user3@city.example.lg.jp", "other@example.com")
	idOther := f.hold("p017_personal_list.eml", "user5@city.example.lg.jp", "list@example.com")
	f.hold("p011_other_id.eml", "user6@city.example.lg.jp", "nenkin@example.com")
	f.hold("p027_encrypted.eml", "staff@zei.city.example.lg.jp", "zip@example.com")

	// Sign in as the 福祉課 manager: the list shows the department's holds.
	b.signIn(base, "kacho")
	if n := b.text("#total"); strings.TrimSpace(n) != "4" {
		t.Fatalf("list count %q, want 4 (福祉課 only)", n)
	}
	list := b.text("#holds")
	if !strings.Contains(list, "user2@city.example.lg.jp") || strings.Contains(list, "staff@zei") {
		t.Fatalf("list: %s", list)
	}
	b.screenshot("list")

	// Open the held message and release it.
	b.do("open", chromedp.Click(chromedp.CSS(`a[href$="/holds/`+idRel+`"]`)), chromedp.WaitVisible(chromedp.ID("release")))
	if rules := b.text("#rules"); !strings.Contains(rules, "3.3.5") || !strings.Contains(rules, "情報セキュリティ管理責任者の許可") {
		t.Fatalf("rules without the clause text: %s", rules)
	}
	b.screenshot("detail")
	b.do("release",
		chromedp.SendKeys(chromedp.ID("release-reason"), "業務上必要なため（課長確認済み）"),
		chromedp.Click(chromedp.ID("release")),
		chromedp.WaitVisible(chromedp.ID("passphrase")),
	)
	if pp := strings.TrimSpace(b.text("#passphrase")); len(pp) < 8 {
		t.Fatalf("passphrase %q", pp)
	}
	b.screenshot("released")
	waitFor(t, "the released message at the upstream", func() bool { return len(f.up.To("partner@example.com")) == 1 })
	if rec, _ := f.stores.Holds.Get(context.Background(), idRel); rec.Status != hold.Released || rec.Actor != "kacho@city.example.lg.jp" {
		t.Fatalf("after release: %s by %s", rec.Status, rec.Actor)
	}

	// Reject another.
	b.do("reject",
		chromedp.Navigate(base+"/console/holds/"+idRej),
		chromedp.WaitVisible(chromedp.ID("reject")),
		chromedp.SendKeys(chromedp.ID("reject-reason"), "宛先の誤りのため"),
		chromedp.Click(chromedp.ID("reject")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
	)
	if rec, _ := f.stores.Holds.Get(context.Background(), idRej); rec.Status != hold.Rejected {
		t.Fatalf("after reject: %s", rec.Status)
	}
	if len(f.up.To("other@example.com")) != 0 {
		t.Fatal("the rejected message was delivered")
	}
	b.do("history", chromedp.Navigate(base+"/console/history"), chromedp.WaitVisible(chromedp.ID("holds")))
	if h := b.text("#holds"); !strings.Contains(h, "kacho@city.example.lg.jp") {
		t.Fatalf("history: %s", h)
	}

	// A day's work: find messages by search, then reject several at once
	// with one reason; each is decided through the review service.
	id7 := f.hold("p018_personal_list.eml", "user7@city.example.lg.jp", "meibo@example.com")
	id8 := f.hold("p021_marking.eml", "user8@city.example.lg.jp", "meibo@example.com")
	for _, s := range []struct{ words, shows, total string }{
		{"user7@city", id7, "1"},        // the sender
		{"meibo@example.com", id8, "2"}, // the recipient
	} {
		b.do("search "+s.words,
			chromedp.Navigate(base+"/console/holds"),
			chromedp.WaitVisible(chromedp.ID("search")),
			chromedp.SendKeys(chromedp.ID("search"), s.words),
			chromedp.Submit(chromedp.ID("search")),
			// The result page, not the list it was typed on.
			chromedp.WaitVisible(chromedp.ID("search-result")),
			chromedp.WaitVisible(chromedp.CSS(`input[value="`+s.shows+`"]`)),
		)
		if n := strings.TrimSpace(b.text("#total")); n != s.total {
			t.Fatalf("search for %s: %s rows, want %s", s.words, n, s.total)
		}
	}
	b.screenshot("search")
	b.do("bulk reject",
		chromedp.Click(chromedp.CSS(`input[value="`+id7+`"]`)),
		chromedp.Click(chromedp.CSS(`input[value="`+id8+`"]`)),
		chromedp.SendKeys(chromedp.ID("bulk-reason"), "名簿の送付は庁外不可のため"),
		chromedp.Click(chromedp.ID("bulk-reject")),
		chromedp.WaitVisible(chromedp.ID("bulk-results")),
	)
	if n := strings.TrimSpace(b.text("#bulk-done")); n != "2" {
		t.Fatalf("bulk reject: %s done, want 2: %s", n, b.text("#bulk-results"))
	}
	b.screenshot("bulk")
	for _, id := range []string{id7, id8} {
		if rec, _ := f.stores.Holds.Get(context.Background(), id); rec.Status != hold.Rejected || rec.Reason != "名簿の送付は庁外不可のため" {
			t.Fatalf("%s after bulk reject: %s %q", id, rec.Status, rec.Reason)
		}
	}
	if len(f.up.To("meibo@example.com")) != 0 {
		t.Fatal("a rejected message was delivered")
	}
	b.noConsoleErrors()
	b.signOut()

	// Another department's reviewer sees neither the list entry nor the
	// message, and has no button to act with.
	b.signIn(base, "zei")
	if n := b.text("#total"); strings.TrimSpace(n) != "1" {
		t.Fatalf("税務課 list count %q, want 1", n)
	}
	b.mu.Lock()
	b.quiet = true
	b.mu.Unlock()
	b.do("other department", chromedp.Navigate(base+"/console/holds/"+idOther), chromedp.WaitVisible(chromedp.CSS("p.error")))
	body := b.text("main")
	buttons, err := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.CSS("#release, #reject"), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.quiet = false
	b.mu.Unlock()
	if !strings.Contains(body, "見つかりません") || len(buttons) != 0 {
		t.Fatalf("another department's message: %q, %d buttons", body, len(buttons))
	}
	b.signOut()

	// The administrator's pages: rules with the counts, audit, delivery.
	b.signIn(base, "admin")
	b.do("rules", chromedp.Navigate(base+"/console/rules"), chromedp.WaitVisible(chromedp.ID("rule-stats")))
	if s := b.text("#rule-stats"); !strings.Contains(s, "marking") {
		t.Fatalf("rule stats: %s", s)
	}
	b.screenshot("rules")
	b.do("audit", chromedp.Navigate(base+"/console/audit"), chromedp.WaitVisible(chromedp.ID("chain")))
	if s := b.text("#chain"); !strings.Contains(s, "改ざんはありません") {
		t.Fatalf("audit chain: %s", s)
	}
	b.screenshot("audit")
	b.do("delivery", chromedp.Navigate(base+"/console/delivery"), chromedp.WaitVisible(chromedp.ID("queue-len")))
	b.do("english", chromedp.Navigate(base+"/console/holds?lang=en"), chromedp.WaitVisible(chromedp.ID("holds")))
	if s := b.text("h1"); !strings.Contains(s, "Held messages") {
		t.Fatalf("English: %s", s)
	}
	b.noConsoleErrors()
}
