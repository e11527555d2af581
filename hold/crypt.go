package hold

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"dlpguard/internal/keyfile"
)

// Content at rest (clause 3.3.4): each held message is one file, encrypted
// with AES-256-GCM in segments so that a 25 MB message is never held in
// memory whole. The file format, version 1:
//
//	header  = magic "DLPGHLD1" | segment size (uint32 BE) | salt (16) | nonce prefix (8)
//	segment = AES-256-GCM(plaintext ≤ segment size) with its 16-byte tag
//
// The per-message key is HKDF-SHA256(master key, salt, "dlpguard hold content v1"),
// so no two messages share a key even though the master key is the same.
// Segment i uses the nonce prefix | uint32 BE i. Its additional data is the
// header, the message ID, the segment index and a final flag: a changed
// byte, a segment moved, a file cut at a segment boundary, segments appended
// or the file renamed to another message's ID all fail authentication.

const (
	magic       = "DLPGHLD1"
	headerLen   = len(magic) + 4 + 16 + 8
	segmentSize = 64 << 10
	tagLen      = 16
	// KeyEnv is the environment variable that, when set, holds the master
	// key as 64 hex digits; it takes precedence over the key file.
	KeyEnv = "DLPGUARD_HOLD_KEY"
)

// ErrTampered is returned when stored content fails authentication.
var ErrTampered = errors.New("hold: content failed authentication (tampered, truncated or wrong key)")

// LoadKey returns the 32-byte master key: from the environment variable
// KeyEnv when it is set and not empty, otherwise from the key file at path, which is
// created on first use with 32 random bytes written as 64 lowercase hex
// digits and a newline, mode 0600. A key file readable by others is refused.
func LoadKey(path string) ([]byte, error) {
	if v := os.Getenv(KeyEnv); v != "" {
		k, err := keyfile.Parse(v)
		if err != nil {
			return nil, fmt.Errorf("hold key from $%s: %w", KeyEnv, err)
		}
		return k, nil
	}
	k, _, err := keyfile.Load(path)
	if err != nil {
		return nil, fmt.Errorf("hold key: %w", err)
	}
	return k, nil
}

func messageKey(master, salt []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, master, salt, "dlpguard hold content v1", 32)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func segmentAD(header []byte, id string, index uint32, final bool) []byte {
	ad := make([]byte, 0, len(header)+4+len(id)+5)
	ad = append(ad, header...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(id)))
	ad = append(ad, id...)
	ad = binary.BigEndian.AppendUint32(ad, index)
	if final {
		ad = append(ad, 1)
	} else {
		ad = append(ad, 0)
	}
	return ad
}

// sealWriter encrypts what is written to it, one segment at a time.
type sealWriter struct {
	w      io.Writer
	aead   cipher.AEAD
	header []byte
	id     string
	prefix []byte
	index  uint32
	buf    []byte // plaintext of the current segment
	out    []byte
	err    error
}

func newSealWriter(w io.Writer, master []byte, id string) (*sealWriter, error) {
	header := make([]byte, headerLen)
	copy(header, magic)
	binary.BigEndian.PutUint32(header[len(magic):], segmentSize)
	if _, err := rand.Read(header[len(magic)+4:]); err != nil {
		return nil, err
	}
	salt := header[len(magic)+4 : len(magic)+4+16]
	aead, err := messageKey(master, salt)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(header); err != nil {
		return nil, err
	}
	return &sealWriter{
		w: w, aead: aead, header: header, id: id,
		prefix: header[len(magic)+4+16:],
		buf:    make([]byte, 0, segmentSize),
		out:    make([]byte, 0, segmentSize+tagLen),
	}, nil
}

func (s *sealWriter) nonce() []byte {
	n := make([]byte, 12)
	copy(n, s.prefix)
	binary.BigEndian.PutUint32(n[8:], s.index)
	return n
}

func (s *sealWriter) flush(final bool) error {
	if s.index == ^uint32(0) {
		return errors.New("hold: content too large")
	}
	s.out = s.aead.Seal(s.out[:0], s.nonce(), s.buf, segmentAD(s.header, s.id, s.index, final))
	if _, err := s.w.Write(s.out); err != nil {
		return err
	}
	s.index++
	s.buf = s.buf[:0]
	return nil
}

func (s *sealWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n := 0
	for len(p) > 0 {
		// A full segment is sealed only when more data follows, so that
		// the last segment, full or not, carries the final flag.
		if len(s.buf) == segmentSize {
			if s.err = s.flush(false); s.err != nil {
				return n, s.err
			}
		}
		c := copy(s.buf[len(s.buf):segmentSize], p)
		s.buf = s.buf[:len(s.buf)+c]
		p = p[c:]
		n += c
	}
	return n, nil
}

// Close seals the final segment (possibly empty).
func (s *sealWriter) Close() error {
	if s.err != nil {
		return s.err
	}
	s.err = errors.New("hold: writer closed")
	return s.flush(true)
}

// openReader decrypts and authenticates content segment by segment. Read
// returns ErrTampered at the first segment that fails; the caller must
// treat any read error as "no content", never use what was read before it.
type openReader struct {
	r      *bufio.Reader
	aead   cipher.AEAD
	header []byte
	id     string
	prefix []byte
	index  uint32
	in     []byte
	plain  []byte
	off    int
	done   bool
	err    error
}

func newOpenReader(r io.Reader, master []byte, id string) (*openReader, error) {
	br := bufio.NewReaderSize(r, segmentSize+tagLen+1)
	header := make([]byte, headerLen)
	if _, err := io.ReadFull(br, header); err != nil {
		return nil, fmt.Errorf("%w: short header", ErrTampered)
	}
	if !bytes.Equal(header[:len(magic)], []byte(magic)) ||
		binary.BigEndian.Uint32(header[len(magic):]) != segmentSize {
		return nil, fmt.Errorf("%w: bad header", ErrTampered)
	}
	aead, err := messageKey(master, header[len(magic)+4:len(magic)+4+16])
	if err != nil {
		return nil, err
	}
	return &openReader{
		r: br, aead: aead, header: header, id: id,
		prefix: header[len(magic)+4+16:],
		in:     make([]byte, segmentSize+tagLen),
	}, nil
}

func (o *openReader) next() error {
	n, err := io.ReadFull(o.r, o.in)
	final := false
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		final = true
	case err != nil:
		return err
	default:
		if _, perr := o.r.Peek(1); perr == io.EOF {
			final = true
		} else if perr != nil {
			return perr
		}
	}
	if n < tagLen {
		return fmt.Errorf("%w: segment %d truncated", ErrTampered, o.index)
	}
	nonce := make([]byte, 12)
	copy(nonce, o.prefix)
	binary.BigEndian.PutUint32(nonce[8:], o.index)
	plain, oerr := o.aead.Open(o.plain[:0], nonce, o.in[:n], segmentAD(o.header, o.id, o.index, final))
	if oerr != nil {
		return fmt.Errorf("%w: segment %d", ErrTampered, o.index)
	}
	o.plain, o.off = plain, 0
	o.index++
	o.done = final
	return nil
}

func (o *openReader) Read(p []byte) (int, error) {
	for o.off == len(o.plain) {
		if o.err != nil {
			return 0, o.err
		}
		if o.done {
			return 0, io.EOF
		}
		if err := o.next(); err != nil {
			o.err = err
			return 0, err
		}
	}
	n := copy(p, o.plain[o.off:])
	o.off += n
	return n, nil
}

// sealRecord encrypts a record's JSON: base64(nonce | AES-256-GCM), the
// key derived from the master key for records, the ID as additional data.
func sealRecord(master []byte, id string, plain []byte) (string, error) {
	aead, err := recordKey(master)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, plain, []byte("dlpguard hold record v1\x00"+id))
	return base64.StdEncoding.EncodeToString(out), nil
}

func openRecord(master []byte, id, data string) ([]byte, error) {
	aead, err := recordKey(master)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil || len(b) < aead.NonceSize() {
		return nil, fmt.Errorf("%w: record %s", ErrTampered, id)
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], []byte("dlpguard hold record v1\x00"+id))
	if err != nil {
		return nil, fmt.Errorf("%w: record %s", ErrTampered, id)
	}
	return plain, nil
}

func recordKey(master []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, master, nil, "dlpguard hold record v1", 32)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
