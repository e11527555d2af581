package spool

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"
)

func commitMsg(t *testing.T, s *Store, area Area, body string) string {
	t.Helper()
	w, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, body); err != nil {
		t.Fatal(err)
	}
	env := &Envelope{From: "a@example.com", Recipients: []Recipient{{Address: "b@example.jp", Status: Pending}}, Received: time.Now()}
	if err := w.Commit(env, area); err != nil {
		t.Fatal(err)
	}
	if env.ID != w.ID() || env.Size != int64(len(body)) {
		t.Fatalf("envelope not filled in: id %q (writer %q), size %d", env.ID, w.ID(), env.Size)
	}
	return env.ID
}

func TestCommitReadListRemove(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	id1 := commitMsg(t, s, AreaQueue, "Subject: one\r\n\r\nbody one\r\n")
	id2 := commitMsg(t, s, AreaQueue, "Subject: two\r\n\r\nbody two\r\n")
	id3 := commitMsg(t, s, AreaHold, "Subject: three\r\n\r\n")

	ids, err := s.List(AreaQueue)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{id1, id2}) {
		t.Fatalf("queue list = %v, want [%s %s]", ids, id1, id2)
	}
	if ids, _ := s.List(AreaHold); !slices.Equal(ids, []string{id3}) {
		t.Fatalf("hold list = %v", ids)
	}
	env, err := s.Envelope(AreaQueue, id2)
	if err != nil {
		t.Fatal(err)
	}
	if env.From != "a@example.com" || len(env.Recipients) != 1 || env.Recipients[0].Address != "b@example.jp" {
		t.Fatalf("envelope = %+v", env)
	}
	f, err := s.Open(AreaQueue, id2)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "Subject: two\r\n\r\nbody two\r\n" {
		t.Fatalf("content = %q", b)
	}

	env.Recipients[0].Status = Delivered
	env.Recipients[0].Attempts = 1
	if err := s.UpdateEnvelope(AreaQueue, env); err != nil {
		t.Fatal(err)
	}
	env2, _ := s.Envelope(AreaQueue, id2)
	if env2.Recipients[0].Status != Delivered || env2.Recipients[0].Attempts != 1 {
		t.Fatalf("update not stored: %+v", env2.Recipients)
	}

	if err := s.Remove(AreaQueue, id1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Envelope(AreaQueue, id1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed envelope: err = %v", err)
	}
	if _, err := s.Open(AreaQueue, id1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed data: err = %v", err)
	}
	if err := s.Remove(AreaQueue, id1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: err = %v", err)
	}

	if err := s.Move(AreaHold, AreaQueue, id3); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.List(AreaQueue); !slices.Equal(ids, []string{id2, id3}) {
		t.Fatalf("after move queue = %v", ids)
	}
	if ids, _ := s.List(AreaHold); len(ids) != 0 {
		t.Fatalf("after move hold = %v", ids)
	}
	// Nothing may be left behind in tmp.
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp not empty: %v", ents)
	}
}

func TestAbortAndFile(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	w, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "hello world")
	b := make([]byte, 5)
	if _, err := w.File().ReadAt(b, 6); err != nil || string(b) != "world" {
		t.Fatalf("File().ReadAt = %q, %v", b, err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp not empty after abort: %v", ents)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("write after abort succeeded")
	}
	if err := w.Commit(&Envelope{}, AreaQueue); err == nil {
		t.Fatal("commit after abort succeeded")
	}
	if ids, _ := s.List(AreaQueue); len(ids) != 0 {
		t.Fatalf("queue = %v", ids)
	}
}

// TestRecovery builds each state a crash can leave and checks what Open
// makes of it.
func TestRecovery(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	keep := commitMsg(t, s, AreaQueue, "keep")
	held := commitMsg(t, s, AreaHold, "held")
	movedHalf := commitMsg(t, s, AreaHold, "moved")
	// A crash inside Move after the data rename.
	if err := os.Rename(s.dataPath(AreaHold, movedHalf), s.dataPath(AreaQueue, movedHalf)); err != nil {
		t.Fatal(err)
	}
	// A crash inside Commit before the envelope rename: data without envelope.
	orphan := NewID()
	os.WriteFile(s.dataPath(AreaQueue, orphan), []byte("x"), 0o600)
	// Envelope without data.
	lonely := NewID()
	os.WriteFile(s.envPath(AreaHold, lonely), []byte("{}"), 0o600)
	// An unfinished temp file.
	w, _ := s.Create()
	io.WriteString(w, "partial")
	w.File()
	// A foreign file is left alone.
	os.WriteFile(filepath.Join(dir, "queue", "README"), []byte("x"), 0o600)

	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := s2.List(AreaQueue)
	h, _ := s2.List(AreaHold)
	want := []string{keep, movedHalf}
	sort.Strings(want)
	if !slices.Equal(q, want) {
		t.Fatalf("queue after recovery = %v, want %v", q, want)
	}
	if !slices.Equal(h, []string{held}) {
		t.Fatalf("hold after recovery = %v, want [%s]", h, held)
	}
	for _, p := range []string{s.dataPath(AreaQueue, orphan), s.envPath(AreaHold, lonely)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not removed", p)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp not empty: %v", ents)
	}
	if _, err := os.Stat(filepath.Join(dir, "queue", "README")); err != nil {
		t.Fatal("foreign file removed")
	}
	f, err := s2.Open(AreaQueue, movedHalf)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "moved" {
		t.Fatalf("moved content = %q", b)
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for range 2000 {
		id := NewID()
		if !ValidID(id) {
			t.Fatalf("invalid id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		if id[:13] < prev {
			t.Fatalf("time part not sortable: %q after %q", id[:13], prev)
		}
		prev = id[:13]
	}
	for _, bad := range []string{"", "../../etc/passwd", "0123456789ABCDEFGHJKm", "0123456789ABCDEFGHJK/", "0123456789ABCDEFGHJKMN"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
	s, _ := Open(t.TempDir())
	if _, err := s.Open(AreaQueue, "../tmp/x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("path traversal: %v", err)
	}
	if _, err := s.List(Area("nope")); err == nil {
		t.Error("unknown area accepted")
	}
}

// TestConcurrentCommits exercises the group commit of folder syncs.
func TestConcurrentCommits(t *testing.T) {
	s, _ := Open(t.TempDir())
	var wg sync.WaitGroup
	const n = 40
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := s.Create()
			if err != nil {
				errs <- err
				return
			}
			io.WriteString(w, "m")
			area := AreaQueue
			if i%4 == 0 {
				area = AreaHold
			}
			errs <- w.Commit(&Envelope{From: "x@y"}, area)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	q, _ := s.List(AreaQueue)
	h, _ := s.List(AreaHold)
	if len(q) != 30 || len(h) != 10 {
		t.Fatalf("queue %d hold %d, want 30 and 10", len(q), len(h))
	}
}

func BenchmarkCommit20K(b *testing.B) {
	s, _ := Open(b.TempDir())
	body := make([]byte, 20<<10)
	b.SetParallelism(10) // 10 × GOMAXPROCS concurrent sessions
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w, err := s.Create()
			if err != nil {
				b.Fatal(err)
			}
			w.Write(body)
			if err := w.Commit(&Envelope{From: "x@y"}, AreaQueue); err != nil {
				b.Fatal(err)
			}
		}
	})
}
