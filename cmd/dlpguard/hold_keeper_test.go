package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-message"
)

func hkWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 1500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestHoldOverSMTP is the end to end: a personal list sent to the
// relay over SMTP is held (250 with the hold ID), the sender's notice
// reaches the upstream, an approver releases it through the API, and the
// recipient gets the attachment as .pgp, which GnuPG decrypts to the
// original bytes.
func TestHoldOverSMTP(t *testing.T) {
	h := startRelayHarness(t, "")
	const from, rcpt = "user521@city.example.lg.jp", "contact19@example.org"
	h.addKey(rcpt)
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "samples", "p017_personal_list.eml"))
	if err != nil {
		t.Fatal(err)
	}
	id := h.send(from, rcpt, raw)

	hkWait(t, "sender notice", func() bool { return len(h.delivered(from)) == 1 && len(h.delivered(manager)) == 1 })
	if !bytes.Contains(h.delivered(from)[0], []byte("Auto-Submitted: auto-generated")) {
		t.Error("sender notice is not marked auto-generated")
	}
	if len(h.delivered(rcpt)) != 0 {
		t.Fatal("held message delivered before release")
	}

	st, rr, code := h.release(h.token(manager), id, `{"reason":"確認しました"}`)
	if st != 200 || rr.Status != "released" || rr.Method != "public-key" {
		t.Fatalf("release: %d %s %+v", st, code, rr)
	}
	hkWait(t, "released message", func() bool { return len(h.delivered(rcpt)) == 1 })

	out := h.delivered(rcpt)[0]
	orig, sent := hkAttachment(t, raw, "要支援者名簿.xlsx"), hkAttachment(t, out, "要支援者名簿.xlsx.pgp")
	if len(orig) == 0 || len(sent) == 0 || hkAttachment(t, out, "要支援者名簿.xlsx") != nil {
		t.Fatal("the released message does not carry the attachment as .pgp only")
	}
	if plain, err := h.gpg.Decrypt(sent, ""); err != nil || !bytes.Equal(plain, orig) {
		t.Fatal("gpg --decrypt does not give the original attachment")
	}
}

// hkAttachment returns the decoded attachment named name (nil if none).
func hkAttachment(t *testing.T, raw []byte, name string) []byte {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) {
		t.Fatal(err)
	}
	var found []byte
	e.Walk(func(_ []int, p *message.Entity, err error) error {
		if err != nil {
			return err
		}
		_, params, _ := p.Header.ContentDisposition()
		if params["filename"] == name {
			found, _ = io.ReadAll(p.Body)
		}
		return nil
	})
	return found
}
