package review

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"dlpguard/policy"
	"dlpguard/spool"
)

const delaySender = "user100@city.example.lg.jp"

// delayed runs a message through the test policy's delay rule.
func (f *fixture) delayed(rcpt, subject string) string {
	f.t.Helper()
	raw := "From: <" + delaySender + ">\r\nTo: <" + rcpt + ">\r\nSubject: " + subject + "\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nお世話になっております。会議の資料です。\r\n"
	v, err := f.pol.Evaluate(context.Background(), strings.NewReader(raw), policy.Input{Sender: delaySender, Recipients: []string{rcpt}})
	if err != nil {
		f.t.Fatal(err)
	}
	if v.Action != policy.Delay || v.DelayMinutes != 5 {
		f.t.Fatalf("verdict %s %d, want delay 5", v.Action, v.DelayMinutes)
	}
	// As package dispose does: the message waits in the delivery queue,
	// due later, and the sender is told.
	w, err := f.spool.Create()
	if err != nil {
		f.t.Fatal(err)
	}
	io.WriteString(w, raw)
	due := time.Now().Add(delayFor)
	env := &spool.Envelope{ID: w.ID(), From: delaySender, Received: time.Now(), NextAttempt: due,
		Recipients: []spool.Recipient{{Address: rcpt, Status: spool.Pending}}}
	if err := w.Commit(env, spool.AreaQueue); err != nil {
		f.t.Fatal(err)
	}
	f.q.NotifyAt(env.ID, due)
	f.svc.DelayNotice(context.Background(), env, due, v)
	return env.ID
}

// delayFor is the test's delay (the policy's 5 minutes, shortened: the
// queue waits in real time).
const delayFor = 3 * time.Second

var linkRE = regexp.MustCompile(`http://[^\s]+/api/v1/delays/[^\s]+`)

// links returns the cancel and send links of the n-th notice to the sender.
func (f *fixture) links(n int) (cancel, send string) {
	f.t.Helper()
	waitFor(f.t, "delay notice", func() bool { return len(f.up.To(delaySender)) > n })
	_, text := noticeText(f.t, f.up.To(delaySender)[n].Data)
	for _, l := range linkRE.FindAllString(text, -1) {
		switch {
		case strings.Contains(l, "/cancel?"):
			cancel = l
		case strings.Contains(l, "/send?"):
			send = l
		}
	}
	if cancel == "" || send == "" || !strings.Contains(text, "取り消") {
		f.t.Fatalf("delay notice without links:\n%s", text)
	}
	return cancel, send
}

func post(t testing.TB, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDelay(t *testing.T) {
	f := newFixture(t, "", nil, nil)
	ctx := context.Background()

	// 1: cancelled by the sender's link; never delivered.
	id1 := f.delayed("a@delay.example", "one")
	cancel1, send1 := f.links(0)
	resp, err := http.Get(cancel1)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(page, []byte("<form method=\"post\"")) {
		t.Fatalf("GET link: %d %s", resp.StatusCode, page)
	}
	if ids, _ := f.svc.Delayed(); len(ids) != 1 || ids[0] != id1 {
		t.Fatalf("a GET changed something: %v", ids)
	}
	// Forged and expired links are refused.
	forged := cancel1[:len(cancel1)-1] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", cancel1[len(cancel1)-1])+1)%16])
	if code, _ := post(t, forged); code != http.StatusForbidden {
		t.Errorf("forged link: %d, want 403", code)
	}
	other := strings.Replace(send1, id1, spool.NewID(), 1)
	if code, _ := post(t, other); code != http.StatusForbidden {
		t.Errorf("link moved to another message: %d, want 403", code)
	}
	swapped := strings.Replace(send1, "/send?", "/cancel?", 1)
	if code, _ := post(t, swapped); code != http.StatusForbidden {
		t.Errorf("send link used to cancel: %d, want 403", code)
	}
	if code, _ := post(t, f.svc.DelayLink("cancel", id1, time.Now().Add(-time.Minute))); code != http.StatusGone {
		t.Errorf("expired link: %d, want 410", code)
	}
	if code, body := post(t, cancel1); code != 200 || !strings.Contains(body, "取り消しました") {
		t.Fatalf("cancel: %d %s", code, body)
	}
	if code, _ := post(t, cancel1); code != http.StatusNotFound {
		t.Errorf("cancel twice: %d, want 404", code)
	}

	// 2: untouched, goes out when due. 3: sent at once by its link.
	f.delayed("b@delay.example", "two")
	f.links(1)
	f.delayed("c@delay.example", "three")
	_, send3 := f.links(2)
	if code, _ := post(t, send3); code != 200 {
		t.Fatalf("send now: %d", code)
	}
	waitFor(t, "sent-now message", func() bool { return len(f.up.To("c@delay.example")) == 1 })
	if len(f.up.To("b@delay.example")) != 0 {
		t.Fatal("delivered before the delay ended")
	}
	waitFor(t, "due message", func() bool { return len(f.up.To("b@delay.example")) == 1 })
	if m := f.up.To("b@delay.example")[0]; m.From != delaySender || !bytes.Contains(m.Data, []byte("Subject: two")) {
		t.Errorf("due message: from %q", m.From)
	}
	waitFor(t, "queue empty", func() bool { return f.q.Len() == 0 })
	if ids, _ := f.svc.Delayed(); len(ids) != 0 {
		t.Errorf("still delayed: %v", ids)
	}
	if len(f.up.To("a@delay.example")) != 0 {
		t.Error("the cancelled message was delivered")
	}
	if brk, err := f.stores.Audit.Verify(ctx); brk != nil || err != nil {
		t.Fatalf("audit: %v %v", brk, err)
	}
}

// TestDelayMigration: delayed messages an earlier version kept in its own
// spool (DataDir/delay) are moved into the delivery queue at start with
// their ID and due time: the one due goes out, the sender's link of the
// other still cancels it, nothing is left behind or lost.
func TestDelayMigration(t *testing.T) {
	dir := t.TempDir()
	old, err := spool.Open(filepath.Join(PathsIn(dir).Review, "delay"))
	if err != nil {
		t.Fatal(err)
	}
	put := func(rcpt string, due time.Time) string {
		w, err := old.Create()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "From: <"+delaySender+">\r\nTo: <"+rcpt+">\r\nSubject: old delay\r\n\r\nbody\r\n")
		env := &spool.Envelope{ID: w.ID(), From: delaySender, Received: time.Now(), NextAttempt: due,
			Recipients: spool.PendingRecipients([]string{rcpt})}
		if err := w.Commit(env, spool.AreaQueue); err != nil {
			t.Fatal(err)
		}
		return env.ID
	}
	soon, later := time.Now().Add(2*time.Second), time.Now().Add(time.Hour)
	idSoon := put("soon@delay.example", soon)
	idLater := put("later@delay.example", later)

	f := newFixture(t, dir, nil, nil)
	if ids, _ := old.List(spool.AreaQueue); len(ids) != 0 {
		t.Fatalf("left in the old delay spool: %v", ids)
	}
	for id, due := range map[string]time.Time{idSoon: soon, idLater: later} {
		env, err := f.spool.Envelope(spool.AreaQueue, id)
		if err != nil || !env.NextAttempt.Equal(due) {
			t.Fatalf("%s in the queue: %v %v, want due %v", id, env, err, due)
		}
	}
	if len(f.up.To("soon@delay.example")) != 0 {
		t.Fatal("sent before it was due")
	}
	waitFor(t, "the due message", func() bool { return len(f.up.To("soon@delay.example")) == 1 })
	if code, body := post(t, f.svc.DelayLink("cancel", idLater, later)); code != 200 {
		t.Fatalf("cancel link of a migrated message: %d %s", code, body)
	}
	if _, err := f.spool.Envelope(spool.AreaQueue, idLater); err == nil {
		t.Fatal("cancelled message still queued")
	}
	if len(f.up.To("later@delay.example")) != 0 {
		t.Fatal("cancelled message delivered")
	}
}
