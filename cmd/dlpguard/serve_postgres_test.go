package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dlpguard/config"
	"dlpguard/hold"
	"dlpguard/internal/mailtest"
	"dlpguard/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func readyz(t *testing.T, r *relay) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + r.ops.Addr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRelayDatabaseDown: with storage on PostgreSQL and the database
// stopped, a message the policy holds gets 451 4.3.0 (the client retries;
// nothing of it in clear under data_dir), a message it passes still
// relays, /readyz says why it is not ready; when the database is back the
// relay reconnects by itself and holds again.
func TestRelayDatabaseDown(t *testing.T) {
	ctx := context.Background()
	cluster := pgtest.Get(t)
	dsn := pgtest.NewDatabase(t)
	r, cfg, logBuf := testRelay(t, func(c *config.Config) {
		c.Storage = config.Storage{Driver: "postgres", DSN: dsn}
	})
	send := func(body string) (string, error) {
		c, err := smtp.Dial(r.smtpAddrs[0])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Hello("client.test")
		return sendOne(c, body)
	}
	const passBody = "From: a@city.example.lg.jp\r\nTo: b@example.jp\r\nSubject: hello\r\n\r\nhello\r\n"
	// sendOne returns the ID of the reply; a held one is in the store.
	isHeld := func(id string) bool {
		_, err := r.stores.Holds.Get(ctx, id)
		return err == nil
	}
	if id, err := send(heldMessage()); err != nil || !isHeld(id) {
		t.Fatalf("held with the database up: %q %v", id, err)
	}
	if code, body := readyz(t, r); code != 200 {
		t.Fatalf("readyz with the database up: %d %s", code, body)
	}

	if err := cluster.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Start(context.Background()) }) // if the test stops early
	_, err := send(heldMessage())
	if se, ok := err.(*smtp.SMTPError); !ok || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 0}) {
		t.Fatalf("held with the database down: %v, want 451 4.3.0; log:\n%s", err, logBuf.String())
	}
	mailtest.NoClearText(t, cfg.DataDir, heldToken)
	passID, err := send(passBody)
	if err != nil {
		t.Fatalf("pass with the database down: %v", err)
	}
	if code, body := readyz(t, r); code != http.StatusServiceUnavailable || !strings.Contains(body, "database") {
		t.Fatalf("readyz with the database down: %d %s", code, body)
	}

	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ := readyz(t, r)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready 30 s after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if id, err := send(heldMessage()); err != nil || !isHeld(id) {
		t.Fatalf("held after the database came back: %q %v", id, err)
	}
	if isHeld(passID) {
		t.Fatalf("the passed message %s was held", passID)
	}
	p, err := r.stores.Holds.List(ctx, hold.Filter{Status: []hold.Status{hold.Held}})
	if err != nil || p.Total != 2 {
		t.Fatalf("held records after recovery: %d %v, want 2 (one before, one after)", p.Total, err)
	}
}

// TestRelayDatabaseRestartUnderLoad: clients keep sending mail the policy
// holds while the database is stopped and started again. Every 250 names
// a record the database has afterwards (no 250 without durable storage,
// nothing lost), the others got 451 4.3.0, and the relay holds again by
// itself once the database is back.
func TestRelayDatabaseRestartUnderLoad(t *testing.T) {
	ctx := context.Background()
	cluster := pgtest.Get(t)
	dsn := pgtest.NewDatabase(t)
	r, _, logBuf := testRelay(t, func(c *config.Config) {
		c.Storage = config.Storage{Driver: "postgres", DSN: dsn}
	})
	var mu sync.Mutex
	var accepted []string
	var refused, other int
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := smtp.Dial(r.smtpAddrs[0])
				if err != nil {
					t.Error(err)
					return
				}
				c.Hello("client.test")
				id, err := sendOne(c, heldMessage())
				c.Close()
				mu.Lock()
				if se, ok := err.(*smtp.SMTPError); ok && se.Code == 451 {
					refused++
				} else if err == nil {
					accepted = append(accepted, id)
				} else {
					other++
					t.Errorf("reply %v", err)
				}
				mu.Unlock()
			}
		})
	}
	count := func() (int, int) { mu.Lock(); defer mu.Unlock(); return len(accepted), refused }
	waitUntil := func(what string, cond func() bool) {
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("%s: not within 60 s; log:\n%s", what, logBuf.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitUntil("holds before the stop", func() bool { a, _ := count(); return a >= 10 })
	if err := cluster.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Start(context.Background()) })
	waitUntil("451 while the database is down", func() bool { _, f := count(); return f >= 10 })
	before, _ := count()
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil("holds after the restart", func() bool { a, _ := count(); return a >= before+10 })
	close(stop)
	wg.Wait()
	a, f := count()
	for _, id := range accepted {
		if _, err := r.stores.Holds.Get(ctx, id); err != nil {
			t.Fatalf("250 for %s, but the database does not have it: %v", id, err)
		}
	}
	p, err := r.stores.Holds.List(ctx, hold.Filter{})
	if err != nil || p.Total != a {
		t.Fatalf("%d records, %d accepted (%v): a 451'd message was kept", p.Total, a, err)
	}
	t.Logf("%d held (250), %d refused (451) across the restart", a, f)
}
