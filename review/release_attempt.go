package review

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"dlpguard/internal/keyfile"
	"dlpguard/spool"
)

// A release attempt is named by a random ID generated before anything is
// staged. The ID goes with the staged copy (a sidecar file, fsynced
// before the copy is committed) and into the hold record in the same
// write that marks it released (hold.Store.Release). Recovery sends a
// staged copy only when the record names its attempt: on a shared store
// another node may have released the message while this node's attempt
// was staged and then killed before its commit, and that copy must not
// leave as well (3.3.5: released once).

// newAttempt is a fresh release attempt ID.
func newAttempt() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("release attempt: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// attemptRoot is the folder of the mail releases' sidecars: one file per
// staged copy, named by the hold ID, holding the attempt ID.
func (s *Service) attemptRoot() string { return filepath.Join(s.cfg.DataDir, "release-attempt") }

// writeSynced replaces dir/name with data durably (keyfile.WriteFile),
// creating dir if needed.
func writeSynced(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return keyfile.WriteFile(filepath.Join(dir, name), data)
}

// readAttempt is the attempt ID in file path; a missing file is "" (a
// copy staged by a version without attempt IDs).
func readAttempt(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// stageAttempt records the attempt of the copy of id about to be staged.
func (s *Service) stageAttempt(id, attempt string) error {
	if !spool.ValidID(id) {
		return fmt.Errorf("release attempt %q: not a message ID", id)
	}
	if err := writeSynced(s.attemptRoot(), id, []byte(attempt+"\n")); err != nil {
		return fmt.Errorf("release attempt %s: %w", id, err)
	}
	return nil
}

// stagedAttempt is the attempt that staged id's copy ("" if unknown).
func (s *Service) stagedAttempt(id string) (string, error) {
	if !spool.ValidID(id) {
		return "", fmt.Errorf("release attempt %q: not a message ID", id)
	}
	a, err := readAttempt(filepath.Join(s.attemptRoot(), id))
	if err != nil {
		return "", fmt.Errorf("release attempt %s: %w", id, err)
	}
	return a, nil
}

// dropAttempt removes id's sidecar once its staged copy is settled.
func (s *Service) dropAttempt(id string) {
	if err := os.Remove(filepath.Join(s.attemptRoot(), id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.logger(id).Error("review: release attempt file not removed", "err", err)
	}
}
