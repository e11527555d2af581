package keyfile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.key")
	k1, created, err := Load(p)
	if err != nil || !created || len(k1) != Size {
		t.Fatalf("first Load: %x created=%v %v", k1, created, err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v, want 0600", fi.Mode().Perm(), err)
	}
	k2, created, err := Load(p)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second Load: created=%v %v", created, err)
	}
	cases := []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"readable by others", strings.Repeat("ab", 32) + "\n", 0o644, "permissions"},
		{"not hex", strings.Repeat("zz", 32), 0o600, "not hex"},
		{"short", "abcd\n", 0o600, "2 bytes"},
	}
	for _, c := range cases {
		q := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
		if err := os.WriteFile(q, []byte(c.content), c.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(q, c.mode)
		if _, _, err := Load(q); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one naming %q", c.name, err, c.want)
		}
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "attempt")
	for _, content := range []string{"first\n", "second, longer\n", ""} {
		if err := WriteFile(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != content {
			t.Fatalf("after WriteFile(%q): %q %v", content, b, err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v %v, want 0600", fi.Mode().Perm(), err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 {
		t.Fatalf("folder after writes: %v %v, want the file alone (no temp files)", ents, err)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x"), nil); err == nil {
		t.Fatal("write into a missing folder succeeded")
	}
}
