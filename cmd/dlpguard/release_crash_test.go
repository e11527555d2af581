package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"dlpguard/audit"
	"dlpguard/hold"
	"dlpguard/internal/mailtest"
	"dlpguard/review"
)

// TestKillDuringRelease is issue 11's "kill -9 during a release": class-I
// messages are held over SMTP, the manager releases them through the API
// (passphrase mode) and the binary is killed with SIGKILL at a different
// moment in each round, restarted, killed again. Until the last start the
// upstream is unreachable, so every copy a release queued waits in the
// queue through the kills (a kill during the delivery itself is the
// queue's at-least-once, TestCrashNoLoss). At the last start the upstream
// answers; every message must then be released exactly once: a release
// answered 200 is released; one whose answer the kill cut off is either
// released or still held — and then releasable — never lost, never
// queued twice. Every recipient gets exactly one copy, which GnuPG opens
// with the passphrase its release gave; every hold has exactly one
// granted release in the audit log, whose chain verifies.
func TestKillDuringRelease(t *testing.T) { killDuringRelease(t, false) }

// TestKillDuringLinkRelease is TestKillDuringRelease with the release by
// download link (review.no_key: link): every recipient gets exactly one
// notice, whose link opens; a hold has the links of its one committed
// release only (those of a release the kill cut before its commit are
// deleted at the next start), and one granted release in the audit log.
func TestKillDuringLinkRelease(t *testing.T) { killDuringRelease(t, true) }

func killDuringRelease(t *testing.T, link bool) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	data := filepath.Join(dir, "data")
	polPath := filepath.Join(dir, "policy.yaml")
	pol := fukushiPolicy(manager)
	if err := os.WriteFile(polPath, []byte(pol), 0o600); err != nil {
		t.Fatal(err)
	}
	smtpAddr, httpAddr := freePort(t), freePort(t)
	cfgPath := filepath.Join(dir, "dlpguard.yaml")
	dlAddr := freePort(t)
	config := func(upstream string) string {
		if link {
			return binaryConfig(data, smtpAddr, upstream, httpAddr, polPath) + "review:\n  four_eyes_level_i: false\n  no_key: link\n" +
				"download:\n  listen: \"" + dlAddr + "\"\n  base_url: \"http://" + dlAddr + "\"\n"
		}
		return binaryConfig(data, smtpAddr, upstream, httpAddr, polPath) + "review:\n  four_eyes_level_i: false\n  no_key: passphrase\n"
	}
	down := freePort(t) // nothing listens there: every delivery is retried
	logf := writeConfig(t, dir, cfgPath, config(down))

	// The manager's API token, made before the first start.
	ctx := context.Background()
	db, err := review.OpenDB(ctx, filepath.Join(review.PathsIn(data).Review, "review.db"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := db.AddToken(ctx, review.Token{Name: "kacho", Actor: manager, Role: review.RoleApprover}, time.Now())
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	api := "http://" + httpAddr + "/api/v1/holds/"
	client := &http.Client{Timeout: 30 * time.Second}
	releaseReq := func(id string) (int, review.ReleaseResult, error) {
		req, _ := http.NewRequest("POST", api+id+"/release", strings.NewReader(`{"reason":"確認しました"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			return 0, review.ReleaseResult{}, err
		}
		defer resp.Body.Close()
		var rr review.ReleaseResult
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0, rr, err
		}
		json.Unmarshal(b, &rr)
		return resp.StatusCode, rr, nil
	}

	type msg struct {
		id, rcpt, passphrase string
		answered             bool // the release answered 200 released before the kill
	}
	var msgs []*msg
	heldRE := regexp.MustCompile(`held as ([0-9A-Z]+)`)
	const perRound = 3
	// Where the kills land: the releases of a round are taken one at a
	// time (the service decides one release at a time), each mostly
	// OpenPGP work, then staged, marked released, audited and queued in a
	// few milliseconds. Round "all" lets them finish, "now" kills at
	// once, "mid" half a release after the first answer (in the
	// encryption of the next); the "staged" rounds watch the staging
	// folder and kill when a copy appears there, plus a delay, so that
	// the kill lands between staging and the record's commit, between
	// the commit and the queue, or just after.
	staging := filepath.Join(review.PathsIn(data).Review, "release", "queue")
	if link {
		// A link release's staging folder appears as it starts.
		staging = filepath.Join(review.PathsIn(data).Review, "release-link")
	}
	type kill struct {
		when  string
		after time.Duration
	}
	rounds := []kill{{"all", 0}, {"now", 0}, {"mid", 0}}
	for _, d := range []time.Duration{0, 0, 300 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond, 8 * time.Millisecond, 12 * time.Millisecond} {
		rounds = append(rounds, kill{"staged", d})
	}
	if link {
		// A link release stores files and links before it stages the
		// notices and commits: later kills reach past the commit.
		for _, d := range []time.Duration{25 * time.Millisecond, 35 * time.Millisecond, 42 * time.Millisecond, 48 * time.Millisecond, 54 * time.Millisecond, 60 * time.Millisecond} {
			rounds = append(rounds, kill{"staged", d})
		}
	}
	var gap time.Duration
	for round, k := range rounds {
		cmd := startBinary(t, bin, cfgPath, smtpAddr, logf)
		waitHTTP(t, "http://"+httpAddr+"/healthz")
		var batch []*msg
		for i := range perRound {
			from := fmt.Sprintf("user%d@city.example.lg.jp", 100+i)
			rcpt := fmt.Sprintf("c%d-%d@example.org", round, i)
			raw := "From: <" + from + ">\r\nTo: <" + rcpt + ">\r\nSubject: " + mime.BEncoding.Encode("UTF-8", "照会 123456789018") +
				"\r\nMessage-ID: <kill-" + rcpt + ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
				"お問い合わせの件 " + rcpt + "\r\n"
			se, text := smtpSend(t, smtpAddr, from, rcpt, []byte(raw))
			m := heldRE.FindStringSubmatch(text)
			if se != nil || m == nil {
				t.Fatalf("round %d: not held: %v %q", round, se, text)
			}
			batch = append(batch, &msg{id: m[1], rcpt: rcpt})
		}
		answers := make(chan time.Time, perRound)
		var wg sync.WaitGroup
		for _, m := range batch {
			wg.Go(func() {
				code, rr, err := releaseReq(m.id)
				if err == nil && code == 200 && rr.Status == "released" {
					m.answered, m.passphrase = true, rr.Passphrase
					answers <- time.Now()
				} else if err == nil {
					t.Errorf("release %s before the kill: %d %+v", m.id, code, rr)
				}
			})
		}
		wait := func(n int) (times []time.Time) {
			for range n {
				select {
				case at := <-answers:
					times = append(times, at)
				case <-time.After(60 * time.Second):
					t.Fatalf("round %d: no release answered in a minute; log in %s", round, logf.Name())
				}
			}
			return times
		}
		switch k.when {
		case "all":
			times := wait(perRound)
			gap = times[len(times)-1].Sub(times[0]) / time.Duration(len(times)-1)
			t.Logf("round %d: %v between two releases", round, gap)
		case "mid":
			wait(1)
			time.Sleep(gap / 2)
		case "staged":
			deadline := time.Now().Add(time.Minute)
			for countEntries(t, staging) == 0 && time.Now().Before(deadline) {
				time.Sleep(100 * time.Microsecond)
			}
			time.Sleep(k.after)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		wg.Wait()
		n := 0
		for _, m := range batch {
			if m.answered {
				n++
			}
		}
		t.Logf("round %d: kill %s+%v, %d of %d releases answered", round, k.when, k.after, n, perRound)
		msgs = append(msgs, batch...)
	}

	// The last start, with the upstream answering.
	up := mailtest.StartUpstream(t)
	if err := os.WriteFile(cfgPath, []byte(config(up.Addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := startBinary(t, bin, cfgPath, smtpAddr, logf)
	waitHTTP(t, "http://"+httpAddr+"/healthz")
	var answered, recovered, heldAfter int
	for _, m := range msgs {
		status := holdStatus(t, api+m.id, tok)
		switch {
		case m.answered:
			answered++
			if status != hold.Released {
				t.Errorf("%s: released (200) before the kill, now %s", m.id, status)
			}
		case status == hold.Released:
			recovered++ // committed, its answer cut off by the kill
		case status == hold.Held:
			heldAfter++
			code, rr, err := releaseReq(m.id)
			if err != nil || code != 200 || rr.Status != "released" {
				t.Fatalf("%s still held, its release after the restart: %d %+v %v", m.id, code, rr, err)
			}
			m.answered, m.passphrase = true, rr.Passphrase
		default:
			t.Errorf("%s: %s after the kills", m.id, status)
		}
	}
	t.Logf("%d messages: %d answered before a kill, %d released with the answer cut off, %d still held and released afterwards",
		len(msgs), answered, recovered, heldAfter)
	if lb, err := os.ReadFile(logf.Name()); err == nil {
		t.Logf("staged copies settled at a start: %d queued (committed), %d discarded (not committed)",
			bytes.Count(lb, []byte("release interrupted after its commit")), bytes.Count(lb, []byte("release interrupted before its commit")))
	}

	waitLong(t, "one copy for every recipient", func() bool {
		for _, m := range msgs {
			if len(up.To(m.rcpt)) == 0 {
				return false
			}
		}
		return true
	})
	// Nothing is left to send (the queue and the staging spool are
	// empty), so no second copy can come later.
	waitLong(t, "an empty queue", func() bool {
		return countEntries(t, filepath.Join(data, "spool", "queue")) == 0 &&
			countEntries(t, filepath.Join(review.PathsIn(data).Review, "release", "queue")) == 0 &&
			countEntries(t, filepath.Join(review.PathsIn(data).Review, "release-link")) == 0
	})
	g := mailtest.NewGPG(t)
	for _, m := range msgs {
		got := up.To(m.rcpt)
		if len(got) != 1 {
			t.Errorf("%s delivered %d times", m.id, len(got))
			continue
		}
		if bytes.Contains(got[0].Data, []byte("123456789018")) {
			t.Errorf("%s: the number left in clear", m.id)
		}
		if link {
			checkKilledLink(t, api+m.id+"/links", tok, got[0].Data)
			continue
		}
		if m.passphrase == "" {
			continue // released, its answer (and passphrase) cut off by the kill
		}
		plain, err := g.Decrypt(hkAttachment(t, got[0].Data, "本文.txt.pgp"), m.passphrase)
		if err != nil || !strings.Contains(string(plain), m.rcpt) {
			t.Errorf("%s: GnuPG with its passphrase: %v %q", m.id, err, plain)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	var out, errb bytes.Buffer
	if code := runAudit([]string{"verify", "--data", data}, &out, &errb); code != 0 {
		t.Fatalf("audit verify: %d %s %s", code, out.String(), errb.String())
	}
	al, err := audit.Open(ctx, review.PathsIn(data).Audit)
	if err != nil {
		t.Fatal(err)
	}
	defer al.Close()
	for _, m := range msgs {
		entries, _, err := al.List(ctx, audit.Filter{Subject: m.id, Action: audit.Release})
		if err != nil {
			t.Fatal(err)
		}
		granted := 0
		for _, e := range entries {
			var d struct{ Outcome string }
			json.Unmarshal(e.Details, &d)
			if d.Outcome == "granted" {
				granted++
			}
		}
		if granted != 1 {
			t.Errorf("%s: %d granted releases in the audit log", m.id, granted)
		}
	}
}

// binaryConfig is the configuration of the binary in the crash tests: the
// relay on smtpAddr trusting loopback, delivering to upstream (retried
// every 300ms), the API on httpAddr and the policy file polPath.
func binaryConfig(data, smtpAddr, upstream, httpAddr, polPath string) string {
	return fmt.Sprintf(`hostname: relay.test
data_dir: %s
smtp:
  listen: ["%s"]
  networks: [127.0.0.0/8]
upstream:
  address: "%s"
  starttls: none
  retry: [300ms]
http:
  listen: "%s"
policy:
  file: %s
`, data, smtpAddr, upstream, httpAddr, polPath)
}

// holdStatus is the status of a held message as the API shows it.
func holdStatus(t *testing.T, url, tok string) hold.Status {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct{ Status hold.Status }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return v.Status
}

// waitHTTP waits until url answers (the API starts after the SMTP
// listener).
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	mailtest.WaitFor(t, url, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
}

// waitLong polls cond for up to two minutes (a loaded machine delivers
// dozens of messages and notices after the restart).
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countEntries counts the messages in a spool area folder (overlays and
// a missing folder count nothing).
func countEntries(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if !strings.HasSuffix(e.Name(), ".env") {
			n++
		}
	}
	return n
}

var killLinkRE = regexp.MustCompile(`https?://[^\s/]+/d/[A-Za-z0-9_-]{43}`)

// checkKilledLink: the notice's link opens the download page, and the
// hold has that one link (a release undone at a start left none).
func checkKilledLink(t *testing.T, linksURL, tok string, notice []byte) {
	t.Helper()
	text := decodeNotice(t, notice)
	u := killLinkRE.FindString(text)
	if u == "" {
		t.Errorf("no link in the notice %q", text)
		return
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "確認コード") {
		t.Errorf("link %s: %d", u, resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", linksURL, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct{ Links []review.LinkView }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || len(v.Links) != 1 {
		t.Errorf("GET %s: %d links %v, want the one of the committed release", linksURL, len(v.Links), err)
	}
}
