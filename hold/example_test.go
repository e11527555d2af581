package hold_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"dlpguard/hold"
)

// The life of a held message: stored by the relay, approved by two
// reviewers (four-eyes), released, its content read back for release.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hold")
	defer os.RemoveAll(dir)
	key := make([]byte, 32) // in production: nil, so hold.key or $DLPGUARD_HOLD_KEY is used
	s, err := hold.OpenSQLite(ctx, hold.Options{Dir: dir, Key: key, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	rec := hold.Record{
		ID:                "20260401-0001",
		Envelope:          hold.Envelope{From: "sato@city.example.lg.jp", Recipients: []string{"a@example.com"}, AuthUser: "sato"},
		Subject:           "名簿",
		Department:        "税務課",
		Level:             "I",
		RequiredApprovals: 2,
		Verdict: hold.Verdict{Action: "hold", Rules: []hold.Rule{{ID: "personal-list-hold", Action: "hold", Clause: "3.3.5"}},
			Findings: []hold.Finding{{Detector: "personal_list", Count: 12, Locations: []string{"attachment:名簿.xlsx"}}}},
	}
	if _, err := s.Put(ctx, rec, strings.NewReader("From: sato@city.example.lg.jp\r\n\r\nbody\r\n")); err != nil {
		fmt.Println(err)
		return
	}
	s.Approve(ctx, rec.ID, "suzuki", "確認")
	if _, err := s.Release(ctx, rec.ID, "suzuki", "", ""); err != nil {
		fmt.Println("1 approval:", err)
	}
	s.Approve(ctx, rec.ID, "tanaka", "確認")
	r, _ := s.Release(ctx, rec.ID, "tanaka", "暗号化して送信", "")
	fmt.Println(r.Status, len(r.Approvals))
	rc, _ := s.Content(ctx, rec.ID)
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	fmt.Println(len(b) == int(r.Size))
	// Output:
	// 1 approval: hold 20260401-0001: hold: not enough approvals: 1 of 2
	// released 2
	// true
}
