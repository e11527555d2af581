package spool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// commitBody commits body with nrcpt recipients and returns the envelope.
func commitBody(t *testing.T, s *Store, area Area, body string, nrcpt int) *Envelope {
	t.Helper()
	w, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, body); err != nil {
		t.Fatal(err)
	}
	env := &Envelope{From: "a@example.com", Received: time.Now().UTC().Truncate(time.Second)}
	for i := range nrcpt {
		env.Recipients = append(env.Recipients, Recipient{Address: fmt.Sprintf("r%04d@example.jp", i), Status: Pending})
	}
	if err := w.Commit(env, area); err != nil {
		t.Fatal(err)
	}
	return env
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func readContent(t *testing.T, s *Store, area Area, id string) string {
	t.Helper()
	c, err := s.Open(area, id)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sameEnvelope(a, b *Envelope) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestOneFilePerMessage: a commit leaves exactly one file, named by the ID,
// and the envelope comes back from its trailer.
func TestOneFilePerMessage(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	var envs []*Envelope
	for i := range 3 {
		env := commitBody(t, s, AreaQueue, fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i), 2)
		want = append(want, env.ID)
		envs = append(envs, env)
	}
	if got := dirNames(t, filepath.Join(dir, "queue")); !slices.Equal(got, want) {
		t.Fatalf("queue folder = %v, want exactly %v", got, want)
	}
	if got := dirNames(t, filepath.Join(dir, "tmp")); len(got) != 0 {
		t.Fatalf("tmp = %v", got)
	}
	for _, env := range envs {
		got, err := s.Envelope(AreaQueue, env.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameEnvelope(got, env) {
			t.Errorf("trailer envelope = %+v, want %+v", got, env)
		}
	}
}

// TestContentBounded: Open hands out the message bytes and never the
// trailer, whatever way it is read, with and without an overlay, for
// envelopes smaller and larger than the tail read at once.
func TestContentBounded(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		nrcpt   int
		overlay bool
	}{
		{"empty", "", 1, false},
		{"one byte", "x", 1, false},
		{"small", "Subject: s\r\n\r\nbody\r\n", 1, false},
		{"20K", "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("y", 78)+"\r\n", 256), 1, false},
		{"envelope beyond the tail read", "Subject: many\r\n\r\nhi\r\n", 300, false},
		{"with overlay", "Subject: o\r\n\r\nbody\r\n", 1, true},
		{"body that looks like a trailer", "Subject: t\r\n\r\n" + footerMagic + "{}" + footerMagic, 1, false},
	}
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := commitBody(t, s, AreaQueue, tc.body, tc.nrcpt)
			if tc.overlay {
				env.Recipients[0].Attempts = 3
				if err := s.UpdateEnvelope(AreaQueue, env); err != nil {
					t.Fatal(err)
				}
			}
			n := int64(len(tc.body))
			c, err := s.Open(AreaQueue, env.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Size() != n {
				t.Errorf("Size = %d, want %d", c.Size(), n)
			}
			b, err := io.ReadAll(c)
			if err != nil || string(b) != tc.body {
				t.Fatalf("ReadAll = %q, %v; want %q", b, err, tc.body)
			}
			if end, err := c.Seek(0, io.SeekEnd); err != nil || end != n {
				t.Errorf("Seek(0, end) = %d, %v", end, err)
			}
			if k, err := c.Read(make([]byte, 10)); k != 0 || err != io.EOF {
				t.Errorf("Read at end = %d, %v", k, err)
			}
			p := make([]byte, 64)
			if k, err := c.ReadAt(p, n); k != 0 || err != io.EOF {
				t.Errorf("ReadAt(size) = %d, %v (%q)", k, err, p[:k])
			}
			if n > 0 {
				k, err := c.ReadAt(p, n-1)
				if k != 1 || err != io.EOF || p[0] != tc.body[n-1] {
					t.Errorf("ReadAt(size-1) = %d %q, %v", k, p[:k], err)
				}
			}
			if _, err := c.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			if b, _ := io.ReadAll(c); string(b) != tc.body {
				t.Errorf("after rewind = %q", b)
			}
		})
	}
}

// TestOverlayPrecedence: UpdateEnvelope writes ID.env, which wins over the
// trailer, also after a restart; the content does not change.
func TestOverlayPrecedence(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	body := "Subject: p\r\n\r\nbody\r\n"
	env := commitBody(t, s, AreaQueue, body, 2)
	orig := *env
	orig.Recipients = slices.Clone(env.Recipients)

	upd := *env
	upd.Recipients = slices.Clone(env.Recipients)
	upd.Recipients[0].Status, upd.Recipients[0].Attempts = Delivered, 1
	upd.Recipients[1].LastError, upd.Recipients[1].LastCode = "451 4.3.0 later", 451
	upd.NextAttempt = time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if err := s.UpdateEnvelope(AreaQueue, &upd); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, filepath.Join(dir, "queue")); !slices.Equal(got, []string{env.ID, env.ID + ".env"}) {
		t.Fatalf("queue folder = %v", got)
	}
	for _, st := range []*Store{s, mustOpen(t, dir)} {
		got, err := st.Envelope(AreaQueue, env.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameEnvelope(got, &upd) || sameEnvelope(got, &orig) {
			t.Errorf("envelope = %+v, want the overlay %+v", got, upd)
		}
		if c := readContent(t, st, AreaQueue, env.ID); c != body {
			t.Errorf("content = %q", c)
		}
		if ids, _ := st.List(AreaQueue); !slices.Equal(ids, []string{env.ID}) {
			t.Errorf("list = %v", ids)
		}
	}
	// The trailer itself was not touched.
	f, _ := os.Open(filepath.Join(dir, "queue", env.ID))
	defer f.Close()
	if got, err := trailerEnvelope(f, env.ID); err != nil || !sameEnvelope(got, &orig) {
		t.Errorf("trailer = %+v, %v", got, err)
	}
}

func mustOpen(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTrailerCorruption: a message file whose trailer does not check out
// cannot have been acknowledged; the next start removes it and it is never
// listed again. Until then it is never handed out as content.
func TestTrailerCorruption(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(path string, b []byte) ([]byte, error)
	}{
		{"json byte flipped", func(_ string, b []byte) ([]byte, error) {
			b[len(b)-footerLen-5] ^= 0x20
			return b, nil
		}},
		{"crc flipped", func(_ string, b []byte) ([]byte, error) { b[len(b)-footerLen+36] ^= 1; return b, nil }},
		{"magic", func(_ string, b []byte) ([]byte, error) { b[len(b)-1] ^= 1; return b, nil }},
		{"length field", func(_ string, b []byte) ([]byte, error) { b[len(b)-footerLen+24]++; return b, nil }},
		{"truncated by one byte", func(_ string, b []byte) ([]byte, error) { return b[:len(b)-1], nil }},
		{"footer cut off", func(_ string, b []byte) ([]byte, error) { return b[:len(b)-footerLen], nil }},
		{"message only", func(_ string, b []byte) ([]byte, error) { return b[:len("Subject: c\r\n\r\nbody\r\n")], nil }},
		{"byte appended", func(_ string, b []byte) ([]byte, error) { return append(b, '\n'), nil }},
		{"byte lost in the middle", func(_ string, b []byte) ([]byte, error) { return append(b[:3:3], b[4:]...), nil }},
		{"empty", func(_ string, b []byte) ([]byte, error) { return nil, nil }},
		{"renamed to another ID", func(path string, b []byte) ([]byte, error) {
			return b, os.Rename(path, filepath.Join(filepath.Dir(path), NewID()))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir)
			good := commitBody(t, s, AreaQueue, "Subject: g\r\n\r\nbody\r\n", 1)
			bad := commitBody(t, s, AreaQueue, "Subject: c\r\n\r\nbody\r\n", 1)
			path := filepath.Join(dir, "queue", bad.ID)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b, err = tc.corrupt(path, b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err == nil {
				if err := os.WriteFile(path, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			ids, _ := s.List(AreaQueue)
			if len(ids) != 2 {
				t.Fatalf("before recovery list = %v", ids)
			}
			for _, id := range ids {
				if id == good.ID {
					continue
				}
				if c, err := s.Open(AreaQueue, id); err == nil {
					c.Close()
					t.Errorf("Open of the corrupt message succeeded")
				}
				if _, err := s.Envelope(AreaQueue, id); err == nil {
					t.Errorf("Envelope of the corrupt message succeeded")
				}
			}
			s2 := mustOpen(t, dir)
			if ids, _ := s2.List(AreaQueue); !slices.Equal(ids, []string{good.ID}) {
				t.Fatalf("after recovery list = %v, want [%s]", ids, good.ID)
			}
			if got := dirNames(t, filepath.Join(dir, "queue")); !slices.Equal(got, []string{good.ID}) {
				t.Fatalf("after recovery folder = %v", got)
			}
			if c := readContent(t, s2, AreaQueue, good.ID); c != "Subject: g\r\n\r\nbody\r\n" {
				t.Errorf("good content = %q", c)
			}
		})
	}
}

// TestMoveRemove covers Move and Remove for both layouts, with and without
// an overlay: the envelope travels with the message and nothing is left
// behind.
func TestMoveRemove(t *testing.T) {
	tests := []struct {
		name    string
		old     bool // written by the previous layout
		overlay bool // UpdateEnvelope before the move
	}{
		{"trailer only", false, false},
		{"trailer and overlay", false, true},
		{"previous layout", true, false},
		{"previous layout updated", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir)
			body := "Subject: m\r\n\r\nmove me\r\n"
			var env *Envelope
			if tc.old {
				env = writeOldLayout(t, dir, AreaHold, NewID(), body)
			} else {
				env = commitBody(t, s, AreaHold, body, 2)
			}
			if tc.overlay {
				env.Recipients[0].Status = Delivered
				if err := s.UpdateEnvelope(AreaHold, env); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Move(AreaHold, AreaQueue, env.ID); err != nil {
				t.Fatal(err)
			}
			if got := dirNames(t, filepath.Join(dir, "hold")); len(got) != 0 {
				t.Errorf("hold after move = %v", got)
			}
			for _, st := range []*Store{s, mustOpen(t, dir)} {
				if ids, _ := st.List(AreaQueue); !slices.Equal(ids, []string{env.ID}) {
					t.Fatalf("queue after move = %v", ids)
				}
				got, err := st.Envelope(AreaQueue, env.ID)
				if err != nil || !sameEnvelope(got, env) {
					t.Fatalf("envelope after move = %+v, %v; want %+v", got, err, env)
				}
				if c := readContent(t, st, AreaQueue, env.ID); c != body {
					t.Fatalf("content after move = %q", c)
				}
			}
			if err := s.Move(AreaHold, AreaQueue, env.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("second move: %v", err)
			}
			if err := s.Remove(AreaQueue, env.ID); err != nil {
				t.Fatal(err)
			}
			for _, a := range []string{"queue", "hold", "tmp"} {
				if got := dirNames(t, filepath.Join(dir, a)); len(got) != 0 {
					t.Errorf("%s after remove = %v", a, got)
				}
			}
			if err := s.Remove(AreaQueue, env.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("second remove: %v", err)
			}
			if _, err := s.Envelope(AreaQueue, env.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("envelope after remove: %v", err)
			}
			if err := s.UpdateEnvelope(AreaQueue, env); !errors.Is(err, ErrNotFound) {
				t.Errorf("update after remove: %v", err)
			}
		})
	}
}

// TestRecoveryTrailerLayout builds the states a crash can leave with the
// one-file layout.
func TestRecoveryTrailerLayout(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	// A move interrupted after the overlay went ahead: it rejoins the
	// message, which stays where it was with its newest envelope.
	moving := commitBody(t, s, AreaHold, "Subject: moving\r\n\r\n", 1)
	moving.Recipients[0].Attempts = 7
	if err := s.UpdateEnvelope(AreaHold, moving); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(s.envPath(AreaHold, moving.ID), s.envPath(AreaQueue, moving.ID)); err != nil {
		t.Fatal(err)
	}
	// A remove interrupted after the message file went: the overlay goes.
	removed := commitBody(t, s, AreaQueue, "Subject: removed\r\n\r\n", 1)
	if err := s.UpdateEnvelope(AreaQueue, removed); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(s.dataPath(AreaQueue, removed.ID)); err != nil {
		t.Fatal(err)
	}
	// A commit interrupted after the trailer was written and fsynced but
	// before the rename: never acknowledged.
	w, _ := s.Create()
	io.WriteString(w, "Subject: unfinished\r\n\r\n")
	tr, _ := appendTrailer(nil, &Envelope{ID: w.ID()}, w.Size())
	w.File().WriteAt(tr, w.Size())
	// A committed message with an overlay stays as it is.
	kept := commitBody(t, s, AreaQueue, "Subject: kept\r\n\r\n", 1)
	kept.Recipients[0].LastError = "x"
	if err := s.UpdateEnvelope(AreaQueue, kept); err != nil {
		t.Fatal(err)
	}

	s2 := mustOpen(t, dir)
	if got := dirNames(t, filepath.Join(dir, "queue")); !slices.Equal(got, []string{kept.ID, kept.ID + ".env"}) {
		t.Errorf("queue = %v", got)
	}
	if got := dirNames(t, filepath.Join(dir, "hold")); !slices.Equal(got, []string{moving.ID, moving.ID + ".env"}) {
		t.Errorf("hold = %v", got)
	}
	if got := dirNames(t, filepath.Join(dir, "tmp")); len(got) != 0 {
		t.Errorf("tmp = %v", got)
	}
	if got, err := s2.Envelope(AreaHold, moving.ID); err != nil || !sameEnvelope(got, moving) {
		t.Errorf("moving envelope = %+v, %v", got, err)
	}
	if got, err := s2.Envelope(AreaQueue, kept.ID); err != nil || !sameEnvelope(got, kept) {
		t.Errorf("kept envelope = %+v, %v", got, err)
	}
}

// writeOldLayout writes a message as the previous layout did: the bytes
// in ID and the envelope JSON in ID.env.
func writeOldLayout(t *testing.T, dir string, area Area, id, body string) *Envelope {
	t.Helper()
	env := &Envelope{ID: id, From: "old@example.com", Size: int64(len(body)), Received: time.Now().UTC().Truncate(time.Second),
		Recipients: []Recipient{{Address: "x@example.jp", Status: Pending}, {Address: "y@example.jp", Status: Pending}}}
	js, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, string(area), id), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, string(area), id+".env"), js, 0o600); err != nil {
		t.Fatal(err)
	}
	return env
}

// TestUpgradeFromOldLayout: a spool left by the previous version (two
// files per message) is read, recovered and worked on by this one.
func TestUpgradeFromOldLayout(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"tmp", "queue", "hold"} {
		os.MkdirAll(filepath.Join(dir, d), 0o700)
	}
	queued := writeOldLayout(t, dir, AreaQueue, NewID(), "Subject: old queued\r\n\r\nbody\r\n")
	held := writeOldLayout(t, dir, AreaHold, NewID(), "Subject: old held\r\n\r\nbody\r\n")
	// A message whose bytes end like a trailer (of another ID: the real
	// ID cannot be known when it is sent) is still a whole message.
	tricky := "Subject: tricky\r\n\r\n"
	tb, _ := appendTrailer([]byte(tricky), &Envelope{ID: NewID()}, int64(len(tricky)))
	crafted := writeOldLayout(t, dir, AreaQueue, NewID(), string(tb))
	// The previous layout's crash states.
	halfMoved := writeOldLayout(t, dir, AreaQueue, NewID(), "Subject: half moved\r\n\r\n")
	if err := os.Rename(filepath.Join(dir, "queue", halfMoved.ID+".env"), filepath.Join(dir, "hold", halfMoved.ID+".env")); err != nil {
		t.Fatal(err)
	}
	noEnv := NewID() // commit interrupted before the envelope rename
	os.WriteFile(filepath.Join(dir, "queue", noEnv), []byte("Subject: x\r\n\r\n"), 0o600)
	noData := NewID() // envelope renamed, data name not durable
	os.WriteFile(filepath.Join(dir, "hold", noData+".env"), []byte(`{"id":"`+noData+`"}`), 0o600)
	os.WriteFile(filepath.Join(dir, "tmp", NewID()+".env-123"), []byte("{"), 0o600)
	// A folder named like a message is not one; it is left alone.
	foreign := NewID()
	os.Mkdir(filepath.Join(dir, "queue", foreign), 0o700)
	os.WriteFile(filepath.Join(dir, "queue", foreign, "x"), []byte("x"), 0o600)

	s := mustOpen(t, dir)
	fresh := commitBody(t, s, AreaQueue, "Subject: new\r\n\r\n", 1)

	wantQ := []string{queued.ID, crafted.ID, halfMoved.ID, fresh.ID}
	slices.Sort(wantQ)
	if ids, _ := s.List(AreaQueue); !slices.Equal(ids, wantQ) {
		t.Fatalf("queue = %v, want %v", ids, wantQ)
	}
	if ids, _ := s.List(AreaHold); !slices.Equal(ids, []string{held.ID}) {
		t.Fatalf("hold = %v, want [%s]", ids, held.ID)
	}
	for _, p := range []string{filepath.Join(dir, "queue", noEnv), filepath.Join(dir, "hold", noData+".env")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not removed", p)
		}
	}
	for _, m := range []struct {
		area Area
		env  *Envelope
		body string
	}{
		{AreaQueue, queued, "Subject: old queued\r\n\r\nbody\r\n"},
		{AreaHold, held, "Subject: old held\r\n\r\nbody\r\n"},
		{AreaQueue, crafted, string(tb)},
		{AreaQueue, halfMoved, "Subject: half moved\r\n\r\n"},
	} {
		got, err := s.Envelope(m.area, m.env.ID)
		if err != nil || !sameEnvelope(got, m.env) {
			t.Errorf("%s envelope = %+v, %v", m.env.ID, got, err)
		}
		if c := readContent(t, s, m.area, m.env.ID); c != m.body {
			t.Errorf("%s content = %q, want %q", m.env.ID, c, m.body)
		}
	}
	// The queue's and the hold console's operations on old messages.
	queued.Recipients[0].Status = Delivered
	if err := s.UpdateEnvelope(AreaQueue, queued); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Envelope(AreaQueue, queued.ID); got == nil || got.Recipients[0].Status != Delivered {
		t.Errorf("update of an old message: %+v", got)
	}
	if c := readContent(t, s, AreaQueue, queued.ID); c != "Subject: old queued\r\n\r\nbody\r\n" {
		t.Errorf("content after update = %q", c)
	}
	if err := s.Move(AreaHold, AreaQueue, held.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range append(wantQ, held.ID) {
		if err := s.Remove(AreaQueue, id); err != nil {
			t.Errorf("remove %s: %v", id, err)
		}
	}
	for _, a := range []string{"queue", "hold", "tmp"} {
		want := map[string][]string{"queue": {foreign}}[a]
		if got := dirNames(t, filepath.Join(dir, a)); !slices.Equal(got, want) {
			t.Errorf("%s at the end = %v, want %v", a, got, want)
		}
	}
}

// FuzzReadTrailer: no input makes the trailer reader panic or accept a
// trailer whose lengths do not add up; a written trailer always reads
// back.
func FuzzReadTrailer(f *testing.F) {
	const id = "0123456789ABCDEFGHJKM"
	valid, _ := appendTrailer([]byte("Subject: x\r\n\r\nbody\r\n"), &Envelope{ID: id, From: "a@b"}, 20)
	f.Add(valid)
	f.Add([]byte(footerMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		size, js, err := readTrailer(bytes.NewReader(data), int64(len(data)), id)
		if err == nil {
			if size < 0 || size+int64(len(js))+footerLen != int64(len(data)) {
				t.Fatalf("accepted size %d json %d of %d bytes", size, len(js), len(data))
			}
			if !bytes.Equal(js, data[size:size+int64(len(js))]) {
				t.Fatal("json is not where the footer says")
			}
		}
		env := &Envelope{ID: id, From: string(data)}
		b, err := appendTrailer(slices.Clone(data), env, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		size, js, err = readTrailer(bytes.NewReader(b), int64(len(b)), id)
		if err != nil || size != int64(len(data)) {
			t.Fatalf("round trip: size %d, %v", size, err)
		}
		var got Envelope
		if err := json.Unmarshal(js, &got); err != nil || got.ID != id {
			t.Fatalf("round trip envelope: %+v, %v", got, err)
		}
	})
}

// TestCommitOverStaleOverlay: an overlay left under an ID (a remove that
// failed half way) must not hide the trailer of a message committed later
// under the same ID.
func TestCommitOverStaleOverlay(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	old := commitBody(t, s, AreaQueue, "Subject: first\r\n\r\n", 1)
	old.Recipients[0].Status = Failed
	if err := s.UpdateEnvelope(AreaQueue, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(s.dataPath(AreaQueue, old.ID)); err != nil {
		t.Fatal(err)
	}
	w, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: second\r\n\r\n")
	env := &Envelope{ID: old.ID, From: "second@example.com", Recipients: []Recipient{{Address: "z@example.jp", Status: Pending}}}
	if err := w.Commit(env, AreaQueue); err != nil {
		t.Fatal(err)
	}
	got, err := s.Envelope(AreaQueue, old.ID)
	if err != nil || !sameEnvelope(got, env) {
		t.Fatalf("envelope = %+v, %v; want the new trailer %+v", got, err, env)
	}
	if got := dirNames(t, filepath.Join(dir, "queue")); !slices.Equal(got, []string{old.ID}) {
		t.Errorf("queue = %v", got)
	}
}

// TestTempFileModes runs the writer with unnamed temp files (O_TMPFILE,
// where the system has them) and with named ones (the fallback): commit,
// abort, a commit over an existing ID, and an unfinished write found at
// the next start.
func TestTempFileModes(t *testing.T) {
	for _, anon := range []bool{true, false} {
		t.Run(fmt.Sprintf("anon=%v", anon), func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir)
			if anon && !s.anon {
				t.Skip("no O_TMPFILE here")
			}
			s.anon = anon
			env := commitBody(t, s, AreaQueue, "Subject: one\r\n\r\n", 1)
			if c := readContent(t, s, AreaQueue, env.ID); c != "Subject: one\r\n\r\n" {
				t.Errorf("content = %q", c)
			}
			w, err := s.Create()
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, "aborted")
			if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
			// The same ID again replaces the message, as a rename would.
			w, _ = s.Create()
			io.WriteString(w, "Subject: two\r\n\r\n")
			env2 := &Envelope{ID: env.ID, From: "second@example.com"}
			if err := w.Commit(env2, AreaQueue); err != nil {
				t.Fatal(err)
			}
			if c := readContent(t, s, AreaQueue, env.ID); c != "Subject: two\r\n\r\n" {
				t.Errorf("content after a second commit = %q", c)
			}
			if got, _ := s.Envelope(AreaQueue, env.ID); got == nil || got.From != "second@example.com" {
				t.Errorf("envelope after a second commit = %+v", got)
			}
			for _, a := range []string{"tmp", "queue"} {
				want := map[string][]string{"tmp": nil, "queue": {env.ID}}[a]
				if got := dirNames(t, filepath.Join(dir, a)); !slices.Equal(got, want) {
					t.Errorf("%s = %v, want %v", a, got, want)
				}
			}
			// An unfinished write (the process died): nothing of it is
			// listed after a restart.
			w, _ = s.Create()
			io.WriteString(w, "Subject: unfinished\r\n\r\n")
			w.File()
			s2 := mustOpen(t, dir)
			if ids, _ := s2.List(AreaQueue); !slices.Equal(ids, []string{env.ID}) {
				t.Errorf("after restart = %v", ids)
			}
			if got := dirNames(t, filepath.Join(dir, "tmp")); len(got) != 0 {
				t.Errorf("tmp after restart = %v", got)
			}
			w.Abort()
		})
	}
}
