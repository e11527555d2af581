package archive

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
)

type zipArchive struct {
	zr      *zip.Reader
	entries []Entry
}

func openZip(r io.ReaderAt, size int64) (*zipArchive, error) {
	zr, err := zip.NewReader(r, size)
	// ErrInsecurePath only says that a name has ".." or is absolute: for
	// us a name is a label, never a path written to disk, so read on.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("zip: %w", err)
	}
	return &zipArchive{zr: zr}, nil
}

func (a *zipArchive) Entries(max int) ([]Entry, error) {
	if a.entries == nil {
		a.entries = make([]Entry, 0, min(len(a.zr.File), 1024))
		for _, f := range a.zr.File {
			a.entries = append(a.entries, Entry{
				Name:           cleanName(zipName(f)),
				Size:           clampSize(f.UncompressedSize64),
				CompressedSize: clampSize(f.CompressedSize64),
				// APPNOTE 4.4.4: bit 0 marks an encrypted member; WinZip
				// AES (method 99) sets it too.
				Encrypted: f.Flags&0x1 != 0 || f.Method == 99,
				Dir:       strings.HasSuffix(f.Name, "/") || f.FileInfo().IsDir(),
			})
		}
	}
	if max >= 0 && len(a.entries) > max {
		return a.entries[:max], fmt.Errorf("%w: %d, limit %d", ErrTooManyEntries, len(a.entries), max)
	}
	return a.entries, nil
}

func (a *zipArchive) Open(i int) (io.ReadCloser, error) {
	if i < 0 || i >= len(a.zr.File) {
		return nil, ErrBadIndex
	}
	f := a.zr.File[i]
	if f.Flags&0x1 != 0 || f.Method == 99 {
		return nil, fmt.Errorf("zip %s: %w", f.Name, ErrEncrypted)
	}
	rc, err := f.Open()
	if err != nil {
		// zip.ErrAlgorithm: bzip2, LZMA, … — reported, not read.
		return nil, fmt.Errorf("zip %s: %w", f.Name, err)
	}
	return rc, nil
}

func clampSize(n uint64) int64 {
	if n > 1<<62 {
		return 1 << 62
	}
	return int64(n)
}

// zipName decodes an entry name to UTF-8. APPNOTE 4.4.4: bit 11 set means
// UTF-8. Without it the bytes are in the writer's code page: Info-ZIP on
// Unix and macOS write UTF-8 without the flag, Windows Explorer and most
// Japanese tools write CP932. An Info-ZIP Unicode Path extra field (0x7075,
// APPNOTE 4.6.9) wins when its CRC matches the raw name.
func zipName(f *zip.File) string {
	if f.Flags&0x800 != 0 {
		return strings.ToValidUTF8(f.Name, "\uFFFD")
	}
	if u, ok := unicodePathExtra(f.Extra, f.Name); ok {
		return u
	}
	return decodeLegacyName([]byte(f.Name))
}

// decodeLegacyName decodes a name of unknown code page: valid UTF-8 stays
// (CP932 names are rarely valid UTF-8), otherwise CP932.
func decodeLegacyName(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	s, err := japanese.ShiftJIS.NewDecoder().Bytes(b)
	if err != nil || !utf8.Valid(s) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(s)
}

func unicodePathExtra(extra []byte, raw string) (string, bool) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if n > len(extra) {
			return "", false
		}
		field := extra[:n]
		extra = extra[n:]
		if id != 0x7075 || len(field) < 5 || field[0] != 1 {
			continue
		}
		if binary.LittleEndian.Uint32(field[1:]) != crc32.ChecksumIEEE([]byte(raw)) {
			continue // stale: the name was changed after the field was written
		}
		if name := field[5:]; utf8.Valid(name) {
			return string(name), true
		}
	}
	return "", false
}
