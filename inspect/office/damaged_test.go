package office

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// damage rewrites one member of a ZIP made by LibreOffice with f, keeping
// every other member as it is (a valid ZIP, a broken document).
func damage(t *testing.T, name, member string, f func([]byte) []byte) []byte {
	t.Helper()
	b := load(t, name)
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	found := false
	for _, e := range zr.File {
		rc, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if e.Name == member {
			data, found = f(data), true
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.Name, Method: e.Method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("%s has no member %s", name, member)
	}
	return out.Bytes()
}

// TestDamagedMainPart (issue 12): an office file whose main part is not
// well-formed XML (valid ZIP, broken XML) is read leniently for the
// detectors, but Extract reports it damaged, so inspect does not pass it as
// read. The same file undamaged reads without error (the hard negative).
func TestDamagedMainPart(t *testing.T) {
	// cutText cuts the part inside character data: the tokenizer meets the
	// end of the input between tags, with elements still open.
	cutText := func(b []byte) []byte {
		i := bytes.LastIndex(b[:len(b)*2/3], []byte(">"))
		return b[:i+1]
	}
	// mismatch renames the root's end tag.
	mismatch := func(b []byte) []byte {
		i := bytes.LastIndex(b, []byte("</"))
		end := i + bytes.IndexByte(b[i:], '>')
		return append(append(b[:i:i], "</broken>"...), b[end+1:]...)
	}
	garbage := func([]byte) []byte { return []byte("\x00\x01\x02 not xml \xff\xfe") }
	empty := func([]byte) []byte { return nil }
	stray := func(b []byte) []byte { return bytes.Replace(b, []byte("<"), []byte("<<"), 40) }
	muts := map[string]func([]byte) []byte{"cut": cutText, "mismatch": mismatch, "garbage": garbage, "empty": empty, "stray": stray}
	for _, c := range []struct{ file, member, keep string }{
		{"office/document.docx", "word/document.xml", "ヘッダー文字列"},
		{"office/roster.xlsx", "xl/worksheets/sheet1.xml", "名簿ヘッダー"},
		{"office/roster.xlsx", "xl/sharedStrings.xml", ""},
		{"office/slides.pptx", "ppt/slides/slide1.xml", ""},
		{"office/document.odt", "content.xml", "ヘッダー文字列"},
		{"office/roster.ods", "content.xml", ""},
	} {
		for mn, m := range muts {
			t.Run(c.file+"/"+c.member+"/"+mn, func(t *testing.T) {
				b := damage(t, c.file, c.member, m)
				doc, err := Extract(bytes.NewReader(b), int64(len(b)), -1, 0)
				if err == nil {
					t.Fatal("damaged document read without error")
				}
				if errors.Is(err, ErrNotOffice) || doc == nil {
					t.Fatalf("err %v, doc %v: want the document read leniently", err, doc)
				}
				if errors.Is(err, ErrMalformed) && !strings.Contains(err.Error(), strings.ToLower(c.member)) && !strings.Contains(err.Error(), c.member) {
					t.Errorf("error %q does not name the part", err)
				}
				if c.keep == "" || mn == "stray" {
					// Stray '<' garble the main part's references to the
					// other parts too: nothing more to expect.
					return
				}
				var all strings.Builder
				for _, s := range doc.Sections {
					all.WriteString(s.Text)
				}
				if !strings.Contains(all.String(), c.keep) {
					t.Errorf("lenient reading lost %q from the other parts", c.keep)
				}
			})
		}
		t.Run(c.file+"/undamaged", func(t *testing.T) {
			b := damage(t, c.file, c.member, func(b []byte) []byte { return b })
			if _, err := Extract(bytes.NewReader(b), int64(len(b)), -1, 0); err != nil {
				t.Errorf("undamaged: %v", err)
			}
		})
	}
}
