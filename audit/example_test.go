package audit_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"dlpguard/audit"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "audit")
	defer os.RemoveAll(dir)
	l, err := audit.Open(ctx, filepath.Join(dir, "audit.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	l.Append(ctx, "relay", audit.Hold, "20260401-0001", map[string]any{"rules": []string{"personal-list-hold"}, "clause": "3.3.5"})
	l.Append(ctx, "suzuki", audit.Release, "20260401-0001", map[string]string{"reason": "暗号化して送信"})
	brk, err := l.Verify(ctx)
	fmt.Println(brk == nil, err)
	entries, total, _ := l.List(ctx, audit.Filter{Subject: "20260401-0001"})
	fmt.Println(total, entries[0].Action, entries[0].Actor, entries[1].Action)
	// Output:
	// true <nil>
	// 2 release suzuki hold
}
