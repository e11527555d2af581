package inspect

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFiles runs File over the real files made by real software that the
// office, archive and pdf packages keep in testdata/files (LibreOffice, zip,
// 7z, qpdf, msoffcrypto-tool): the type each is read as, whether it is
// encrypted or inspected, and text that must come out, through inspect's
// dispatch (true type, recursion, limits).
func TestFiles(t *testing.T) {
	type want struct {
		typ        string // Part.Type of the file itself
		encrypted  bool
		inspected  bool
		text       []string
		memberEnc  string // a member that must be reported encrypted
		memberBad  string // a member that must be not inspected (not encrypted)
		reasonPart string
		memberOK   string // a member that must be read
		media      bool   // read as media (no text layer): not inspected, not incomplete
	}
	cases := map[string]want{
		"office/document.docx": {typ: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", inspected: true, text: []string{"123456789018", "ヘッダー文字列 機密性2", "コメント：個人番号 398259791905"}},
		"office/document.odt":  {typ: "application/vnd.oasis.opendocument.text", inspected: true, text: []string{"176749365367"}},
		"office/roster.xlsx":   {typ: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", inspected: true, text: []string{"マイナンバー", "職員名簿"}},
		"office/roster.ods":    {typ: "application/vnd.oasis.opendocument.spreadsheet", inspected: true, text: []string{"マイナンバー"}},
		"office/slides.pptx":   {inspected: true, text: []string{"479666972515", "発表者ノート 327346468695"}},
		"office/slides.odp":    {inspected: true, text: []string{"479666972515"}},
		// issue 12: valid ZIP, main part not well-formed: read for the
		// detectors, but not inspected (held).
		"office/damaged.docx":            {typ: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", text: []string{"123456789018", "ヘッダー文字列 機密性2"}, reasonPart: "damaged document"},
		"office/document-encrypted.docx": {typ: "application/x-ole-storage", encrypted: true},
		"office/roster-encrypted.xlsx":   {typ: "application/x-ole-storage", encrypted: true},
		"office/document-encrypted.odt":  {encrypted: true},
		"archive/plain.zip":              {typ: "application/zip", inspected: true, text: []string{"個人番号 123456789018", "マイナンバー"}},
		"archive/cp932.zip":              {inspected: true, text: []string{"マイナンバー 176749365367"}},
		"archive/nested.zip":             {inspected: true, text: []string{"内側のファイル 個人番号 398259791905"}},
		"archive/stored-xlsx.zip":        {inspected: true, text: []string{"マイナンバー"}},
		"archive/plain.tar":              {typ: "application/x-tar", inspected: true, text: []string{"個人番号 123456789018"}},
		"archive/plain.tar.gz":           {inspected: true, text: []string{"個人番号 123456789018"}},
		"archive/memo.txt.gz":            {typ: "application/gzip", inspected: true, text: []string{"個人番号 123456789018"}},
		"archive/aes256.zip":             {encrypted: true, memberEnc: "aes256.zip/資料/メモ.txt"},
		"archive/zipcrypto.zip":          {encrypted: true, memberEnc: "zipcrypto.zip/readme.txt"},
		"archive/corrupt.zip":            {inspected: true, memberBad: "corrupt.zip/data.txt", reasonPart: "read error"},
		"archive/bomb.zip":               {inspected: true, memberBad: "bomb.zip/zeros.bin", reasonPart: "compression ratio"},
		"archive/plain.7z":               {typ: "application/x-7z-compressed", reasonPart: "7z"},
		"archive/encrypted-headers.7z":   {typ: "application/x-7z-compressed", encrypted: true},
		"pdf/japanese.pdf":               {typ: "application/pdf", inspected: true},
		"pdf/mynumber.pdf":               {typ: "application/pdf", inspected: true, text: []string{"123456789018"}},
		"pdf/empty_r4_aes128.pdf":        {typ: "application/pdf", inspected: true, text: []string{"123456789018"}, reasonPart: "empty user password"},
		"pdf/empty_r6_aes256.pdf":        {typ: "application/pdf", inspected: true, text: []string{"123456789018"}},
		"pdf/pw_r4_aes128.pdf":           {typ: "application/pdf", encrypted: true},
		"pdf/pw_r6_aes256.pdf":           {typ: "application/pdf", encrypted: true},
		"pdf/embedded_csv.pdf":           {typ: "application/pdf", inspected: true, text: []string{"山田太郎,123456789018"}, memberOK: "embedded_csv.pdf/meibo.csv"},
		"pdf/gs_scan.pdf":                {typ: "application/pdf", media: true, reasonPart: "no OCR"},
	}
	for file, wt := range cases {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join("testdata", "files", file)
			f, err := os.Open(path)
			if err != nil {
				t.Skipf("%s not there (made by another package's generator): %v", path, err)
			}
			defer f.Close()
			var col collect
			name := filepath.Base(file)
			res, err := File(context.Background(), name, f, DefaultLimits(), &col)
			if err != nil {
				t.Fatal(err)
			}
			p := findPart(res, name)
			if p == nil {
				t.Fatalf("no part for %s: %s", name, dumpParts(res))
			}
			if wt.typ != "" && p.Type != wt.typ {
				t.Errorf("type %q, want %q", p.Type, wt.typ)
			}
			if p.Encrypted != wt.encrypted || p.Inspected != wt.inspected {
				t.Errorf("encrypted=%v inspected=%v, want %v %v: %s", p.Encrypted, p.Inspected, wt.encrypted, wt.inspected, dumpParts(res))
			}
			text := col.text("")
			for _, s := range wt.text {
				if !strings.Contains(text, s) {
					t.Errorf("%q not in text:\n%s", s, text)
				}
			}
			if wt.memberEnc != "" {
				if m := findPart(res, wt.memberEnc); m == nil || !m.Encrypted || m.Inspected {
					t.Errorf("member %s: %+v", wt.memberEnc, m)
				}
			}
			if wt.memberOK != "" {
				if m := findPart(res, wt.memberOK); m == nil || !m.Inspected || m.Encrypted {
					t.Errorf("member %s: %+v", wt.memberOK, m)
				}
			}
			if p.Media != wt.media {
				t.Errorf("media = %v, want %v", p.Media, wt.media)
			}
			if wt.memberBad != "" {
				if m := findPart(res, wt.memberBad); m == nil || m.Encrypted || m.Inspected || !strings.Contains(m.Reason, wt.reasonPart) {
					t.Errorf("member %s: %+v", wt.memberBad, m)
				}
			} else if wt.reasonPart != "" && !strings.Contains(p.Reason, wt.reasonPart) {
				t.Errorf("reason %q, want %q", p.Reason, wt.reasonPart)
			}
			wantIncomplete := wt.encrypted || (!wt.inspected && !wt.media) || wt.memberBad != ""
			if res.Incomplete != wantIncomplete {
				t.Errorf("Incomplete = %v, want %v", res.Incomplete, wantIncomplete)
			}
		})
	}
}
