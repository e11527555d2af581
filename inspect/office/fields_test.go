package office

import (
	"bytes"
	"strings"
	"testing"
)

// TestFieldCodes: the code of a Word field (w:instrText) leaves with the
// file even when its shown result is empty: it is read as its own section,
// and the body text around it stays whole (red team).
func TestFieldCodes(t *testing.T) {
	docx := load(t, "office/document.docx")
	doc := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p>` +
		`<w:r><w:t>番号 1234</w:t></w:r><w:r><w:fldChar w:fldCharType="begin"/></w:r>` +
		`<w:r><w:instrText xml:space="preserve"> QUOTE "個人番号 123456789018" </w:instrText></w:r>` +
		`<w:r><w:fldChar w:fldCharType="end"/></w:r><w:r><w:t>56789018</w:t></w:r></w:p></w:body></w:document>`
	b := withMembers(t, docx, map[string][]byte{"word/document.xml": []byte(doc)})
	d, err := Extract(bytes.NewReader(b), int64(len(b)), -1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s, _, _ := section(d, "body"); !strings.Contains(s, "番号 123456789018") {
		t.Errorf("body %q: the field split the text", s)
	}
	if s, _, _ := section(d, "body:fields"); !strings.Contains(s, `QUOTE "個人番号 123456789018"`) {
		t.Errorf("field code not read: sections %v", names(d))
	}
}
