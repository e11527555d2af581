package review

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"dlpguard/audit"
	"dlpguard/download"
	"dlpguard/policy"
	"dlpguard/release"
)

// linkFixture is the workflow fixture with release by link: a second
// Service on the same stores with review.no_key: link and the download
// listener on its own loopback server.
type linkFixture struct {
	*fixture
	svc   *Service
	dl    *download.Service
	dlSrv *httptest.Server
}

func newLinkFixture(t *testing.T) *linkFixture {
	t.Helper()
	f := newFixture(t, "", nil, func(c *Config) { c.FourEyesLevelI = false })
	var h http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	key := make([]byte, 32)
	rand.Read(key)
	st, err := download.OpenSQLite(context.Background(), filepath.Join(f.dir, "download"), key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	lf := &linkFixture{fixture: f, dlSrv: srv}
	lf.dl, err = download.New(download.Config{BaseURL: srv.URL, NotifySender: true},
		download.Deps{Store: st, Audit: f.stores.Audit, Logger: logger(), Now: f.clock.Now,
			Mail: func(ctx context.Context, id string, m download.Message) error { return lf.svc.QueueNotice(ctx, id, m) }})
	if err != nil {
		t.Fatal(err)
	}
	h = lf.dl.Handler()
	cfg := f.cfg
	cfg.NoKeyLink = true
	lf.svc, err = New(cfg, Deps{Holds: f.stores.Holds, Audit: f.stores.Audit, Keys: f.stores.Keys, Policy: f.svc.policy,
		Spool: f.spool, Notify: f.q.Notify, Logger: logger(), Now: f.clock.Now, Downloads: lf.dl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lf.svc.Close() })
	return lf
}

var linkKacho = Actor{Address: "kacho@city.example.lg.jp", Role: RoleApprover, Departments: []string{"福祉課"}}

var dlLinkRE = regexp.MustCompile(`https?://[^\s/]+/d/[A-Za-z0-9_-]{43}`)

// noticeFor waits for the one notice to rcpt and returns its text and link.
func (lf *linkFixture) noticeFor(t *testing.T, rcpt string) (raw []byte, text, link string) {
	t.Helper()
	waitFor(t, "link notice to "+rcpt, func() bool { return len(lf.up.To(rcpt)) >= 1 })
	msgs := lf.up.To(rcpt)
	if len(msgs) != 1 || len(msgs[0].Rcpts) != 1 {
		t.Fatalf("to %s: %d messages (%v), want one for this recipient alone", rcpt, len(msgs), msgs)
	}
	_, text = noticeText(t, msgs[0].Data)
	links := dlLinkRE.FindAllString(text, -1)
	if len(links) != 2 || links[0] != links[1] { // once in Japanese, once in English
		t.Fatalf("notice to %s: links %q, want one link twice", rcpt, links)
	}
	return msgs[0].Data, text, links[0]
}

func xlsxOf(t *testing.T, raw []byte) []byte {
	t.Helper()
	_, ls := leaves(t, raw)
	for _, l := range ls {
		if strings.HasSuffix(l.name, ".xlsx") {
			return l.body
		}
	}
	t.Fatal("no xlsx in the sample")
	return nil
}

type httpClient struct {
	t *testing.T
	c *http.Client
}

func newHTTPClient(t *testing.T) *httpClient {
	jar, _ := cookiejar.New(nil)
	return &httpClient{t: t, c: &http.Client{Jar: jar}}
}

func (b *httpClient) do(method, u string, form url.Values) (int, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", "linktest/1.0")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

var codeRE = regexp.MustCompile(`確認コード: ([0-9]{8})`)

// code requests a code on the page and reads it from the upstream.
func (lf *linkFixture) code(t *testing.T, b *httpClient, link, rcpt string) string {
	t.Helper()
	before := len(lf.up.To(rcpt))
	if st, page := b.do("POST", link+"/code", url.Values{}); st != 200 || !strings.Contains(page, "確認コードをメールで送信しました") {
		t.Fatalf("code request: %d %s", st, page)
	}
	return lf.mailedCode(t, rcpt, before)
}

// mailedCode waits for the mail after the first before to rcpt and
// returns the code in it.
func (lf *linkFixture) mailedCode(t *testing.T, rcpt string, before int) string {
	t.Helper()
	waitFor(t, "code mail", func() bool { return len(lf.up.To(rcpt)) > before })
	msgs := lf.up.To(rcpt)
	_, text := noticeText(t, msgs[len(msgs)-1].Data)
	m := codeRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no code in %q", text)
	}
	return m[1]
}

// auditedSteps: every step of a release by link left its audit entry.
func (lf *linkFixture) auditedSteps(t *testing.T, id string) {
	t.Helper()
	acts := lf.actions(t, id)
	for _, w := range []string{audit.Release, download.ActionPublish, download.ActionCodeRequest, download.ActionCodeFailure,
		download.ActionCodeOK, download.ActionDownload, download.ActionRefused, download.ActionLocked, download.ActionRevoke} {
		if acts[w] == 0 {
			t.Errorf("no audit entry %s (have %v)", w, acts)
		}
	}
}

func (lf *linkFixture) actions(t *testing.T, id string) map[string]int {
	t.Helper()
	es, _, err := lf.stores.Audit.List(context.Background(), audit.Filter{Subject: id, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range es {
		out[e.Action]++
	}
	return out
}

// TestReleaseByLink: a held message with an XLSX made by LibreOffice is
// released by link: each recipient's mail has no attachment content and
// one link of its own; the page asks for a code, which arrives at the
// upstream; with it the file downloads and its SHA-256 is the original's.
// Another recipient's session is refused, wrong codes lock, revoke and
// expiry close the page, purge removes the files; every step is audited.
func TestReleaseByLink(t *testing.T) {
	lf := newLinkFixture(t)
	ctx := context.Background()
	sender := "user521@city.example.lg.jp"
	a, bAddr := "contact19@example.org", "other@example.net"
	id, _, raw := lf.hold("p017_personal_list.eml", sender, a, bAddr)
	orig := xlsxOf(t, raw)
	want := sha256.Sum256(orig)

	res, err := lf.svc.Release(ctx, id, linkKacho, "相手先確認済み")
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != "link" || len(res.Links) != 2 || res.Status != "released" {
		t.Fatalf("release: %+v", res)
	}
	rawA, textA, linkA := lf.noticeFor(t, a)
	_, _, linkB := lf.noticeFor(t, bAddr)
	if linkA == linkB {
		t.Fatal("both recipients got the same link")
	}
	// No attachment content: no part but the notice, no xlsx bytes.
	if _, ls := leaves(t, rawA); len(ls) != 1 || ls[0].ctype != "text/plain" {
		t.Fatalf("notice parts: %+v", ls)
	}
	if bytes.Contains(rawA, orig[:64]) || strings.Contains(string(rawA), "UEsDB") {
		t.Fatal("the notice carries the xlsx")
	}
	for _, w := range []string{"要支援者名簿.xlsx", "有効期限", "Available until", sender} {
		if !strings.Contains(textA, w) {
			t.Errorf("notice lacks %q:\n%s", w, textA)
		}
	}

	ba := newHTTPClient(t)
	st, page := ba.do("GET", linkA, nil)
	if st != 200 || !strings.Contains(page, "確認コードを送信") || strings.Contains(page, "/f/0") {
		t.Fatalf("page before the code: %d %s", st, page)
	}
	if st, _ := ba.do("GET", linkA+"/f/0", nil); st != http.StatusForbidden {
		t.Fatalf("file without code: %d", st)
	}
	code := lf.code(t, ba, linkA, a)
	wrong := "00000000"
	if wrong == code {
		wrong = "11111111"
	}
	if st, page := ba.do("POST", linkA+"/verify", url.Values{"code": {wrong}}); st != 200 || !strings.Contains(page, "正しくありません") {
		t.Fatalf("wrong code: %d %s", st, page)
	}
	if st, page = ba.do("POST", linkA+"/verify", url.Values{"code": {code}}); st != 200 || !strings.Contains(page, "/f/") {
		t.Fatalf("right code: %d %s", st, page)
	}
	// The xlsx is the second file (after the body that carried findings).
	links, err := lf.dl.Links(ctx, id)
	if err != nil || len(links) != 2 {
		t.Fatalf("links: %v %v", links, err)
	}
	n := -1
	for i, f := range links[0].Files {
		if strings.HasSuffix(f.Name, ".xlsx") {
			n = i
		}
	}
	st, body := ba.do("GET", linkA+"/f/"+string(rune('0'+n)), nil)
	if got := sha256.Sum256([]byte(body)); st != 200 || got != want {
		t.Fatalf("download: %d, sha256 %x, want %x", st, got, want)
	}
	waitFor(t, "the sender's notice of the first download", func() bool {
		for _, m := range lf.up.To(sender) {
			if s, _ := noticeText(t, m.Data); strings.Contains(s, "【ダウンロード】") {
				return true
			}
		}
		return false
	})

	// A's session does not open B's link.
	bURL, _ := url.Parse(linkB)
	for _, c := range ba.c.Jar.Cookies(mustURL(linkA)) {
		ba.c.Jar.SetCookies(bURL, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: bURL.Path}})
	}
	if st, _ := ba.do("GET", linkB+"/f/0", nil); st != http.StatusForbidden {
		t.Fatalf("another recipient's link with A's session: %d", st)
	}
	// Wrong codes on B lock it.
	bb := newHTTPClient(t)
	lf.code(t, bb, linkB, bAddr)
	for i := range download.DefaultCodeTries {
		st, page := bb.do("POST", linkB+"/verify", url.Values{"code": {"9999999" + string(rune('0'+i%10))}})
		if i == download.DefaultCodeTries-1 && (st != http.StatusForbidden || !strings.Contains(page, "ロック")) {
			t.Fatalf("after %d wrong codes: %d %s", i+1, st, page)
		}
	}
	if st, page := bb.do("GET", linkB, nil); st != http.StatusForbidden || !strings.Contains(page, "ロックされました") {
		t.Fatalf("locked page: %d %s", st, page)
	}

	// Revoked: a clear page, and the file refused even with a session.
	if n, err := lf.dl.Revoke(ctx, id, linkKacho.Address, "宛先誤り"); err != nil || n != 2 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	if st, page := ba.do("GET", linkA, nil); st != http.StatusGone || !strings.Contains(page, "取り消されました") {
		t.Fatalf("revoked page: %d %s", st, page)
	}
	if st, _ := ba.do("GET", linkA+"/f/0", nil); st != http.StatusGone {
		t.Fatalf("revoked file: %d", st)
	}
	// An unknown token: not found.
	if st, _ := ba.do("GET", lf.dlSrv.URL+"/d/"+strings.Repeat("A", 43), nil); st != http.StatusNotFound {
		t.Fatalf("unknown token: %d", st)
	}

	lf.auditedSteps(t, id)
	es, _, _ := lf.stores.Audit.List(ctx, audit.Filter{Subject: id, Action: download.ActionDownload})
	if len(es) != 1 || !strings.Contains(string(es[0].Details), hex.EncodeToString(want[:])) || !strings.Contains(string(es[0].Details), "linktest/1.0") {
		t.Fatalf("download entry: %+v", es)
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

// TestReleaseByLinkExpiry: after the expiry the page says so; purge then
// deletes the links and their files.
func TestReleaseByLinkExpiry(t *testing.T) {
	lf := newLinkFixture(t)
	ctx := context.Background()
	id, _, _ := lf.hold("p017_personal_list.eml", "user521@city.example.lg.jp", "contact19@example.org")
	if _, err := lf.svc.Release(ctx, id, linkKacho, "確認済み"); err != nil {
		t.Fatal(err)
	}
	_, _, link := lf.noticeFor(t, "contact19@example.org")
	lf.clock.Add(download.DefaultExpiry + time.Minute)
	b := newHTTPClient(t)
	if st, page := b.do("GET", link, nil); st != http.StatusGone || !strings.Contains(page, "有効期限が切れています") {
		t.Fatalf("expired page: %d %s", st, page)
	}
	if err := lf.dl.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := b.do("GET", link, nil); st != http.StatusNotFound {
		t.Fatalf("purged link: %d", st)
	}
	files, _ := filepath.Glob(filepath.Join(lf.dir, "download", "files", "*"))
	if len(files) != 0 {
		t.Fatalf("files left after purge: %v", files)
	}
	if lf.actions(t, id)[download.ActionPurge] != 1 {
		t.Fatal("no purge entry")
	}
}

// TestLinksAPI: the API lists a release's links with their downloads
// (never a token) to those who may view it, and revokes them for the
// sender or an approver; others are refused and audited.
func TestLinksAPI(t *testing.T) {
	lf := newLinkFixture(t)
	srv := httptest.NewServer(lf.svc.Handler())
	defer srv.Close()
	lf.srv = srv // f.api talks to the link release's service
	ctx := context.Background()
	sender := "user521@city.example.lg.jp"
	id, _, _ := lf.hold("p017_personal_list.eml", sender, "contact19@example.org", "other@example.net")
	if _, err := lf.svc.Release(ctx, id, linkKacho, "確認済み"); err != nil {
		t.Fatal(err)
	}
	_, _, link := lf.noticeFor(t, "contact19@example.org")
	tok := link[strings.LastIndex(link, "/")+1:]
	kachoTok := lf.token("kacho", "kacho@city.example.lg.jp", RoleApprover, "福祉課")
	zeiTok := lf.token("zei", "zei-kacho@city.example.lg.jp", RoleApprover, "税務課")
	senderTok := lf.token("sender", sender, RoleApprover, "福祉課")

	code, out := lf.api("GET", "/api/v1/holds/"+id+"/links", kachoTok, nil)
	if code != 200 {
		t.Fatalf("links: %d %v", code, out)
	}
	if ls, _ := out["links"].([]any); len(ls) != 2 {
		t.Fatalf("links: %v", out)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/holds/"+id+"/links", nil)
	req.Header.Set("Authorization", "Bearer "+kachoTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), tok) || strings.Contains(string(body), "token") {
		t.Fatalf("the API shows a token: %s", body)
	}
	if code, _ := lf.api("GET", "/api/v1/holds/"+id+"/links", zeiTok, nil); code != 404 && code != 403 {
		t.Fatalf("another department's approver sees the links: %d", code)
	}
	if code, _ := lf.api("POST", "/api/v1/holds/"+id+"/links/revoke", zeiTok, map[string]string{"reason": "x"}); code != 404 && code != 403 {
		t.Fatalf("another department's approver revokes: %d", code)
	}
	if code, _ := lf.api("POST", "/api/v1/holds/"+id+"/links/revoke", senderTok, map[string]string{}); code != 400 {
		t.Fatalf("revoke without a reason: %d", code)
	}
	code, out = lf.api("POST", "/api/v1/holds/"+id+"/links/revoke", senderTok, map[string]string{"reason": "宛先を間違えた"})
	if code != 200 || out["revoked"] != float64(2) {
		t.Fatalf("the sender's revoke: %d %v", code, out)
	}
	if st, page := newHTTPClient(t).do("GET", link, nil); st != http.StatusGone || !strings.Contains(page, "取り消されました") {
		t.Fatalf("after revoke: %d", st)
	}
	es, _, _ := lf.stores.Audit.List(ctx, audit.Filter{Subject: id, Action: download.ActionRevoke})
	var granted, refused int
	for _, e := range es {
		switch {
		case strings.Contains(string(e.Details), `"refused"`):
			refused++
		case e.Actor == sender:
			granted++
		}
	}
	if granted != 1 || refused < 2 {
		t.Fatalf("revoke entries: %d granted, %d refused: %+v", granted, refused, es)
	}
}

// TestPolicyReleaseMode: the policy's release mode decides, not the
// officer nor review.no_key: a rule with mode link goes by link although
// the recipient has a key; mode refuse refuses (audited); mode pgp
// refuses a recipient without a key although review.no_key is link.
func TestPolicyReleaseMode(t *testing.T) {
	lf := newLinkFixture(t)
	ctx := context.Background()
	g := newGPG(t, "contact19@example.org")
	if _, err := lf.stores.Keys.Import(bytes.NewReader(g.Export())); err != nil {
		t.Fatal(err)
	}
	withMode := func(mode string) {
		y := strings.Replace(string(policy.DefaultYAML()), "\nrules:\n", "\n"+testDepartments+"\nrules:\n", 1)
		y = strings.Replace(y, "  - id: personal-list-hold\n", "  - id: personal-list-hold\n    release: {mode: "+mode+"}\n", 1)
		e, err := policy.Parse([]byte(y), "mode.yaml")
		if err != nil {
			t.Fatal(err)
		}
		lf.pol = e
	}
	sender := "user521@city.example.lg.jp"

	withMode("link")
	id, _, _ := lf.hold("p017_personal_list.eml", sender, "contact19@example.org")
	res, err := lf.svc.Release(ctx, id, linkKacho, "確認済み")
	if err != nil || res.Method != "link" {
		t.Fatalf("mode link with a key: %+v %v", res, err)
	}
	lf.noticeFor(t, "contact19@example.org")

	withMode("refuse")
	id, _, _ = lf.hold("p017_personal_list.eml", sender, "contact19@example.org")
	if _, err := lf.svc.Release(ctx, id, linkKacho, "確認済み"); err == nil || reasonCode(err) != "release_refused" {
		t.Fatalf("mode refuse: %v", err)
	}
	es, _, _ := lf.stores.Audit.List(ctx, audit.Filter{Subject: id, Action: audit.Release})
	if len(es) != 1 || !strings.Contains(string(es[0].Details), `"reason_code":"release_refused"`) {
		t.Fatalf("refusal entry: %+v", es)
	}

	withMode("pgp")
	id, _, _ = lf.hold("p017_personal_list.eml", sender, "nokey@example.net")
	if _, err := lf.svc.Release(ctx, id, linkKacho, "確認済み"); err == nil || reasonCode(err) != "no_key" {
		t.Fatalf("mode pgp without a key: %v", err)
	}
}

// TestReleaseByLinkProtectsSubject: a Subject with findings leaves only
// as review.release_subject; the original travels in 元のヘッダー.txt on
// the download page, never in the notice.
func TestReleaseByLinkProtectsSubject(t *testing.T) {
	lf := newLinkFixture(t)
	ctx := context.Background()
	id, _, _ := lf.hold("p020_marking.eml", "user189@city.example.lg.jp", "partner@example.com")
	res, err := lf.svc.Release(ctx, id, linkKacho, "確認済み")
	if err != nil || res.Method != "link" {
		t.Fatalf("release: %+v %v", res, err)
	}
	raw, text, _ := lf.noticeFor(t, "partner@example.com")
	subj, _ := noticeText(t, raw)
	if subj != release.DefaultSubject || strings.Contains(string(raw)+text, "課税台帳") {
		t.Fatalf("notice subject %q; the original shows: %v", subj, strings.Contains(string(raw)+text, "課税台帳"))
	}
	if !strings.Contains(text, "元のヘッダー.txt") || !strings.Contains(text, "本文.txt") {
		t.Fatalf("files in the notice:\n%s", text)
	}
	if len(res.ProtectedHeaders) == 0 || res.ProtectedHeaders[0] != "Subject" {
		t.Fatalf("protected headers: %v", res.ProtectedHeaders)
	}
}

// TestReleaseByLinkPassphrase: where the policy says access: passphrase,
// the officer gets a passphrase once (with whom to give it and how), the
// notice says it comes by another channel and carries none, no code is
// mailed, and the passphrase (spaces, case aside) opens the page.
func TestReleaseByLinkPassphrase(t *testing.T) {
	lf := newLinkFixture(t)
	ctx := context.Background()
	y := strings.Replace(string(policy.DefaultYAML()), "\nrules:\n", "\n"+testDepartments+"\nrules:\n", 1)
	y = strings.Replace(y, "  - id: personal-list-hold\n", "  - id: personal-list-hold\n    release: {mode: link, access: passphrase}\n", 1)
	e, err := policy.Parse([]byte(y), "pass.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lf.pol = e
	rcpt := "contact19@example.org"
	id, _, raw := lf.hold("p017_personal_list.eml", "user521@city.example.lg.jp", rcpt)
	res, err := lf.svc.Release(ctx, id, linkKacho, "確認済み")
	if err != nil || res.Method != "link" || res.Passphrase == "" || res.PassphraseHandoff == nil {
		t.Fatalf("release: %+v %v", res, err)
	}
	rawN, text, link := lf.noticeFor(t, rcpt)
	if strings.Contains(string(rawN)+text, res.Passphrase) || !strings.Contains(text, "パスワードは送信元の担当者から電話など") {
		t.Fatalf("notice:\n%s", text)
	}
	c := newHTTPClient(t)
	if st, page := c.do("GET", link, nil); st != 200 || strings.Contains(page, "send-code") || !strings.Contains(page, "パスワード") {
		t.Fatalf("page: %d %s", st, page)
	}
	if st, _ := c.do("POST", link+"/code", url.Values{}); st != http.StatusForbidden {
		t.Fatalf("code request on a passphrase link: %d", st)
	}
	typed := strings.ToUpper(strings.ReplaceAll(res.Passphrase, "-", "- "))
	typed = strings.ReplaceAll(typed, "- ", "-  ")
	if st, page := c.do("POST", link+"/verify", url.Values{"code": {typed}}); st != 200 || !strings.Contains(page, "/f/") {
		t.Fatalf("passphrase: %d %s", st, page)
	}
	st, body := c.do("GET", link+"/f/1", nil)
	if want := sha256.Sum256(xlsxOf(t, raw)); st != 200 || sha256.Sum256([]byte(body)) != want {
		t.Fatalf("download: %d", st)
	}
	for _, m := range lf.up.To(rcpt) {
		if _, s := noticeText(t, m.Data); strings.Contains(s, "確認コード:") {
			t.Fatal("a code was mailed for a passphrase link")
		}
	}
}
