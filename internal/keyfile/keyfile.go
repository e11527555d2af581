// Package keyfile reads the 32-byte secret keys dlpguard keeps in its data
// folder (the hold store's master key, the delay links' HMAC key, the audit
// log's checkpoint key), creating one on first use: 32 random bytes written
// as 64 lowercase hex digits and a newline, mode 0600, file and folder
// fsynced. One loader, so that every key file is made and checked alike.
// It also has the one durable small-file write (WriteFile) and folder
// fsync (SyncDir) that the key files and other small state files share.
package keyfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Size is the length of a key in bytes.
const Size = 32

// Load returns the key in the file at path, creating the file when it does
// not exist (created reports that). A key file that others may read, or
// that does not hold 64 hex digits, is refused: a key that leaked or was
// damaged must stop the start rather than be used.
func Load(path string) (key []byte, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return create(path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("key file %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("key file %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("key file %s: permissions %v, want 0600 (chmod 600)", path, fi.Mode().Perm())
	}
	k, err := Parse(string(b))
	if err != nil {
		return nil, false, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, false, nil
}

// Parse reads a key written as 64 hex digits (surrounding space ignored).
func Parse(s string) ([]byte, error) {
	k, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("not hex: %w", err)
	}
	if len(k) != Size {
		return nil, fmt.Errorf("%d bytes, want %d", len(k), Size)
	}
	return k, nil
}

func create(path string) ([]byte, bool, error) {
	k := make([]byte, Size)
	if _, err := rand.Read(k); err != nil {
		return nil, false, err
	}
	// O_EXCL: two processes starting at once must not both write a key;
	// the one that loses reads the winner's.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		k, _, err := Load(path)
		return k, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("key file %s: %w", path, err)
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return nil, false, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, true, nil
}

// SyncDir fsyncs a folder, so that a file created or renamed in it survives
// a crash. It is the one copy outside the spool and the demo Maildir
// (spool and queue keep their own); keyring uses it for its key files.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteFile replaces the file at path with data durably: a temp file in
// the same folder, fsynced, mode 0600, renamed over path, the folder
// fsynced. A reader sees the old content or the new, never a part, also
// after a crash. (keyring's key files; review's release attempt files.)
func WriteFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Dir(path))
}
