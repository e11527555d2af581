package fuzzseed

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestBytes(t *testing.T) {
	dir := t.TempDir()
	want := []byte("%PDF-1.7\n\x00\xff\"quoted\" \\ end")
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", want)), 0o644)
	got, err := Bytes(good)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Bytes = %q, %v; want %q", got, err, want)
	}
	for name, content := range map[string]string{
		"string seed": "go test fuzz v1\nstring(\"x\")\n",
		"no header":   "[]byte(\"x\")\n",
		"bad quote":   "go test fuzz v1\n[]byte(\"x)\n",
	} {
		p := filepath.Join(dir, "bad")
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := Bytes(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Bytes(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestGlob(t *testing.T) {
	dir := t.TempDir()
	for i, v := range []string{"a", "b\x00"} {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("slow_%d", i)), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", v)), 0o644)
	}
	got := Glob(t, filepath.Join(dir, "slow_*"))
	if len(got) != 2 || string(got[filepath.Join(dir, "slow_1")]) != "b\x00" {
		t.Fatalf("Glob = %q", got)
	}
}
