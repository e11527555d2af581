package release

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"dlpguard/audit"
	"dlpguard/hold"
)

// TestHoldReleaseWorkflow runs the leaf packages together the way the
// hold-and-release workflow will: the relay holds a message (encrypted at
// rest, audited), two reviewers approve (four-eyes), release rewrites the
// stored content with every attachment encrypted for the recipient, GnuPG
// opens it, the proof goes into the audit log, and the chain verifies.
func TestHoldReleaseWorkflow(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	dir := t.TempDir()
	store, err := hold.OpenSQLite(ctx, hold.Options{Dir: filepath.Join(dir, "hold"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	log, err := audit.Open(ctx, filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()

	raw := readSample(t, "p018_personal_list.eml")
	rec, err := store.Put(ctx, hold.Record{
		ID:                "msg-0001",
		Envelope:          hold.Envelope{From: "user@city.example.lg.jp", Recipients: []string{"taro@example.jp"}, AuthUser: "user"},
		Subject:           "民生委員名簿",
		Department:        "福祉課",
		Level:             "I",
		RequiredApprovals: 2,
		Verdict: hold.Verdict{Action: "hold",
			Rules:       []hold.Rule{{ID: "personal-list-hold", Action: "hold", Clause: "3.3.5", Reason: "個人情報の一覧"}},
			Findings:    []hold.Finding{{Detector: "personal_list", Count: 20, Locations: []string{"attachment:民生委員名簿.pdf"}, Confidence: "high"}},
			Attachments: []hold.Attachment{{Name: "民生委員名簿.pdf", Type: "application/pdf", Inspected: true}}},
	}, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mustAppend := func(actor, action string, details any) {
		t.Helper()
		if _, err := log.Append(ctx, actor, action, rec.ID, details); err != nil {
			t.Fatal(err)
		}
	}
	mustAppend("relay", audit.Hold, rec.Verdict)
	for _, who := range []string{"suzuki", "tanaka"} {
		if _, err := store.Approve(ctx, rec.ID, who, "確認済み"); err != nil {
			t.Fatal(err)
		}
		mustAppend(who, audit.Approve, nil)
	}
	rec, err = store.Get(ctx, rec.ID)
	if err != nil || !rec.Ready() {
		t.Fatalf("not ready: %v", err)
	}

	content, err := store.Content(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer content.Close()
	inspected := make([]Inspected, len(rec.Verdict.Attachments))
	for i, a := range rec.Verdict.Attachments {
		inspected[i] = Inspected{Name: a.Name, Encrypted: a.Encrypted}
	}
	var out bytes.Buffer
	res, err := Rewrite(ctx, &out, content, Options{
		Recipients: rec.Envelope.Recipients, Keys: f.kr, Inspected: inspected,
		MessageID: rec.ID, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Release(ctx, rec.ID, "tanaka", "暗号化して送信", ""); err != nil {
		t.Fatal(err)
	}
	mustAppend("tanaka", audit.Release, res)

	_, parts := leaves(t, out.Bytes())
	_, orig := leaves(t, raw)
	found := false
	for _, p := range parts {
		if p.name == "民生委員名簿.pdf.pgp" {
			plain, err := f.taro.Decrypt(p.body, "")
			if err != nil || !bytes.Equal(plain, orig[1].body) {
				t.Fatalf("recipient cannot open the attachment: %v", err)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no encrypted attachment in the released message")
	}
	if brk, err := log.Verify(ctx); brk != nil || err != nil {
		t.Fatalf("audit chain: %v %v", brk, err)
	}
	entries, total, err := log.List(ctx, audit.Filter{Subject: rec.ID})
	if err != nil || total != 4 || entries[0].Action != audit.Release ||
		!strings.Contains(string(entries[0].Details), res.Parts[1].SentSHA256) {
		t.Fatalf("audit entries: %d %v", total, err)
	}
}
