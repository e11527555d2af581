package policy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Holder keeps the policy in force and reloads it from its file. A file that
// fails validation is not applied: the old policy stays in force, and the
// error is logged and kept for the health endpoint. Sessions take the
// current Engine once (Engine()) and finish under it.
type Holder struct {
	path string
	log  *slog.Logger
	cur  atomic.Pointer[Engine]

	mu      sync.Mutex // serialises reloads and guards the fields below
	stat    fileStat
	fi      os.FileInfo // of the file last read: a rename into place is another file
	pending *fileStat   // a change Check saw once, applied when the next Check sees it again
	lastAt  time.Time
	lastErr error
}

type fileStat struct {
	mtime time.Time
	size  int64
	hash  [sha256.Size]byte
}

// NewHolder loads the policy at path ("" → the embedded default). The first
// load must succeed: there is no old policy to keep.
func NewHolder(path string, log *slog.Logger) (*Holder, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Holder{path: path, log: log}
	if path == "" {
		e, err := Default()
		if err != nil {
			return nil, err
		}
		h.cur.Store(e)
		h.lastAt = time.Now()
		return h, nil
	}
	if err := h.Reload(); err != nil {
		return nil, err
	}
	return h, nil
}

// Engine returns the policy in force.
func (h *Holder) Engine() *Engine { return h.cur.Load() }

// Version is the version of the policy in force.
func (h *Holder) Version() string { return h.cur.Load().Version() }

// Path is the policy file ("" for the embedded default).
func (h *Holder) Path() string { return h.path }

// LastReload reports when the last reload was attempted and its error (nil
// when the file in force is the one on disk).
func (h *Holder) LastReload() (time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastAt, h.lastErr
}

// Reload reads the file and applies it when it validates (SIGHUP). On error
// the old policy stays in force.
func (h *Holder) Reload() error {
	if h.path == "" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reloadLocked()
}

func (h *Holder) reloadLocked() error {
	h.lastAt = time.Now()
	fi, err := os.Stat(h.path)
	if err != nil {
		return h.fail(fmt.Errorf("policy %s: %w", h.path, err))
	}
	data, err := os.ReadFile(h.path)
	if err != nil {
		return h.fail(fmt.Errorf("policy %s: %w", h.path, err))
	}
	h.stat = fileStat{mtime: fi.ModTime(), size: fi.Size(), hash: sha256.Sum256(data)}
	h.fi = fi
	e, err := Parse(data, h.path)
	if err != nil {
		return h.fail(err)
	}
	old := h.cur.Swap(e)
	h.lastErr = nil
	oldV := ""
	if old != nil {
		oldV = old.Version()
	}
	h.log.Info("policy loaded", "path", h.path, "version", e.Version(), "previous", oldV, "rules", len(e.rules))
	for _, w := range e.Warnings() {
		h.log.Warn("policy warning", "path", h.path, "version", e.Version(), "problem", w.String())
	}
	return nil
}

func (h *Holder) fail(err error) error {
	h.lastErr = err
	v := ""
	if e := h.cur.Load(); e != nil {
		v = e.Version()
	}
	h.log.Error("policy not reloaded; the previous policy stays in force", "path", h.path, "in_force", v, "err", err)
	return err
}

// Check reloads when the file changed since it was last read and the
// change is complete; it returns whether a reload was attempted and its
// error. A file replaced by a rename (another inode: the atomic way to
// edit, policy/README.md) is read at once. A file written in place is read
// only when its size and mtime are the same at two calls in a row: an
// editor that truncates and rewrites may be caught half-way, and a
// half-written policy must never be applied (3.3.5). A touch alone
// reloads nothing: the content hash decides.
func (h *Holder) Check() (bool, error) {
	if h.path == "" {
		return false, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	fi, err := os.Stat(h.path)
	if err != nil {
		// A file that vanished is an error worth reporting once.
		if h.lastErr != nil {
			return false, nil
		}
		return true, h.reloadLocked()
	}
	st := fileStat{mtime: fi.ModTime(), size: fi.Size()}
	if st.mtime.Equal(h.stat.mtime) && st.size == h.stat.size {
		h.pending = nil
		return false, nil
	}
	if renamed := h.fi != nil && !os.SameFile(fi, h.fi); !renamed {
		if h.pending == nil || !h.pending.mtime.Equal(st.mtime) || h.pending.size != st.size {
			h.pending = &st
			h.log.Debug("policy file changed; waiting until it is stable", "path", h.path, "size", st.size)
			return false, nil
		}
	}
	h.pending = nil
	data, err := os.ReadFile(h.path)
	if err == nil && sha256.Sum256(data) == h.stat.hash {
		h.stat.mtime, h.stat.size, h.fi = st.mtime, st.size, fi
		return false, nil
	}
	return true, h.reloadLocked()
}

// Watch polls the file every interval until ctx is done and reloads it when
// it changes (Check: an edit in place is applied one interval after it
// stopped changing). It needs no file-notification dependency.
func (h *Holder) Watch(ctx context.Context, interval time.Duration) {
	if h.path == "" {
		return
	}
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.Check() // errors are logged and kept for LastReload
		}
	}
}
