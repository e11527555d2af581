package pdf

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/ascii85"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const filesDir = "../testdata/files/pdf"

func extractBytes(t testing.TB, b []byte, maxText, maxStream int64) (*Result, error) {
	t.Helper()
	return Extract(bytes.NewReader(b), int64(len(b)), maxText, maxStream)
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(filesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRealFiles reads the PDFs made by LibreOffice and qpdf (testdata/gen.sh)
// and the PDFs of the shared samples.
func TestRealFiles(t *testing.T) {
	const myNumber = "123456789018"
	mynumberText := []string{"個人番号通知", "氏名：山田 太郎", "個人番号：" + myNumber, "上記の番号を確認してください。"}
	tests := []struct {
		file          string
		want          []string // substrings of the text
		wantLines     []string // whole lines of the text
		encrypted     bool
		needsPassword bool
		imagesOnly    bool
		pages         int
	}{
		{file: "japanese.pdf", pages: 1, want: []string{
			"住民税の申告について",
			"令和七年度の住民税申告書の受付を開始します。申告期限は三月十五日です。",
			"提出先：市民課 税務係（本庁舎二階）。",
			"English line: Tax return desk opens at 8:30.",
		}},
		{file: "mynumber.pdf", pages: 1, want: mynumberText},
		{file: "objstm.pdf", pages: 1, want: mynumberText},
		{file: "table.pdf", pages: 1, wantLines: []string{
			"番号\t氏名\t住所\t電話",
			"1\t山田 太郎\t東京都千代田区霞が関 1-1-10\t03-1000-5000",
			"7\t渡辺 誠\t東京都千代田区霞が関 1-7-16\t03-1006-5042",
			"20\t山崎 愛\t東京都千代田区霞が関 2-2-29\t03-1019-5133",
		}},
		{file: "multipage.pdf", pages: 40, want: []string{
			"第 1 章 事務処理要領",
			"第 40 章第 6 節。市民サービスの向上のため、",
			"Section 40.6: every department reviews its counter procedures and keeps records for five years.",
		}},
		// One box per digit: the number comes out whole.
		{file: "boxes.pdf", pages: 1, wantLines: []string{"扶養控除等申告書", "個人番号\t" + myNumber, "氏名\t山田 太郎"}},
		// Encrypted with an empty user password: they open, so they are read.
		{file: "empty_r2_rc4_40.pdf", pages: 1, encrypted: true, want: mynumberText},
		{file: "empty_r3_rc4.pdf", pages: 1, encrypted: true, want: mynumberText},
		{file: "empty_r4_aes128.pdf", pages: 1, encrypted: true, want: mynumberText},
		{file: "empty_r6_aes256.pdf", pages: 1, encrypted: true, want: mynumberText},
		{file: "empty_r6_objstm.pdf", pages: 1, encrypted: true, want: mynumberText},
		// Linearized (two cross-references, hint stream), object streams and
		// R6 encryption together.
		{file: "linearized_r6_objstm.pdf", pages: 1, encrypted: true, wantLines: []string{
			"番号\t氏名\t住所\t電話",
			"20\t山崎 愛\t東京都千代田区霞が関 2-2-29\t03-1019-5133",
		}},
		// A real user password: nothing can be read.
		{file: "pw_r2_rc4_40.pdf", encrypted: true, needsPassword: true},
		{file: "pw_r4_aes128.pdf", encrypted: true, needsPassword: true},
		{file: "pw_r6_aes256.pdf", encrypted: true, needsPassword: true},
		// Ghostscript: Type1C fonts with /Differences, word spaces as Tc.
		{file: "gs_groff.pdf", pages: 1, wantLines: []string{
			"Staff list",
			"Personal number: 1234 5678 9018",
			"Tax office — open from 8:30 to 17:15, fi fl ligatures.",
		}},
		{file: "gs_table.pdf", pages: 1, wantLines: []string{
			"番号\t氏名\t住所\t電話",
			"1\t山田 太郎\t東京都千代田区霞が関 1-1-10\t03-1000-5000",
		}},
		{file: "gs_scan.pdf", pages: 1, imagesOnly: true},
		// Type0 fonts without ToUnicode: UniJIS-UCS2-H codes are UTF-16;
		// Identity-H codes are Adobe-Japan1 CIDs (digits and Latin known).
		{file: "gs_cid_ucs2.pdf", pages: 1, want: []string{"個人番号：123456789018", "氏名：山田太郎"}},
		{file: "gs_cid_identity.pdf", pages: 1, wantLines: []string{"123456789018", "１２３４５６７８９０１８"}},
		// The PDFs of ../../testdata/samples, decoded.
		{file: "sample_p018_personal_list.pdf", pages: 2, wantLines: []string{
			"氏名\t住所\t電話番号\t生年月日",
			"佐々木　浩二\t東京都若葉市桜ヶ丘 2 丁\t070-7258-6234\t1980/05/04",
		}},
		{file: "sample_p028_encrypted.pdf", pages: 1, encrypted: true, want: []string{"通知書", "個人番号 107846483445"}},
		{file: "sample_p039_benign.pdf", pages: 1, want: []string{"市民まつり開催のお知らせ", "日時：令和 7 年 5 月 18 日（日）", "問合せ：観光課 042-555-0123"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, err := extractBytes(t, readFile(t, tt.file), -1, 0)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if r.Encrypted != tt.encrypted || r.NeedsPassword != tt.needsPassword {
				t.Errorf("Encrypted=%v NeedsPassword=%v, want %v %v", r.Encrypted, r.NeedsPassword, tt.encrypted, tt.needsPassword)
			}
			if tt.needsPassword && r.Text != "" {
				t.Errorf("text from a file that needs a password: %q", r.Text)
			}
			if r.Pages != tt.pages {
				t.Errorf("Pages = %d, want %d", r.Pages, tt.pages)
			}
			if r.ImagesOnly != tt.imagesOnly {
				t.Errorf("ImagesOnly = %v, want %v", r.ImagesOnly, tt.imagesOnly)
			}
			if tt.imagesOnly && r.ImagePages != r.Pages {
				t.Errorf("ImagePages = %d, want %d", r.ImagePages, r.Pages)
			}
			if tt.imagesOnly && (r.Text != "" || len(r.Notes) == 0) {
				t.Errorf("images-only file: text %q, notes %q", r.Text, r.Notes)
			}
			if !tt.needsPassword && !tt.imagesOnly && (r.Incomplete || len(r.Notes) > 0) {
				t.Errorf("clean file marked incomplete: %q", r.Notes)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.Text, w) {
					t.Errorf("text lacks %q; text:\n%s", w, r.Text)
				}
			}
			lines := strings.Split(r.Text, "\n")
			for _, w := range tt.wantLines {
				found := false
				for _, l := range lines {
					if l == w {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("no line %q; text:\n%s", w, r.Text)
				}
			}
		})
	}
}

// TestTableRows checks that every row of the 20-row table is one line with
// four cells.
func TestTableRows(t *testing.T) {
	for _, file := range []string{"table.pdf", "gs_table.pdf"} {
		t.Run(file, func(t *testing.T) { testTableRows(t, file) })
	}
}

func testTableRows(t *testing.T, file string) {
	r, err := extractBytes(t, readFile(t, file), -1, 0)
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`^(\d+)\t\S+ \S+\t東京都千代田区霞が関 \d-\d-\d+\t03-\d{4}-\d{4}$`)
	short := regexp.MustCompile(`^(\d+)\t\S+ \S+\t`)
	n := 0
	for _, l := range strings.Split(r.Text, "\n") {
		if row.MatchString(l) {
			n++
		} else if short.MatchString(l) {
			t.Errorf("row with wrong cells: %q", l)
		}
	}
	if n != 20 {
		t.Errorf("%d complete rows, want 20; text:\n%s", n, r.Text)
	}
}

// TestSamplesEML takes the PDF attachments out of the shared sample messages,
// as inspect will, and checks what the labels expect.
func TestSamplesEML(t *testing.T) {
	tests := []struct {
		eml  string
		want string
	}{
		{"p018_personal_list.eml", "民生委員名簿"},
		{"p028_encrypted.eml", "107846483445"},
		{"p039_benign.eml", "市民まつり開催のお知らせ"},
	}
	for _, tt := range tests {
		t.Run(tt.eml, func(t *testing.T) {
			f, err := os.Open(filepath.Join("../../testdata/samples", tt.eml))
			if err != nil {
				t.Skipf("samples not available: %v", err)
			}
			defer f.Close()
			pdfData := pdfAttachment(t, f)
			r, err := extractBytes(t, pdfData, -1, 0)
			if err != nil {
				t.Fatal(err)
			}
			if r.NeedsPassword || !strings.Contains(r.Text, tt.want) {
				t.Errorf("NeedsPassword=%v, text lacks %q:\n%s", r.NeedsPassword, tt.want, r.Text)
			}
		})
	}
}

func pdfAttachment(t *testing.T, r io.Reader) []byte {
	t.Helper()
	m, err := mail.ReadMessage(r)
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no PDF part: %v", err)
		}
		if !strings.Contains(p.Header.Get("Content-Type"), "pdf") {
			continue
		}
		b, err := io.ReadAll(p) // multipart decodes quoted-printable only
		if err != nil {
			t.Fatal(err)
		}
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			dec, err := decodeBase64(b)
			if err != nil {
				t.Fatal(err)
			}
			return dec
		}
		return b
	}
}

// TestDamagedRealFiles damages real files: truncated, broken startxref,
// shifted offsets, flipped bytes.
func TestDamagedRealFiles(t *testing.T) {
	for _, file := range []string{"mynumber.pdf", "objstm.pdf", "empty_r6_aes256.pdf", "table.pdf"} {
		full := readFile(t, file)
		// Truncated anywhere: an error or partial text, never a panic.
		for _, n := range []int{0, 5, 9, 100, len(full) / 3, len(full) / 2, len(full) - 200, len(full) - 30, len(full) - 1} {
			if n < 0 || n > len(full) {
				continue
			}
			r, err := extractBytes(t, full[:n], -1, 0)
			if r == nil {
				t.Fatalf("%s[:%d]: nil result (err %v)", file, n, err)
			}
		}
		// Cut just before the final cross-reference: the scan rebuilds it.
		i := bytes.LastIndex(full, []byte("startxref"))
		broken := append([]byte(nil), full[:i]...)
		broken = append(broken, []byte("startxref\n999999999\n%%EOF\n")...)
		r, err := extractBytes(t, broken, -1, 0)
		if err != nil {
			t.Errorf("%s with a broken startxref: %v", file, err)
			continue
		}
		if r.Pages == 0 || r.Text == "" {
			t.Errorf("%s with a broken startxref: no text (pages %d)", file, r.Pages)
		}
		if !strings.Contains(strings.Join(r.Notes, "|"), "rebuilt") {
			t.Errorf("%s with a broken startxref: repair not noted (%q)", file, r.Notes)
		}
		// Junk before the header shifts every offset.
		shifted := append([]byte("garbage line from a broken mailer\r\n"), full...)
		r, err = extractBytes(t, shifted, -1, 0)
		if err != nil || r.Text == "" {
			t.Errorf("%s with junk before the header: err %v, text %q", file, err, r.Text)
		}
		// Flipped bytes in the middle.
		flipped := append([]byte(nil), full...)
		for k := len(flipped) / 4; k < len(flipped)/2; k += 97 {
			flipped[k] ^= 0x5a
		}
		if r, _ := extractBytes(t, flipped, -1, 0); r == nil {
			t.Errorf("%s flipped: nil result", file)
		}
	}
}

func TestNotPDF(t *testing.T) {
	for _, in := range []string{"", "hello", "PK\x03\x04", "%PD", strings.Repeat("x", 5000)} {
		_, err := extractBytes(t, []byte(in), 0, 0)
		if !errors.Is(err, ErrNotPDF) {
			t.Errorf("%q: err %v, want ErrNotPDF", in, err)
		}
	}
	for _, in := range []string{"%PDF-1.4", "%PDF-1.7\n1 0 obj\n<<", "%PDF-1.4\n" + strings.Repeat("[", 100000), "%PDF-1.4\n" + strings.Repeat("<<", 100000)} {
		r, err := extractBytes(t, []byte(in), -1, 0)
		if err == nil && r.Text != "" {
			t.Errorf("%.20q: text %q from nothing", in, r.Text)
		}
	}
}

func TestMaxText(t *testing.T) {
	full := readFile(t, "multipage.pdf")
	r, err := extractBytes(t, full, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated || len(r.Text) > 1000 || len(r.Text) < 900 {
		t.Errorf("Truncated=%v len=%d, want truncated at about 1000", r.Truncated, len(r.Text))
	}
	if !strings.HasPrefix(r.Text, "第 1 章 事務処理要領\n") {
		t.Errorf("truncated text starts %q", r.Text[:min(len(r.Text), 40)])
	}
	// No room at all: nothing, but truncation is reported.
	r, err = extractBytes(t, full, 0, 0)
	if err != nil || r.Text != "" || !r.Truncated {
		t.Errorf("maxText 0: err %v, text %d bytes, Truncated %v", err, len(r.Text), r.Truncated)
	}
	if !bytes.Equal([]byte(strings.ToValidUTF8(r.Text, "?")), []byte(r.Text)) {
		t.Error("truncated text is not valid UTF-8")
	}
}

func TestContextCanceled(t *testing.T) {
	full := readFile(t, "multipage.pdf")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ExtractContext(ctx, bytes.NewReader(full), int64(len(full)), 0, 0)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

// ---- synthetic files for what the real ones do not cover ----

// pdfBuilder writes a PDF with a classic cross-reference table.
type pdfBuilder struct {
	buf  bytes.Buffer
	offs []int
}

func newBuilder(header string) *pdfBuilder {
	b := &pdfBuilder{}
	b.buf.WriteString(header)
	return b
}

// obj writes object len(offs)+1 and returns its number.
func (b *pdfBuilder) obj(body string) int {
	b.offs = append(b.offs, b.buf.Len())
	n := len(b.offs)
	fmt.Fprintf(&b.buf, "%d 0 obj\n%s\nendobj\n", n, body)
	return n
}

func streamBody(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

func deflate(data []byte) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// finish writes the xref table for objects [from, len(offs)] and the trailer.
func (b *pdfBuilder) finish(trailer string) []byte {
	xref := b.buf.Len()
	fmt.Fprintf(&b.buf, "xref\n0 %d\n0000000000 65535 f \n", len(b.offs)+1)
	for _, o := range b.offs {
		fmt.Fprintf(&b.buf, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b.buf, "trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n", len(b.offs)+1, trailer, xref)
	return b.buf.Bytes()
}

// simplePDF makes a one-page PDF: objects 1 catalog, 2 pages, 3 page,
// 4 content, 5 Helvetica (WinAnsi) as /F1, then extra objects; resources
// may add entries.
func simplePDF(content []byte, contentDict string, resources string, extra ...string) []byte {
	b := newBuilder("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	b.obj("<< /Type /Catalog /Pages 2 0 R >>")
	b.obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	b.obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> " + resources + " >> >>")
	b.obj(streamBody(contentDict, content))
	b.obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	for _, e := range extra {
		b.obj(e)
	}
	return b.finish("/Root 1 0 R")
}

func TestSynthetic(t *testing.T) {
	// A Type0 font with Identity-H codes and a ToUnicode CMap using
	// bfchar, bfrange with a string and bfrange with an array.
	toUni := []byte(`/CIDInit /ProcSet findresource begin 12 dict begin begincmap
1 begincodespacerange <0000> <FFFF> endcodespacerange
2 beginbfchar <0001> <500B> <0002> <4EBA> endbfchar
2 beginbfrange <0010> <0019> <0030> <0020> <0021> [<756A> <53F7>] endbfrange
endcmap CMapName currentdict /CMap defineresource pop end end`)
	type0 := "<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+Noto /Encoding /Identity-H /DescendantFonts [7 0 R] /ToUnicode 8 0 R >>"
	cidFont := "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /ABCDEF+Noto /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 /W [16 [500 500 500 500 500 500 500 500 500 500]] >>"
	// Identity-H text: 個人番号 then 1234 5678 9018 as codes 0x10+digit.
	digits := func(s string) string {
		var b strings.Builder
		for _, c := range s {
			fmt.Fprintf(&b, "%04X", 0x10+int(c-'0'))
		}
		return b.String()
	}

	tests := []struct {
		name       string
		pdf        []byte
		want       []string
		wantLines  []string
		incomplete bool
		maxStream  int64
		embedded   []string // name=content
		imagesOnly bool
		note       string // a substring of one of the notes
	}{
		{
			name:      "WinAnsi Tj TJ T* quote",
			pdf:       simplePDF([]byte(`BT /F1 12 Tf 14 TL 72 700 Td (Hello, world) Tj T* [(Kern)-20(ed)-3000(far)] TJ (next line) ' 2 1 (spaced) " ET`), "", ""),
			wantLines: []string{"Hello, world", "Kerned\tfar", "next line", "spaced"},
		},
		{
			name: "word gap from positioning",
			pdf:  simplePDF([]byte(`BT /F1 10 Tf 72 700 Td (one) Tj 18 0 Td (two) Tj ET BT /F1 10 Tf 72 680 Td (three) Tj ET`), "", ""),
			// "one" is about 17 units wide at 10pt with the default widths:
			// the 3-unit gap is a space, the next baseline a new line.
			wantLines: []string{"one two", "three"},
		},
		{
			name: "Identity-H with ToUnicode",
			pdf: simplePDF([]byte("BT /F2 11 Tf 72 700 Td <000100020020>Tj <0021> Tj 0 -20 Td <"+digits("123456789018")+"> Tj ET"), "",
				"/Font << /F1 5 0 R /F2 6 0 R >>", type0, cidFont, streamBody("", toUni)),
			wantLines: []string{"個人番号", "123456789018"},
		},
		{
			name: "Identity-H without ToUnicode: 12 unmapped glyphs are incomplete",
			pdf: simplePDF([]byte("BT /F2 11 Tf 72 700 Td <"+strings.Repeat("0102", 12)+"> Tj ET"), "",
				"/Font << /F1 5 0 R /F2 6 0 R >>", strings.Replace(type0, "/ToUnicode 8 0 R", "", 1), cidFont),
			incomplete: true,
		},
		{
			name: "Identity-H without ToUnicode: two unmapped glyphs are noted only",
			pdf: simplePDF([]byte("BT /F1 11 Tf 72 700 Td (text) Tj /F2 11 Tf <01020304> Tj ET"), "",
				"/Font << /F1 5 0 R /F2 6 0 R >>", strings.Replace(type0, "/ToUnicode 8 0 R", "", 1), cidFont),
			want: []string{"text"},
		},
		{
			name: "vertical writing (Identity-V)",
			pdf: simplePDF([]byte("BT /F2 11 Tf 1 0 0 1 500 700 Tm <000100020020> Tj 1 0 0 1 480 700 Tm <0021> Tj ET"), "",
				"/Font << /F1 5 0 R /F2 6 0 R >>", strings.Replace(type0, "Identity-H", "Identity-V", 1), cidFont, streamBody("", toUni)),
			// Each column of vertical text is a line, in writing order.
			wantLines: []string{"個人番", "号"},
		},
		{
			name:       "scanned page: images only",
			pdf:        simplePDF([]byte("q 500 0 0 700 0 0 cm /Im1 Do Q"), "", "/XObject << /Im1 6 0 R >>", streamBody("/Type /XObject /Subtype /Image /Width 1 /Height 1 /BitsPerComponent 8 /ColorSpace /DeviceGray", []byte{0})),
			imagesOnly: true,
		},
		{
			name: "Adobe-Japan1 CIDs without ToUnicode: digits",
			// CID 18-27 are 1-9,0 (proportional) and 781-789 full-width 1-9.
			pdf: simplePDF([]byte("BT /F2 11 Tf 72 700 Td <0012001300140015> Tj 0 -20 Td <030D030E030F> Tj ET"), "",
				"/Font << /F1 5 0 R /F2 6 0 R >>", strings.Replace(type0, "/ToUnicode 8 0 R", "", 1),
				strings.Replace(cidFont, "(Identity)", "(Japan1)", 1)),
			wantLines: []string{"1234", "１２３"},
		},
		{
			name: "Differences and glyph names",
			pdf: simplePDF([]byte(`BT /F2 12 Tf 72 700 Td <4142434445> Tj ET`), "", "/Font << /F2 6 0 R >>",
				"<< /Type /Font /Subtype /Type1 /BaseFont /X /Encoding << /Type /Encoding /Differences [65 /uni500B /uni4EBA /one /u1F600 /zero] >> >>"),
			want: []string{"個人1😀0"},
		},
		{
			name: "UniJIS-UCS2-H without ToUnicode",
			pdf: simplePDF([]byte(`BT /F2 12 Tf 72 700 Td <500B4EBA756A53F7> Tj ET`), "", "/Font << /F2 6 0 R >>",
				"<< /Type /Font /Subtype /Type0 /BaseFont /HeiseiKakuGo-W5 /Encoding /UniJIS-UCS2-H /DescendantFonts [7 0 R] >>",
				"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /HeiseiKakuGo-W5 /DW 1000 >>"),
			want: []string{"個人番号"},
		},
		{
			name: "90ms-RKSJ-H without ToUnicode",
			pdf: simplePDF([]byte("BT /F2 12 Tf 72 700 Td <8CC2906C94D48D86203132> Tj ET"), "", "/Font << /F2 6 0 R >>",
				"<< /Type /Font /Subtype /Type0 /BaseFont /MS-Mincho /Encoding /90ms-RKSJ-H /DescendantFonts [7 0 R] >>",
				"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /MS-Mincho /DW 1000 >>"),
			want: []string{"個人番号 12"},
		},
		{
			name: "Form XObject, nested and self-referencing",
			pdf: simplePDF([]byte(`q 1 0 0 1 0 0 cm /Fm1 Do Q`), "", "/XObject << /Fm1 6 0 R >>",
				streamBody("/Type /XObject /Subtype /Form /BBox [0 0 500 500] /Resources << /Font << /F1 5 0 R >> /XObject << /Fm1 6 0 R /Fm2 7 0 R >> >>",
					[]byte(`BT /F1 12 Tf 72 700 Td (inside the form) Tj ET /Fm1 Do /Fm2 Do`)),
				streamBody("/Type /XObject /Subtype /Form /BBox [0 0 500 500] /Resources << /Font << /F1 5 0 R >> /XObject << /Fm1 6 0 R >> >>",
					[]byte(`BT /F1 12 Tf 72 600 Td (nested form) Tj ET /Fm1 Do`))),
			want: []string{"inside the form", "nested form"},
		},
		{
			name: "ASCIIHex then Flate",
			pdf: simplePDF([]byte(hex.EncodeToString(deflate([]byte(`BT /F1 12 Tf 72 700 Td (hex and flate) Tj ET`)))+">"),
				"/Filter [/ASCIIHexDecode /FlateDecode]", ""),
			want: []string{"hex and flate"},
		},
		{
			name: "ASCII85",
			pdf:  simplePDF(a85([]byte(`BT /F1 12 Tf 72 700 Td (base eighty-five) Tj ET`)), "/Filter /ASCII85Decode", ""),
			want: []string{"base eighty-five"},
		},
		{
			name: "RunLength",
			pdf:  simplePDF(append([]byte{byte(len("BT /F1 12 Tf 72 700 Td (run length) Tj ET") - 1)}, append([]byte("BT /F1 12 Tf 72 700 Td (run length) Tj ET"), 128)...), "/Filter /RunLengthDecode", ""),
			want: []string{"run length"},
		},
		{
			name:       "unknown filter is noted",
			pdf:        simplePDF([]byte("xxxx"), "/Filter /JBIG2Decode", ""),
			incomplete: true,
		},
		{
			name:       "stream over maxStreamBytes is noted",
			pdf:        simplePDF(deflate([]byte("BT /F1 12 Tf 72 700 Td (too long) Tj ET"+strings.Repeat(" ", 5000))), "/Filter /FlateDecode", ""),
			maxStream:  1000,
			incomplete: true,
		},
		{
			name: "inline image with binary data",
			pdf:  simplePDF([]byte("BI /W 4 /H 1 /BPC 8 /CS /G ID \x00(Tj) Tj\xff\x10 EI BT /F1 12 Tf 72 700 Td (after image) Tj ET"), "", ""),
			want: []string{"after image"},
		},
		{
			name: "annotations and form fields",
			pdf: func() []byte {
				b := newBuilder("%PDF-1.5\n")
				b.obj("<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R] >> >>")
				b.obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
				b.obj("<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Annots [5 0 R 6 0 R] >>")
				b.obj(streamBody("", nil))
				b.obj("<< /Type /Annot /Subtype /Text /Contents <FEFF500B4EBA756A53F7> >>")
				b.obj("<< /Type /Annot /Subtype /Widget /FT /Tx /T (mn) /V (123456789018) >>")
				b.obj("<< /Title (Field test) >>")
				return b.finish("/Root 1 0 R /Info 7 0 R")
			}(),
			want: []string{"個人番号", "123456789018", "Field test"},
		},
		{
			name: "bookmarks and XFA form data",
			pdf: func() []byte {
				b := newBuilder("%PDF-1.7\n")
				b.obj("<< /Type /Catalog /Pages 2 0 R /Outlines 5 0 R /AcroForm << /Fields [] /XFA [(template) 8 0 R (datasets) 9 0 R] >> >>")
				b.obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
				b.obj("<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>")
				b.obj(streamBody("", nil))
				b.obj("<< /Type /Outlines /First 6 0 R /Last 7 0 R >>")
				b.obj("<< /Title <FEFF540D7C3F> /Parent 5 0 R /Next 7 0 R /First 10 0 R >>")
				b.obj("<< /Title (Chapter 2) /Parent 5 0 R /Next 6 0 R >>") // a cycle back
				b.obj(streamBody("", []byte(`<template><field name="mn"/></template>`)))
				b.obj(streamBody("/Filter /FlateDecode", deflate([]byte(`<?xml version="1.0" encoding="UTF-8"?><xfa:datasets xmlns:xfa="http://www.xfa.org/schema/xfa-data/1.0/"><xfa:data><form><mn>123456789018</mn><name>山田 太郎</name></form></xfa:data></xfa:datasets>`))))
				b.obj("<< /Title (Section 1.1) /Parent 6 0 R >>")
				return b.finish("/Root 1 0 R")
			}(),
			wantLines: []string{"123456789018", "山田 太郎", "名簿", "Section 1.1", "Chapter 2"},
		},
		{
			name: "embedded files",
			pdf: func() []byte {
				b := newBuilder("%PDF-1.7\n")
				b.obj("<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Kids [6 0 R] >> >> >>")
				b.obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
				b.obj("<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Annots [<< /Subtype /FileAttachment /FS 9 0 R >>] >>")
				b.obj(streamBody("", nil))
				b.obj(streamBody("/Type /EmbeddedFile /Filter /FlateDecode", deflate([]byte("氏名,個人番号\n山田,123456789018\n"))))
				b.obj("<< /Names [(a) 7 0 R (b) 7 0 R] >>")
				b.obj("<< /Type /Filespec /F (meibo.csv) /UF <FEFF540D7C3F002E006300730076> /EF << /F 5 0 R >> >>")
				b.obj(streamBody("/Type /EmbeddedFile", []byte("second")))
				b.obj("<< /Type /Filespec /F (note.txt) /EF << /F 8 0 R >> >>")
				return b.finish("/Root 1 0 R")
			}(),
			embedded: []string{"名簿.csv=氏名,個人番号\n山田,123456789018\n", "note.txt=second"},
		},
		{
			name: "incremental update replaces the page content",
			note: "earlier revisions",
			pdf: func() []byte {
				base := simplePDF([]byte(`BT /F1 12 Tf 72 700 Td (old text) Tj ET`), "", "")
				prev := bytes.LastIndex(base, []byte("\nxref")) + 1
				b := &pdfBuilder{}
				b.buf.Write(base)
				off := b.buf.Len()
				fmt.Fprintf(&b.buf, "4 0 obj\n%s\nendobj\n", streamBody("", []byte(`BT /F1 12 Tf 72 700 Td (new text) Tj ET`)))
				x := b.buf.Len()
				fmt.Fprintf(&b.buf, "xref\n4 1\n%010d 00000 n \ntrailer\n<< /Size 6 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", off, prev, x)
				return b.buf.Bytes()
			}(),
			// The replaced text still leaves with the file: it is read too,
			// after the pages.
			wantLines: []string{"new text", "old text"},
		},
		{
			name: "content stream on no page",
			pdf: simplePDF([]byte(`BT /F1 12 Tf 72 700 Td (visible) Tj ET`), "", "",
				streamBody("", []byte(`BT /F1 12 Tf 72 700 Td (hidden 123456789018) Tj ET`))),
			wantLines: []string{"visible", "hidden 123456789018"},
			note:      "on no page",
		},
		{
			name: "page tree cycle",
			pdf: func() []byte {
				b := newBuilder("%PDF-1.4\n")
				b.obj("<< /Type /Catalog /Pages 2 0 R >>")
				b.obj("<< /Type /Pages /Kids [2 0 R 3 0 R 2 0 R] /Count 1 >>")
				b.obj("<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>")
				b.obj(streamBody("", []byte(`BT /F1 12 Tf 72 700 Td (cycle survived) Tj ET`)))
				b.obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
				return b.finish("/Root 1 0 R")
			}(),
			want: []string{"cycle survived"},
		},
		{
			name: "no xref at all",
			pdf: []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n" +
				"3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n4 0 obj << /Length 99 >> stream\nBT 72 700 Td (no xref here) Tj ET\nendstream endobj\n"),
			want: []string{"no xref here"},
			note: "rebuilt",
		},
		{
			name: "reference cycle in Length and Resources",
			pdf: func() []byte {
				b := newBuilder("%PDF-1.4\n")
				b.obj("<< /Type /Catalog /Pages 2 0 R >>")
				b.obj("<< /Type /Pages /Kids [3 0 R] /Count 1 /Resources 6 0 R >>")
				b.obj("<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>")
				b.obj("<< /Length 4 0 R >>\nstream\nBT 72 700 Td (length loop) Tj ET\nendstream")
				b.obj("7 0 R")
				b.obj("<< /Font 5 0 R >>")
				b.obj("5 0 R")
				return b.finish("/Root 1 0 R")
			}(),
			want: []string{"length loop"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := extractBytes(t, tt.pdf, -1, tt.maxStream)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.Text, w) {
					t.Errorf("text lacks %q; text:\n%q", w, r.Text)
				}
			}
			lines := strings.Split(strings.TrimSuffix(r.Text, "\n"), "\n")
			if tt.wantLines != nil && strings.Join(lines, "\n") != strings.Join(tt.wantLines, "\n") {
				t.Errorf("lines %q, want %q", lines, tt.wantLines)
			}
			var emb []string
			for _, e := range r.Embedded {
				emb = append(emb, e.Name+"="+string(e.Data))
			}
			if strings.Join(emb, "|") != strings.Join(tt.embedded, "|") {
				t.Errorf("embedded %q, want %q", emb, tt.embedded)
			}
			if !tt.incomplete && strings.Contains(tt.name, "noted only") && len(r.Notes) == 0 {
				t.Error("unmapped glyphs not noted")
			}
			if r.ImagesOnly != tt.imagesOnly {
				t.Errorf("ImagesOnly = %v, want %v", r.ImagesOnly, tt.imagesOnly)
			}
			if tt.note != "" && !strings.Contains(strings.Join(r.Notes, "|"), tt.note) {
				t.Errorf("notes %q lack %q", r.Notes, tt.note)
			}
			if r.Incomplete != tt.incomplete {
				t.Errorf("Incomplete = %v, want %v (notes %q)", r.Incomplete, tt.incomplete, r.Notes)
			}
		})
	}
}

func decodeBase64(b []byte) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
}

func a85(b []byte) []byte {
	out := make([]byte, ascii85.MaxEncodedLen(len(b)))
	n := ascii85.Encode(out, b)
	return append(out[:n], "~>"...)
}

// TestFilters checks the decoders against known values.
func TestFilters(t *testing.T) {
	if got := string(asciiHex([]byte("48 65 6c6C6f7>"))); got != "Hellop" {
		t.Errorf("asciiHex = %q", got)
	}
	if got := string(decodeA85([]byte("<~87cURD]i,\"Ebo80~>"))); got != "Hello World!" {
		t.Errorf("ascii85 = %q", got)
	}
	if got := string(decodeA85(a85([]byte("Hello, 世界\x00\x00\x00\x00!")))); got != "Hello, 世界\x00\x00\x00\x00!" {
		t.Errorf("ascii85 round trip = %q", got)
	}
	if got := string(decodeA85([]byte("z~>"))); got != "\x00\x00\x00\x00" {
		t.Errorf("ascii85 z = %q", got)
	}
	if got := string(runLength([]byte{2, 'a', 'b', 'c', 254, 'x', 128}, 100)); got != "abcxxx" {
		t.Errorf("runLength = %q", got)
	}
	// LZW example from ISO 32000-1 §7.4.4.2: 45 45 45 45 45 65 45 45 45 66.
	lzw := []byte{0x80, 0x0B, 0x60, 0x50, 0x22, 0x0C, 0x0C, 0x85, 0x01}
	if got, err := lzwDecode(lzw, true, 1000); err != nil || !bytes.Equal(got, []byte{45, 45, 45, 45, 45, 65, 45, 45, 45, 66}) {
		t.Errorf("lzw = %v %v", got, err)
	}
}

// TestHashR6 checks Algorithm 2.B against the values in qpdf's own files:
// the user password of a file encrypted with an empty password validates,
// a wrong one does not.
func TestHashR6(t *testing.T) {
	full := readFile(t, "pw_r6_aes256.pdf")
	d := newDocument(context.Background(), full, &budget{maxStream: 1 << 20, total: 1 << 24}, &notes{})
	if err := d.load(); err != nil {
		t.Fatal(err)
	}
	enc, _ := d.resolve(d.trailer["Encrypt"]).(dict)
	u := bytesOf(d.resolve(enc["U"]))
	ue := bytesOf(d.resolve(enc["UE"]))
	if _, ok := keyR6([]byte("secret"), u, ue, 6); !ok {
		t.Error("the right password does not validate")
	}
	if _, ok := keyR6(nil, u, ue, 6); ok {
		t.Error("the empty password validates")
	}
}

func BenchmarkExtract(b *testing.B) {
	full := readFile(b, "multipage.pdf")
	b.SetBytes(int64(len(full)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := extractBytes(b, full, -1, 0)
		if err != nil || r.Pages != 40 {
			b.Fatal(err)
		}
	}
}

func BenchmarkExtractEncrypted(b *testing.B) {
	full := readFile(b, "empty_r6_aes256.pdf")
	b.SetBytes(int64(len(full)))
	for b.Loop() {
		if _, err := extractBytes(b, full, -1, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPathological feeds files built to make a naive reader loop, recurse
// or allocate without bound. Each must finish with a result.
func TestPathological(t *testing.T) {
	// Many pages whose streams have a wrong /Length and no "endstream".
	many := func() []byte {
		b := newBuilder("%PDF-1.4\n")
		const n = 1000
		b.obj("<< /Type /Catalog /Pages 2 0 R >>")
		var kids strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&kids, "%d 0 R ", 3+2*i)
		}
		b.obj("<< /Type /Pages /Kids [" + kids.String() + "] /Count 3000 >>")
		for i := 0; i < n; i++ {
			b.obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /Contents %d 0 R >>", 4+2*i))
			b.obj("<< /Length 99999999 >>\nstream\nBT 72 700 Td (page) Tj ET\n")
		}
		return b.finish("/Root 1 0 R")
	}()
	// Form XObjects that each draw the next twice, deeper than the limit.
	fanout := func() []byte {
		var extra []string
		const levels = 20
		for i := 0; i < levels; i++ {
			body := "BT 72 700 Td (f) Tj ET"
			res := ""
			if i+1 < levels {
				body += " /N Do /N Do"
				res = fmt.Sprintf("/Resources << /XObject << /N %d 0 R >> >>", 7+i)
			}
			extra = append(extra, streamBody("/Subtype /Form "+res, []byte(body)))
		}
		return simplePDF([]byte("/N Do"), "", "/XObject << /N 6 0 R >>", extra...)
	}()
	// A chain of references, each to the next.
	chain := func() []byte {
		b := newBuilder("%PDF-1.4\n")
		b.obj("<< /Type /Catalog /Pages 2 0 R >>")
		for i := 2; i < 5000; i++ {
			b.obj(fmt.Sprintf("%d 0 R", i+1))
		}
		b.obj("<< /Type /Pages /Kids [] /Count 0 >>")
		return b.finish("/Root 1 0 R")
	}()
	// A flate bomb in the page content.
	bomb := simplePDF(deflate(bytes.Repeat([]byte("0 0 Td "), 1<<20)), "/Filter /FlateDecode", "")
	// A ToUnicode with huge ranges, used by a long string.
	var cm strings.Builder
	cm.WriteString("1 begincodespacerange <0000> <FFFF> endcodespacerange 1000 beginbfrange ")
	for i := 0; i < 1000; i++ {
		cm.WriteString("<0000> <FFFF> <0041> ")
	}
	cm.WriteString("endbfrange")
	bigCMap := simplePDF([]byte("BT /F2 1 Tf <"+strings.Repeat("0001", 10000)+"> Tj ET"), "", "/Font << /F2 6 0 R >>",
		"<< /Type /Font /Subtype /Type0 /Encoding /Identity-H /DescendantFonts [<< /Subtype /CIDFontType2 /W [0 65535 500] >>] /ToUnicode 7 0 R >>",
		streamBody("", []byte(cm.String())))

	// Many pages sharing one stream that inflates to the per-stream
	// limit (a comment: cheap to interpret): once the work limit (or the
	// total budget, whichever comes first; the work limit, for a file this
	// small) is spent, no page inflates it again, and that is noted.
	shared := func() []byte {
		b := newBuilder("%PDF-1.4\n")
		const n = 100
		b.obj("<< /Type /Catalog /Pages 2 0 R >>")
		var kids strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&kids, "%d 0 R ", 4+i)
		}
		b.obj("<< /Type /Pages /Kids [" + kids.String() + "] /Count 100 >>")
		b.obj(streamBody("/Filter /FlateDecode", deflate(append([]byte("%"), bytes.Repeat([]byte("x"), 1<<20-1)...))))
		for i := 0; i < n; i++ {
			b.obj("<< /Type /Page /Parent 2 0 R /Contents 3 0 R >>")
		}
		return b.finish("/Root 1 0 R")
	}()

	tests := []struct {
		name string
		pdf  []byte
		want string
		note string
	}{
		{"streams without endstream", many, "page", ""},
		{"one big stream on every page", shared, "", "work limit reached"},
		{"Form XObject fan-out", fanout, "f", ""},
		{"reference chain", chain, "", ""},
		{"flate bomb", bomb, "", "larger than"},
		{"big ToUnicode ranges", bigCMap, "BBBB", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := extractBytes(t, tt.pdf, 1<<20, 1<<20)
			if r == nil {
				t.Fatalf("nil result, err %v", err)
			}
			if !strings.Contains(r.Text, tt.want) {
				t.Errorf("text lacks %q: %.200q (err %v)", tt.want, r.Text, err)
			}
			if tt.note != "" && (!r.Incomplete || !strings.Contains(strings.Join(r.Notes, "|"), tt.note)) {
				t.Errorf("Incomplete %v, notes %q lack %q", r.Incomplete, r.Notes, tt.note)
			}
		})
	}
}

func TestJoinBoxDigits(t *testing.T) {
	tests := []struct{ in, want string }{
		{"個人番号\t1\t2\t3\t4\t5\t6\t7\t8\t9\t0\t1\t8\t氏名", "個人番号\t123456789018\t氏名"},
		{"1 2 3 4 - 5 6 7 8 - 9 0 1 8", "1234-5678-9018"},
		{"１\t２\t３\t４\t５\t６\t７\t８\t９\t０\t１\t８", "１２３４５６７８９０１８"},
		{"1 2 3 4 5", "1 2 3 4 5"},                                   // a short list stays
		{"1 2 3 4 5 6 7 8 9 10 11 12", "1 2 3 4 5 6 7 8 9 10 11 12"}, // a run of nine is short
		{"no digits here at all, just words and words", "no digits here at all, just words and words"},
		{"12 34 56 78 90 12", "12 34 56 78 90 12"}, // groups are the classifier's business
	}
	for _, tt := range tests {
		if got := joinBoxDigits(tt.in); got != tt.want {
			t.Errorf("joinBoxDigits(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// inMemory is a ReaderAt that hands over its bytes.
type inMemory struct {
	*bytes.Reader
	b []byte
}

func (m inMemory) Bytes() []byte { return m.b }

func TestInPlaceBytes(t *testing.T) {
	full := readFile(t, "empty_r4_aes128.pdf")
	orig := append([]byte(nil), full...)
	r, err := Extract(inMemory{bytes.NewReader(full), full}, int64(len(full)), -1, 0)
	if err != nil || !strings.Contains(r.Text, "123456789018") {
		t.Fatalf("err %v, text %q", err, r.Text)
	}
	if !bytes.Equal(full, orig) {
		t.Error("Extract wrote into the caller's bytes")
	}
}

func TestTextString(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"plain", "plain"},
		{"\xfe\xff\x50\x0b\x4e\xba", "個人"},
		{"\xef\xbb\xbf個人番号", "個人番号"},
		{"個人番号", "個人番号"},                             // UTF-8 without a mark
		{"\x8c\xc2\x90\x6c\x94\xd4\x8d\x86", "個人番号"}, // Shift_JIS
		{"Caf\xe9 \x80", "Café •"},                   // PDFDocEncoding
	}
	for _, tt := range tests {
		if got := textString(pdfString(tt.in)); got != tt.want {
			t.Errorf("textString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := (&Result{Notes: []string{"a", "b"}}).Reason(); got != "PDF: a; b" {
		t.Errorf("Reason = %q", got)
	}
}
