package policy

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// allowNoMyNumber lets a test policy that is about other rules load
// without a my_number rule (essentials.go).
const allowNoMyNumber = "allow_without: [my_number]\nallow_without_reason: テスト用の最小ポリシー (a test of other rules)\n"

// TestEssentials: a policy that neither holds nor rejects My Numbers is
// refused (3.3.5, issue 17 item 2) unless it says so with a reason; then
// it loads with a warning.
func TestEssentials(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	markingOnly := "rules:\n  - {id: m, when: {marking: I}, action: hold, clause: \"3.3.5\", message: {ja: 秘}}\n"
	tests := []struct {
		name    string
		yaml    string
		loads   bool
		field   string // of the problem expected
		msg     string
		warning bool
	}{
		{"empty file", "", false, "rules", "no enabled rule holds or rejects my_number", false},
		{"whitespace only", "\n   \n", false, "rules", "個人番号", false},
		{"comment only", "# truncated by an editor\n", false, "rules", "my_number", false},
		{"no rules", "version: 1\nname: x\n", false, "rules", "allow_without", false},
		{"rules: []", "rules: []\n", false, "rules", "my_number", false},
		{"only other rules", markingOnly, false, "rules", "my_number", false},
		{"my_number rule disabled", strings.Replace(string(defaultYAML), "    action: reject\n", "    action: reject\n    disabled: true\n", 1) + "", true, "rules", "my_number at high confidence", true},
		{"my_number rule passes", "rules:\n  - {id: a, when: {detector: my_number}, action: delay, delay_minutes: 5, clause: \"3.3.5\", message: {ja: a}}\n", false, "rules", "my_number", false},
		{"allowed with a reason", markingOnly + allowNoMyNumber, true, "allow_without", "allowed because: テスト用", true},
		{"allowed without a reason", markingOnly + "allow_without: [my_number]\n", false, "allow_without_reason", "missing", false},
		{"reason without allow", "allow_without_reason: x\n" + string(defaultYAML), false, "allow_without_reason", "allows nothing", false},
		{"allow an unknown detector", markingOnly + "allow_without: [my_numbr]\nallow_without_reason: x\n", false, "allow_without[0]", "unknown detector", false},
		{"allow a non-essential detector", string(defaultYAML) + "allow_without: [phone_number]\nallow_without_reason: x\n", false, "allow_without[0]", "not an essential", false},
		{"allow not needed", string(defaultYAML) + allowNoMyNumber, true, "allow_without", "not needed", true},
		{"only high rejected", "rules:\n  - {id: a, when: {detector: my_number, min_confidence: high}, action: reject, clause: \"3.3.5\", message: {ja: a}}\n", true, "rules", "my_number at medium confidence", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			probs := Check([]byte(tc.yaml), "p.yaml", now)
			found := false
			for _, p := range probs {
				if p.Field == tc.field && strings.Contains(p.Msg, tc.msg) && p.Warning == tc.warning {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem %s %q (warning %v) in %v", tc.field, tc.msg, tc.warning, probs)
			}
			e, err := Parse([]byte(tc.yaml), "p.yaml")
			if (err == nil) != tc.loads {
				t.Fatalf("loads = %v (%v), want %v", err == nil, err, tc.loads)
			}
			if e != nil && tc.warning && len(e.Warnings()) == 0 {
				t.Errorf("no warning kept for the Holder to log")
			}
		})
	}
	// the default and the example need no allowance
	if probs := Check(defaultYAML, "default.yaml", now); len(probs) != 0 {
		t.Errorf("default policy: %v", probs)
	}
}

// TestHolderStable: the poller never applies a file caught half-written
// (issue 17 item 2). An edit in place is read only when size and mtime
// are the same at two polls; a rename into place is read at once; an
// empty file is refused and the policy in force stays, with the error
// kept for /healthz.
func TestHolderStable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, defaultYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h, err := NewHolder(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	v1 := h.Version()

	// An editor truncates the file, then writes it in two steps; a poll
	// between each step sees a file that changed since the last poll.
	half := defaultYAML[:len(defaultYAML)/3]
	for i, content := range [][]byte{nil, half, defaultYAML[:len(defaultYAML)-40]} {
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		// a different size each time: never stable, never read
		if changed, err := h.Check(); changed || err != nil {
			t.Fatalf("step %d: changed=%v err=%v", i, changed, err)
		}
	}
	if h.Version() != v1 {
		t.Fatal("a file that was still changing was applied")
	}

	// Left truncated (0 bytes): refused once stable; the old policy stays.
	os.WriteFile(path, nil, 0o644)
	h.Check()
	changed, err := h.Check()
	if !changed || err == nil || !strings.Contains(err.Error(), "my_number") {
		t.Fatalf("empty file: changed=%v err=%v", changed, err)
	}
	if h.Version() != v1 {
		t.Fatal("an empty policy replaced the one in force")
	}
	if _, lerr := h.LastReload(); lerr == nil {
		t.Fatal("LastReload has no error for /healthz")
	}

	// Renamed into place (the atomic way): read at the first poll.
	next := append(append([]byte(nil), defaultYAML...), "# v2\n"...)
	tmp := filepath.Join(dir, ".policy.yaml.tmp")
	os.WriteFile(tmp, next, 0o644)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	changed, err = h.Check()
	if !changed || err != nil || h.Version() == v1 {
		t.Fatalf("renamed file: changed=%v err=%v version %s", changed, err, h.Version())
	}

	// allow_without loads, with a warning logged at every load.
	allowed := "rules:\n  - {id: m, when: {marking: I}, action: hold, clause: \"3.3.5\", message: {ja: 秘}}\n" + allowNoMyNumber
	for i := 0; i < 2; i++ {
		os.WriteFile(tmp, []byte(allowed+strings.Repeat("#\n", i)), 0o644)
		os.Rename(tmp, path)
		if changed, err := h.Check(); !changed || err != nil {
			t.Fatalf("allowed policy %d: changed=%v err=%v", i, changed, err)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"policy warning\""); n != 2 || !strings.Contains(logs.String(), "allowed because") {
		t.Errorf("%d warnings logged, want one per load:\n%s", n, logs.String())
	}
}
