package archive

import (
	"bytes"
	"encoding/binary"
	"io"
)

// sniffUnsupported recognises archive formats that are not read, by their
// signatures, and tells (where cheap) whether their listing is encrypted.
func sniffUnsupported(r io.ReaderAt, size int64, head []byte) *UnsupportedError {
	switch {
	case bytes.HasPrefix(head, []byte("7z\xbc\xaf\x27\x1c")):
		return &UnsupportedError{Format: "7z", HeaderEncrypted: sevenZipHeaderEncrypted(r, size, head)}
	case bytes.HasPrefix(head, []byte("Rar!\x1a\x07\x01\x00")):
		return &UnsupportedError{Format: "rar", HeaderEncrypted: rar5HeaderEncrypted(head[8:])}
	case bytes.HasPrefix(head, []byte("Rar!\x1a\x07\x00")):
		return &UnsupportedError{Format: "rar", HeaderEncrypted: rar4HeaderEncrypted(head[7:])}
	case bytes.HasPrefix(head, []byte("MSCF\x00\x00\x00\x00")):
		return &UnsupportedError{Format: "cab"}
	case isLZH(head):
		return &UnsupportedError{Format: "lzh"}
	case bytes.HasPrefix(head, []byte("\xfd7zXZ\x00")):
		return &UnsupportedError{Format: "xz"}
	case bytes.HasPrefix(head, []byte("\x28\xb5\x2f\xfd")):
		return &UnsupportedError{Format: "zstd"}
	case len(head) >= 10 && bytes.HasPrefix(head, []byte("BZh")) && head[3] >= '1' && head[3] <= '9' &&
		bytes.Equal(head[4:10], []byte("\x31\x41\x59\x26\x53\x59")):
		return &UnsupportedError{Format: "bzip2"}
	}
	return nil
}

// isLZH matches an LHA level 0-2 header: the method id "-lh5-" (or -lzs-,
// -lz5-, -lhd-, …) at offset 2.
func isLZH(b []byte) bool {
	if len(b) < 21 || b[2] != '-' || b[3] != 'l' || b[6] != '-' {
		return false
	}
	return (b[4] == 'h' && (b[5] >= '0' && b[5] <= '7' || b[5] == 'd')) ||
		(b[4] == 'z' && (b[5] == 's' || b[5] == '4' || b[5] == '5'))
}

// sevenZipHeaderEncrypted reads the 7z start header (7zFormat.txt,
// "SignatureHeader") and looks at the next header: an EncodedHeader (0x17)
// whose coders include 7zAES (06 F1 07 01) is an encrypted listing (-mhe).
// A plain or only compressed header says nothing about the members.
func sevenZipHeaderEncrypted(r io.ReaderAt, size int64, head []byte) bool {
	if len(head) < 32 {
		return false
	}
	off := binary.LittleEndian.Uint64(head[12:])
	n := binary.LittleEndian.Uint64(head[20:])
	if off > uint64(size) || n == 0 || n > uint64(size) {
		return false
	}
	start := int64(32 + off)
	if start < 32 || start >= size {
		return false
	}
	buf := make([]byte, min(int64(n), 4096, size-start))
	k, _ := r.ReadAt(buf, start)
	buf = buf[:k]
	return len(buf) > 0 && buf[0] == 0x17 && bytes.Contains(buf, []byte{0x06, 0xf1, 0x07, 0x01})
}

// rar5HeaderEncrypted: a RAR 5 archive whose first header (after the
// signature) is the archive encryption header (type 4) has encrypted
// headers (rar -hp).
func rar5HeaderEncrypted(b []byte) bool {
	if len(b) < 5 {
		return false
	}
	b = b[4:] // header CRC32
	_, k := binary.Uvarint(b)
	if k <= 0 || k >= len(b) {
		return false
	}
	typ, k2 := binary.Uvarint(b[k:])
	return k2 > 0 && typ == 4
}

// rar4HeaderEncrypted: RAR 1.5-4 main header (type 0x73) with flag 0x0080
// (MHD_PASSWORD): block headers are encrypted.
func rar4HeaderEncrypted(b []byte) bool {
	if len(b) < 5 || b[2] != 0x73 {
		return false
	}
	return binary.LittleEndian.Uint16(b[3:])&0x0080 != 0
}
