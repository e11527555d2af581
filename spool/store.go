package spool

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Area is a folder of committed messages: the delivery queue or the hold
// store (messages waiting for security staff, 3.3.5).
type Area string

const (
	AreaQueue Area = "queue"
	AreaHold  Area = "hold"
)

// areas lists every area, for recovery.
var areas = [...]Area{AreaQueue, AreaHold}

const (
	tmpDir    = "tmp"
	envSuffix = ".env"
)

// Store is a spool folder. It is safe for concurrent use; callers must not
// operate on the same message ID from two goroutines at once (the queue owns
// a queued message, the hold console a held one).
type Store struct {
	dir    string
	syncer map[Area]*dirSyncer
	// anon: the temp files are unnamed (O_TMPFILE) and linked into the
	// area at commit, which spares the creation and the rename of a tmp
	// folder entry; false where the filesystem or /proc does not allow it.
	anon bool
}

// Open opens (creating if needed) the spool at dir and recovers it; see
// recover.
func Open(dir string) (*Store, error) {
	s := &Store{dir: dir, syncer: map[Area]*dirSyncer{}}
	for _, d := range []string{tmpDir, string(AreaQueue), string(AreaHold)} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("spool open %s: %w", dir, err)
		}
	}
	for _, a := range areas {
		s.syncer[a] = newDirSyncer(filepath.Join(dir, string(a)))
	}
	if err := s.recover(); err != nil {
		return nil, fmt.Errorf("spool recover %s: %w", dir, err)
	}
	s.anon = probeAnon(filepath.Join(dir, tmpDir))
	return s, nil
}

// probeAnon reports whether unnamed temp files can be created and linked
// in dir.
func probeAnon(dir string) bool {
	f, err := openAnon(dir, "probe")
	if err != nil {
		return false
	}
	defer f.Close()
	name := filepath.Join(dir, "probe-"+NewID())
	if err := linkAnon(f, name); err != nil {
		return false
	}
	return os.Remove(name) == nil
}

// Dir is the spool's root folder.
func (s *Store) Dir() string { return s.dir }

// recover brings the spool back to a state that only holds acknowledged
// messages after a crash:
//   - temp files are removed (no 250 was given for them);
//   - an overlay envelope whose message file is in another area (a move
//     interrupted between its two renames) joins the message file, and one
//     without any message file (a remove interrupted between its two
//     unlinks, or the previous layout's unfinished commit) is removed;
//   - a message file with neither an overlay nor a valid trailer is
//     removed: a file only reaches an area after its trailer was fsynced,
//     so it cannot have been acknowledged. The previous layout's message
//     file without its envelope (an unfinished commit) goes the same way.
func (s *Store) recover() error {
	tmp := filepath.Join(s.dir, tmpDir)
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.Remove(filepath.Join(tmp, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	type loc struct{ data, env []Area }
	ids := map[string]*loc{}
	for _, a := range areas {
		ents, err := os.ReadDir(filepath.Join(s.dir, string(a)))
		if err != nil {
			return err
		}
		for _, e := range ents {
			name := e.Name()
			id, isEnv := strings.CutSuffix(name, envSuffix)
			if !validID(id) || !e.Type().IsRegular() {
				continue // not ours; leave it alone
			}
			l := ids[id]
			if l == nil {
				l = &loc{}
				ids[id] = l
			}
			if isEnv {
				l.env = append(l.env, a)
			} else {
				l.data = append(l.data, a)
			}
		}
	}
	changed := map[Area]bool{}
	for id, l := range ids {
		var envs []Area // areas holding both the message file and an overlay
		for _, a := range l.env {
			switch {
			case slices.Contains(l.data, a):
				envs = append(envs, a)
			case len(l.data) == 1 && !slices.Contains(l.env, l.data[0]) && !slices.Contains(envs, l.data[0]):
				// An interrupted move: the overlay follows the message.
				if err := os.Rename(s.envPath(a, id), s.envPath(l.data[0], id)); err != nil {
					return err
				}
				envs = append(envs, l.data[0])
				changed[a], changed[l.data[0]] = true, true
			default:
				if err := os.Remove(s.envPath(a, id)); err != nil {
					return err
				}
				changed[a] = true
			}
		}
		for _, a := range l.data {
			if slices.Contains(envs, a) {
				continue // the overlay is the envelope (either layout)
			}
			if ok, err := s.hasTrailer(a, id); err != nil {
				return err
			} else if !ok {
				if err := os.Remove(s.dataPath(a, id)); err != nil {
					return err
				}
				changed[a] = true
			}
		}
	}
	for a := range changed {
		if err := s.syncer[a].sync(); err != nil {
			return err
		}
	}
	return nil
}

// hasTrailer reports whether a message file ends in a valid trailer.
func (s *Store) hasTrailer(a Area, id string) (bool, error) {
	f, err := os.Open(s.dataPath(a, id))
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	_, _, err = readTrailer(f, fi.Size(), id)
	if errors.Is(err, errNoTrailer) || errors.Is(err, io.EOF) {
		return false, nil
	}
	return err == nil, err
}

func (s *Store) dataPath(a Area, id string) string { return filepath.Join(s.dir, string(a), id) }
func (s *Store) envPath(a Area, id string) string {
	return filepath.Join(s.dir, string(a), id+envSuffix)
}

func (s *Store) checkArea(a Area) error {
	if _, ok := s.syncer[a]; !ok {
		return fmt.Errorf("spool: unknown area %q", a)
	}
	return nil
}

// Writer receives one message's content in a temp file before it is
// committed.
type Writer struct {
	s    *Store
	id   string
	f    *os.File
	anon bool // f is unnamed until Commit links it
	bw   *bufio.Writer
	n    int64
	done bool
}

// Create starts a new message with a fresh ID (see Writer.ID).
func (s *Store) Create() (*Writer, error) {
	id := NewID()
	var f *os.File
	var err error
	if s.anon {
		f, err = openAnon(filepath.Join(s.dir, tmpDir), id)
	} else {
		f, err = os.OpenFile(filepath.Join(s.dir, tmpDir, id), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("spool create %s: %w", id, err)
	}
	return &Writer{s: s, id: id, f: f, anon: s.anon, bw: bufio.NewWriterSize(f, 64<<10)}, nil
}

// ID is the message ID the writer will commit under (unless the envelope
// names another).
func (w *Writer) ID() string { return w.id }

// Size is the number of bytes written so far.
func (w *Writer) Size() int64 { return w.n }

func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("spool %s: write after commit or abort", w.id)
	}
	n, err := w.bw.Write(p)
	w.n += int64(n)
	return n, err
}

// File flushes what was written and returns the temp file for reading
// (use ReadAt or io.NewSectionReader; the write offset must not be moved
// if more is written afterwards). It stays owned by the Writer.
func (w *Writer) File() *os.File {
	_ = w.bw.Flush() // a flush error resurfaces at Commit
	return w.f
}

// Abort discards the message.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	cerr := w.f.Close()
	if !w.anon { // an unnamed file is freed by the close
		if err := os.Remove(w.f.Name()); err != nil {
			return fmt.Errorf("spool abort %s: %w", w.id, err)
		}
	}
	if cerr != nil {
		return fmt.Errorf("spool abort %s: %w", w.id, cerr)
	}
	return nil
}

// Commit makes the message durable in area: the envelope is appended to
// the temp file as its trailer, the file is fsynced and linked (unnamed
// temp file) or renamed into the area, and the area folder is fsynced. The file in the area is the commit
// record, so one file is created per message. Only after Commit returns
// nil may the message be acknowledged. env.ID defaults to the writer's ID
// and env.Size to the bytes written. On error the message is discarded.
func (w *Writer) Commit(env *Envelope, area Area) (err error) {
	if w.done {
		return fmt.Errorf("spool %s: commit after commit or abort", w.id)
	}
	if err := w.s.checkArea(area); err != nil {
		return err
	}
	if env.ID == "" {
		env.ID = w.id
	}
	if !validID(env.ID) {
		return fmt.Errorf("spool commit: invalid id %q", env.ID)
	}
	if env.Size == 0 {
		env.Size = w.n
	}
	id := env.ID
	renamed := false
	defer func() {
		if err != nil {
			_ = w.Abort()
			if renamed {
				_ = os.Remove(w.s.dataPath(area, id))
			}
			err = fmt.Errorf("spool commit %s: %w", id, err)
		}
	}()
	if err := w.bw.Flush(); err != nil {
		return err
	}
	tr, err := appendTrailer(nil, env, w.n)
	if err != nil {
		return err
	}
	// At w.n, not the file offset: the trailer must follow the message
	// bytes exactly, whatever a reader of File did.
	if _, err := w.f.WriteAt(tr, w.n); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	// An overlay left under this ID would hide the new trailer. Lstat
	// first: an unlink locks the folder even when there is nothing to
	// remove, and there almost never is.
	if _, err := os.Lstat(w.s.envPath(area, id)); err == nil {
		if err := os.Remove(w.s.envPath(area, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := w.place(w.s.dataPath(area, id)); err != nil {
		return err
	}
	renamed = true
	// The folder sync makes the name durable; concurrent commits share it
	// (group commit).
	if err := w.s.syncer[area].sync(); err != nil {
		return err
	}
	w.done = true
	_ = w.f.Close() // durable already; a close error on a read-write fd changes nothing
	return nil
}

// place gives the fsynced temp file its name in the area, replacing a file
// of that name as rename does.
func (w *Writer) place(dst string) error {
	if !w.anon {
		return os.Rename(w.f.Name(), dst)
	}
	err := linkAnon(w.f, dst)
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	// A commit under an existing ID (a caller's retry): name it in tmp,
	// then rename over.
	tmp := filepath.Join(w.s.dir, tmpDir, w.id+"-"+NewID())
	if err := linkAnon(w.f, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writeTempEnvelope writes env to a fsynced temp file and returns its path.
func (s *Store) writeTempEnvelope(env *Envelope) (string, error) {
	b, err := json.Marshal(env)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), env.ID+".env-*")
	if err != nil {
		return "", err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// List returns the IDs of the committed messages in area, oldest first.
func (s *Store) List(area Area) ([]string, error) {
	if err := s.checkArea(area); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(s.dir, string(area)))
	if err != nil {
		return nil, fmt.Errorf("spool list %s: %w", area, err)
	}
	var ids []string
	for _, e := range ents {
		if validID(e.Name()) && e.Type().IsRegular() {
			ids = append(ids, e.Name())
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// openData opens a committed message file.
func (s *Store) openData(area Area, id string) (*os.File, error) {
	if err := s.checkArea(area); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, fmt.Errorf("spool %s: %w", id, ErrNotFound)
	}
	f, err := os.Open(s.dataPath(area, id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("spool %s: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("spool %s: %w", id, err)
	}
	return f, nil
}

// Envelope reads a committed message's envelope: the overlay written by
// UpdateEnvelope if there is one, else the trailer written by Commit.
func (s *Store) Envelope(area Area, id string) (*Envelope, error) {
	f, err := s.openData(area, id)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := os.ReadFile(s.envPath(area, id))
	if errors.Is(err, fs.ErrNotExist) {
		env, err := trailerEnvelope(f, id)
		if err != nil {
			return nil, fmt.Errorf("spool %s: %w", id, err)
		}
		return env, nil
	} else if err != nil {
		return nil, fmt.Errorf("spool %s: %w", id, err)
	}
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("spool %s: envelope: %w", id, err)
	}
	return &env, nil
}

// Open opens a committed message's content for reading. The reads are
// bounded to the message bytes.
func (s *Store) Open(area Area, id string) (*Content, error) {
	f, err := s.openData(area, id)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("spool %s: %w", id, err)
	}
	size, _, err := readTrailer(f, fi.Size(), id)
	if errors.Is(err, errNoTrailer) {
		// The previous layout: the whole file is the message and the
		// envelope is the ID.env file beside it.
		if _, serr := os.Stat(s.envPath(area, id)); serr != nil {
			f.Close()
			return nil, fmt.Errorf("spool %s: %w", id, err)
		}
		size, err = fi.Size(), nil
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("spool %s: %w", id, err)
	}
	return &Content{f: f, r: io.NewSectionReader(f, 0, size)}, nil
}

// UpdateEnvelope atomically replaces a committed message's envelope: it
// writes the overlay ID.env (temp file, fsync, rename, folder fsync),
// which takes precedence over the trailer.
func (s *Store) UpdateEnvelope(area Area, env *Envelope) error {
	if err := s.checkArea(area); err != nil {
		return err
	}
	if !validID(env.ID) {
		return fmt.Errorf("spool update: invalid id %q", env.ID)
	}
	if _, err := os.Stat(s.dataPath(area, env.ID)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool update %s: %w", env.ID, ErrNotFound)
	}
	tmp, err := s.writeTempEnvelope(env)
	if err != nil {
		return fmt.Errorf("spool update %s: %w", env.ID, err)
	}
	if err := os.Rename(tmp, s.envPath(area, env.ID)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool update %s: %w", env.ID, err)
	}
	if err := s.syncer[area].sync(); err != nil {
		return fmt.Errorf("spool update %s: %w", env.ID, err)
	}
	return nil
}

// Remove deletes a committed message: the message file first (the commit
// record; from then on the message is gone), then the overlay, which
// recovery removes if a crash leaves it behind.
func (s *Store) Remove(area Area, id string) error {
	if err := s.checkArea(area); err != nil {
		return err
	}
	if !validID(id) {
		return fmt.Errorf("spool remove %s: %w", id, ErrNotFound)
	}
	err := os.Remove(s.dataPath(area, id))
	if errors.Is(err, fs.ErrNotExist) {
		_ = os.Remove(s.envPath(area, id)) // left by an interrupted remove
		return fmt.Errorf("spool remove %s: %w", id, ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("spool remove %s: %w", id, err)
	}
	// Lstat first: most messages never had an overlay, and an unlink of
	// nothing still locks the folder the commits are linking into.
	if _, err := os.Lstat(s.envPath(area, id)); err == nil {
		if err := os.Remove(s.envPath(area, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("spool remove %s: %w", id, err)
		}
	}
	if err := s.syncer[area].sync(); err != nil {
		return fmt.Errorf("spool remove %s: %w", id, err)
	}
	return nil
}

// Move moves a committed message from one area to another (for example a
// released message from hold to queue). The overlay, if any, moves first
// and the message file last, so the message appears in the destination
// with its current envelope; recovery puts an overlay separated from its
// message file by a crash back beside it.
func (s *Store) Move(from, to Area, id string) error {
	return s.moveFrom(s, from, to, id)
}

// Adopt moves a committed message, with its ID and current envelope, from
// another store's area into the same area of this one (both on one file
// system), e.g. the delayed messages of an earlier version's own spool
// into the delivery queue. Like Move, a crash leaves it in one of them.
func (s *Store) Adopt(src *Store, area Area, id string) error {
	return s.moveFrom(src, area, area, id)
}

// moveFrom moves id from src's area from to this store's area to.
func (s *Store) moveFrom(src *Store, from, to Area, id string) error {
	if err := src.checkArea(from); err != nil {
		return err
	}
	if err := s.checkArea(to); err != nil {
		return err
	}
	if !validID(id) {
		return fmt.Errorf("spool move %s: %w", id, ErrNotFound)
	}
	if from == to && src == s {
		return nil
	}
	if _, err := os.Stat(src.dataPath(from, id)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool move %s: %w", id, ErrNotFound)
	}
	overlay := true
	if err := os.Rename(src.envPath(from, id), s.envPath(to, id)); errors.Is(err, fs.ErrNotExist) {
		overlay = false
		// A stale overlay in the destination would hide the trailer.
		if err := os.Remove(s.envPath(to, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("spool move %s: %w", id, err)
		}
	} else if err != nil {
		return fmt.Errorf("spool move %s: %w", id, err)
	}
	if err := os.Rename(src.dataPath(from, id), s.dataPath(to, id)); err != nil {
		if overlay {
			_ = os.Rename(s.envPath(to, id), src.envPath(from, id))
		}
		return fmt.Errorf("spool move %s: %w", id, err)
	}
	if err := s.syncer[to].sync(); err != nil {
		return fmt.Errorf("spool move %s: %w", id, err)
	}
	if err := src.syncer[from].sync(); err != nil {
		return fmt.Errorf("spool move %s: %w", id, err)
	}
	return nil
}

// crockford is Crockford's base32 alphabet; it is in ASCII order, so IDs
// sort by time.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a new message ID: 13 characters of the time in nanoseconds
// and 8 random ones, all [0-9A-Z], so it sorts by arrival and is safe in
// file names, logs and SMTP replies.
func NewID() string {
	var b [21]byte
	t := uint64(time.Now().UnixNano())
	for i := 12; i >= 0; i-- {
		b[i] = crockford[t&31]
		t >>= 5
	}
	var r [8]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails (Go 1.24+)
	for i, v := range r {
		b[13+i] = crockford[v&31]
	}
	return string(b[:])
}

// validID reports whether id looks like a NewID result; anything else is
// refused so that an ID can never name a path outside the spool.
func validID(id string) bool {
	if len(id) != 21 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if strings.IndexByte(crockford, id[i]) < 0 {
			return false
		}
	}
	return true
}

// ValidID reports whether id is a well-formed message ID.
func ValidID(id string) bool { return validID(id) }

// dirSyncer fsyncs one folder, batching concurrent requests: a caller
// waits for a sync that started after its request (group commit).
type dirSyncer struct {
	dir       string
	mu        sync.Mutex
	cond      *sync.Cond
	issued    uint64 // tickets handed out
	completed uint64 // every ticket below this is covered by a finished sync
	running   bool
	err       error // result of the last finished sync
}

func newDirSyncer(dir string) *dirSyncer {
	d := &dirSyncer{dir: dir}
	d.cond = sync.NewCond(&d.mu)
	return d
}

func (d *dirSyncer) sync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.issued
	d.issued++
	for {
		if d.completed > t {
			return d.err
		}
		if !d.running {
			d.running = true
			upTo := d.issued
			d.mu.Unlock()
			err := syncDir(d.dir)
			d.mu.Lock()
			d.running = false
			d.completed = upTo
			d.err = err
			d.cond.Broadcast()
			continue
		}
		d.cond.Wait()
	}
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
