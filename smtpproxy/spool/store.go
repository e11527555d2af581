package spool

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
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
}

// Open opens (creating if needed) the spool at dir and recovers it: temp
// files are removed, a message file without an envelope (an interrupted
// commit, never acknowledged) is removed, and a move interrupted between its
// two renames is completed.
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
	return s, nil
}

// Dir is the spool's root folder.
func (s *Store) Dir() string { return s.dir }

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
			if !validID(id) {
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
		switch {
		case len(l.data) == 1 && len(l.env) == 1 && l.data[0] != l.env[0]:
			// Move moves the data first, then the envelope: roll forward.
			if err := os.Rename(s.envPath(l.env[0], id), s.envPath(l.data[0], id)); err != nil {
				return err
			}
			changed[l.data[0]], changed[l.env[0]] = true, true
		case len(l.env) == 0:
			// Data without envelope: the commit did not finish, so no
			// 250 was given; or Remove was interrupted.
			for _, a := range l.data {
				if err := os.Remove(s.dataPath(a, id)); err != nil {
					return err
				}
				changed[a] = true
			}
		case len(l.data) == 0:
			// Envelope without data: the commit's directory sync did not
			// complete, so no 250 was given.
			for _, a := range l.env {
				if err := os.Remove(s.envPath(a, id)); err != nil {
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
	bw   *bufio.Writer
	n    int64
	done bool
}

// Create starts a new message with a fresh ID (see Writer.ID).
func (s *Store) Create() (*Writer, error) {
	id := NewID()
	f, err := os.OpenFile(filepath.Join(s.dir, tmpDir, id), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool create %s: %w", id, err)
	}
	return &Writer{s: s, id: id, f: f, bw: bufio.NewWriterSize(f, 64<<10)}, nil
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
	name := w.f.Name()
	cerr := w.f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("spool abort %s: %w", w.id, err)
	}
	if cerr != nil {
		return fmt.Errorf("spool abort %s: %w", w.id, cerr)
	}
	return nil
}

// Commit makes the message durable in area: the content is fsynced and
// renamed into the area, then the envelope is written (temp, fsync,
// rename), then the area folder is fsynced. Only after Commit returns nil
// may the message be acknowledged. env.ID defaults to the writer's ID and
// env.Size to the bytes written. On error the message is discarded.
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
	defer func() {
		if err != nil {
			_ = w.Abort()
			_ = os.Remove(w.s.envPath(area, id))
			_ = os.Remove(w.s.dataPath(area, id))
			err = fmt.Errorf("spool commit %s: %w", id, err)
		}
	}()
	if err := w.bw.Flush(); err != nil {
		return err
	}
	// The content and the envelope are fsynced concurrently: the two
	// waits overlap (and the filesystem may commit them together).
	synced := make(chan error, 1)
	go func() { synced <- w.f.Sync() }()
	envTmp, err := w.s.writeTempEnvelope(env)
	if serr := <-synced; serr != nil {
		if err == nil {
			os.Remove(envTmp)
		}
		return serr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(w.f.Name(), w.s.dataPath(area, id)); err != nil {
		os.Remove(envTmp)
		return err
	}
	if err := os.Rename(envTmp, w.s.envPath(area, id)); err != nil {
		os.Remove(envTmp)
		return err
	}
	// One folder sync makes both names durable; concurrent commits share it
	// (group commit). Recovery removes either half if the other is missing.
	if err := w.s.syncer[area].sync(); err != nil {
		return err
	}
	w.done = true
	_ = w.f.Close() // durable already; a close error on a read-write fd changes nothing
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
		if id, ok := strings.CutSuffix(e.Name(), envSuffix); ok && validID(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Envelope reads a committed message's envelope.
func (s *Store) Envelope(area Area, id string) (*Envelope, error) {
	if err := s.checkArea(area); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, fmt.Errorf("spool %s: %w", id, ErrNotFound)
	}
	b, err := os.ReadFile(s.envPath(area, id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("spool %s: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("spool %s: %w", id, err)
	}
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("spool %s: envelope: %w", id, err)
	}
	return &env, nil
}

// Open opens a committed message's content for reading.
func (s *Store) Open(area Area, id string) (*os.File, error) {
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

// UpdateEnvelope atomically replaces a committed message's envelope
// (temp file, fsync, rename, folder fsync).
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

// Remove deletes a committed message: the envelope first (the commit
// record), then the content.
func (s *Store) Remove(area Area, id string) error {
	if err := s.checkArea(area); err != nil {
		return err
	}
	if !validID(id) {
		return fmt.Errorf("spool remove %s: %w", id, ErrNotFound)
	}
	if err := os.Remove(s.envPath(area, id)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool remove %s: %w", id, ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("spool remove %s: %w", id, err)
	}
	if err := os.Remove(s.dataPath(area, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool remove %s: %w", id, err)
	}
	if err := s.syncer[area].sync(); err != nil {
		return fmt.Errorf("spool remove %s: %w", id, err)
	}
	return nil
}

// Move moves a committed message from one area to another (for example a
// released message from hold to queue). The content moves first, then the
// envelope; recovery completes a move interrupted in between.
func (s *Store) Move(from, to Area, id string) error {
	if err := s.checkArea(from); err != nil {
		return err
	}
	if err := s.checkArea(to); err != nil {
		return err
	}
	if !validID(id) {
		return fmt.Errorf("spool move %s: %w", id, ErrNotFound)
	}
	if from == to {
		return nil
	}
	if _, err := os.Stat(s.envPath(from, id)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool move %s: %w", id, ErrNotFound)
	}
	if err := os.Rename(s.dataPath(from, id), s.dataPath(to, id)); err != nil {
		return fmt.Errorf("spool move %s: %w", id, err)
	}
	if err := os.Rename(s.envPath(from, id), s.envPath(to, id)); err != nil {
		return fmt.Errorf("spool move %s: %w", id, err)
	}
	if err := s.syncer[to].sync(); err != nil {
		return fmt.Errorf("spool move %s: %w", id, err)
	}
	if err := s.syncer[from].sync(); err != nil {
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
