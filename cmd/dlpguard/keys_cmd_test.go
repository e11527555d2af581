package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// TestKeysCLI: import an armored public key, list it, remove it by
// fingerprint; each change is in the audit log.
func TestKeysCLI(t *testing.T) {
	dir := t.TempDir()
	e, err := openpgp.NewEntity("Taro", "", "taro@example.jp", nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, _ := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	e.Serialize(w)
	w.Close()
	keyFile := filepath.Join(dir, "taro.asc")
	os.WriteFile(keyFile, buf.Bytes(), 0o600)

	var out, errb bytes.Buffer
	if code := runKeys([]string{"import", keyFile, "--data", dir, "--actor", "admin@city.example.lg.jp"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "taro@example.jp") {
		t.Fatalf("import: %d %q %q", code, out.String(), errb.String())
	}
	fpr := strings.Fields(out.String())[1]
	out.Reset()
	if code := runKeys([]string{"list", "--data", dir}, &out, &errb); code != 0 || !strings.Contains(out.String(), fpr) || !strings.Contains(out.String(), "yes") {
		t.Fatalf("list: %d %q", code, out.String())
	}
	out.Reset()
	if code := runKeys([]string{"remove", fpr, "--data", dir}, &out, &errb); code != 0 || !strings.Contains(out.String(), "removed "+fpr) {
		t.Fatalf("remove: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	runKeys([]string{"list", "--data", dir}, &out, &errb)
	if strings.Contains(out.String(), fpr) {
		t.Fatal("key still listed after remove")
	}
	if code := runKeys([]string{"remove", fpr, "--data", dir}, &out, &errb); code != 1 {
		t.Errorf("remove twice: %d, want 1", code)
	}
	out.Reset()
	if code := runAudit([]string{"list", "--data", dir}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"action":"key-import","subject":"`+fpr) ||
		!strings.Contains(out.String(), `"action":"key-remove","subject":"`+fpr) {
		t.Errorf("audit of key changes: %q", out.String())
	}
}
