package office

import (
	"encoding/binary"
	"io"
	"strings"
	"unicode/utf16"
)

// OLE/CFB constants ([MS-CFB] 2.1-2.6).
const oleMagic = "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

const (
	endOfChain  = 0xfffffffe
	maxRegSect  = 0xfffffffa
	dirEntrySz  = 128
	headerDIFAT = 109
	// maxDirEntries bounds the directory walk: real Office files have a
	// few dozen entries.
	maxDirEntries = 1 << 16
)

// IsEncryptedOLE reports whether an OLE compound file (the first bytes are
// D0 CF 11 E0 A1 B1 1A E1) is a password-protected Office document, i.e.
// holds EncryptionInfo and EncryptedPackage streams.
func IsEncryptedOLE(r io.ReaderAt, size int64) bool {
	names, ok := oleStreamNames(r, size)
	if !ok {
		return false
	}
	// [MS-OFFCRYPTO] 2.3.4.1/2.3.4.4: both streams at the root.
	return names["encryptioninfo"] && names["encryptedpackage"]
}

// oleStreamNames reads the CFB directory and returns the lower-cased names
// of its entries. Every offset and every chain is checked: chains are
// bounded by the number of sectors the file can hold, so a cycle ends.
func oleStreamNames(r io.ReaderAt, size int64) (map[string]bool, bool) {
	var h [512]byte
	if size < 512 {
		return nil, false
	}
	if n, _ := r.ReadAt(h[:], 0); n < 512 || string(h[:8]) != oleMagic {
		return nil, false
	}
	le := binary.LittleEndian
	shift := le.Uint16(h[30:])
	if shift != 9 && shift != 12 { // 512 (v3) or 4096 (v4) byte sectors
		return nil, false
	}
	ss := int64(1) << shift
	nsect := (size - ss) / ss // sectors after the header
	if nsect <= 0 {
		return nil, false
	}
	c := &cfb{r: r, size: size, ss: ss, nsect: nsect}
	nfat := le.Uint32(h[44:])
	firstDir := le.Uint32(h[48:])
	firstDIFAT := le.Uint32(h[68:])
	ndifat := le.Uint32(h[72:])

	// The FAT sector list: 109 in the header, the rest in the DIFAT chain.
	if int64(nfat) > nsect {
		return nil, false
	}
	fat := make([]uint32, 0, nfat)
	for i := 0; i < headerDIFAT && uint32(len(fat)) < nfat; i++ {
		fat = append(fat, le.Uint32(h[76+4*i:]))
	}
	per := int(ss/4) - 1 // FAT sector numbers per DIFAT sector; the last is the next link
	sec := firstDIFAT
	buf := make([]byte, ss)
	for n := uint32(0); uint32(len(fat)) < nfat && n < ndifat && int64(n) < nsect; n++ {
		if !c.read(sec, buf) {
			return nil, false
		}
		for i := 0; i < per && uint32(len(fat)) < nfat; i++ {
			fat = append(fat, le.Uint32(buf[4*i:]))
		}
		sec = le.Uint32(buf[4*per:])
	}
	c.fat = fat

	names := map[string]bool{}
	sec = firstDir
	entries := 0
	for steps := int64(0); sec <= maxRegSect && steps < nsect; steps++ {
		if !c.read(sec, buf) {
			break
		}
		for off := 0; off+dirEntrySz <= len(buf); off += dirEntrySz {
			e := buf[off : off+dirEntrySz]
			entries++
			if entries > maxDirEntries {
				return names, true
			}
			nlen := int(le.Uint16(e[64:]))
			typ := e[66]
			if typ == 0 || nlen < 2 || nlen > 64 {
				continue // unused entry
			}
			u := make([]uint16, (nlen-2)/2)
			for i := range u {
				u[i] = le.Uint16(e[2*i:])
			}
			names[strings.ToLower(string(utf16.Decode(u)))] = true
		}
		next, ok := c.next(sec)
		if !ok {
			break
		}
		sec = next
	}
	return names, true
}

type cfb struct {
	r     io.ReaderAt
	size  int64
	ss    int64 // sector size
	nsect int64
	fat   []uint32 // sector numbers of the FAT sectors
	fbuf  []byte
	fsec  uint32 // FAT sector held in fbuf
}

// read reads sector s into buf.
func (c *cfb) read(s uint32, buf []byte) bool {
	if s > maxRegSect || int64(s) >= c.nsect {
		return false
	}
	off := (int64(s) + 1) * c.ss
	if off+c.ss > c.size {
		return false
	}
	n, _ := c.r.ReadAt(buf[:c.ss], off)
	return int64(n) == c.ss
}

// next follows the FAT from sector s.
func (c *cfb) next(s uint32) (uint32, bool) {
	per := uint32(c.ss / 4)
	idx := s / per
	if int(idx) >= len(c.fat) {
		return 0, false
	}
	fs := c.fat[idx]
	if c.fbuf == nil || c.fsec != fs {
		if c.fbuf == nil {
			c.fbuf = make([]byte, c.ss)
		}
		if !c.read(fs, c.fbuf) {
			c.fbuf = nil
			return 0, false
		}
		c.fsec = fs
	}
	v := binary.LittleEndian.Uint32(c.fbuf[4*(s%per):])
	return v, v != endOfChain
}
