package ocr

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// pngHeader is a PNG signature and IHDR claiming w×h pixels, with no data.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 0 // 8-bit gray
	binary.Write(&b, binary.BigEndian, uint32(13))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// tiffHeader is a little-endian TIFF of n directories, each claiming w×h.
func tiffHeader(n int, w, h uint32) []byte {
	b := []byte("II*\x00\x08\x00\x00\x00")
	for i := 0; i < n; i++ {
		off := len(b)
		b = binary.LittleEndian.AppendUint16(b, 2)
		for _, e := range [][2]uint32{{256, w}, {257, h}} {
			b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
			b = binary.LittleEndian.AppendUint16(b, 4) // LONG
			b = binary.LittleEndian.AppendUint32(b, 1)
			b = binary.LittleEndian.AppendUint32(b, e[1])
		}
		next := uint32(0)
		if i < n-1 {
			next = uint32(off + 2 + 24 + 4)
		}
		b = binary.LittleEndian.AppendUint32(b, next)
	}
	return b
}
