package policy

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"dlpguard/internal/fuzzseed"
)

// TestParseWorkBound (issue 17 item 7): the inputs that made Parse cost
// the square of their size (FuzzParse spent ~57 s on one) are kept as
// seeds, testdata/fuzz/FuzzParse/slow_*. Each is refused with a bounded
// list of problems, and the work of locating them stays within a fixed
// multiple of the file's size (a counter, not a clock).
func TestParseWorkBound(t *testing.T) {
	seeds := fuzzseed.Glob(t, "testdata/fuzz/FuzzParse/slow_*")
	if len(seeds) < 4 {
		t.Fatalf("%d slow seeds", len(seeds))
	}
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	for path, data := range seeds {
		e, probs, work := compileWork(data, "f.yaml", now)
		if e != nil && func() bool {
			for _, p := range probs {
				if !p.Warning {
					return false
				}
			}
			return true
		}() {
			t.Errorf("%s: loads", path)
		}
		if len(probs) > maxProblems+2 {
			t.Errorf("%s: %d problems, want at most %d", path, len(probs), maxProblems+2)
		}
		if limit := 16*len(data) + 1000; work > limit {
			t.Errorf("%s: work %d for %d bytes (limit %d)", path, work, len(data), limit)
		}
		t.Logf("%s: %d bytes, %d problems, work %d", filepath.Base(path), len(data), len(probs), work)
	}
	// A skipped error still refuses: 300 warnings first, then an error.
	var b strings.Builder
	b.WriteString(string(defaultYAML))
	b.WriteString("departments:\n")
	for i := 0; i < maxProblems+50; i++ {
		b.WriteString("  - {name: d" + strconv.Itoa(i) + ", senders: [a@x.jp]}\n") // no manager: a warning each
	}
	b.WriteString("  - {name: d0, senders: [a@x.jp], manager: m@x.jp}\n") // duplicate: an error
	if _, err := Parse([]byte(b.String()), "f.yaml"); err == nil || !strings.Contains(err.Error(), "not shown") {
		t.Errorf("an error past the problem cap was lost: %v", err)
	}
}
