package redteam

import (
	"bytes"
	"testing"

	"dlpguard/policy"
)

// pdfObjects builds a PDF of the objects (numbered from 1; object 1 the
// catalog) with a valid xref table.
func pdfObjects(objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		b.WriteString(itoa(i+1) + " 0 obj\n" + o + "\nendobj\n")
	}
	x := b.Len()
	b.WriteString("xref\n0 " + itoa(len(objs)+1) + "\n0000000000 65535 f \n")
	for _, o := range offs {
		s := itoa(o)
		b.WriteString(string(bytes.Repeat([]byte("0"), 10-len(s))) + s + " 00000 n \n")
	}
	b.WriteString("trailer\n<< /Size " + itoa(len(objs)+1) + " /Root 1 0 R >>\nstartxref\n" + itoa(x) + "\n%%EOF\n")
	return b.Bytes()
}

func stream(s string) string {
	return "<< /Length " + itoa(len(s)) + " >>\nstream\n" + s + "\nendstream"
}

// TestPDF: places in a PDF other than the page text.
func TestPDF(t *testing.T) {
	e, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	page := "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 3 0 R >>"
	pages := "<< /Type /Pages /Kids [5 0 R] /Count 1 >>"
	font := "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
	content := stream("BT /F1 12 Tf 72 700 Td (Meeting notes) Tj ET")
	pdf := func(catalogExtra string, extra ...string) func(*testing.T) []byte {
		objs := append([]string{"<< /Type /Catalog /Pages 2 0 R " + catalogExtra + " >>", pages, content, font, page}, extra...)
		return raw(withAttachment("送付", "application/pdf", "a.pdf", pdfObjects(objs...)))
	}
	cases := []rtCase{
		{"baseline page text only", pass, pdf("")},
		{"bookmark", notPass, pdf("/Outlines 6 0 R", "<< /Type /Outlines /First 7 0 R /Last 7 0 R /Count 1 >>",
			"<< /Title (My Number "+mn+") /Parent 6 0 R /Dest [5 0 R /Fit] >>")},
		{"form field value", notPass, pdf("/AcroForm << /Fields [6 0 R] >>",
			"<< /FT /Tx /T (mynumber) /V (My Number "+mn+") /Rect [0 0 10 10] /Type /Annot /Subtype /Widget /P 5 0 R >>")},
		{"embedded file", notPass, pdf("/Names << /EmbeddedFiles << /Names [(list.csv) 6 0 R] >> >>",
			"<< /Type /Filespec /F (list.csv) /EF << /F 7 0 R >> >>",
			"<< /Type /EmbeddedFile /Length "+itoa(len("氏名,個人番号\n山田,"+mn+"\n"))+" >>\nstream\n氏名,個人番号\n山田,"+mn+"\n\nendstream")},
		{"hex string text", reject, raw(withAttachment("送付", "application/pdf", "a.pdf", minimalPDF("<4d79204e756d6265723a20"+hexOf(mn)+"> Tj", "")))},
		{"text split in TJ", reject, raw(withAttachment("送付", "application/pdf", "a.pdf", minimalPDF("[(My Number: "+mn[:4]+") -20 ("+mn[4:]+")] TJ", "")))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, e, c) })
	}
}

func hexOf(s string) string {
	const h = "0123456789abcdef"
	var b []byte
	for _, c := range []byte(s) {
		b = append(b, h[c>>4], h[c&15])
	}
	return string(b)
}
