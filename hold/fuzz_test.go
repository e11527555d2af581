package hold

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzOpenContent feeds arbitrary stored bytes to the decrypting reader:
// it must never panic and never return plaintext without authentication.
// The valid seed is sealed for another message ID, so it must fail too.
func FuzzOpenContent(f *testing.F) {
	key := bytes.Repeat([]byte{1}, 32)
	var sealed bytes.Buffer
	w, err := newSealWriter(&sealed, key, "other-id")
	if err != nil {
		f.Fatal(err)
	}
	w.Write(bytes.Repeat([]byte("本文 "), 30000))
	w.Close()
	f.Add(sealed.Bytes())
	f.Add([]byte(magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := newOpenReader(bytes.NewReader(data), key, "fuzz-id")
		if err != nil {
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("header error not ErrTampered: %v", err)
			}
			return
		}
		if _, err := io.ReadAll(r); !errors.Is(err, ErrTampered) {
			t.Fatalf("forged content accepted: %v", err)
		}
	})
}

// The writer and reader agree for any content and any write pattern.
func FuzzSealRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), uint16(3))
	f.Add(bytes.Repeat([]byte{0}, segmentSize+1), uint16(4096))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		key := bytes.Repeat([]byte{2}, 32)
		var buf bytes.Buffer
		w, err := newSealWriter(&buf, key, "id")
		if err != nil {
			t.Fatal(err)
		}
		c := int(chunk%8192) + 1
		for p := data; len(p) > 0; {
			n := min(c, len(p))
			if _, err := w.Write(p[:n]); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := newOpenReader(&buf, key, "id")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
