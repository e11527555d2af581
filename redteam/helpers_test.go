package redteam

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"mime/quotedprintable"
	"strings"
	"testing"
)

// myNumber returns base11 followed by its check digit (総務省令第85号 第5条).
func myNumber(base11 string) string {
	s := 0
	for n := 1; n <= 11; n++ {
		p := int(base11[11-n] - '0')
		q := n + 1
		if n >= 7 {
			q = n - 5
		}
		s += p * q
	}
	r := s % 11
	cd := 0
	if r > 1 {
		cd = 11 - r
	}
	return base11 + string(rune('0'+cd))
}

// mn is the valid My Number used by the cases; mn2 a second one.
var (
	mn  = myNumber("12345678901")
	mn2 = myNumber("48106244398")
)

func TestMyNumberHelper(t *testing.T) {
	if mn != "123456789018" {
		t.Fatalf("check digit helper: %s", mn)
	}
}

// grouped returns s as "xxxx<sep>xxxx<sep>xxxx".
func grouped(s, sep string) string { return s[:4] + sep + s[4:8] + sep + s[8:] }

// each joins the digits of s with sep between every two.
func each(s, sep string) string { return strings.Join(strings.Split(s, ""), sep) }

// fullWidth maps ASCII digits to full-width ones.
func fullWidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			r += 0xFF10 - '0'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// digitsFrom maps ASCII digits to the Nd block starting at zero.
func digitsFrom(s string, zero rune) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			r = zero + r - '0'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// hdr is the usual header block of a staff mail to an external address.
func hdr(subject string) string {
	return "From: 市民課 <shimin@city.example.lg.jp>\r\n" +
		"To: someone@example.com\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: Tue, 01 Apr 2025 10:00:00 +0900\r\n" +
		"Message-ID: <rt@city.example.lg.jp>\r\n" +
		"MIME-Version: 1.0\r\n"
}

// plain is a text/plain UTF-8 message.
func plain(subject, body string) []byte {
	return []byte(hdr(subject) + "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + crlf(body))
}

// single is a message with one body of the given type, encoding and raw body.
func single(subject, ctype, cte, body string) []byte {
	s := hdr(subject)
	if ctype != "" {
		s += "Content-Type: " + ctype + "\r\n"
	}
	if cte != "" {
		s += "Content-Transfer-Encoding: " + cte + "\r\n"
	}
	return []byte(s + "\r\n" + body)
}

func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// part is one MIME part: its header lines and already-encoded body.
type part struct {
	header string // lines without the trailing blank line, CRLF or LF separated
	body   string
}

// textPart is a UTF-8 text/plain body part.
func textPart(body string) part {
	return part{"Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit", crlf(body)}
}

// b64Part is an attachment encoded in base64.
func b64Part(ctype, name string, data []byte) part {
	return part{fmt.Sprintf("Content-Type: %s; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64", ctype, name, name), b64(data)}
}

func b64(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.String()
}

func qp(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

// multipart builds a multipart body (without the top header).
func multipartBody(boundary, preamble, epilogue string, parts ...part) string {
	var b strings.Builder
	b.WriteString(preamble)
	for _, p := range parts {
		b.WriteString("\r\n--" + boundary + "\r\n" + p.header + "\r\n\r\n" + p.body)
	}
	b.WriteString("\r\n--" + boundary + "--\r\n" + epilogue)
	return b.String()
}

// mixed is a multipart/mixed message of the parts.
func mixed(subject string, parts ...part) []byte {
	return []byte(hdr(subject) + "Content-Type: multipart/mixed; boundary=\"BND\"\r\n\r\n" + multipartBody("BND", "", "", parts...))
}

// withAttachment is a benign text body plus one base64 attachment.
func withAttachment(subject, ctype, name string, data []byte) []byte {
	return mixed(subject, textPart("添付のとおり送付します。\n"), b64Part(ctype, name, data))
}

type entry struct {
	name string
	data []byte
}

func zipOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// zipStored is zipOf with stored (uncompressed) entries.
func zipStored(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func tarOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const contentTypesDocx = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/header1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>`

const relsDocx = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`

// docx builds a minimal Word document whose body paragraphs are paras
// (raw WordprocessingML runs allowed), with an optional header text and
// extra entries (e.g. word/embeddings/...).
func docx(t *testing.T, paras []string, header string, extra ...entry) []byte {
	t.Helper()
	var body strings.Builder
	for _, p := range paras {
		if strings.HasPrefix(p, "<w:") {
			body.WriteString("<w:p>" + p + "</w:p>")
		} else {
			body.WriteString("<w:p><w:r><w:t>" + p + "</w:t></w:r></w:p>")
		}
	}
	doc := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><w:body>` + body.String() + `</w:body></w:document>`
	es := []entry{{"[Content_Types].xml", []byte(contentTypesDocx)}, {"_rels/.rels", []byte(relsDocx)}, {"word/document.xml", []byte(doc)}}
	if header != "" {
		es = append(es, entry{"word/header1.xml", []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:hdr xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:p><w:r><w:t>` + header + `</w:t></w:r></w:p></w:hdr>`)})
		es = append(es, entry{"word/_rels/document.xml.rels", []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/header" Target="header1.xml"/></Relationships>`)})
	}
	es = append(es, extra...)
	return zipOf(t, es...)
}

const contentTypesXlsx = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`

// xlsx builds a minimal workbook with one sheet; rows are raw <c> cells
// ("<c r=\"A1\" t=\"s\"><v>0</v></c>") and shared the shared strings.
func xlsx(t *testing.T, shared []string, rows ...string) []byte {
	t.Helper()
	var sst strings.Builder
	for _, s := range shared {
		sst.WriteString("<si><t>" + s + "</t></si>")
	}
	var sd strings.Builder
	for i, r := range rows {
		fmt.Fprintf(&sd, `<row r="%d">%s</row>`, i+1, r)
	}
	return zipOf(t,
		entry{"[Content_Types].xml", []byte(contentTypesXlsx)},
		entry{"_rels/.rels", []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`)},
		entry{"xl/workbook.xml", []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`)},
		entry{"xl/_rels/workbook.xml.rels", []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`)},
		entry{"xl/sharedStrings.xml", []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` + sst.String() + `</sst>`)},
		entry{"xl/worksheets/sheet1.xml", []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` + sd.String() + `</sheetData></worksheet>`)},
	)
}
