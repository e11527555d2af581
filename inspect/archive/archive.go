// Package archive lists and opens the members of ZIP, gzip and tar archives
// (ZIP entry names in CP932 without the UTF-8 flag are decoded), and reports
// which members are encrypted (ZipCrypto and AES). Recursion into members,
// and all limits other than the per-archive ones, are the caller's.
package archive

import (
	"errors"
	"io"
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
	Open(i int) (io.ReadCloser, error)
}

var (
	ErrNotArchive     = errors.New("archive: not a supported archive")
	ErrTooManyEntries = errors.New("archive: too many entries")
)

// Open opens the archive in r. typ is the detected MIME type
// ("application/zip", "application/gzip", "application/x-tar").
func Open(r io.ReaderAt, size int64, typ string) (Archive, error) {
	return nil, ErrNotArchive
}
