package inspect

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf16"
)

// TestLZFu decompresses the example of MS-OXRTFCP §4.1.
func TestLZFu(t *testing.T) {
	in := []byte{0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5, 0xc7, 0xa7,
		0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a, 0xf3, 0x20,
		0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f, 0xa0}
	out, err := lzfu(in, 1<<20)
	want := "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n"
	if err != nil || string(out) != want {
		t.Errorf("lzfu = %q, %v; want %q", out, err, want)
	}
	if len(lzfuDict) != 207 {
		t.Errorf("dictionary of %d bytes, want 207", len(lzfuDict))
	}
}

// tnefBuilder writes a TNEF stream (MS-OXTNEF §2.1.3) as Outlook does.
type tnefBuilder struct{ bytes.Buffer }

func (b *tnefBuilder) attr(level byte, id uint32, data []byte) {
	b.WriteByte(level)
	binary.Write(&b.Buffer, binary.LittleEndian, id)
	binary.Write(&b.Buffer, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	var sum uint16
	for _, c := range data {
		sum += uint16(c)
	}
	binary.Write(&b.Buffer, binary.LittleEndian, sum)
}

// props encodes MAPI properties: string (PT_UNICODE) and binary values.
func props(kv ...any) []byte {
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	le(uint32(len(kv) / 2))
	for i := 0; i < len(kv); i += 2 {
		id := kv[i].(uint16)
		var val []byte
		typ := uint16(0x0102)
		switch v := kv[i+1].(type) {
		case string:
			typ = 0x001f
			for _, u := range utf16.Encode([]rune(v + "\x00")) {
				val = binary.LittleEndian.AppendUint16(val, u)
			}
		case []byte:
			val = v
		}
		le(typ)
		le(id)
		le(uint32(1))
		le(uint32(len(val)))
		b.Write(val)
		b.Write(make([]byte, pad4(len(val))-len(val)))
	}
	// A fixed-size property too, to be skipped.
	return b.Bytes()
}

func TestTNEF(t *testing.T) {
	rtf := []byte(`{\rtf1\ansi\ansicpg932{\fonttbl{\f0\fcharset128 x;}}\f0 \'81\'79\'94\'e9\'81\'7a\'96\'7b\'95\'b6 1234\par}`)
	mela := append(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, uint32(len(rtf)+12)), uint32(len(rtf))), 0x4d, 0x45, 0x4c, 0x41, 0, 0, 0, 0)
	mela = append(mela, rtf...)
	var b tnefBuilder
	b.Write([]byte{0x78, 0x9f, 0x3e, 0x22, 0x01, 0x00})
	b.attr(1, 0x00089006, []byte{0, 0, 1, 0})
	b.attr(1, attOemCodepage, []byte{0xa4, 0x03, 0, 0, 0, 0, 0, 0})
	b.attr(1, attMAPIProps, props(uint16(prRTFCompressed), mela))
	b.attr(2, attAttachRendData, make([]byte, 14))
	b.attr(2, attAttachTitle, append(sjisBytes("名簿.csv"), 0))
	b.attr(2, attAttachData, sjisBytes("氏名,個人番号\r\n山田,123456789012\r\n"))
	b.attr(2, attAttachment, props(uint16(prAttachLongFN), "長い名前の名簿.csv"))
	b.attr(2, attAttachRendData, make([]byte, 14))
	b.attr(2, attAttachTitle, []byte("b.txt\x00"))
	b.attr(2, attAttachData, []byte("second 42"))

	var c collect
	res, err := File(context.Background(), "winmail.dat", bytes.NewReader(b.Bytes()), DefaultLimits(), &c)
	if err != nil {
		t.Fatal(err)
	}
	p := findPart(res, "winmail.dat")
	if p == nil || !p.Inspected || p.Type != "application/vnd.ms-tnef" {
		t.Fatalf("%s", dumpParts(res))
	}
	if m := findPart(res, "winmail.dat/長い名前の名簿.csv"); m == nil || !m.Inspected || m.Charset != "cp932" {
		t.Errorf("member: %s", dumpParts(res))
	}
	if findPart(res, "winmail.dat/b.txt") == nil {
		t.Errorf("second member: %s", dumpParts(res))
	}
	all := c.text("")
	for _, w := range []string{"【秘】本文 1234", "山田,123456789012", "second 42"} {
		if !strings.Contains(all, w) {
			t.Errorf("%q not in %q", w, all)
		}
	}
	if res.Incomplete {
		t.Errorf("incomplete: %s", dumpParts(res))
	}
	// Cut short: what was read is kept, the part is not inspected.
	res, _ = File(context.Background(), "winmail.dat", bytes.NewReader(b.Bytes()[:b.Len()-25]), DefaultLimits(), nil)
	if p := findPart(res, "winmail.dat"); p == nil || p.Inspected || !res.Incomplete {
		t.Errorf("truncated TNEF: %s", dumpParts(res))
	}
}
