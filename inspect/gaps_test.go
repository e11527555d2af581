package inspect

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"
	"unicode/utf16"
)

// TestGaps: places where text leaves with a message that the red team
// (redteam/) found unread; each must now reach the sink or hold the
// message.
func TestGaps(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name       string
		raw        string
		loc        string // location that must carry want ("" = any)
		want       string
		incomplete bool
	}{
		{"content-type name differs", "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; name=\"個人番号 123456789018.txt\"\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nx\r\n--b--\r\n", "attachment:a.txt", "個人番号 123456789018.txt", false},
		{"binhex held", "Subject: s\r\n\r\n(This file must be converted with BinHex 4.0)\r\n:$f*TEQKPH#jdCA0d:\r\n", "", "", true},
		{"yenc held", "Subject: s\r\n\r\n=ybegin line=128 size=3 name=a.csv\r\nxyz\r\n=yend size=3\r\n", "", "", true},
		{"raw iso-2022-jp subject", "Subject: \x1b$B8D?MHV9f\x1b(B 123456789018\r\n\r\nbody\r\n", "subject", "個人番号 123456789018", false},
		{"second subject", "Subject: a\r\nSubject: 個人番号 123456789018\r\n\r\nbody\r\n", "header:Subject", "個人番号 123456789018", false},
		{"x-header", "Subject: s\r\nX-Note: 個人番号 123456789018\r\n\r\nbody\r\n", "header:X-Note", "個人番号 123456789018", false},
		{"comments header encoded", "Subject: s\r\nComments: =?UTF-8?B?" + b64("取扱注意") + "?=\r\n\r\nbody\r\n", "header:Comments", "取扱注意", false},
		{"part content-description", "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Description: 部外秘\r\n\r\nx\r\n--b--\r\n", "header:Content-Description", "部外秘", false},
		{"forwarded message to", "Subject: s\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=f.eml\r\n\r\nSubject: in\r\nTo: \"秘 山田\" <a@example.jp>\r\n\r\nx\r\n", "attachment:f.eml/header:To", "秘 山田", false},
		{"preamble", "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\nhidden 123456789018\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n", "body", "hidden 123456789018", false},
		{"epilogue", "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\nafter 123456789018\r\n", "body", "after 123456789018", false},
		{"external body held", "Subject: s\r\nContent-Type: message/external-body; access-type=URL; URL=\"http://x/\"\r\n\r\nContent-Type: text/plain\r\n\r\n", "", "", true},
		{"utf-7 body", "Subject: s\r\nContent-Type: text/plain; charset=UTF-7\r\n\r\n+UAtOunVqU/f/Gg-123 a+-b\r\n", "body", "個人番号：123 a+b", false},
		{"base64 pasted as 8bit", "Subject: s\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + b64("個人番号 123456789018 の件です\n") + "\r\n", "attachment:pasted-base64-1", "個人番号 123456789018", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, col := run(t, []byte(tt.raw), DefaultLimits())
			if got := col.text(tt.loc); !strings.Contains(got, tt.want) {
				t.Errorf("text at %q = %q, want %q", tt.loc, got, tt.want)
			}
			if res.Incomplete != tt.incomplete {
				t.Errorf("incomplete %v, want %v: %s", res.Incomplete, tt.incomplete, dumpParts(res))
			}
		})
	}
}

// TestNotScanned: machine header fields and binary base64 stay out of the
// text (their digits are no content and would only hold mail).
func TestNotScanned(t *testing.T) {
	raw := "Subject: s\r\nMessage-ID: <123456789018@x>\r\nReceived: from x by y id 123456789018\r\n" +
		"DKIM-Signature: v=1; b=123456789018\r\nX-MS-Exchange-Id: 123456789018\r\nThread-Index: 123456789018\r\n" +
		"Content-Type: text/plain\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n" + base64.StdEncoding.EncodeToString([]byte("123456789018 signed text")) +
		"\r\n-----END PGP SIGNATURE-----\r\n" + base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 3, 0xff, 0xfe, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) + "\r\n"
	res, col := run(t, []byte(raw), DefaultLimits())
	for _, ch := range col.chunks {
		if ch.Kind != KindBody && strings.Contains(ch.Text, "123456789018") {
			t.Errorf("%s: %q scanned", ch.Location, ch.Text)
		}
	}
	if res.Incomplete || len(res.Parts) != 1 {
		t.Errorf("%s", dumpParts(res))
	}
}

// TestHTMLHidden: text a client does not show but that is sent (comments,
// CSS generated content, data-* and meta content attributes) is read; a
// comment between digits does not split them.
func TestHTMLHidden(t *testing.T) {
	tests := []struct{ html, want string }{
		{`<p>a</p><!-- 個人番号 123456789018 -->`, "\n\n個人番号 123456789018"},
		{`<p>番号 123456<!-- x -->789018</p>`, "番号 123456789018"},
		{`<style>p::before{content:"個人番号 " "123456789018"}</style>`, "個人番号 123456789018"},
		{`<style>p::after { content : '\31\32 3\FF1A\"x' ; }</style>`, "123：\"x"},
		{`<meta name="description" content="部外秘">`, "部外秘"},
		{`<p data-note="個人番号 123456789018">x</p>`, "個人番号 123456789018"},
	}
	for _, tt := range tests {
		var b strings.Builder
		if err := htmlToText(strings.NewReader(tt.html), &b); err != nil {
			t.Fatalf("%q: %v", tt.html, err)
		}
		if !strings.Contains(b.String(), tt.want) {
			t.Errorf("%q: text %q, want %q", tt.html, b.String(), tt.want)
		}
	}
}

// TestDecodedViews: iCalendar/vCard folding, JSON \u escapes and XML
// character references are decoded in a second view of the same text.
func TestDecodedViews(t *testing.T) {
	att := func(ctype, name, body string) string {
		return "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: " + ctype +
			"\r\nContent-Disposition: attachment; filename=" + name + "\r\n\r\n" + body + "\r\n--b--\r\n"
	}
	tests := []struct{ name, raw, loc, want string }{
		{"ics", att("text/calendar", "a.ics", "BEGIN:VEVENT\r\nDESCRIPTION:番号 12345\r\n 6789018\\n次の行\r\nEND:VEVENT"), "attachment:a.ics", "番号 123456789018\n次の行"},
		{"ics body part", "Subject: s\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VEVENT\r\nDESCRIPTION:番号 12345\r\n 6789018\r\nEND:VEVENT\r\n", "", "番号 123456789018"},
		{"vcf by name", att("application/octet-stream", "a.vcf", "BEGIN:VCARD\nNOTE:番号 1234567\n\t89018\nEND:VCARD"), "attachment:a.vcf", "番号 123456789018"},
		{"json", att("application/json", "a.json", `{"\u500b\u4eba\u756a\u53f7":"\ud83d\ude00 \u0031\"x\""}`), "attachment:a.json", `{"個人番号":"😀 1"x""}`},
		{"xml", att("application/xml", "a.xml", `<r a="&#x500B;">&#20154;&amp;&lt;</r>`), "attachment:a.xml", `<r a="個">人&<</r>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, col := run(t, []byte(tt.raw), DefaultLimits())
			if got := col.text(tt.loc); !strings.Contains(got, tt.want) {
				t.Errorf("text %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAppendedZip: a ZIP appended to an image is read as an archive; a
// plain image stays media.
func TestAppendedZip(t *testing.T) {
	png := "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00\x00IEND\xaeB`\x82"
	var zb strings.Builder
	zw := zip.NewWriter(&zb)
	f, _ := zw.Create("a.txt")
	f.Write([]byte("個人番号 123456789018"))
	zw.Close()
	for _, tt := range []struct {
		data  string
		media bool
	}{{png, true}, {png + zb.String(), false}} {
		raw := "Subject: s\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=p.png\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			base64.StdEncoding.EncodeToString([]byte(tt.data)) + "\r\n"
		res, col := run(t, []byte(raw), DefaultLimits())
		if res.Parts[0].Media != tt.media {
			t.Errorf("media %v, want %v: %s", res.Parts[0].Media, tt.media, dumpParts(res))
		}
		if !tt.media && !strings.Contains(col.text(""), "個人番号 123456789018") {
			t.Errorf("appended zip not read: %q", col.text(""))
		}
	}
}

// TestMediaText: text in picture metadata (PNG text chunks, JPEG comments
// and XMP) is read; the picture stays media.
func TestMediaText(t *testing.T) {
	chunk := func(typ string, data []byte) string {
		var b bytes.Buffer
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
		return b.String()
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte("個人番号 123456789018"))
	zw.Close()
	png := "\x89PNG\r\n\x1a\n" + chunk("IHDR", []byte("\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"))
	seg := func(marker byte, data string) string {
		return string([]byte{0xFF, marker, byte((len(data) + 2) >> 8), byte(len(data) + 2)}) + data
	}
	tests := []struct{ name, data, want string }{
		{"png tEXt", png + chunk("tEXt", []byte("Comment\x00No. 123456789018")) + chunk("IEND", nil), "Comment: No. 123456789018"},
		{"png iTXt compressed", png + chunk("iTXt", append([]byte("Description\x00\x01\x00ja\x00説明\x00"), z.Bytes()...)) + chunk("IEND", nil), "個人番号 123456789018"},
		{"jpeg COM", "\xFF\xD8" + seg(0xFE, "個人番号 123456789018") + "\xFF\xDA\x00\x02", "個人番号 123456789018"},
		{"jpeg XMP", "\xFF\xD8" + seg(0xE1, "http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><dc:title><rdf:li>&#x500B;人番号 123456789018</rdf:li></dc:title></x:xmpmeta>") + "\xFF\xDA\x00\x02", "個人番号 123456789018"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "Subject: s\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=p.img\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				base64.StdEncoding.EncodeToString([]byte(tt.data)) + "\r\n"
			res, col := run(t, []byte(raw), DefaultLimits())
			if got := col.text("attachment:p.img"); !strings.Contains(got, tt.want) {
				t.Errorf("text %q, want %q", got, tt.want)
			}
			if !res.Parts[0].Media || res.Incomplete {
				t.Errorf("%s", dumpParts(res))
			}
		})
	}
}

// TestLooksUTF16: UTF-16 text without a BOM is recognised in either byte
// order; binary data is not.
func TestLooksUTF16(t *testing.T) {
	le := func(s string) []byte {
		var b []byte
		for _, u := range utf16.Encode([]rune(s)) {
			b = append(b, byte(u), byte(u>>8))
		}
		return b
	}
	be := func(s string) []byte {
		var b []byte
		for _, u := range utf16.Encode([]rune(s)) {
			b = append(b, byte(u>>8), byte(u))
		}
		return b
	}
	text := "氏名\t個人番号\r\n山田太郎\t123456789018\r\n😀"
	for _, tt := range []struct {
		b    []byte
		want string
	}{
		{le(text), "utf-16le"},
		{be(text), "utf-16be"},
		{le("My Number 123456789018"), "utf-16le"},
		{be("My Number 123456789018"), "utf-16be"},
		{le("abc"), ""}, // too short to tell
		{[]byte("\x00\x01\x02\x03\xff\xfe\xfd\xfc\x00\x00\x00\x00\x10\x20\x30\x40\x50\x60"), ""},
		{bytes.Repeat([]byte{0xff}, 64), ""},
		{[]byte("PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00!\x00\xa1\xb2\xc3\xd4"), ""},
	} {
		if got := looksUTF16(tt.b); got != tt.want {
			t.Errorf("looksUTF16(% x) = %q, want %q", tt.b[:min(len(tt.b), 16)], got, tt.want)
		}
	}
}
