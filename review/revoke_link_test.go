package review

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"dlpguard/audit"
	"dlpguard/download"
)

var revokeURLRE = regexp.MustCompile(`https?://[^\s/]+(/api/v1/links/[0-9A-Z]+/revoke\?exp=[0-9]+&sig=[0-9a-f]{64})`)

// TestSenderRevokeLink: the sender's notice of a release by link carries
// a signed, expiring link; over HTTP its GET only asks for confirmation
// (a page with the console's security headers), a tampered or foreign
// signature and a POST from another site are
// refused, the confirmed POST revokes every recipient's link (their pages
// then say revoked) with a download-revoke audit entry by the sender, and
// after the links' expiry the revoke link says expired.
func TestSenderRevokeLink(t *testing.T) {
	lf := newLinkFixture(t)
	ctx := context.Background()
	api := httptest.NewServer(lf.svc.Handler())
	t.Cleanup(api.Close)
	sender := "user521@city.example.lg.jp"
	a, bAddr := "contact19@example.org", "other@example.net"
	id, _, _ := lf.hold("p017_personal_list.eml", sender, a, bAddr)
	other, _, _ := lf.hold("p017_personal_list.eml", sender, a)
	if _, err := lf.svc.Release(ctx, id, linkKacho, "相手先確認済み"); err != nil {
		t.Fatal(err)
	}
	_, _, linkA := lf.noticeFor(t, a)
	_, _, linkB := lf.noticeFor(t, bAddr)

	var path string
	waitFor(t, "the sender's release notice", func() bool {
		for _, m := range lf.up.To(sender) {
			if _, text := noticeText(t, m.Data); revokeURLRE.MatchString(text) {
				sm := revokeURLRE.FindStringSubmatch(text)
				if !strings.Contains(text, "取り消せます") || !strings.Contains(text, "revoke the download links") {
					t.Fatalf("revoke link without its explanation:\n%s", text)
				}
				path = sm[1]
				return true
			}
		}
		return false
	})
	if !strings.Contains(path, "/api/v1/links/"+id+"/") {
		t.Fatalf("revoke link %s is not for %s", path, id)
	}
	u := api.URL + path
	post := func(target string, hdr map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", target, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	open := func(link string) int {
		t.Helper()
		st, _ := newHTTPClient(t).do("GET", link, nil)
		return st
	}

	// The GET is a confirmation only: nothing is revoked.
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || open(linkA) != 200 {
		t.Fatalf("GET of the revoke link: %d, recipient's page %d", resp.StatusCode, open(linkA))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("revoke confirmation page without the security headers: %v", resp.Header)
	}
	// Refused: a changed signature, another message under this
	// signature, a delay link's signature, a POST from another site.
	bad := strings.Replace(u, "sig=", "sig=0", 1)
	bad = bad[:len(bad)-1]
	sig := u[strings.Index(u, "sig=")+4:]
	exp := u[strings.Index(u, "exp=")+4 : strings.Index(u, "&sig")]
	for name, c := range map[string]struct {
		url  string
		hdr  map[string]string
		want int
	}{
		"tampered signature": {bad, nil, http.StatusForbidden},
		"another message":    {api.URL + "/api/v1/links/" + other + "/revoke?exp=" + exp + "&sig=" + sig, nil, http.StatusForbidden},
		"a delay link":       {api.URL + strings.Replace(strings.TrimPrefix(lf.svc.DelayLink("cancel", id, lf.clock.Now().Add(time.Hour)), lf.cfg.BaseURL), "/delays/"+id+"/cancel", "/links/"+id+"/revoke", 1), nil, http.StatusForbidden},
		"cross-site":         {u, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		"cross-site fetch":   {u, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
	} {
		if st, page := post(c.url, c.hdr); st != c.want {
			t.Errorf("%s: %d %s, want %d", name, st, page, c.want)
		}
	}
	if open(linkA) != 200 || open(linkB) != 200 {
		t.Fatal("a refused revoke closed the links")
	}

	// Confirmed, from the page itself: every recipient's link closes.
	st, page := post(u, map[string]string{"Origin": api.URL})
	if st != 200 || !strings.Contains(page, "取り消しました（2 件）") {
		t.Fatalf("revoke: %d %s", st, page)
	}
	if sa, sb := open(linkA), open(linkB); sa != http.StatusGone || sb != http.StatusGone {
		t.Fatalf("after the revoke the pages answer %d %d, want 410", sa, sb)
	}
	if st, page := post(u, nil); st != 200 || !strings.Contains(page, "すでに取り消されています") {
		t.Fatalf("second revoke: %d %s", st, page)
	}
	es, _, err := lf.stores.Audit.List(ctx, audit.Filter{Subject: id, Action: download.ActionRevoke})
	if err != nil {
		t.Fatal(err)
	}
	granted := 0
	for _, e := range es {
		var d struct {
			Links  int
			Reason string
		}
		json.Unmarshal(e.Details, &d)
		if e.Actor == sender && d.Links == 2 && d.Reason == revokeBySenderReason {
			granted++
		}
	}
	if granted != 1 {
		t.Fatalf("audit: %d download-revoke entries by the sender for 2 links (entries %+v)", granted, es)
	}

	// After the links' expiry the revoke link has expired too.
	lf.clock.Add(download.DefaultExpiry + time.Minute)
	resp, err = http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("revoke link after expiry: %d, want 410", resp.StatusCode)
	}
}
