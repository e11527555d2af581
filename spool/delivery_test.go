package spool_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dlpguard/queue"
	"dlpguard/spool"
)

// sink is a go-smtp upstream on loopback that records every transaction.
type sink struct {
	mu  sync.Mutex
	got map[string][]byte // recipient → data
}

type sinkSession struct {
	s     *sink
	rcpts []string
}

func (s *sinkSession) Reset()                               { s.rcpts = nil }
func (s *sinkSession) Logout() error                        { return nil }
func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.s.mu.Lock()
	defer s.s.mu.Unlock()
	for _, rc := range s.rcpts {
		if _, dup := s.s.got[rc]; dup {
			rc += " (again)"
		}
		s.s.got[rc] = b
	}
	return nil
}

func startSink(t *testing.T) (*sink, string) {
	t.Helper()
	k := &sink{got: map[string][]byte{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: k}, nil }))
	srv.Domain = "upstream.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return k, ln.Addr().String()
}

// TestQueueDeliversMessageBytesOnly: the queue delivers exactly the bytes
// that were committed, never the trailer, for one-file messages with and
// without an overlay, a moved one, and a message of the previous layout
// found in the spool after an upgrade.
func TestQueueDeliversMessageBytesOnly(t *testing.T) {
	dir := t.TempDir()
	body := func(subject string, n int) string {
		var b strings.Builder
		b.WriteString("Subject: " + subject + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
		for i := 0; i < n; i++ {
			b.WriteString(".先頭のドット line that the client dot-stuffs\r\n")
		}
		return b.String()
	}
	want := map[string]string{} // recipient → bytes

	// The previous layout: ID and ID.env.
	for _, d := range []string{"tmp", "queue", "hold"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	oldID := spool.NewID()
	oldBody := body("old layout", 50)
	oldEnv, _ := json.Marshal(&spool.Envelope{ID: oldID, From: "a@city.example.lg.jp", Size: int64(len(oldBody)), Received: time.Now(),
		Recipients: []spool.Recipient{{Address: "old@example.com", Status: spool.Pending}}})
	os.WriteFile(filepath.Join(dir, "queue", oldID), []byte(oldBody), 0o600)
	os.WriteFile(filepath.Join(dir, "queue", oldID+".env"), oldEnv, 0o600)
	want["old@example.com"] = oldBody

	st, err := spool.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	commit := func(area spool.Area, data string, rcpts ...string) *spool.Envelope {
		w, err := st.Create()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, data)
		env := &spool.Envelope{From: "a@city.example.lg.jp", Received: time.Now()}
		env.Recipients = spool.PendingRecipients(rcpts)
		if err := w.Commit(env, area); err != nil {
			t.Fatal(err)
		}
		return env
	}
	plain := body("plain", 260)
	commit(spool.AreaQueue, plain, "plain@example.com")
	want["plain@example.com"] = plain

	// An overlay says one recipient has it already: only the other gets it.
	upd := body("updated", 3)
	env := commit(spool.AreaQueue, upd, "done@example.com", "later@example.com")
	env.Recipients[0].Status, env.Recipients[0].Attempts = spool.Delivered, 1
	if err := st.UpdateEnvelope(spool.AreaQueue, env); err != nil {
		t.Fatal(err)
	}
	want["later@example.com"] = upd

	// Released from hold: moved into the queue with its overlay.
	rel := body("released", 1)
	env = commit(spool.AreaHold, rel, "released@example.com")
	env.Recipients[0].LastError = "held (3.3.5)"
	if err := st.UpdateEnvelope(spool.AreaHold, env); err != nil {
		t.Fatal(err)
	}
	if err := st.Move(spool.AreaHold, spool.AreaQueue, env.ID); err != nil {
		t.Fatal(err)
	}
	want["released@example.com"] = rel

	k, addr := startSink(t)
	q, err := queue.New(queue.Config{Upstream: addr, TLS: queue.TLSNone, Workers: 2, Hostname: "relay.test",
		Retry: []time.Duration{20 * time.Millisecond}, Rescan: time.Hour, DrainTimeout: 5 * time.Second}, st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("queue run: %v", err)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ids, _ := st.List(spool.AreaQueue)
		// Also the overlays, which the queue's reaper removes after
		// the message files.
		ents, _ := os.ReadDir(filepath.Join(dir, "queue"))
		k.mu.Lock()
		n := len(k.got)
		k.mu.Unlock()
		if len(ids) == 0 && len(ents) == 0 && n >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: %d in the queue, %d of %d received", len(ids), n, len(want))
		}
		time.Sleep(10 * time.Millisecond)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var gotRcpts, wantRcpts []string
	for rc := range k.got {
		gotRcpts = append(gotRcpts, rc)
	}
	for rc := range want {
		wantRcpts = append(wantRcpts, rc)
	}
	slices.Sort(gotRcpts)
	slices.Sort(wantRcpts)
	if !slices.Equal(gotRcpts, wantRcpts) {
		t.Fatalf("delivered to %v, want %v", gotRcpts, wantRcpts)
	}
	for rc, w := range want {
		if string(k.got[rc]) != w {
			t.Errorf("%s got %d bytes, want the %d committed:\n%q", rc, len(k.got[rc]), len(w), k.got[rc])
		}
	}
	for _, a := range []string{"queue", "hold", "tmp"} {
		if ents, _ := os.ReadDir(filepath.Join(dir, a)); len(ents) != 0 {
			t.Errorf("%s left: %v", a, ents)
		}
	}
}
