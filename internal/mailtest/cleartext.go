package mailtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// NoClearText fails the test if any file under dir holds needle: what is
// held, refused or kept for later must not lie in clear in a data folder
// (3.3.4). Put a unique token in the test message and look for it.
func NoClearText(t testing.TB, dir, needle string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), needle) {
			t.Errorf("%s holds %q in clear", path, needle)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
}
