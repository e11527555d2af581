// Package fuzzseed reads the seeds of a Go fuzz corpus (testdata/fuzz/FuzzX/*)
// for tests that run a seed through more than its fuzz target, such as the
// work-limit tests of the parsers.
package fuzzseed

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Bytes reads a seed file of one []byte value ("go test fuzz v1" then
// `[]byte("…")`, as Go writes them).
func Bytes(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) < 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
		return nil, fmt.Errorf("fuzz seed %s: not one []byte value", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		return nil, fmt.Errorf("fuzz seed %s: %w", path, err)
	}
	return []byte(s), nil
}

// Glob reads every seed matching pattern (e.g. testdata/fuzz/FuzzParse/slow_*),
// by path; it fails the test when one does not read or none matches.
func Glob(t testing.TB, pattern string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil || len(paths) == 0 {
		t.Fatalf("fuzz seeds %s: none (%v)", pattern, err)
	}
	seeds := map[string][]byte{}
	for _, p := range paths {
		b, err := Bytes(p)
		if err != nil {
			t.Fatal(err)
		}
		seeds[p] = b
	}
	return seeds
}
