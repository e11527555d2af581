package release

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gpgHome is a throw-away GnuPG home (Debian package gnupg) holding one
// recipient's secret key.
type gpgHome struct {
	t   *testing.T
	dir string
}

func newGPG(t *testing.T) *gpgHome {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg not found: install the Debian package gnupg")
	}
	dir, err := os.MkdirTemp("", "gpg") // short: the agent socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o700)
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", dir, "--kill", "all").Run()
		os.RemoveAll(dir)
	})
	return &gpgHome{t: t, dir: dir}
}

func (g *gpgHome) cmd(stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.Command("gpg", append([]string{"--homedir", g.dir, "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &gpgError{err: err, stderr: stderr.String()}
	}
	return out, nil
}

type gpgError struct {
	err    error
	stderr string
}

func (e *gpgError) Error() string { return e.err.Error() + ": " + e.stderr }

func (g *gpgHome) run(stdin []byte, args ...string) []byte {
	g.t.Helper()
	out, err := g.cmd(stdin, args...)
	if err != nil {
		g.t.Fatalf("gpg %v: %v", args, err)
	}
	return out
}

// decrypt decrypts an OpenPGP file with this home's secret key (or with
// the passphrase when one is given) and returns the plaintext.
func (g *gpgHome) decrypt(ciphertext []byte, passphrase string) ([]byte, error) {
	in := filepath.Join(g.dir, "in.pgp")
	if err := os.WriteFile(in, ciphertext, 0o600); err != nil {
		return nil, err
	}
	args := []string{"--passphrase", passphrase, "--decrypt", in}
	return g.cmd(nil, args...)
}

func (g *gpgHome) gen(uid string) {
	g.t.Helper()
	g.run(nil, "--passphrase", "", "--quick-gen-key", uid, "future-default", "default", "1y")
}

func (g *gpgHome) export() []byte { return g.run(nil, "--armor", "--export") }

func hasLine(out []byte, s string) bool { return strings.Contains(string(out), s) }
