package inspect

import (
	"bytes"
	"dlpguard/mimemsg"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// Outlook in "Rich Text" mode sends winmail.dat (TNEF, MS-OXTNEF): the
// attachments and the RTF body are inside it. Each attachment is inspected
// as a member ("winmail.dat/名簿.xlsx"); the message body (plain, RTF or
// HTML) is read as the attachment's text. What cannot be followed leaves
// the part not inspected.

var tnefMagic = []byte{0x78, 0x9f, 0x3e, 0x22}

// TNEF attribute IDs (MS-OXTNEF §2.1.3.2), level bits included.
const (
	attOemCodepage    = 0x00069007
	attBody           = 0x0002800c
	attMAPIProps      = 0x00069003
	attAttachRendData = 0x00069002
	attAttachTitle    = 0x00018010
	attAttachData     = 0x0006800f
	attAttachment     = 0x00069005
)

// MAPI property IDs used here.
const (
	prBody          = 0x1000
	prRTFCompressed = 0x1009
	prBodyHTML      = 0x1013
	prAttachLongFN  = 0x3707
	prAttachDataObj = 0x3701
)

type tnefAttach struct {
	dataOff  int64
	dataLen  int64
	hasData  bool
	embedded bool // an Outlook item (PT_OBJECT): not read
	propsBad bool
	titleRaw []byte
	longName string
	codepage int
}

// tnef reads a TNEF stream held in sp.
func (w *walker) tnef(p *Part, sp *spill, depth int) {
	p.Type = "application/vnd.ms-tnef"
	var (
		off      int64 = 6
		atts     []*tnefAttach
		cur      *tnefAttach
		problems []string
		codepage = 932
	)
	hdr := make([]byte, 9)
	for off+9 <= sp.size {
		if _, err := sp.ReadAt(hdr, off); err != nil {
			problems = append(problems, "truncated attribute")
			break
		}
		id := binary.LittleEndian.Uint32(hdr[1:5])
		n := int64(binary.LittleEndian.Uint32(hdr[5:9]))
		dataOff := off + 9
		if n < 0 || dataOff+n+2 > sp.size {
			problems = append(problems, fmt.Sprintf("attribute %#x runs past the end", id))
			break
		}
		off = dataOff + n + 2 // data, then a 16-bit checksum
		small := func(max int64) []byte {
			if n > max {
				return nil
			}
			b := make([]byte, n)
			sp.ReadAt(b, dataOff)
			return b
		}
		switch id {
		case attOemCodepage:
			if b := small(8); len(b) >= 4 {
				codepage = int(binary.LittleEndian.Uint32(b))
			}
		case attAttachRendData:
			cur = &tnefAttach{codepage: codepage}
			atts = append(atts, cur)
		case attAttachTitle:
			if cur != nil {
				cur.titleRaw = bytes.TrimRight(small(4096), "\x00")
			}
		case attAttachData:
			if cur != nil {
				cur.dataOff, cur.dataLen, cur.hasData = dataOff, n, true
			}
		case attAttachment:
			if cur != nil {
				b := small(w.lim.MaxPartBytes)
				props, err := mapiProps(b)
				if err != nil {
					cur.propsBad = true
				}
				if v, ok := props[prAttachLongFN]; ok {
					cur.longName = v.str
				}
				if v, ok := props[prAttachDataObj]; ok && v.typ == 0x000d {
					cur.embedded = true
				}
			}
		case attBody:
			if b := small(w.lim.MaxPartBytes); b != nil {
				w.tnefText(p, decodeCP(b, codepage))
			} else {
				problems = append(problems, "message text too large")
			}
		case attMAPIProps:
			b := small(w.lim.MaxPartBytes)
			props, err := mapiProps(b)
			if err != nil || b == nil {
				problems = append(problems, "message properties could not be read")
			}
			problems = append(problems, w.tnefBody(p, props)...)
		}
	}
	if off != sp.size && len(problems) == 0 {
		problems = append(problems, "truncated")
	}
	for i, a := range atts {
		if !w.checkCtx() || !w.countPart() {
			problems = append(problems, "not all attachments read")
			break
		}
		name := a.longName
		if name == "" && len(a.titleRaw) > 0 {
			name = mimemsg.CleanName(decodeCP(a.titleRaw, a.codepage))
		}
		if name == "" {
			name = fmt.Sprintf("attachment%d", i+1)
		}
		full := p.Name + "/" + name
		switch {
		case depth+1 > w.lim.MaxDepth:
			problems = append(problems, "nested too deep (MaxDepth)")
		case a.embedded || !a.hasData:
			reason := "embedded Outlook item in winmail.dat: not read"
			if !a.embedded {
				reason = "attachment data missing in winmail.dat"
			}
			w.emitString("attachment:"+full, KindFileName, name)
			w.res.Parts = append(w.res.Parts, Part{Name: full, Attachment: true, Depth: depth + 1, Reason: reason})
		default:
			w.attachmentCTE(full, name, "", nil, io.NewSectionReader(sp, a.dataOff, a.dataLen), nil, depth+1, scope{})
		}
		if a.propsBad {
			problems = append(problems, "attachment properties of "+name+" could not be read")
		}
	}
	if len(problems) > 0 {
		p.Reason = joinReason(p.Reason, "winmail.dat: "+strings.Join(problems, "; "))
		return
	}
	if p.Reason == "" {
		p.Inspected = true
	}
}

// decodeCP decodes 8-bit text in a Windows code page (932 in Japan).
func decodeCP(b []byte, cp int) string {
	if e := rtfCodepage(cp); e != nil {
		return mimemsg.DecodeBytes(b, e)
	}
	return mimemsg.DecodeUnknown(b)
}

// tnefText sends text of the message inside winmail.dat.
func (w *walker) tnefText(p *Part, text string) {
	e := w.newEmitter("attachment:"+p.Name, KindAttachment, false)
	e.WriteString(text)
	e.close()
	if e.truncated {
		p.Reason = joinReason(p.Reason, "text limit reached (MaxTextBytes)")
	}
}

// tnefBody reads the body properties: plain text, HTML, compressed RTF.
func (w *walker) tnefBody(p *Part, props map[uint16]mapiValue) []string {
	var problems []string
	if v, ok := props[prBody]; ok {
		w.tnefText(p, v.str)
	}
	if v, ok := props[prBodyHTML]; ok {
		var b strings.Builder
		htmlToText(strings.NewReader(mimemsg.DecodeUnknown(v.bin)), &b)
		w.tnefText(p, b.String())
	}
	if v, ok := props[prRTFCompressed]; ok {
		rtf, err := lzfu(v.bin, w.lim.MaxPartBytes)
		if err != nil {
			return append(problems, "RTF body: "+err.Error())
		}
		var b strings.Builder
		if err := rtfToText(bytes.NewReader(rtf), &b); err != nil {
			problems = append(problems, "RTF body: "+err.Error())
		}
		w.tnefText(p, b.String())
	}
	return problems
}

// mapiValue is one MAPI property value as far as it is needed here.
type mapiValue struct {
	typ uint16
	str string
	bin []byte
}

var errMAPI = errors.New("malformed MAPI properties")

// mapiProps parses a MAPI property list (MS-OXTNEF §2.1.3.4). Values of
// fixed size are skipped; strings and binaries are kept (the first value).
func mapiProps(b []byte) (map[uint16]mapiValue, error) {
	props := map[uint16]mapiValue{}
	r := mapiReader{b: b}
	count := r.u32()
	if r.bad || count > 1<<20 {
		return props, errMAPI
	}
	for i := uint32(0); i < count; i++ {
		typ := uint16(r.u32n(2))
		id := uint16(r.u32n(2))
		if id >= 0x8000 {
			r.skip(16) // GUID of a named property
			if r.u32() == 0 {
				r.skip(4)
			} else {
				r.skip(pad4(int(r.u32())))
			}
		}
		mv := typ&0x1000 != 0
		base := typ &^ 0x1000
		n := uint32(1)
		if mv {
			n = r.u32()
		}
		if size := mapiFixed(base); size > 0 {
			if uint64(n)*uint64(size) > uint64(len(b)) {
				return props, errMAPI
			}
			r.skip(int(n) * size)
		} else if size == 0 {
			// Strings, binaries and objects carry a count of values, then
			// each value's length (MS-OXTNEF §2.1.3.4).
			if !mv {
				n = r.u32()
			}
			if n > 1<<16 {
				return props, errMAPI
			}
			for j := uint32(0); j < n; j++ {
				l := int(r.u32())
				if r.bad || l < 0 || l > len(r.b)-r.off {
					return props, errMAPI
				}
				val := r.b[r.off : r.off+l]
				r.skip(pad4(l))
				if j > 0 {
					continue
				}
				v := mapiValue{typ: base}
				switch base {
				case 0x001e: // PT_STRING8
					v.str = mimemsg.CleanName(mimemsg.DecodeUnknown(bytes.TrimRight(val, "\x00")))
				case 0x001f: // PT_UNICODE
					v.str = utf16le(val)
				default:
					v.bin = val
				}
				if _, dup := props[id]; !dup {
					props[id] = v
				}
			}
		} else {
			return props, errMAPI
		}
		if r.bad {
			return props, errMAPI
		}
	}
	return props, nil
}

// mapiFixed is the size of a fixed-size MAPI type, 0 for variable-size
// types, -1 for unknown types.
func mapiFixed(t uint16) int {
	switch t {
	case 0x0001, 0x0002, 0x0003, 0x0004, 0x000a, 0x000b:
		return 4
	case 0x0005, 0x0006, 0x0007, 0x0014, 0x0040:
		return 8
	case 0x0048:
		return 16
	case 0x001e, 0x001f, 0x0102, 0x000d:
		return 0
	}
	return -1
}

func pad4(n int) int { return (n + 3) &^ 3 }

type mapiReader struct {
	b   []byte
	off int
	bad bool
}

func (r *mapiReader) u32() uint32 { return r.u32n(4) }

func (r *mapiReader) u32n(n int) uint32 {
	if r.bad || r.off+n > len(r.b) {
		r.bad = true
		return 0
	}
	var v uint32
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint32(r.b[r.off+i])
	}
	r.off += n
	return v
}

func (r *mapiReader) skip(n int) {
	if n < 0 || r.off+n > len(r.b) {
		r.bad = true
		return
	}
	r.off += n
}

func utf16le(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])|uint16(b[i+1])<<8)
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	return strings.ToValidUTF8(string(utf16.Decode(u)), "\uFFFD")
}

// lzfuDict is the initial dictionary of compressed RTF (MS-OXRTFCP §3.1.2).
const lzfuDict = "{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx"

// lzfu decompresses PR_RTF_COMPRESSED (MS-OXRTFCP), at most max bytes.
func lzfu(b []byte, max int64) ([]byte, error) {
	if len(b) < 16 {
		return nil, errors.New("compressed RTF header too short")
	}
	raw := int64(binary.LittleEndian.Uint32(b[4:8]))
	typ := binary.LittleEndian.Uint32(b[8:12])
	data := b[16:]
	switch typ {
	case 0x414c454d: // "MELA": not compressed
		if int64(len(data)) > raw {
			data = data[:raw]
		}
		return data, nil
	case 0x75465a4c: // "LZFu"
	default:
		return nil, fmt.Errorf("unknown compressed RTF type %#x", typ)
	}
	if raw > max {
		return nil, errors.New("RTF body over MaxPartBytes")
	}
	var dict [4096]byte
	wpos := copy(dict[:], lzfuDict)
	out := make([]byte, 0, min(raw, 1<<20))
	i := 0
	for i < len(data) && int64(len(out)) < raw {
		ctl := data[i]
		i++
		for bit := 0; bit < 8 && i < len(data) && int64(len(out)) < raw; bit++ {
			if ctl&(1<<bit) == 0 {
				c := data[i]
				i++
				out = append(out, c)
				dict[wpos] = c
				wpos = (wpos + 1) % 4096
				continue
			}
			if i+1 >= len(data) {
				return out, nil
			}
			tok := int(data[i])<<8 | int(data[i+1])
			i += 2
			off, n := tok>>4, tok&0xf+2
			if off == wpos {
				return out, nil // end marker
			}
			for k := 0; k < n; k++ {
				c := dict[(off+k)%4096]
				out = append(out, c)
				dict[wpos] = c
				wpos = (wpos + 1) % 4096
			}
		}
	}
	return out, nil
}
