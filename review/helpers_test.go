package review

import (
	"bytes"
	"context"
	"dlpguard/internal/mailtest"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset"

	"dlpguard/inspect"
	"dlpguard/policy"
	"dlpguard/queue"
	"dlpguard/release"
	"dlpguard/spool"
)

// The recording upstream and the GnuPG home come from mailtest.
type (
	upstream = mailtest.Upstream
	got      = mailtest.Message
	gpgHome  = mailtest.GPG
)

func startUpstream(t testing.TB) *upstream { return mailtest.StartUpstream(t) }

// newGPG is a throw-away GnuPG home with one recipient's secret key (none
// when uid is empty).
func newGPG(t testing.TB, uid string) *gpgHome {
	t.Helper()
	g := mailtest.NewGPG(t)
	if uid != "" {
		g.Gen(uid)
	}
	return g
}

// waitFor polls cond (deliveries are asynchronous); it fails after a
// generous bound so that a broken pipeline does not hang the suite.
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

// testPolicy is the default policy plus two departments and a delay rule.
const testDepartments = `departments:
  - name: 福祉課
    senders: ["user*@city.example.lg.jp"]
    manager: kacho@city.example.lg.jp
    deputies: [kakaricho@city.example.lg.jp]
  - name: 税務課
    senders: ["*@zei.city.example.lg.jp"]
    manager: zei-kacho@city.example.lg.jp
`

const testDelayRule = `rules:
  - id: delay-check
    when:
      recipient_domain: ["delay.example"]
    action: delay
    delay_minutes: 5
    clause: "3.3.5"
    message:
      ja: "誤送信防止のため送信を遅らせます。"
      en: "Delayed against mis-sending."
`

func testPolicy(t testing.TB) *policy.Engine {
	t.Helper()
	y := string(policy.DefaultYAML())
	y = strings.Replace(y, "\nrules:\n", "\n"+testDepartments+"\n"+testDelayRule, 1)
	e, err := policy.Parse([]byte(y), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// fixture is the whole workflow in process: hold store, audit log,
// keyring, spool, the real delivery queue to a recording upstream, the
// Service and its API on a loopback httptest server.
type fixture struct {
	t      testing.TB
	dir    string
	clock  *testClock
	up     *upstream
	pol    *policy.Engine
	stores *Stores
	spool  *spool.Store
	q      *queue.Queue
	svc    *Service
	srv    *httptest.Server
	stop   func()
	cfg    Config
}

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

func newFixture(t testing.TB, dir string, up *upstream, mod func(*Config)) *fixture {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if up == nil {
		up = startUpstream(t)
	}
	f := &fixture{t: t, dir: dir, up: up, clock: &testClock{t: time.Now()}, pol: testPolicy(t)}
	ctx := context.Background()
	var err error
	f.stores, err = OpenStores(ctx, dir, testStoreOptions(t, dir, StoreOptions{Logger: logger(), Now: f.clock.Now}))
	if err != nil {
		t.Fatal(err)
	}
	if f.spool, err = spool.Open(PathsIn(dir).Spool); err != nil {
		t.Fatal(err)
	}
	f.q, err = queue.New(queue.Config{Upstream: up.Addr, TLS: queue.TLSNone, Workers: 2,
		Retry: []time.Duration{20 * time.Millisecond}, Hostname: "relay.test", DrainTimeout: 5 * time.Second,
		Rescan: time.Hour}, f.spool, logger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { f.q.Run(qctx); close(done) }()

	var h http.Handler = http.NotFoundHandler()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	f.cfg = Config{DataDir: PathsIn(dir).Review, Hostname: "relay.test", NoticeFrom: "dlpguard@city.example.lg.jp",
		BaseURL: f.srv.URL, FourEyesLevelI: true, NoKeyMode: release.RefuseWithoutKey}
	if mod != nil {
		mod(&f.cfg)
	}
	f.svc, err = New(f.cfg, Deps{Holds: f.stores.Holds, Audit: f.stores.Audit, Keys: f.stores.Keys,
		Policy: func() *policy.Engine { return f.pol }, Spool: f.spool, Notify: f.q.Notify, Schedule: f.q.NotifyAt, Logger: logger(), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h = f.svc.Handler()
	stopped := false
	f.stop = func() {
		if stopped {
			return
		}
		stopped = true
		f.srv.Close()
		cancel()
		<-done
		f.svc.Close()
		f.stores.Close()
	}
	t.Cleanup(f.stop)
	return f
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
// hands it to Service.Hold.
func (f *fixture) hold(name, from string, rcpts ...string) (string, *policy.Verdict, []byte) {
	f.t.Helper()
	raw := readSample(f.t, name)
	ctx := context.Background()
	v, err := f.pol.Evaluate(ctx, bytes.NewReader(raw), policy.Input{Sender: from, Recipients: rcpts})
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
	return id, v, raw
}

func (f *fixture) token(name, actor, role string, depts ...string) string {
	f.t.Helper()
	tok, err := f.svc.DB().AddToken(context.Background(), Token{Name: name, Actor: actor, Role: role, Departments: depts}, time.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// api calls the API and decodes the JSON answer.
func (f *fixture) api(method, path, token string, body any) (int, map[string]any) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &out); err != nil {
		f.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, data, err)
	}
	return resp.StatusCode, out
}

// leaf is one decoded MIME leaf part.
type leaf struct {
	name, ctype string
	body        []byte
}

func leaves(t testing.TB, raw []byte) (message.Header, []leaf) {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) {
		t.Fatal(err)
	}
	var out []leaf
	var walk func(e *message.Entity)
	walk = func(e *message.Entity) {
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					return
				}
				if err != nil && !message.IsUnknownCharset(err) {
					t.Fatal(err)
				}
				walk(p)
			}
		}
		ct, _, _ := e.Header.ContentType()
		_, params, _ := e.Header.ContentDisposition()
		name := params["filename"]
		if name == "" {
			_, cp, _ := e.Header.ContentType()
			name = cp["name"]
		}
		b, err := io.ReadAll(e.Body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, leaf{name: name, ctype: ct, body: b})
	}
	walk(e)
	return e.Header, out
}

// noticeText decodes a notice: subject and text.
func noticeText(t testing.TB, raw []byte) (string, string) {
	t.Helper()
	h, ls := leaves(t, raw)
	subj, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range ls {
		b.Write(l.body)
	}
	return subj, b.String()
}

// textSink collects every piece of text inspection extracts.
type textSink struct{ b strings.Builder }

func (s *textSink) Chunk(c inspect.Chunk) { s.b.WriteString(c.Text + "\n") }

var digitRun = regexp.MustCompile(`[0-9０-９][0-9０-９\-−ー－ 　]*[0-9０-９]`)

// identifiers returns the digit strings (separators removed) of at least 8
// digits in the whole extracted text of a message, attachments included:
// every My Number, pension, card, phone number and date in it.
func identifiers(t testing.TB, raw []byte) []string {
	t.Helper()
	var s textSink
	if _, err := inspect.Message(context.Background(), bytes.NewReader(raw), inspect.Limits{}, &s); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range digitRun.FindAllString(s.b.String(), -1) {
		if d := digitsOnly(m); len(d) >= 8 {
			out = append(out, d)
		}
	}
	return out
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９':
			b.WriteRune(r - '０' + '0')
		}
	}
	return b.String()
}

func openSpool(dir string) (*spool.Store, error) { return spool.Open(PathsIn(dir).Spool) }
