package mimemsg

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
)

// Part is one MIME entity of a message as it was transferred: where it is
// in the tree, what its header says, and the SHA-256 of its header fields
// and of its body before the transfer encoding is undone. Inspection
// records the list, the release compares it with the message it is about
// to send: a part that differs was not inspected (3.3.5).
type Part struct {
	// Path names the entity as IMAP does (RFC 3501 §6.4.5), with the
	// message itself "1": "1.2" is its second part, "1.2.1" the first
	// part of that.
	Path string `json:"path"`
	// Type is the media type as the splitter reads it (lower case; the
	// RFC 2045 default when the field is missing or unreadable).
	Type string `json:"type"`
	// HeaderSHA256 is over the entity's header fields as read (name,
	// unfolded value): a changed type, file name or disposition changes
	// it. The list holds no file name or other text of the message: staff
	// see it unmasked (scan --json, the hold record).
	HeaderSHA256 string `json:"header_sha256"`
	// SHA256 and Size are over the body as transferred: for a multipart
	// entity its whole body, preamble, delimiters and epilogue included.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Limits bound the split of a message. A zero field takes the value of
// DefaultLimits. The walker of inspection applies the same ones, so that
// both lists stop at the same place.
type Limits struct {
	MaxDepth       int   // nesting of multipart entities; deeper ones are one opaque part
	MaxParts       int   // entities in the list; a longer list is incomplete
	MaxHeaderBytes int64 // bytes of one header block
}

// DefaultLimits are those of inspect.DefaultLimits.
func DefaultLimits() Limits {
	return Limits{MaxDepth: 12, MaxParts: 2000, MaxHeaderBytes: 1 << 20}
}

// WithDefaults returns l with its zero fields set from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	return l
}

// ErrTooManyParts is returned by Split when the message has more entities
// than Limits.MaxParts: its list is not complete.
var ErrTooManyParts = errors.New("mimemsg: too many parts")

// ChildPath is the path of the i-th (from 1) part of the entity at parent.
func ChildPath(parent string, i int) string {
	return parent + "." + strconv.Itoa(i)
}

// RootPath is the path of the message itself.
const RootPath = "1"

// Digest is the hex SHA-256 of the header fields as read: each as
// "Name: value" and CRLF, in order.
func (h Header) Digest() string {
	d := sha256.New()
	for _, f := range h {
		io.WriteString(d, f.Key)
		io.WriteString(d, ": ")
		io.WriteString(d, f.Value)
		io.WriteString(d, "\r\n")
	}
	return hex.EncodeToString(d.Sum(nil))
}

// HashReader hashes what is read through it.
type HashReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

// NewHashReader returns a reader of r that hashes (SHA-256) what is read.
func NewHashReader(r io.Reader) *HashReader { return &HashReader{r: r, h: sha256.New()} }

func (hr *HashReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	return n, err
}

// Drain reads the rest, so that the sum covers the whole body, and
// returns the hex SHA-256 and the number of bytes.
func (hr *HashReader) Drain() (string, int64, error) {
	_, err := io.Copy(io.Discard, hr)
	return hex.EncodeToString(hr.h.Sum(nil)), hr.n, err
}

// BodyReader is the body that follows a header read by ReadHeader: the
// line handed back as Leftover, then the rest.
func BodyReader(hr HeaderResult, rest io.Reader) io.Reader {
	if len(hr.Leftover) == 0 {
		return rest
	}
	return io.MultiReader(bytes.NewReader(hr.Leftover), rest)
}

// IsSignature reports whether an entity is the detached signature of a
// multipart/signed (RFC 1847 §2.1): PGP/MIME or S/MIME.
func IsSignature(h Header) bool {
	mt, _, _ := ContentType(h, false)
	switch mt {
	case "application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature":
		return true
	}
	return false
}

// Descends reports whether the splitter reads the children of a part of a
// multipart of subtype parentSub at index i (from 1) as entities of their
// own: the parts of multipart/encrypted (RFC 1847 §2.2) and the signature
// of multipart/signed are opaque.
func Descends(parentSub string, i int, h Header) bool {
	if parentSub == "encrypted" {
		return false
	}
	if parentSub == "signed" && i > 1 && IsSignature(h) {
		return false
	}
	return true
}

// Split reads the message from r and returns its entities in order (a
// parent before its parts). The error is for a read failure, a cancelled
// ctx or ErrTooManyParts; malformed MIME is read leniently as inspection
// reads it.
func Split(ctx context.Context, r io.Reader, lim Limits) ([]Part, error) {
	s := &splitter{ctx: ctx, lim: lim.WithDefaults()}
	br := bufio.NewReaderSize(ctxReader{ctx, r}, 64<<10)
	h, hr, err := ReadHeader(br, s.lim.MaxHeaderBytes)
	if err != nil {
		return nil, fmt.Errorf("mimemsg: header: %w", err)
	}
	if err := s.entity(RootPath, h, BodyReader(hr, br), 0, false, true); err != nil {
		return s.parts, err
	}
	return s.parts, nil
}

type splitter struct {
	ctx   context.Context
	lim   Limits
	parts []Part
}

// entity records one entity and, for a multipart one that descends, its
// parts; it mirrors the walker of inspection (inspect.walker.entity).
func (s *splitter) entity(path string, h Header, body io.Reader, depth int, digest, descend bool) error {
	if len(s.parts) >= s.lim.MaxParts {
		return ErrTooManyParts
	}
	mt, params, _ := ContentType(h, digest)
	idx := len(s.parts)
	s.parts = append(s.parts, Part{Path: path, Type: mt, HeaderSHA256: h.Digest()})
	hb := NewHashReader(body)
	if descend && depth <= s.lim.MaxDepth && strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" {
		if err := s.multipart(path, strings.TrimPrefix(mt, "multipart/"), params["boundary"], hb, depth); err != nil {
			return err
		}
	}
	sum, n, err := hb.Drain()
	if err != nil {
		return err
	}
	s.parts[idx].SHA256, s.parts[idx].Size = sum, n
	return nil
}

func (s *splitter) multipart(path, sub, boundary string, body io.Reader, depth int) error {
	mr := NewMultipartReader(body, boundary)
	if _, err := io.Copy(io.Discard, mr.Preamble()); err != nil {
		return err
	}
	for i := 1; ; i++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		pbr := bufio.NewReaderSize(p, 16<<10)
		ph, phr, err := ReadHeader(pbr, s.lim.MaxHeaderBytes)
		if err != nil {
			return err
		}
		if err := s.entity(ChildPath(path, i), ph, BodyReader(phr, pbr), depth+1, sub == "digest", Descends(sub, i, ph)); err != nil {
			return err
		}
	}
}

// ContextReader ends reading when ctx is done: a deadline stops the work
// on a message between two reads.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Mismatch describes the first difference between two part lists.
type Mismatch struct {
	Path string // the entity that differs ("" when a list is longer)
	What string // "missing", "added", "type", "header", "body"
}

func (m *Mismatch) Error() string {
	return fmt.Sprintf("mimemsg: part %s differs (%s)", m.Path, m.What)
}

// Compare returns nil when got is the list want, else the difference, at
// the deepest entity that differs (a changed attachment also changes the
// body of every multipart around it).
func Compare(want, got []Part) *Mismatch {
	var first *Mismatch
	for i := range max(len(want), len(got)) {
		m := differ(want, got, i)
		if m == nil {
			continue
		}
		if first == nil {
			first = m
			continue
		}
		if strings.HasPrefix(m.Path, first.Path+".") {
			first = m
		}
	}
	return first
}

func differ(want, got []Part, i int) *Mismatch {
	switch {
	case i >= len(got):
		return &Mismatch{Path: want[i].Path, What: "missing"}
	case i >= len(want):
		return &Mismatch{Path: got[i].Path, What: "added"}
	}
	w, g := want[i], got[i]
	switch {
	case w.Path != g.Path:
		return &Mismatch{Path: w.Path, What: "missing"}
	case w.Type != g.Type:
		return &Mismatch{Path: w.Path, What: "type"}
	case w.HeaderSHA256 != g.HeaderSHA256:
		return &Mismatch{Path: w.Path, What: "header"}
	case w.SHA256 != g.SHA256 || w.Size != g.Size:
		return &Mismatch{Path: w.Path, What: "body"}
	}
	return nil
}
