package console

import (
	"bytes"
	"context"
	"dlpguard/internal/mailtest"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"dlpguard/directory"
	"dlpguard/hold"
	"dlpguard/policy"
	"dlpguard/queue"
	"dlpguard/release"
	"dlpguard/review"
	"dlpguard/spool"
)

// The recording upstream comes from mailtest.
type upstream = mailtest.Upstream

func startUpstream(t testing.TB) *upstream { return mailtest.StartUpstream(t) }

// waitFor polls cond (delivery is asynchronous) with a generous bound so
// that a broken pipeline fails instead of hanging.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 1500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// testPolicyYAML is the default policy with two departments.
func testPolicyYAML() string {
	y := string(policy.DefaultYAML())
	return strings.Replace(y, "\nrules:\n", `
departments:
  - name: 福祉課
    senders: ["user*@city.example.lg.jp"]
    manager: kacho@city.example.lg.jp
  - name: 税務課
    senders: ["*@zei.city.example.lg.jp"]
    manager: zei-kacho@city.example.lg.jp

rules:
`, 1)
}

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

// fixture is the whole review workflow in process: hold store, audit
// log, spool, the real delivery queue to a recording upstream, the review
// Service and the console on a loopback httptest server.
type fixture struct {
	t      testing.TB
	dir    string
	up     *upstream
	pol    *policy.Holder
	stores *review.Stores
	spool  *spool.Store
	svc    *review.Service
	con    *Console
	srv    *httptest.Server
	clock  *testClock
}

// testClock is the console's clock, moved by tests (session timeouts).
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newFixture(t testing.TB) *fixture { return newFixtureWith(t, nil) }

// newFixtureWith lets a test change the review configuration.
func newFixtureWith(t testing.TB, mod func(*review.Config)) *fixture {
	t.Helper()
	return newFixtureDir(t, mod, nil)
}

// newFixtureDir is newFixtureWith with the city's directory as the
// source of departments, approvers and sign-ins (dir may be nil).
func newFixtureDir(t testing.TB, mod func(*review.Config), dc *directory.Client) *fixture {
	t.Helper()
	// Typed nils would not be nil interfaces.
	var revDir review.Directory
	var conDir DirectoryAuth
	if dc != nil {
		revDir, conDir = dc, dc
	}
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, up: startUpstream(t), clock: &testClock{t: time.Now()}}
	ctx := context.Background()
	polFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(polFile, []byte(testPolicyYAML()), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.pol, err = policy.NewHolder(polFile, logger()); err != nil {
		t.Fatal(err)
	}
	if f.stores, err = review.OpenStores(ctx, dir, review.StoreOptions{Logger: logger()}); err != nil {
		t.Fatal(err)
	}
	if f.spool, err = spool.Open(review.PathsIn(dir).Spool); err != nil {
		t.Fatal(err)
	}
	q, err := queue.New(queue.Config{Upstream: f.up.Addr, TLS: queue.TLSNone, Workers: 2,
		Retry: []time.Duration{20 * time.Millisecond}, Hostname: "relay.test", DrainTimeout: 5 * time.Second,
		Rescan: time.Hour}, f.spool, logger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { q.Run(qctx); close(done) }()
	rcfg := review.Config{DataDir: review.PathsIn(dir).Review, Hostname: "relay.test",
		NoticeFrom: "dlpguard@city.example.lg.jp", NoKeyMode: release.PassphraseWithoutKey,
		AdminsApprove: true} // the administrators of these tests decide (review.admins_approve)
	if mod != nil {
		mod(&rcfg)
	}
	f.svc, err = review.New(rcfg,
		review.Deps{Holds: f.stores.Holds, Audit: f.stores.Audit, Keys: f.stores.Keys, Policy: f.pol.Engine,
			Spool: f.spool, Notify: q.Notify, Logger: logger(), Directory: revDir})
	if err != nil {
		t.Fatal(err)
	}
	f.con, err = New(Config{DataDir: dir, LoginDelay: time.Millisecond, MaxFailures: 3, Lockout: time.Hour},
		Deps{Review: f.svc, Holds: f.stores.Holds, Audit: f.stores.Audit, Policy: f.pol, Spool: f.spool, Logger: logger(), Now: f.clock.Now,
			Directory: conDir})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/console/", f.con.Handler())
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.srv.Close()
		cancel()
		<-done
		f.con.Close()
		f.svc.Close()
		f.stores.Close()
	})
	// The people of the tests.
	f.addUser("kacho", "福祉課 課長", "kacho@city.example.lg.jp", RoleApprover, "福祉課")
	f.addUser("zei", "税務課 課長", "zei-kacho@city.example.lg.jp", RoleApprover, "税務課")
	f.addUser("admin", "管理者", "admin@city.example.lg.jp", RoleAdmin)
	f.addUser("user1", "職員", "user1@city.example.lg.jp", RoleApprover, "福祉課")
	return f
}

const testPassword = "correct horse battery"

func (f *fixture) addUser(name, display, email, role string, depts ...string) {
	f.t.Helper()
	if err := f.con.Users().Add(context.Background(), User{Username: name, DisplayName: display, Email: email, Role: role, Departments: depts}, testPassword, time.Now()); err != nil {
		f.t.Fatal(err)
	}
}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hold evaluates a sample with the test policy as the relay would and
// hands it to review.Service.Hold.
func (f *fixture) hold(name, from string, rcpts ...string) string {
	f.t.Helper()
	raw := readSample(f.t, name)
	ctx := context.Background()
	v, err := f.pol.Engine().Evaluate(ctx, bytes.NewReader(raw), policy.Input{Sender: from, Recipients: rcpts})
	if err != nil {
		f.t.Fatal(err)
	}
	if v.Action != policy.Hold {
		f.t.Fatalf("%s: verdict %s, want hold", name, v.Action)
	}
	env := &spool.Envelope{ID: spool.NewID(), From: from, Received: time.Now()}
	env.Recipients = spool.PendingRecipients(rcpts)
	id, err := f.svc.Hold(ctx, env, bytes.NewReader(raw), v)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// putRaw stores content in the hold store directly with a hand-made
// verdict (a message a changed policy held, say).
func (f *fixture) putRaw(raw []byte, from, dept string, v hold.Verdict) string {
	f.t.Helper()
	rec, err := f.stores.Holds.Put(context.Background(), hold.Record{ID: spool.NewID(),
		Envelope: hold.Envelope{From: from, Recipients: []string{"someone@example.com"}, Received: time.Now()},
		Subject:  "test", Department: dept, Level: "I", Verdict: v, RequiredApprovals: 1}, bytes.NewReader(raw))
	if err != nil {
		f.t.Fatal(err)
	}
	return rec.ID
}

// client is a browser-like HTTP client with its own cookies that does
// not follow redirects (tests look at them).
type client struct {
	t    testing.TB
	f    *fixture
	http *http.Client
}

func (f *fixture) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: f.t, f: f, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type resp struct {
	status int
	body   string
	header http.Header
}

func (c *client) do(method, path string, form url.Values) resp {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.f.srv.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{status: r.StatusCode, body: string(b), header: r.Header}
}

func (c *client) get(path string) resp { c.t.Helper(); return c.do("GET", path, nil) }

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the first form in a page.
func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in page: %.300s", body)
	}
	return m[1]
}

// login signs in and returns the session's CSRF token.
func (c *client) login(user, pw string) resp {
	c.t.Helper()
	page := c.get("/console/login")
	return c.do("POST", "/console/login", url.Values{"csrf": {csrfOf(c.t, page.body)}, "username": {user}, "password": {pw}})
}

// signIn signs in (it must succeed) and returns the session CSRF token.
func (c *client) signIn(user string) string {
	c.t.Helper()
	r := c.login(user, testPassword)
	if r.status != http.StatusSeeOther || !strings.HasSuffix(r.header.Get("Location"), "/console/holds") {
		c.t.Fatalf("sign-in %s: %d %s %.300s", user, r.status, r.header.Get("Location"), r.body)
	}
	p := c.get("/console/holds")
	if p.status != 200 {
		c.t.Fatalf("list after sign-in: %d", p.status)
	}
	return csrfOf(c.t, p.body)
}
