// Package fuzzseed reads the seeds of a Go fuzz corpus (testdata/fuzz/FuzzX/*)
// for tests that run a seed through more than its fuzz target, such as the
// work-limit tests of the parsers.
package fuzzseed

import (
	"fmt"
	"os"
	"strconv"
	"strings"
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
