package console

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"dlpguard/download"
	"dlpguard/review"
)

// TestConsoleLinks: the detail page of a message released by link shows
// each recipient's link and its downloads, and an approver revokes them
// there (audited).
func TestConsoleLinks(t *testing.T) {
	f := newFixtureWith(t, func(c *review.Config) { c.NoKeyLink = true })
	ctx := context.Background()
	dlSrv := httptest.NewServer(http.NotFoundHandler())
	defer dlSrv.Close()
	key := make([]byte, 32)
	rand.Read(key)
	st, err := download.OpenSQLite(ctx, filepath.Join(f.dir, "download"), key)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var svc *review.Service
	dl, err := download.New(download.Config{BaseURL: dlSrv.URL},
		download.Deps{Store: st, Audit: f.stores.Audit, Logger: logger(),
			Mail: func(ctx context.Context, id string, m download.Message) error { return svc.QueueNotice(ctx, id, m) }})
	if err != nil {
		t.Fatal(err)
	}
	// The fixture's service and console again, with links.
	svc, err = review.New(review.Config{DataDir: review.PathsIn(f.dir).Review, Hostname: "relay.test",
		NoticeFrom: "dlpguard@city.example.lg.jp", AdminsApprove: true, NoKeyLink: true},
		review.Deps{Holds: f.stores.Holds, Audit: f.stores.Audit, Keys: f.stores.Keys, Policy: f.pol.Engine,
			Spool: f.spool, Logger: logger(), Downloads: dl})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	con, err := New(Config{DataDir: f.dir, LoginDelay: 1, MaxFailures: 3, Lockout: 3600e9},
		Deps{Review: svc, Holds: f.stores.Holds, Audit: f.stores.Audit, Policy: f.pol, Spool: f.spool, Logger: logger(), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer con.Close()
	mux := http.NewServeMux()
	mux.Handle("/console/", con.Handler())
	f.srv = httptest.NewServer(mux)
	defer f.srv.Close()

	id := f.hold("p017_personal_list.eml", "user5@city.example.lg.jp", "list@example.com", "two@example.org")
	c := f.client()
	csrf := c.signIn("kacho")
	r := c.do("POST", "/console/holds/"+id+"/release", url.Values{"csrf": {csrf}, "reason": {"確認済み"}})
	if r.status != 200 || !strings.Contains(r.body, `id="links"`) || !strings.Contains(r.body, "list@example.com") ||
		!strings.Contains(r.body, "まだダウンロードされていません") || !strings.Contains(r.body, "link") {
		t.Fatalf("after the release by link: %d %.2000s", r.status, r.body)
	}
	if strings.Contains(r.body, "/d/") {
		t.Fatal("the console shows a link token")
	}
	r = c.do("POST", "/console/holds/"+id+"/links/revoke", url.Values{"csrf": {csrfOf(t, r.body)}, "reason": {"宛先誤り"}})
	if r.status != 200 || !strings.Contains(r.body, "ダウンロードリンクを取り消しました") || !strings.Contains(r.body, "取り消し済み (kacho@city.example.lg.jp)") {
		t.Fatalf("after revoke: %d %.2000s", r.status, r.body)
	}
	if strings.Contains(r.body, `id="revoke-links"`) {
		t.Fatal("revoke offered for revoked links")
	}
	links, _ := dl.Links(ctx, id)
	for _, l := range links {
		if l.RevokedAt.IsZero() {
			t.Fatalf("link to %s not revoked", l.Recipient)
		}
	}
}
