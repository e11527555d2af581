// Package archive lists and opens the members of ZIP, gzip and tar archives
// (ZIP entry names in CP932 without the UTF-8 flag are decoded), and reports
// which members are encrypted (ZipCrypto and AES). Recursion into members,
// and all limits other than the per-archive ones, are the caller's.
//
// Formats it recognises but does not read (7z, RAR, LZH, CAB) come back as an
// *UnsupportedError, which wraps ErrUnsupported, so that the caller can list
// them as "not inspected" (fail closed) instead of as unknown data.
//
// A gzip file whose content is a tar (.tar.gz, .tgz) is opened as the tar:
// its entries are the tar members. Any other gzip file has one entry, the
// decompressed stream.
package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Entry is one member of an archive.
type Entry struct {
	Name           string // path inside the archive, decoded to UTF-8
	Size           int64  // uncompressed size as declared (-1 when unknown)
	CompressedSize int64  // as declared (-1 when unknown)
	Encrypted      bool
	Dir            bool
}

// Archive is an opened archive.
type Archive interface {
	// Entries lists the members, at most max of them; more is an error
	// wrapping ErrTooManyEntries (with the first max entries returned).
	Entries(max int) ([]Entry, error)
	// Open returns the decompressed content of entry i of Entries.
	// Reading it may fail with a checksum or format error.
	//
	// ZIP members can be open at the same time. For tar and gzip (stream
	// formats) a reader stays valid only until the next call to Open; opening
	// members in increasing order costs one pass over the archive.
	Open(i int) (io.ReadCloser, error)
}

var (
	ErrNotArchive     = errors.New("archive: not a supported archive")
	ErrTooManyEntries = errors.New("archive: too many entries")
	// ErrUnsupported is wrapped by *UnsupportedError: a known archive
	// format that this package does not read.
	ErrUnsupported = errors.New("archive: format not inspected")
	// ErrEncrypted is returned by Open for an encrypted member.
	ErrEncrypted = errors.New("archive: member is encrypted")
	// ErrBadIndex is returned by Open for an index not in Entries.
	ErrBadIndex = errors.New("archive: no such entry")
	// ErrRatio is returned while listing a compressed stream archive
	// (.tar.gz) that decompresses beyond Options.MaxRatio.
	ErrRatio = errors.New("archive: compression ratio over the limit")
)

// UnsupportedError names a recognised archive format that is not read.
type UnsupportedError struct {
	Format string // "7z", "rar", "lzh", "cab"
	// HeaderEncrypted is true when the archive's own listing is encrypted
	// (7z -mhe, RAR -hp): the member names cannot be seen without the
	// password, which also means content is encrypted.
	HeaderEncrypted bool
}

func (e *UnsupportedError) Error() string {
	if e.HeaderEncrypted {
		return fmt.Sprintf("archive: %s (encrypted): not inspected", e.Format)
	}
	return fmt.Sprintf("archive: %s: not inspected", e.Format)
}

func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }

// Options tune Open. The zero value is usable.
type Options struct {
	// Name is the archive's own file name. It names the one member of a
	// gzip file whose header carries no name ("data.csv.gz" → "data.csv").
	Name string
	// MaxRatio bounds how far a gzip stream may decompress, relative to its
	// compressed size, while its tar members are listed (listing a tar.gz
	// reads it whole). 0 means DefaultMaxRatio.
	MaxRatio int64
}

// DefaultMaxRatio is the listing ratio bound when Options.MaxRatio is 0.
const DefaultMaxRatio = 1000

// Open opens the archive in r. typ is the detected MIME type
// ("application/zip", "application/gzip", "application/x-tar").
func Open(r io.ReaderAt, size int64, typ string) (Archive, error) {
	return OpenWith(r, size, typ, Options{})
}

// OpenWith is Open with options.
func OpenWith(r io.ReaderAt, size int64, typ string, opt Options) (Archive, error) {
	if opt.MaxRatio <= 0 {
		opt.MaxRatio = DefaultMaxRatio
	}
	if size < 0 {
		return nil, ErrNotArchive
	}
	// Signatures first: a 7z named .zip is still a 7z, and the declared or
	// detected type may be vague (application/octet-stream).
	var head [512]byte
	n, _ := r.ReadAt(head[:], 0)
	if ue := sniffUnsupported(r, size, head[:n]); ue != nil {
		return nil, ue
	}
	switch typ {
	case "application/zip", "application/x-zip-compressed", "application/x-zip":
		return openZip(r, size)
	case "application/gzip", "application/x-gzip":
		return openGzip(r, size, opt)
	case "application/x-tar":
		return openTar(r, size)
	}
	// Unknown label: go by content.
	switch {
	case bytes.HasPrefix(head[:n], []byte("PK\x03\x04")), bytes.HasPrefix(head[:n], []byte("PK\x05\x06")):
		return openZip(r, size)
	case bytes.HasPrefix(head[:n], []byte{0x1f, 0x8b}):
		return openGzip(r, size, opt)
	case isTarHeader(head[:n]):
		return openTar(r, size)
	}
	return nil, ErrNotArchive
}

// IsUnsupported reports whether err says a recognised but unread format,
// and which.
func IsUnsupported(err error) (format string, ok bool) {
	var ue *UnsupportedError
	if errors.As(err, &ue) {
		return ue.Format, true
	}
	return "", false
}

// isTarHeader reports whether b starts with a POSIX/GNU tar header.
func isTarHeader(b []byte) bool {
	if len(b) < 512 {
		return false
	}
	magic := b[257:265]
	return bytes.HasPrefix(magic, []byte("ustar\x00")) || bytes.Equal(magic, []byte("ustar  \x00"))
}

// cleanName turns an archive path into the form used in Part names: forward
// slashes, no leading "./" or "/".
func cleanName(s string) string {
	s = strings.ReplaceAll(s, "\\", "/")
	for strings.HasPrefix(s, "./") {
		s = s[2:]
	}
	return strings.TrimLeft(s, "/")
}
