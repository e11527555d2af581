package archive

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// streamArchive is a tar, a tar.gz, or a lone gzip stream: formats that can
// only be read from the start.
type streamArchive struct {
	src      io.ReaderAt
	size     int64
	gz       bool  // the bytes are gzip-compressed
	tar      bool  // the (decompressed) bytes are a tar
	maxBytes int64 // bound on decompressed bytes per pass (gzip only)
	name     string
	entries  []Entry
	listed   bool
	listErr  error
	cur      *cursor
}

func openTar(r io.ReaderAt, size int64) (*streamArchive, error) {
	var head [512]byte
	if n, _ := r.ReadAt(head[:], 0); !isTarHeader(head[:n]) {
		return nil, fmt.Errorf("tar: %w", ErrNotArchive)
	}
	return &streamArchive{src: r, size: size, tar: true}, nil
}

func openGzip(r io.ReaderAt, size int64, opt Options) (*streamArchive, error) {
	a := &streamArchive{src: r, size: size, gz: true}
	// RFC 1952 gives no way to know the decompressed size up front; bound
	// a pass by the ratio, with 1 MiB of slack for tiny files.
	a.maxBytes = size*opt.MaxRatio + 1<<20
	if size > (1<<62)/opt.MaxRatio {
		a.maxBytes = 1 << 62
	}
	zr, err := gzip.NewReader(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	defer zr.Close()
	br := bufio.NewReaderSize(zr, 512)
	head, _ := br.Peek(512)
	a.tar = isTarHeader(head)
	if !a.tar {
		a.name = gzipMemberName(zr.Header.Name, opt.Name)
	}
	return a, nil
}

// gzipMemberName names the one member of a gzip file: the original name
// from its header (RFC 1952 2.3.1 FNAME), else the archive name without
// its .gz suffix.
func gzipMemberName(hdr, outer string) string {
	if hdr != "" {
		// compress/gzip maps the header bytes as Latin-1; map them back so
		// that UTF-8 and CP932 names (as real tools write them) decode.
		raw := make([]byte, 0, len(hdr))
		for _, r := range hdr {
			if r > 0xff {
				raw = []byte(hdr)
				break
			}
			raw = append(raw, byte(r))
		}
		if n := path.Base(cleanName(decodeLegacyName(raw))); n != "." && n != "/" && n != "" {
			return n
		}
	}
	base := path.Base(cleanName(outer))
	lower := strings.ToLower(base)
	for _, suf := range []string{".tgz", ".gz", ".gzip", ".z"} {
		if strings.HasSuffix(lower, suf) && len(base) > len(suf) {
			if suf == ".tgz" {
				return base[:len(base)-len(suf)] + ".tar"
			}
			return base[:len(base)-len(suf)]
		}
	}
	if base == "" || base == "." || base == "/" {
		return "data"
	}
	return base
}

// cursor is one pass over the stream.
type cursor struct {
	gz  *gzip.Reader
	tr  *tar.Reader
	rd  io.Reader // what tr reads: the limited decompressed stream
	idx int       // index of the member tr is positioned at; -1 before the first
}

func (a *streamArchive) newCursor() (*cursor, error) {
	c := &cursor{idx: -1}
	var rd io.Reader = io.NewSectionReader(a.src, 0, a.size)
	if a.gz {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		c.gz = zr
		rd = &ratioReader{r: zr, left: a.maxBytes}
	}
	c.rd = rd
	if a.tar {
		c.tr = tar.NewReader(rd)
	}
	return c, nil
}

func (c *cursor) close() {
	if c.gz != nil {
		c.gz.Close()
	}
}

// ratioReader fails with ErrRatio once more than left bytes are read.
type ratioReader struct {
	r    io.Reader
	left int64
}

func (l *ratioReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, ErrRatio
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

func (a *streamArchive) Entries(max int) ([]Entry, error) {
	if !a.tar {
		return []Entry{{Name: a.name, Size: -1, CompressedSize: a.size}}, nil
	}
	if !a.listed {
		a.listed = true
		a.listErr = a.list(max)
	}
	if max >= 0 && len(a.entries) > max {
		return a.entries[:max], fmt.Errorf("%w: more than %d", ErrTooManyEntries, max)
	}
	return a.entries, a.listErr
}

func (a *streamArchive) list(max int) error {
	c, err := a.newCursor()
	if err != nil {
		return err
	}
	defer c.close()
	for max < 0 || len(a.entries) <= max {
		h, err := c.tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tar: entry %d: %w", len(a.entries), err)
		}
		e := Entry{
			Name:           cleanName(decodeLegacyName([]byte(h.Name))),
			Size:           h.Size,
			CompressedSize: -1,
			Dir:            h.Typeflag == tar.TypeDir,
		}
		if !a.gz {
			e.CompressedSize = h.Size
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeGNUSparse && h.Typeflag != '\x00' {
			e.Size = 0 // links, devices, directories: no content
		}
		a.entries = append(a.entries, e)
	}
	return nil
}

func (a *streamArchive) Open(i int) (io.ReadCloser, error) {
	if !a.tar {
		if i != 0 {
			return nil, ErrBadIndex
		}
		zr, err := gzip.NewReader(io.NewSectionReader(a.src, 0, a.size))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	}
	if !a.listed {
		if _, err := a.Entries(-1); err != nil && !errors.Is(err, ErrTooManyEntries) && len(a.entries) <= i {
			return nil, err
		}
	}
	if i < 0 || i >= len(a.entries) {
		return nil, ErrBadIndex
	}
	if a.cur == nil || a.cur.idx >= i {
		if a.cur != nil {
			a.cur.close()
		}
		c, err := a.newCursor()
		if err != nil {
			return nil, err
		}
		a.cur = c
	}
	for a.cur.idx < i {
		if _, err := a.cur.tr.Next(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("tar: entry %d: %w", i, err)
		}
		a.cur.idx++
	}
	return io.NopCloser(a.cur.tr), nil
}
