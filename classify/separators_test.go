package classify

import (
	"testing"
	"unicode"

	"dlpguard/inspect"
)

// controlSeparators are the separators issue 17 found passing: what a
// spreadsheet paste (TAB) or a crafted message puts between the groups.
var controlSeparators = []struct{ name, sep string }{
	{"TAB", "\t"}, {"NUL", "\x00"}, {"VT", "\v"}, {"FF", "\f"}, {"ESC", "\x1b"}, {"DEL", "\x7f"},
	{"CR", "\r"}, {"LF", "\n"}, {"CRLF", "\r\n"}, {"NEL", "\u0085"}, {"C1 CSI", "\u009b"},
	{"line separator", "\u2028"}, {"paragraph separator", "\u2029"},
}

// TestControlSeparators: every whitespace and control character between
// the groups of a My Number (Cc, Zs, Zl, Zp, Cf) is a separator, with and
// without a keyword; one separator between groups, as for spaces
// (bounded), and the check digit still decides.
func TestControlSeparators(t *testing.T) {
	c := mustNew(t, Config{})
	fast, ref := diffClassifiers(t, Config{})
	find := func(text string) *Finding {
		t.Helper()
		// the shortcuts and the reference path agree at every cut
		for k := 0; k <= len(text); k++ {
			diffOne(t, fast, ref, "separators", text, []int{k}, false)
		}
		return c.ScanText("body", inspect.KindBody, text).Find(MyNumber)
	}
	for _, tc := range controlSeparators {
		t.Run(tc.name, func(t *testing.T) {
			grouped := "1234" + tc.sep + "5678" + tc.sep + "9018"
			// with context: held as high (the policy rejects it)
			if f := find("個人番号 " + grouped); f == nil || f.Confidence != High {
				t.Errorf("with keyword: %+v, want high", f)
			}
			if f := find("マイナンバー：" + grouped + "\n"); f == nil || f.Confidence != High {
				t.Errorf("with keyword, line end: %+v, want high", f)
			}
			// without: medium (held for review). Three cells or lines of
			// four digits are context only with a keyword or a column.
			if f := find("資料 " + grouped + " です"); f == nil || f.Confidence != Medium {
				t.Errorf("without keyword: %+v, want medium", f)
			}
			// full-width digits, as typed in a Japanese form
			if f := find("個人番号 " + toFullWidthDigits(grouped)); f == nil || f.Confidence != High {
				t.Errorf("full width: %+v, want high", f)
			}
			// the check digit still decides
			if f := find("個人番号 1234" + tc.sep + "5678" + tc.sep + "9019"); f != nil {
				t.Errorf("bad check digit found: %+v", f)
			}
			// bounded: two separators in a row end the number
			if f := find("個人番号 1234" + tc.sep + tc.sep + "5678" + tc.sep + tc.sep + "9018"); f != nil && tc.sep != "\r\n" && tc.sep != "\r" {
				t.Errorf("doubled separator joined: %+v", f)
			}
		})
	}
	// every code point of the categories, between the groups
	for _, cat := range []struct {
		name string
		tab  *unicode.RangeTable
	}{{"Cc", unicode.Cc}, {"Zs", unicode.Zs}, {"Zl", unicode.Zl}, {"Zp", unicode.Zp}, {"Cf", unicode.Cf}} {
		n := 0
		for _, rg := range cat.tab.R16 {
			for r := rune(rg.Lo); r <= rune(rg.Hi); r += rune(rg.Stride) {
				n += checkSep(t, c, cat.name, r)
			}
		}
		for _, rg := range cat.tab.R32 {
			for r := rune(rg.Lo); r <= rune(rg.Hi); r += rune(rg.Stride) {
				n += checkSep(t, c, cat.name, r)
			}
		}
		if n == 0 {
			t.Errorf("%s: no code point checked", cat.name)
		}
	}
}

func checkSep(t *testing.T, c *Classifier, cat string, r rune) int {
	t.Helper()
	if r == '-' || r == '.' || r == ' ' {
		return 0
	}
	s := string(r)
	text := "個人番号 1234" + s + "5678" + s + "9018"
	if f := c.ScanText("body", inspect.KindBody, text).Find(MyNumber); f == nil || f.Confidence != High {
		t.Errorf("%s %U with keyword: %+v, want high", cat, r, f)
	}
	if f := c.ScanText("body", inspect.KindBody, "資料 1234"+s+"5678"+s+"9018 です").Find(MyNumber); f == nil {
		t.Errorf("%s %U without keyword: not found", cat, r)
	}
	return 1
}

// TestSeparatorRuns: TAB-separated rows (a spreadsheet pasted into a
// mail) keep finding the number in its cell however many numeric cells
// come before it; a run too long for one number is judged in parts, for
// spaces as for TABs. Controls and line breaks join at most three groups
// on their way to a known grouping (4-4-4, 4-6-5, 4-6-4).
func TestSeparatorRuns(t *testing.T) {
	c := mustNew(t, Config{})
	for _, tt := range []struct {
		text  string
		table bool
		conf  Confidence // "" = none
	}{
		{"個人番号\t1\t2\t3\t4\t5\t6\t7\t8\t9\t123456789018", false, High},
		{"個人番号 1 2 3 4 5 6 7 8 9 123456789018", false, High},
		{"個人番号\t2026\t100000\t200000\t300000\t123456789018\t50000", false, High},
		{"氏名\t年\t金額\t個人番号\n山田\t2026\t150000\t123456789018\n", true, High},
		{"氏名\t個人番号\n山田\t1234\t5678\t9018\n佐藤\t2222\t3333\t4444\n", true, High},
		{"1234\t5678\t9018\n2345\t1111\t3333\n", false, Medium},
		{"年\t件数\t金額\n2026\t1500\t3000\n", true, ""}, // check digit fails: no number
		{"個人番号 1234\t5678\n9018", false, High},
		{"個人番号 1234 5678\t9018", false, High},
		// a number typed one group a line, then more 4-digit lines
		{"個人番号\n1234\n5678\n9018\n2345\n6789\n", false, High},
		// a row number cell, then a number cell: no join
		{"個人番号\n1\t123456789018\n2\t2345\n", false, High},
		// the next cell or line glued to a word: only that part is
		// dropped (3F, 5kg)
		{"個人番号 123456789018\n3F 会議室", false, High},
		{"個人番号 123456789018\t5kg", false, High},
		{"個人番号 123456789018 5kg", false, High},
		{"個人番号 1234 5678 9018x", false, ""},
		// a comma-grouped number after a number cell
		{"No\t個人番号\n1\t123,456,789,018\n", true, High},
		{"個人番号 1\t123,456,789,018", false, High},
	} {
		s := c.NewScanner()
		s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Table: tt.table, Text: tt.text})
		f := s.Report().Find(MyNumber)
		switch {
		case tt.conf == "" && f != nil:
			t.Errorf("%q: found %+v", tt.text, f)
		case tt.conf != "" && (f == nil || f.Confidence != tt.conf):
			t.Errorf("%q: %+v, want %s", tt.text, f, tt.conf)
		}
	}
}

// TestDateAfterNumberCell: a date in the cell after a number cell (a row
// number, an age) is found: a run over a TAB or line break may hold a
// date at any group.
func TestDateAfterNumberCell(t *testing.T) {
	c := mustNew(t, Config{})
	for _, tt := range []struct {
		text  string
		table bool
	}{
		{"No\t生年月日\n1\t1985/04/01\n", true},
		{"生年月日 1\t1985/04/01", false},
		{"生年月日 12 1985/04/01", false},
		{"生年月日\n42\n1985/04/01\n", false},
	} {
		s := c.NewScanner()
		s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Table: tt.table, Text: tt.text})
		if f := s.Report().Find(BirthDate); f == nil {
			t.Errorf("%q: no birth_date", tt.text)
		}
	}
}

// TestFullWidthNextToFullWidth: issue 17 item 6, found by FuzzScanner
// (seed testdata/fuzz/FuzzScanner/fullwidth_extension): a full-width
// number followed by text the fold makes an extension is found as its
// half-width form is.
func TestFullWidthNextToFullWidth(t *testing.T) {
	c := mustNew(t, Config{})
	for _, tt := range []struct{ full, half string }{
		{"個人番号 １２３４５６７８９０１８.A０", "個人番号 123456789018.A0"},
		{"個人番号 １２３４５６７８９０１８．ＰＤＦ", "個人番号 123456789018.PDF"},
		{"個人番号 １２３４５６７８９０１８.pdf", "個人番号 123456789018.pdf"},
		{"山田_１２３４５６７８９０１８.ｐｄｆ", "山田_123456789018.pdf"},
	} {
		h := c.ScanText("body", inspect.KindBody, tt.half).Find(MyNumber)
		f := c.ScanText("body", inspect.KindBody, tt.full).Find(MyNumber)
		if h == nil || f == nil || f.Confidence != h.Confidence {
			t.Errorf("%q: %+v; half width %q: %+v", tt.full, f, tt.half, h)
		}
	}
	for _, text := range []string{"１２３４５６７８９０１８.example.com", "https://example.jp/１２３４５６７８９０１８.ｐｄｆ"} {
		if f := c.ScanText("body", inspect.KindBody, text).Find(MyNumber); f != nil {
			t.Errorf("%q: found %+v", text, f)
		}
	}
}
