package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"dlpguard/internal/keyfile"
)

// The chain alone proves that no entry was changed, inserted or removed
// before the last one; cutting entries off the end leaves a shorter chain
// that is still whole. So every append also writes a head checkpoint — the
// last entry's sequence number and hash, with an HMAC under a key file the
// database does not hold — beside the log (audit.head, key audit.key, both
// 0600). Verify then requires the checkpointed entry to exist with that
// hash: rows deleted from the end (or the whole log rolled back to an older
// copy) are found without a head kept by hand. Whoever can also read
// audit.key could forge a checkpoint; the key is meant to be readable by
// the dlpguard user only (and kept in its backups apart from audit.db).

// AnchorStart is the action of the entry written when the checkpoint key
// is first made on a log that already has entries: from that entry on,
// cutting the end is detected.
const AnchorStart = "audit-anchor"

const headTag = "dlpguard-audit-head-v1"

// anchor is the checkpoint of one log.
type anchor struct {
	key      []byte
	headPath string
	lock     *os.File // flock'd around append + checkpoint across processes
}

// anchorPaths are the key and checkpoint files beside the database file
// path: audit.db → audit.key, audit.head.
func anchorPaths(dbPath string) (key, head string) {
	base := strings.TrimSuffix(dbPath, filepath.Ext(dbPath))
	return base + ".key", base + ".head"
}

// openAnchor loads (or makes) the checkpoint key of the log at dbPath. On a
// log that has entries but had no key yet (an older installation), it
// writes a first checkpoint through an AnchorStart entry.
func (l *Log) openAnchor(ctx context.Context, dbPath string) error {
	keyPath, headPath := anchorPaths(dbPath)
	if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(headPath); err == nil {
			// A checkpoint whose key is gone: a new key would sign over the
			// evidence. The operator restores the key, or moves the
			// checkpoint away to start a new anchor (recorded in the log).
			return fmt.Errorf("checkpoint %s exists but its key %s is missing: restore the key from a backup, or move the checkpoint away to anchor the log anew", headPath, keyPath)
		}
	}
	key, created, err := keyfile.Load(keyPath)
	if err != nil {
		return fmt.Errorf("checkpoint key: %w", err)
	}
	lock, err := os.Open(keyPath)
	if err != nil {
		return fmt.Errorf("checkpoint key: %w", err)
	}
	l.anchor = &anchor{key: key, headPath: headPath, lock: lock}
	if !created {
		return nil
	}
	unlock, err := l.anchor.lockFile()
	if err != nil {
		return err
	}
	seq, _, err := l.Head(ctx)
	if err == nil && seq == 0 {
		// A new log: an empty checkpoint at once, so that from the
		// first entry on a missing checkpoint means a removed one.
		err = l.anchor.write(0, "")
	}
	unlock()
	if err != nil || seq == 0 {
		return err
	}
	_, err = l.append(ctx, "dlpguard", AnchorStart, "", map[string]any{"anchored_after": seq}, true)
	return err
}

// advance moves the checkpoint to the entry e just committed — only from
// an intact anchor: a checkpoint that is valid, behind e, and whose entry
// still has its hash. Otherwise the checkpoint stays as it is, so that
// entries cut off the end (or a checkpoint removed or forged) stay
// evident to every later Verify instead of being signed over by the next
// append; Reanchor, an operator's recorded decision, moves it on.
func (l *Log) advance(ctx context.Context, e Entry, force bool) error {
	a := l.anchor
	if force {
		return a.write(e.Seq, e.Hash)
	}
	cp, brk, err := a.readLocked() // under the append's exclusive lock
	switch {
	case errors.Is(err, errNoCheckpoint):
		if e.Seq == 1 {
			return a.write(e.Seq, e.Hash)
		}
		return nil // removed: keep it missing
	case err != nil:
		return err
	case brk != nil || cp.Seq >= e.Seq:
		return nil
	case cp.Seq == e.Seq-1:
		if e.Prev != cp.Hash {
			return nil
		}
	case cp.Seq > 0:
		var got string
		if err := l.db.QueryRowContext(ctx, l.q(`SELECT hash FROM audit WHERE seq = ?`), cp.Seq).Scan(&got); err != nil || got != cp.Hash {
			return nil
		}
	}
	return a.write(e.Seq, e.Hash)
}

// Reanchor is the operator's answer to a broken anchor (entries cut off the
// end, a checkpoint lost): it appends an AnchorStart entry naming the break
// and the reason given, and moves the checkpoint to it, so that from there
// on a cut end is found again. What was found stays in the log. It does
// nothing (nil Break) when the log verifies; a break inside the chain (an
// entry changed or removed before the end) is not the checkpoint's and
// still shows after.
func (l *Log) Reanchor(ctx context.Context, actor, reason string) (Entry, *Break, error) {
	if l.anchor == nil {
		return Entry{}, nil, errors.New("audit: reanchor: the log has no checkpoint (opened with New)")
	}
	if strings.TrimSpace(reason) == "" {
		return Entry{}, nil, errors.New("audit: reanchor: a reason is required")
	}
	brk, err := l.Verify(ctx)
	if err != nil || brk == nil {
		return Entry{}, nil, err
	}
	e, err := l.append(ctx, actor, AnchorStart, "", map[string]any{"reason": reason, "break_seq": brk.Seq, "break": brk.Reason}, true)
	return e, brk, err
}

func (a *anchor) close() error { return a.lock.Close() }

// mac is the HMAC of a checkpoint: the tag, the sequence number and hash.
func (a *anchor) mac(seq int64, hash string) string {
	m := hmac.New(sha256.New, a.key)
	fmt.Fprintf(m, "%s\x00%d\x00%s", headTag, seq, hash)
	return hex.EncodeToString(m.Sum(nil))
}

// lockFile takes the inter-process lock that keeps appends and checkpoint
// writes in the same order (the SQLite lock ends at commit, before the
// checkpoint is written).
func (a *anchor) lockFile() (unlock func(), err error) {
	if err := unix.Flock(int(a.lock.Fd()), unix.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock %s: %w", a.lock.Name(), err)
	}
	return func() { unix.Flock(int(a.lock.Fd()), unix.LOCK_UN) }, nil
}

// headSize is the checkpoint record: one line padded to a fixed size,
// rewritten in place at offset 0 — within the first disk sector, which is
// written whole or not at all — and fdatasynced. One sync per append (a
// temporary file, rename and folder sync cost three); a crash leaves the
// old record or the new, and an old one (an entry behind) still verifies.
const headSize = 256

// write sets the checkpoint durably. The file is made (and its folder
// synced) by the first write; it is opened by name each time, so that a
// checkpoint removed while dlpguard runs stays removed (Verify reports it;
// advance does not write over a missing one).
func (a *anchor) write(seq int64, hash string) error {
	field := hash
	if field == "" {
		field = "-" // an empty log: keep four fields
	}
	line := fmt.Sprintf("%s %d %s %s", headTag, seq, field, a.mac(seq, hash))
	rec := []byte(line + strings.Repeat(" ", headSize-1-len(line)) + "\n")
	f, err := os.OpenFile(a.headPath, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	fi, err := f.Stat()
	if err == nil {
		_, err = f.WriteAt(rec, 0)
	}
	if err == nil {
		err = unix.Fdatasync(int(f.Fd()))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && fi.Size() == 0 {
		err = keyfile.SyncDir(filepath.Dir(a.headPath)) // just made
	}
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", a.headPath, err)
	}
	return nil
}

// Checkpoint is the signed head last written beside the log.
type Checkpoint struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// errNoCheckpoint: no checkpoint file (a new log, or one removed).
var errNoCheckpoint = errors.New("no checkpoint")

// read returns the checkpoint, under a shared lock so that it never sees
// a record half rewritten by an append (which holds the lock exclusively).
// The lock is taken on a descriptor of its own: one shared with this
// process's appends would convert their exclusive lock instead of waiting.
func (a *anchor) read() (Checkpoint, *Break, error) {
	f, err := os.Open(a.lock.Name())
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint: lock %s: %w", f.Name(), err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return a.readLocked()
}

// readLocked is read for a caller that holds the lock. A file that does not
// parse or whose MAC is wrong is reported as a Break, not an error: it is
// evidence of tampering.
func (a *anchor) readLocked() (Checkpoint, *Break, error) {
	b, err := os.ReadFile(a.headPath)
	if errors.Is(err, os.ErrNotExist) {
		return Checkpoint{}, nil, errNoCheckpoint
	}
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint: %w", err)
	}
	var tag, hash, mac string
	var cp Checkpoint
	if n, _ := fmt.Sscanf(string(b), "%s %d %s %s", &tag, &cp.Seq, &hash, &mac); n != 4 || tag != headTag {
		return Checkpoint{}, &Break{Seq: 0, Reason: "the head checkpoint " + a.headPath + " is damaged"}, nil
	}
	if hash != "-" {
		cp.Hash = hash
	}
	if !hmac.Equal([]byte(mac), []byte(a.mac(cp.Seq, cp.Hash))) {
		return cp, &Break{Seq: cp.Seq, Reason: "the head checkpoint's signature does not match (forged, or another key)"}, nil
	}
	return cp, nil, nil
}

// readCheckpoint is the anchor's checkpoint as read before a chain walk:
// read first, because it is written after its entry's commit, so the walk
// that follows sees that entry even while others append.
type readCheckpoint struct {
	cp  Checkpoint
	brk *Break
	err error
}

// verifyAnchor checks the checkpoint read before the walk against a chain
// verified up to head (its last sequence number; 0 when empty).
func (l *Log) verifyAnchor(ctx context.Context, rc readCheckpoint, head int64) (*Break, error) {
	cp, brk, err := rc.cp, rc.brk, rc.err
	switch {
	case errors.Is(err, errNoCheckpoint):
		if head == 0 {
			return nil, nil
		}
		return &Break{Seq: head, Reason: "the head checkpoint " + l.anchor.headPath +
			" is missing: whether entries were removed from the end cannot be shown"}, nil
	case err != nil:
		return nil, fmt.Errorf("audit: verify: %w", err)
	case brk != nil:
		return brk, nil
	}
	if cp.Seq > head {
		first := head + 1
		return &Break{Seq: first, Reason: fmt.Sprintf("entries %d to %d were removed from the end (the signed checkpoint names entry %d)",
			first, cp.Seq, cp.Seq)}, nil
	}
	if cp.Seq == 0 {
		return nil, nil
	}
	var got string
	err = l.db.QueryRowContext(ctx, l.q(`SELECT hash FROM audit WHERE seq = ?`), cp.Seq).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return &Break{Seq: cp.Seq, Reason: "the checkpointed entry is missing"}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	if got != cp.Hash {
		return &Break{Seq: cp.Seq, Reason: "the checkpointed entry's hash differs (the log was rewritten from there)"}, nil
	}
	return nil, nil
}

// Checkpoint returns the signed head checkpoint (zero when the log has none
// or was opened with New).
func (l *Log) Checkpoint() (Checkpoint, error) {
	if l.anchor == nil {
		return Checkpoint{}, nil
	}
	cp, brk, err := l.anchor.read()
	if errors.Is(err, errNoCheckpoint) {
		return Checkpoint{}, nil
	}
	if err == nil && brk != nil {
		err = brk
	}
	return cp, err
}
