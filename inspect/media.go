package inspect

import (
	"bytes"
	"compress/zlib"
	"dlpguard/mimemsg"
	"encoding/binary"
	"html"
	"io"
	"strings"
	"unicode/utf8"
)

// Pictures carry text besides pixels: PNG text chunks (tEXt, zTXt, iTXt),
// JPEG comments and the XMP packet (title, description, keywords written by
// Windows Explorer, Lightroom or a phone). That text leaves with the file,
// so it is read whether or not the picture itself is read by OCR.

const (
	maxMediaText  = 1 << 20 // text kept from one file's metadata
	maxMediaChunk = 4 << 20 // one metadata chunk read
)

// mediaText returns the metadata text of a PNG or JPEG file, one item a
// line; "" for other files or none.
func mediaText(r io.ReaderAt, size int64) string {
	var head [8]byte
	if n, _ := r.ReadAt(head[:], 0); n < 4 {
		return ""
	}
	var out []string
	total := 0
	add := func(s string) {
		s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
		if s != "" && total+len(s) <= maxMediaText {
			out = append(out, s)
			total += len(s)
		}
	}
	switch {
	case bytes.Equal(head[:], []byte("\x89PNG\r\n\x1a\n")):
		pngText(r, size, add)
	case head[0] == 0xFF && head[1] == 0xD8:
		jpegText(r, size, add)
	default:
		return ""
	}
	return strings.Join(out, "\n")
}

// pngText walks the PNG chunks (PNG spec §5.3, §11.3.4).
func pngText(r io.ReaderAt, size int64, add func(string)) {
	off := int64(8)
	var hdr [8]byte
	for off+8 <= size {
		if n, _ := r.ReadAt(hdr[:], off); n < 8 {
			return
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		if n < 0 || off+8+n > size {
			return
		}
		switch typ {
		case "tEXt", "zTXt", "iTXt":
			if n <= maxMediaChunk {
				b := make([]byte, n)
				if m, _ := r.ReadAt(b, off+8); int64(m) == n {
					add(pngChunkText(typ, b))
				}
			}
		case "IEND":
			return
		}
		off += 12 + n
	}
}

// pngChunkText decodes one text chunk: keyword NUL text (tEXt, Latin-1);
// keyword NUL method zlib-text (zTXt); keyword NUL flag method language NUL
// translated-keyword NUL text, zlib-compressed when flag is 1 (iTXt, UTF-8).
func pngChunkText(typ string, b []byte) string {
	kw, rest, ok := bytes.Cut(b, []byte{0})
	if !ok {
		return ""
	}
	inflate := func(z []byte) []byte {
		zr, err := zlib.NewReader(bytes.NewReader(z))
		if err != nil {
			return nil
		}
		defer zr.Close()
		out, _ := io.ReadAll(io.LimitReader(zr, maxMediaChunk))
		return out
	}
	var text []byte
	switch typ {
	case "tEXt":
		text = rest
	case "zTXt":
		if len(rest) < 1 {
			return ""
		}
		text = inflate(rest[1:])
	case "iTXt":
		if len(rest) < 2 {
			return ""
		}
		flag := rest[0]
		_, after, ok := bytes.Cut(rest[2:], []byte{0}) // language
		if !ok {
			return ""
		}
		tk, t, ok := bytes.Cut(after, []byte{0}) // translated keyword
		if !ok {
			return ""
		}
		if flag == 1 {
			t = inflate(t)
		}
		return string(kw) + " " + string(tk) + ": " + string(t)
	}
	if !utf8.Valid(text) {
		text = []byte(mimemsg.DecodeBytes(text, nil))
	}
	return string(kw) + ": " + string(text)
}

// jpegText walks the JPEG segments up to the image data (ITU T.81 B.2):
// COM comments and APP1 XMP packets.
func jpegText(r io.ReaderAt, size int64, add func(string)) {
	off := int64(2)
	var hdr [4]byte
	for off+4 <= size {
		if n, _ := r.ReadAt(hdr[:], off); n < 4 || hdr[0] != 0xFF {
			return
		}
		marker := hdr[1]
		if marker == 0xD8 || marker == 0x01 || marker >= 0xD0 && marker <= 0xD7 || marker == 0xFF {
			off += 2
			if marker == 0xFF {
				off--
			}
			continue
		}
		if marker == 0xDA || marker == 0xD9 {
			return // image data follows
		}
		n := int64(binary.BigEndian.Uint16(hdr[2:4]))
		if n < 2 || off+2+n > size {
			return
		}
		if (marker == 0xFE || marker == 0xE1) && n-2 <= maxMediaChunk {
			b := make([]byte, n-2)
			if m, _ := r.ReadAt(b, off+4); int64(m) == n-2 {
				switch {
				case marker == 0xFE:
					add(mimemsg.DecodeUnknown(b))
				case bytes.HasPrefix(b, []byte("http://ns.adobe.com/xap/1.0/\x00")):
					add(xmpText(b))
				}
			}
		}
		off += 2 + n
	}
}

// xmpText keeps the character data of an XMP packet, tags dropped.
func xmpText(b []byte) string {
	var s strings.Builder
	inTag := false
	for _, c := range b {
		switch {
		case c == '<':
			inTag = true
			s.WriteByte(' ')
		case c == '>':
			inTag = false
		case !inTag:
			s.WriteByte(c)
		}
	}
	return strings.Join(strings.Fields(html.UnescapeString(s.String())), " ")
}
