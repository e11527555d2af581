package spool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// A committed message is one file: the message bytes, then the envelope
// as JSON, then a fixed-size footer:
//
//	[0:21]  message ID (a file renamed under another ID is refused)
//	[21:24] zero
//	[24:32] length of the message bytes, little-endian
//	[32:36] length of the JSON, little-endian
//	[36:40] CRC-32C of the JSON followed by footer[0:36]
//	[40:48] magic
//
// The ID in the footer makes a message that merely ends in bytes shaped
// like a footer (it could be sent on purpose) unmistakable for a trailer:
// the ID's random part is chosen after the message has arrived.
const (
	footerLen   = 48
	footerMagic = "\x89DLPG\x00v1"
	// maxTrailerJSON bounds the allocation for a corrupt length.
	maxTrailerJSON = 64 << 20
	// tailRead is how much of the end of the file is read at once: the
	// footer and, usually, the whole envelope.
	tailRead = 4 << 10
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errNoTrailer means the file does not end in a valid trailer: a message of
// the previous layout (its envelope is the ID.env file) or a corrupt one.
var errNoTrailer = errors.New("no valid envelope trailer")

// appendTrailer appends the envelope JSON and the footer for a message of
// size bytes to b.
func appendTrailer(b []byte, env *Envelope, size int64) ([]byte, error) {
	js, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	if len(js) > maxTrailerJSON {
		return nil, fmt.Errorf("envelope of %d bytes is too large", len(js))
	}
	b = append(b, js...)
	var f [footerLen]byte
	copy(f[0:21], env.ID)
	binary.LittleEndian.PutUint64(f[24:32], uint64(size))
	binary.LittleEndian.PutUint32(f[32:36], uint32(len(js)))
	crc := crc32.Update(crc32.Checksum(js, crcTable), crcTable, f[0:36])
	binary.LittleEndian.PutUint32(f[36:40], crc)
	copy(f[40:48], footerMagic)
	return append(b, f[:]...), nil
}

// readTrailer checks the trailer of the file f of fileSize bytes, which
// must belong to message id, and returns the length of the message bytes
// and the envelope JSON.
func readTrailer(f io.ReaderAt, fileSize int64, id string) (size int64, js []byte, err error) {
	if fileSize < footerLen {
		return 0, nil, errNoTrailer
	}
	k := min(fileSize, tailRead)
	buf := make([]byte, k)
	if _, err := f.ReadAt(buf, fileSize-k); err != nil {
		return 0, nil, err
	}
	ft := buf[k-footerLen:]
	if string(ft[40:48]) != footerMagic || string(ft[0:21]) != id || ft[21]|ft[22]|ft[23] != 0 {
		return 0, nil, errNoTrailer
	}
	size = int64(binary.LittleEndian.Uint64(ft[24:32]))
	jl := int64(binary.LittleEndian.Uint32(ft[32:36]))
	if jl > maxTrailerJSON || jl > fileSize-footerLen || size != fileSize-footerLen-jl {
		return 0, nil, errNoTrailer
	}
	if jl <= k-footerLen {
		js = buf[k-footerLen-jl : k-footerLen]
	} else {
		js = make([]byte, jl)
		if _, err := f.ReadAt(js, size); err != nil {
			return 0, nil, err
		}
	}
	crc := crc32.Update(crc32.Checksum(js, crcTable), crcTable, ft[0:36])
	if crc != binary.LittleEndian.Uint32(ft[36:40]) {
		return 0, nil, errNoTrailer
	}
	return size, js, nil
}

// trailerEnvelope reads and decodes the envelope in the trailer of the
// open message file f.
func trailerEnvelope(f *os.File, id string) (*Envelope, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	_, js, err := readTrailer(f, fi.Size(), id)
	if err != nil {
		return nil, err
	}
	var env Envelope
	if err := json.Unmarshal(js, &env); err != nil {
		return nil, fmt.Errorf("envelope trailer: %w", err)
	}
	return &env, nil
}

// Content is a committed message's bytes opened for reading. Reads are
// bounded to the message: the envelope stored after it is never returned.
type Content struct {
	f *os.File
	r *io.SectionReader
}

// Read reads the message from the current offset.
func (c *Content) Read(p []byte) (int, error) { return c.r.Read(p) }

// ReadAt reads the message at off, independent of the current offset.
func (c *Content) ReadAt(p []byte, off int64) (int, error) { return c.r.ReadAt(p, off) }

// Seek sets the offset for the next Read, relative to the message.
func (c *Content) Seek(offset int64, whence int) (int64, error) { return c.r.Seek(offset, whence) }

// Size is the length of the message in bytes.
func (c *Content) Size() int64 { return c.r.Size() }

// Close closes the file.
func (c *Content) Close() error { return c.f.Close() }
