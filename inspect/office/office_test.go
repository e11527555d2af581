package office

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// files holds the documents made by testdata/gen/gen.sh (see
// inspect/testdata/files/README.md for what is in each).
const files = "../testdata/files"

func load(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(files, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func extractFile(t testing.TB, name string, maxText, maxEntry int64) (*Doc, error) {
	t.Helper()
	b := load(t, name)
	return Extract(bytes.NewReader(b), int64(len(b)), maxText, maxEntry)
}

// section returns the text of all sections with that name, joined.
func section(d *Doc, name string) (string, bool, bool) {
	var parts []string
	found, table := false, false
	for _, s := range d.Sections {
		if s.Name == name {
			found = true
			table = table || s.Table
			parts = append(parts, s.Text)
		}
	}
	return strings.Join(parts, "\n"), found, table
}

func tableSection(d *Doc, name string) (string, bool) {
	for _, s := range d.Sections {
		if s.Name == name && s.Table {
			return s.Text, true
		}
	}
	return "", false
}

// rosterRows are the rows of the roster sheet (src/roster.fods), as a
// reader sees them: My Numbers as full digits, dates as yyyy/mm/dd.
var rosterRows = []string{
	"氏名\tフリガナ\t住所\t電話番号\t生年月日\tマイナンバー",
	"山田太郎\tヤマダタロウ\t東京都若葉市本町1-2-3\t03-1234-5678\t1980/04/01\t123456789018",
	"佐藤花子\tサトウハナコ\t東京都若葉市緑町2-3-4\t03-2345-6789\t1985/07/15\t176749365367",
	"鈴木一郎\tスズキイチロウ\t東京都若葉市旭町3-4-5\t090-1234-5678\t1972/12/31\t589693504922",
	"高橋次郎\tタカハシジロウ\t東京都若葉市栄町4-5-6\t080-2345-6789\t1990/01/20\t589913944112",
	"田中三郎\tタナカサブロウ\t東京都若葉市新町5-6-7\t03-3456-7890\t1968/03/03\t771516204660",
	"伊藤幸子\tイトウサチコ\t東京都若葉市東町6-7-8\t070-3456-7890\t1995/09/09\t109906958483",
	"渡辺健\tワタナベケン\t東京都若葉市西町7-8-9\t03-4567-8901\t1978/06/18\t304011980367",
	"中村美咲\tナカムラミサキ\t東京都若葉市南町8-9-10\t090-4567-8901\t2000/02/29\t494205552661",
	"小林誠\tコバヤシマコト\t東京都若葉市北町9-10-11\t03-5678-9012\t1983/11/11\t786981984637",
	"加藤由美\tカトウユミ\t東京都若葉市中町10-11-12\t080-5678-9012\t1975/05/05\t464848506954",
}

// docTable is the table of src/document.fodt.
const docTable = "氏名\t個人番号\t所属\n山田太郎\t123456789018\t総務課\n佐藤花子\t176749365367\t市民課"

func TestExtractFiles(t *testing.T) {
	type want struct {
		section string
		table   bool     // the section must be (or include) a Table section
		exact   string   // if set, the Table section's whole text
		has     []string // snippets
	}
	tests := []struct {
		file   string
		format string
		want   []want
		not    []string // must appear nowhere
	}{
		{
			file: "office/document.docx", format: "docx",
			want: []want{
				{section: "body", has: []string{"特定個人情報の提出について", "下記のとおり職員のマイナンバーを送付します。内容をご確認ください。", "テキストボックス内の文字 328601290400", "以上"}},
				{section: "body", table: true, exact: docTable},
				{section: "header", has: []string{"若葉市総務課 ヘッダー文字列 機密性2"}},
				{section: "footer", has: []string{"フッター文字列 関係者限り"}},
				{section: "footnotes", has: []string{"脚注：扶養親族 748337887621"}},
				{section: "comments", has: []string{"コメント：個人番号 398259791905 も追加してください"}},
				{section: "properties", has: []string{"特定個人情報の提出について", "マイナンバー送付（取扱注意）", "機密区分: 機密性2"}},
			},
		},
		{
			file: "office/document.odt", format: "odt",
			want: []want{
				{section: "body", has: []string{"特定個人情報の提出について", "下記のとおり職員のマイナンバーを送付します。内容をご確認ください。", "脚注：扶養親族 748337887621", "テキストボックス内の文字 328601290400"}},
				{section: "body", table: true, exact: docTable},
				{section: "header", has: []string{"若葉市総務課 ヘッダー文字列 機密性2"}},
				{section: "footer", has: []string{"フッター文字列 関係者限り"}},
				{section: "comments", has: []string{"コメント：個人番号 398259791905 も追加してください"}},
				{section: "properties", has: []string{"特定個人情報の提出について", "マイナンバー送付（取扱注意）", "機密区分: 機密性2"}},
			},
			// The annotation's author and date are metadata, not text.
			not: []string{"総務課 鈴木", "2026-04-01"},
		},
		{
			file: "office/roster.xlsx", format: "xlsx",
			want: []want{
				{section: "sheets", has: []string{"職員名簿\n集計\nゼロ埋め"}},
				// A number cell formatted 000000000000: shown, and read,
				// with its leading zero (a 12-digit My Number).
				{section: "sheet:ゼロ埋め", table: true, exact: "番号（先頭ゼロ）\t012345678903"},
				{section: "sheet:職員名簿", table: true, exact: strings.Join(rosterRows, "\n")},
				// B3 ← formula =10-6: its cached value; C4 placed by its reference.
				{section: "sheet:集計", table: true, exact: "課名\t人数\n総務課\t6\n市民課\t4\n\t\t離れたセル"},
				{section: "headerfooter:職員名簿", has: []string{"名簿ヘッダー 取扱注意", "名簿フッター 若葉市"}},
				{section: "comments", has: []string{"セルのコメント 要確認"}},
				{section: "properties", has: []string{"職員名簿"}},
			},
			not: []string{"E+11", "E11", "ｹﾞﾝ"},
		},
		{
			file: "office/roster.ods", format: "ods",
			want: []want{
				{section: "sheet:職員名簿", table: true, exact: strings.Join(rosterRows, "\n")},
				{section: "sheet:集計", table: true, exact: "課名\t人数\n総務課\t6\n市民課\t4\n\t\t離れたセル"},
				{section: "sheet:ゼロ埋め", table: true, exact: "番号（先頭ゼロ）\t012345678903"},
				{section: "header", has: []string{"名簿ヘッダー 取扱注意"}},
				{section: "footer", has: []string{"名簿フッター 若葉市"}},
				{section: "comments", has: []string{"セルのコメント 要確認"}},
			},
			not: []string{"E+11"},
		},
		{
			file: "office/slides.pptx", format: "pptx",
			want: []want{
				{section: "slide:1", has: []string{"説明会資料 スライド一", "担当者の個人番号 479666972515"}},
				{section: "notes:1", has: []string{"発表者ノート 327346468695 は読み上げない"}},
				{section: "slide:2", has: []string{"スライド二 まとめ"}},
				{section: "comments", has: []string{"スライドのコメント 部外秘"}},
				// A text box on the slide master shows on every slide;
				// the master's prompt placeholders are left out.
				{section: "masters", has: []string{"マスターの文字 社外秘"}},
			},
			not: []string{"Click to edit"},
		},
		{
			file: "office/chart.docx", format: "docx",
			want: []want{
				{section: "body", has: []string{"グラフ付きの文書です。"}},
				// The chart's cached data: what it was drawn from.
				{section: "charts", has: []string{"職員別の番号", "304011980367", "494205552661"}},
			},
		},
		{
			file: "office/chart.odt", format: "odt",
			want: []want{
				{section: "body", has: []string{"グラフ付きの文書です。"}},
				{section: "embedded:Object 1/sheet:local-table", table: true, has: []string{"グラフの値", "304011980367", "494205552661"}},
			},
		},
		{
			file: "office/drawing.odg", format: "odg",
			want: []want{
				{section: "page:1", has: []string{"配置図 担当 771516204660", "図形の文字 部外秘"}},
			},
		},
		{
			file: "office/slides.odp", format: "odp",
			want: []want{
				{section: "slide:1", has: []string{"説明会資料 スライド一", "担当者の個人番号 479666972515"}},
				{section: "notes:1", has: []string{"発表者ノート 327346468695 は読み上げない"}},
				{section: "slide:2", has: []string{"スライド二 まとめ"}},
				{section: "comments", has: []string{"スライドのコメント 部外秘"}},
				{section: "masters", has: []string{"マスターの文字 社外秘"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			d, err := extractFile(t, tt.file, -1, 0)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if d.Format != tt.format {
				t.Errorf("Format = %q, want %q", d.Format, tt.format)
			}
			if d.Truncated {
				t.Error("Truncated without a limit")
			}
			for _, w := range tt.want {
				if w.exact != "" {
					got, ok := tableSection(d, w.section)
					if !ok {
						t.Errorf("no Table section %q in %v", w.section, names(d))
					} else if got != w.exact {
						t.Errorf("section %q =\n%s\nwant\n%s", w.section, got, w.exact)
					}
					continue
				}
				got, ok, table := section(d, w.section)
				if !ok {
					t.Errorf("no section %q in %v", w.section, names(d))
					continue
				}
				if w.table && !table {
					t.Errorf("section %q is not a table", w.section)
				}
				for _, h := range w.has {
					if !strings.Contains(got, h) {
						t.Errorf("section %q lacks %q:\n%s", w.section, h, got)
					}
				}
			}
			for _, s := range d.Sections {
				if !utf8.ValidString(s.Text) {
					t.Errorf("section %q is not valid UTF-8", s.Name)
				}
				for _, n := range tt.not {
					if strings.Contains(s.Text, n) {
						t.Errorf("section %q has %q", s.Name, n)
					}
				}
				if s.Table {
					// Every row of the roster has its six fields.
					if s.Name == "sheet:職員名簿" {
						for _, row := range strings.Split(s.Text, "\n") {
							if n := strings.Count(row, "\t"); n != 5 {
								t.Errorf("row %q has %d tabs, want 5", row, n)
							}
						}
					}
				}
			}
		})
	}
}

func names(d *Doc) []string {
	var out []string
	for _, s := range d.Sections {
		out = append(out, s.Name)
	}
	return out
}

func TestExtractNotOffice(t *testing.T) {
	for _, f := range []string{
		"archive/plain.zip",       // an ordinary zip
		"archive/stored-xlsx.zip", // a zip holding an xlsx is an archive (mimetype #72/#400)
		"archive/nested.zip",
		"archive/plain.tar",
		"office/legacy.doc",
		"office/document-encrypted.docx", // OLE, not ZIP: see IsEncryptedOLE
	} {
		t.Run(f, func(t *testing.T) {
			d, err := extractFile(t, f, -1, 0)
			if !errors.Is(err, ErrNotOffice) {
				t.Fatalf("Extract = %v, %v; want ErrNotOffice", d, err)
			}
		})
	}
}

func TestExtractEncryptedODF(t *testing.T) {
	_, err := extractFile(t, "office/document-encrypted.odt", -1, 0)
	if !errors.Is(err, ErrEncrypted) {
		t.Fatalf("Extract(document-encrypted.odt) error = %v, want ErrEncrypted", err)
	}
}

func TestIsEncryptedOLE(t *testing.T) {
	for _, tt := range []struct {
		file string
		want bool
	}{
		{"office/document-encrypted.docx", true},
		{"office/roster-encrypted.xlsx", true},
		{"office/legacy.doc", false}, // OLE, but a plain Word 97 file
		{"office/document.docx", false},
		{"office/document-encrypted.odt", false}, // a ZIP
		{"archive/plain.7z", false},
	} {
		b := load(t, tt.file)
		if got := IsEncryptedOLE(bytes.NewReader(b), int64(len(b))); got != tt.want {
			t.Errorf("IsEncryptedOLE(%s) = %v, want %v", tt.file, got, tt.want)
		}
	}
}

// TestIsEncryptedOLECycle points the directory chain at itself: the walk
// must end, and still find the names in the one sector.
func TestIsEncryptedOLECycle(t *testing.T) {
	b := load(t, "office/document-encrypted.docx")
	c := bytes.Clone(b)
	dir := le32(c[48:])
	fat0 := le32(c[76:])
	off := (int(fat0)+1)*512 + 4*int(dir)
	putLE32(c[off:], dir) // FAT[dir] = dir
	if !IsEncryptedOLE(bytes.NewReader(c), int64(len(c))) {
		t.Error("cyclic chain: names in the first directory sector were not found")
	}
	// A DIFAT chain pointing at itself, with a huge declared FAT.
	c = bytes.Clone(b)
	putLE32(c[44:], 1<<30)
	putLE32(c[68:], 0)
	putLE32(c[72:], 1<<30)
	IsEncryptedOLE(bytes.NewReader(c), int64(len(c))) // must return
	// Truncated files.
	for _, n := range []int{0, 8, 511, 512, 1024, len(b) / 2} {
		if IsEncryptedOLE(bytes.NewReader(b[:n]), int64(n)) && n < 1024 {
			t.Errorf("IsEncryptedOLE(first %d bytes) = true", n)
		}
	}
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func TestExtractTruncated(t *testing.T) {
	for _, f := range []string{"office/roster.xlsx", "office/document.docx", "office/roster.ods", "office/slides.pptx"} {
		full, err := extractFile(t, f, -1, 0)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, s := range full.Sections {
			total += len(s.Text)
		}
		const limit = 100
		d, err := extractFile(t, f, limit, 0)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !d.Truncated {
			t.Errorf("%s: Truncated = false at %d of %d bytes", f, limit, total)
		}
		n := 0
		for _, s := range d.Sections {
			n += len(s.Text)
			if !utf8.ValidString(s.Text) {
				t.Errorf("%s: truncated text is not valid UTF-8", f)
			}
		}
		if n > limit || n == 0 {
			t.Errorf("%s: %d bytes of text with limit %d", f, n, limit)
		}
	}
}

func TestExtractEntryLimit(t *testing.T) {
	// roster.xlsx: [Content_Types].xml (1.9 KB) passes a 5000-byte limit,
	// styles.xml and sheet1.xml (5.6 KB) do not.
	d, err := extractFile(t, "office/roster.xlsx", -1, 5000)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("error = %v, want ErrLimit", err)
	}
	if d == nil {
		t.Fatal("no partial Doc with ErrLimit")
	}
}

// TestExtractBomb: a DOCX whose document.xml inflates 1000s of times.
func TestExtractBomb(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name, body string) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	add("[Content_Types].xml", `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`)
	w, _ := zw.Create("word/document.xml")
	w.Write([]byte(`<w:document xmlns:w="x"><w:body><w:p><w:r><w:t>`))
	w.Write(bytes.Repeat([]byte(" "), 30<<20))
	w.Write([]byte(`</w:t></w:r></w:p></w:body></w:document>`))
	zw.Close()
	_, err := Extract(bytes.NewReader(buf.Bytes()), int64(buf.Len()), -1, 64<<20)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("bomb: error = %v, want ErrLimit", err)
	}
	// The same under a small entry limit is refused by size.
	_, err = Extract(bytes.NewReader(buf.Bytes()), int64(buf.Len()), -1, 1<<20)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("bomb, 1 MiB limit: error = %v, want ErrLimit", err)
	}
}

func TestFormatNumber(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"123456789018", "123456789018"},
		{"1.23456789018E+11", "123456789018"},
		{"1.76749365367E11", "176749365367"},
		{"6", "6"},
		{"-42", "-42"},
		{"0.1", "0.1"},
		{"0.30000000000000004", "0.3"},
		{"3.14159", "3.14159"},
		{"1E+25", "1E+25"},
		{"abc", "abc"},
		{" 12 ", "12"},
	} {
		if got := formatNumber(tt.in); got != tt.want {
			t.Errorf("formatNumber(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExcelDate(t *testing.T) {
	for _, tt := range []struct {
		in       string
		date1904 bool
		want     string
	}{
		{"29312", false, "1980/04/01"},
		{"36585", false, "2000/02/29"},
		{"1", false, "1900/01/01"},
		{"59", false, "1900/02/28"},
		{"61", false, "1900/03/01"},
		{"0.5", false, "12:00:00"},
		{"45383.75", false, "2024/04/01 18:00:00"},
		{"0", true, "1904/01/01"},
	} {
		got, ok := excelDate(tt.in, tt.date1904)
		if !ok || got != tt.want {
			t.Errorf("excelDate(%q, %v) = %q, %v; want %q", tt.in, tt.date1904, got, ok, tt.want)
		}
	}
	if _, ok := excelDate("-1", false); ok {
		t.Error("negative serial accepted")
	}
}

func TestIsDateFormat(t *testing.T) {
	for _, tt := range []struct {
		code string
		want bool
	}{
		{"yyyy/mm/dd", true},
		{`yyyy"年"m"月"d"日"`, true},
		{"[$-411]ggge\"年\"m\"月\"d\"日\"", true},
		{"h:mm", true},
		{"General", false},
		{"0", false},
		{"#,##0", false},
		{`0"個"`, false},
		{"[Red]0.00", false},
		{"0.00E+00", false},
	} {
		if got := isDateFormat(tt.code); got != tt.want {
			t.Errorf("isDateFormat(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestColIndex(t *testing.T) {
	for ref, want := range map[string]int{"A1": 0, "C5": 2, "Z9": 25, "AA1": 26, "XFD1048576": 16383, "b2": 1} {
		if got, ok := colIndex(ref); !ok || got != want {
			t.Errorf("colIndex(%q) = %d, %v; want %d", ref, got, ok, want)
		}
	}
	for _, ref := range []string{"", "12", "ZZZZZZZZ1"} {
		if _, ok := colIndex(ref); ok {
			t.Errorf("colIndex(%q) accepted", ref)
		}
	}
}

func TestHeaderFooterText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`&C&"MS Gothic,Regular"&12名簿&Rページ &P / &N`, "名簿 ページ /"},
		{"&L機密性2&C&KFF0000取扱注意", "機密性2 取扱注意"},
		{"A && B", "A & B"},
		{"&", "&"},
	} {
		if got := headerFooterText(tt.in); got != tt.want {
			t.Errorf("headerFooterText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSmallDocs checks the details that the generated files do not show:
// phonetic guides, cells without references, booleans, formulas, nested
// tables, merged cells, mc:Fallback, repeated ODS cells and rows.
func TestSmallDocs(t *testing.T) {
	seeds := fuzzSeeds()
	for _, tt := range []struct {
		seed          int
		format        string
		section, want string
	}{
		{0, "docx", "body", "個人番号\t123456789018"},
		// gridSpan 2 keeps the next cell (holding a nested table) in
		// column 3; mc:Fallback is not read twice.
		{0, "docx", "body table", "a\t\tn"},
		{0, "docx", "body", "c"},
		{0, "docx", "header", "機密性2"},
		{1, "xlsx", "sheet:名簿 table", "氏名\t\t山田太郎\n123456789018\t1980/04/01\tx\tTRUE\t2"},
		{1, "xlsx", "headerfooter:名簿", "秘"},
		{2, "pptx", "slide:1", "スライド"},
		{2, "pptx", "notes:1", "ノート"},
		// Repeated cells and rows are written (bounded); the trailing
		// 1000 empty cells are not.
		{3, "ods", "sheet:S table", "123456789018\t123456789018\t123456789018\t\t\t1980/04/01\tx   y\n123456789018\t123456789018\t123456789018\t\t\t1980/04/01\tx   y"},
		{3, "ods", "comments", "注"},
		{3, "ods", "header", "ヘッダー"},
		{4, "odt", "body", "本文\t\n脚注"},
	} {
		b := seeds[tt.seed]
		d, err := Extract(bytes.NewReader(b), int64(len(b)), -1, 0)
		if err != nil {
			t.Errorf("seed %d: %v", tt.seed, err)
			continue
		}
		if d.Format != tt.format {
			t.Errorf("seed %d: format %q, want %q", tt.seed, d.Format, tt.format)
		}
		name, table := strings.CutSuffix(tt.section, " table")
		found := false
		for _, s := range d.Sections {
			found = found || (s.Name == name && s.Table == table && s.Text == tt.want)
		}
		if !found {
			t.Errorf("seed %d: no section %q = %q in %+v", tt.seed, tt.section, tt.want, d.Sections)
		}
	}
}

// withMembers returns the ZIP in base with members added or replaced.
func withMembers(t *testing.T, base []byte, add map[string][]byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(base), int64(len(base)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		if _, ok := add[f.Name]; ok {
			continue
		}
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range add {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	zw.Close()
	return buf.Bytes()
}

// TestEmbedded: documents inside documents (an xlsx in a docx, as Word
// keeps it under word/embeddings) are read; other objects are reported.
func TestEmbedded(t *testing.T) {
	docx := load(t, "office/document.docx")
	roster := load(t, "office/roster.xlsx")
	const xl = "word/embeddings/Microsoft_Excel_Worksheet.xlsx"

	b := withMembers(t, docx, map[string][]byte{xl: roster})
	d, err := Extract(bytes.NewReader(b), int64(len(b)), -1, 0)
	if err != nil {
		t.Fatalf("docx with an embedded xlsx: %v", err)
	}
	got, ok := tableSection(d, "embedded:"+xl+"/sheet:職員名簿")
	if !ok || got != strings.Join(rosterRows, "\n") {
		t.Errorf("embedded sheet = %q, %v; sections %v", got, ok, names(d))
	}
	if s, _, _ := section(d, "body"); !strings.Contains(s, "特定個人情報の提出について") {
		t.Error("the document's own text is missing")
	}

	for _, tc := range []struct {
		member string
		data   []byte
		why    string
	}{
		{"word/embeddings/oleObject1.bin", load(t, "office/legacy.doc"), "OLE object"},
		{"word/embeddings/Microsoft_Excel_Worksheet2.xlsx", load(t, "office/roster-encrypted.xlsx"), "password-protected"},
		{"word/embeddings/package.zip", load(t, "archive/plain.zip"), "not an office document"},
	} {
		b := withMembers(t, docx, map[string][]byte{tc.member: tc.data})
		d, err := Extract(bytes.NewReader(b), int64(len(b)), -1, 0)
		if !errors.Is(err, ErrUnreadEmbedded) {
			t.Errorf("%s: error %v, want ErrUnreadEmbedded", tc.member, err)
			continue
		}
		if len(d.Unread) != 1 || !strings.HasPrefix(d.Unread[0], tc.member+": ") || !strings.Contains(d.Unread[0], tc.why) {
			t.Errorf("%s: Unread = %q", tc.member, d.Unread)
		}
		if s, _, _ := section(d, "comments"); !strings.Contains(s, "398259791905") {
			t.Errorf("%s: the document's own text is missing", tc.member)
		}
	}

	// Nesting is bounded: a docx in a docx in … stops at maxEmbedDepth.
	nested := docx
	for i := 0; i < maxEmbedDepth+2; i++ {
		nested = withMembers(t, docx, map[string][]byte{"word/embeddings/doc.docx": nested})
	}
	d, err = Extract(bytes.NewReader(nested), int64(len(nested)), -1, 0)
	if !errors.Is(err, ErrUnreadEmbedded) || len(d.Unread) != 1 || !strings.Contains(d.Unread[0], "too deep") {
		t.Errorf("deep nesting: %v, Unread %q", err, d.Unread)
	}
}

// TestAltChunk: Word shows an altChunk part (here HTML) as document text.
func TestAltChunk(t *testing.T) {
	docx := load(t, "office/document.docx")
	zr, _ := zip.NewReader(bytes.NewReader(docx), int64(len(docx)))
	var rels []byte
	for _, f := range zr.File {
		if f.Name == "word/_rels/document.xml.rels" {
			rc, _ := f.Open()
			rels, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	if rels == nil {
		t.Fatal("no document.xml.rels")
	}
	rels = bytes.Replace(rels, []byte("</Relationships>"), []byte(`<Relationship Id="rIdAlt" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/aFChunk" Target="afchunk.htm"/></Relationships>`), 1)
	page := []byte("<html><head><style>p{}</style></head><body><p>取り込まれたHTML</p><table><tr><td>山田太郎</td><td>176749365367</td></tr></table><img alt=\"極秘\"></body></html>")
	b := withMembers(t, docx, map[string][]byte{"word/_rels/document.xml.rels": rels, "word/afchunk.htm": page})
	d, err := Extract(bytes.NewReader(b), int64(len(b)), -1, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, _ := section(d, "embedded:word/afchunk.htm")
	for _, want := range []string{"取り込まれたHTML", "山田太郎\t176749365367", "極秘"} {
		if !ok || !strings.Contains(got, want) {
			t.Errorf("altChunk text %q lacks %q (sections %v)", got, want, names(d))
		}
	}
	if strings.Contains(got, "p{}") {
		t.Error("style text read as content")
	}
}

// TestExtractNoRoom: maxText 0 (the message's text budget is spent) reads
// nothing and says so.
func TestExtractNoRoom(t *testing.T) {
	d, err := extractFile(t, "office/roster.xlsx", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Truncated || len(d.Sections) != 0 {
		t.Errorf("Truncated = %v with %d sections, want true and none", d.Truncated, len(d.Sections))
	}
}
