package pdf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzExtract feeds arbitrary bytes to Extract. The seeds are in
// testdata/fuzz/FuzzExtract (small synthetic files exercising each part of
// the reader) plus the real files.
func FuzzExtract(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(filesDir, "*.pdf"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && len(b) < 40000 {
			f.Add(b)
		}
	}
	const maxText = 1 << 14
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Extract(bytes.NewReader(data), int64(len(data)), maxText, 1<<20)
		if errors.Is(err, errInternal) {
			t.Fatalf("panic: %v", err)
		}
		if r == nil {
			t.Fatal("nil result")
		}
		if int64(len(r.Text)) > maxText {
			t.Errorf("text %d bytes over maxText", len(r.Text))
		}
		if !utf8.ValidString(r.Text) {
			t.Error("text is not valid UTF-8")
		}
		if r.NeedsPassword && r.Text != "" {
			t.Error("text from a file that needs a password")
		}
	})
}
