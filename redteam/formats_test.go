package redteam

import (
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"

	"dlpguard/policy"
)

// TestFormats: file formats with their own escapes, folding and metadata.
func TestFormats(t *testing.T) {
	e, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"), []byte("\x00\x00\x00\x00IEND\xaeB`\x82")...)
	cases := []rtCase{
		// iCalendar / vCard line folding (RFC 5545 §3.1, RFC 6350 §3.2).
		{"ics folded line", reject, raw(withAttachment("送付", "text/calendar", "a.ics", []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDESCRIPTION:個人番号 "+mn[:5]+"\r\n "+mn[5:]+"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")))},
		{"vcard folded line", reject, raw(withAttachment("送付", "text/vcard", "a.vcf", []byte("BEGIN:VCARD\r\nVERSION:4.0\r\nNOTE:個人番号 "+mn[:7]+"\r\n "+mn[7:]+"\r\nEND:VCARD\r\n")))},
		// JSON with \u escapes (json.dumps' default ensure_ascii).
		{"json unicode escapes", reject, raw(withAttachment("送付", "application/json", "a.json", []byte(`{"\u500b\u4eba\u756a\u53f7": "`+mn+`"}`)))},
		{"json escaped digits", notPass, raw(withAttachment("送付", "application/json", "a.json", []byte(`{"note": "\u500b\u4eba\u756a\u53f7 `+jsonEsc(mn)+`"}`)))},
		// XML character references.
		{"xml char refs", reject, raw(withAttachment("送付", "application/xml", "a.xml", []byte(`<?xml version="1.0"?><r>&#x500B;&#x4EBA;&#x756A;&#x53F7; `+mn+`</r>`)))},
		// HTML whose charset is only in <meta>.
		{"html meta charset sjis", reject, func(t *testing.T) []byte {
			return single("ご連絡", "text/html", "8bit", encode(t, japanese.ShiftJIS, `<html><head><meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS"></head><body>個人番号：`+mn+`</body></html>`))
		}},
		// A text file declared as an image.
		{"text declared png", reject, raw(withAttachment("送付", "image/png", "scan.png", []byte(ctxLine(mn))))},
		// A ZIP appended to an image (a polyglot): the image "has no text".
		{"zip appended to png", notPass, func(t *testing.T) []byte {
			z := zipOf(t, entry{"a.txt", []byte(ctxLine(mn))})
			return withAttachment("写真", "image/png", "photo.png", append(append([]byte(nil), png...), z...))
		}},
		// Raw ISO-2022-JP (no encoded word) in the Subject.
		{"subject raw iso-2022-jp", reject, func(t *testing.T) []byte {
			return plain(encode(t, japanese.ISO2022JP, "個人番号 "+mn), "本文\n")
		}},
		// A Shift_JIS file name in an RFC 2231 parameter.
		{"filename rfc2231 shift_jis", reject, func(t *testing.T) []byte {
			return mixed("送付", textPart("本文\n"), part{"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=shift_jis''" + pct(encode(t, japanese.ShiftJIS, "個人番号"+mn+".txt")), "x\r\n"})
		}},
		// A ZIP entry with a compression method the reader lacks (bzip2).
		{"zip bzip2 method", notPass, func(t *testing.T) []byte {
			z := zipStored(t, entry{"a.txt", []byte(ctxLine(mn))})
			z[8] = 12
			if i := strings.Index(string(z), "PK\x01\x02"); i >= 0 {
				z[i+10] = 12
			}
			return withAttachment("送付", "application/zip", "a.zip", z)
		}},
		// A single compressed file in a format not read: held.
		{"bzip2 file", notPass, raw(withAttachment("送付", "application/x-bzip2", "a.csv.bz2", []byte("BZh91AY&SY garbage")))},
		// SVG: text in a drawing.
		{"svg text", reject, raw(withAttachment("送付", "image/svg+xml", "a.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><text x="0" y="10">個人番号 `+mn+`</text></svg>`)))},
		{"html inline svg and template", reject, raw(single("ご連絡", "text/html; charset=UTF-8", "8bit", `<html><body><svg><text>個人番号 `+mn+`</text></svg><template><p>`+mn2+`</p></template></body></html>`))},
		// The Content-Type name differs from the Content-Disposition filename:
		// clients show one or the other.
		{"name param differs", reject, raw(mixed("送付", textPart("本文\n"), part{"Content-Type: text/plain; name=\"=?UTF-8?B?" + b64str("個人番号"+mn+".txt") + "?=\"\r\nContent-Disposition: attachment; filename=\"a.txt\"", "x\r\n"}))},
		// Encodings of files in text that inspect does not decode: held.
		{"binhex", notPass, raw(withAttachment("送付", "application/mac-binhex40", "a.hqx", []byte("(This file must be converted with BinHex 4.0)\r\n:$f*TEQKPH#jdCA0d,R0TG!\"6594%8dP8)3#3\"!&m!*!%EMa6:\r\n")))},
		{"yenc", notPass, raw(plain("ファイル", "=ybegin line=128 size=20 name=list.csv\n\x8f\x92\x93\n=yend size=20\n"))},
		// A list of 12 residents as an HTML table, and as a UTF-16 CSV in a zip.
		{"personal list html table", hold, raw(single("名簿", "text/html; charset=UTF-8", "8bit", residentsHTML()))},
		{"personal list utf-16 csv in zip", hold, func(t *testing.T) []byte {
			return withAttachment("名簿", "application/zip", "a.zip", zipOf(t, entry{"名簿.csv", []byte(encode(t, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), residentsCSV()))}))
		}},
		// Office metadata.
		{"docx core properties", notPass, func(t *testing.T) []byte {
			d := docx(t, []string{"会議資料"}, "", entry{"docProps/core.xml", []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>個人番号 ` + mn + `</dc:title><dc:subject>部外秘</dc:subject></cp:coreProperties>`)})
			return withAttachment("送付", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a.docx", d)
		}},
		{"docx hidden text", reject, func(t *testing.T) []byte {
			d := docx(t, []string{`<w:r><w:rPr><w:vanish/></w:rPr><w:t>個人番号 ` + mn + `</w:t></w:r>`}, "")
			return withAttachment("送付", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a.docx", d)
		}},
		// A field code (w:instrText) leaves with the file even when its
		// shown result is empty: it is read apart.
		{"docx field code", reject, func(t *testing.T) []byte {
			d := docx(t, []string{`<w:r><w:instrText xml:space="preserve"> QUOTE "個人番号 ` + mn + `" </w:instrText></w:r>`}, "")
			return withAttachment("送付", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a.docx", d)
		}},
		// PDF metadata and bookmarks.
		{"pdf info title", notPass, raw(withAttachment("送付", "application/pdf", "a.pdf", pdfWithTrailer("(hello) Tj", "/Info 6 0 R", "<< /Title (My Number "+mn+") >>")))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, e, c) })
	}
}

func jsonEsc(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(`\u00` + string("0123456789abcdef"[r>>4]) + string("0123456789abcdef"[r&15]))
	}
	return b.String()
}

// pdfWithTrailer is minimalPDF with an extra object 6 and trailer entries.
func pdfWithTrailer(content, trailerExtra, obj6 string) []byte {
	p := string(minimalPDF(content, ""))
	xref := strings.Index(p, "xref\n")
	body := p[:xref]
	off := len(body)
	body += "6 0 obj\n" + obj6 + "\nendobj\n"
	// rebuild the xref with six objects
	var offs []int
	for i := 1; i <= 5; i++ {
		offs = append(offs, strings.Index(body, "\n"+itoa(i)+" 0 obj")+1)
	}
	offs = append(offs, off)
	x := len(body)
	body += "xref\n0 7\n0000000000 65535 f \n"
	for _, o := range offs {
		s := itoa(o)
		body += strings.Repeat("0", 10-len(s)) + s + " 00000 n \n"
	}
	body += "trailer\n<< /Size 7 /Root 1 0 R " + trailerExtra + " >>\nstartxref\n" + itoa(x) + "\n%%EOF\n"
	return []byte(body)
}

var residents = [][3]string{
	{"山田 太郎", "東京都千代田区千代田1-1", "03-1234-5601"}, {"佐藤 花子", "東京都千代田区丸の内2-3", "03-1234-5602"},
	{"鈴木 一郎", "東京都港区芝公園4-2", "03-1234-5603"}, {"高橋 次郎", "東京都中央区銀座5-6", "03-1234-5604"},
	{"田中 三郎", "東京都新宿区西新宿2-8", "03-1234-5605"}, {"伊藤 幸子", "東京都渋谷区道玄坂1-2", "03-1234-5606"},
	{"渡辺 健", "東京都文京区本郷7-3", "03-1234-5607"}, {"山本 美香", "東京都台東区上野3-1", "03-1234-5608"},
	{"中村 翔", "東京都品川区大井1-14", "03-1234-5609"}, {"小林 恵", "東京都目黒区目黒2-4", "03-1234-5610"},
	{"加藤 大輔", "東京都世田谷区太子堂4-1", "03-1234-5611"}, {"吉田 愛", "東京都杉並区阿佐谷南1-15", "03-1234-5612"},
}

func residentsHTML() string {
	var b strings.Builder
	b.WriteString("<html><body><table><tr><th>氏名</th><th>住所</th><th>電話番号</th></tr>")
	for _, r := range residents {
		b.WriteString("<tr><td>" + r[0] + "</td><td>" + r[1] + "</td><td>" + r[2] + "</td></tr>")
	}
	return b.String() + "</table></body></html>\r\n"
}

func residentsCSV() string {
	var b strings.Builder
	b.WriteString("氏名,住所,電話番号\r\n")
	for _, r := range residents {
		b.WriteString(r[0] + "," + r[1] + "," + r[2] + "\r\n")
	}
	return b.String()
}
