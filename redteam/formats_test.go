package redteam

import (
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"

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
