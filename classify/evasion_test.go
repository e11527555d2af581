package classify

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"dlpguard/inspect"
)

// TestEvasionFolding: invisible format characters, exotic spaces and other
// scripts' digits between or instead of the digits of a My Number do not
// hide it (red team, detectors.md §10.2).
func TestEvasionFolding(t *testing.T) {
	c := mustNew(t, Config{})
	v := "123456789018"
	each := func(sep string) string { return strings.Join(strings.Split(v, ""), sep) }
	digits := func(zero rune) string {
		var b strings.Builder
		for _, r := range v {
			b.WriteRune(zero + r - '0')
		}
		return b.String()
	}
	tests := []struct{ name, text string }{
		{"soft hyphen", "個人番号 " + each("\u00ad")},
		{"zero width space", "個人番号 " + each("\u200b")},
		{"word joiner", "個人番号 " + each("\u2060")},
		{"bidi controls", "個人番号 \u202e" + v + "\u202c"},
		{"thin space groups", "資料 1234\u20095678\u20099018"},
		{"narrow no-break space groups", "資料 1234\u202f5678\u202f9018"},
		{"figure space groups", "資料 1234\u20075678\u20079018"},
		{"arabic-indic", "個人番号 " + digits(0x0660)},
		{"extended arabic-indic", "個人番号 " + digits(0x06F0)},
		{"devanagari", "個人番号 " + digits(0x0966)},
		{"mathematical bold", "個人番号 " + digits(0x1D7CE)},
		{"mathematical monospace", "個人番号 " + digits(0x1D7F6)},
		{"keycaps", "個人番号 " + each("\ufe0f\u20e3") + "\ufe0f\u20e3"},
		{"circled digits", "個人番号 ①②③④⑤⑥⑦⑧⑨⓪①⑧"},
		{"superscript digits", "個人番号 ¹²³⁴⁵⁶⁷⁸⁹⁰¹⁸"},
		{"spaced dashes", "資料 1234 - 5678 - 9018"},
		{"list marker before", "個人番号 ①123456789018"},
		{"dash then space", "資料 1234- 5678- 9018"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := c.ScanText("body", inspect.KindBody, tt.text).Find(MyNumber)
			if f == nil || f.Count != 1 || f.Confidence != High {
				t.Fatalf("%q: %+v, want one high my_number", tt.text, f)
			}
		})
	}
	// Folding must not make digits out of what is no number.
	for _, text := range []string{"個人番号の提出について（ご案内）", "①申請書 ②住民票 ③本人確認書類",
		"個人番号 1234 - 5678 - 9019", "ｈｔｔｐｓ：／／例え．ｊｐ", "\u00adソフト\u2009ハイフン"} {
		if f := c.ScanText("body", inspect.KindBody, text).Find(MyNumber); f != nil {
			t.Errorf("%q: my_number found: %+v", text, f)
		}
	}
}

// TestDigitValue checks the Nd table assumption of digitValue: every Nd
// range is whole sets of ten starting at a zero.
func TestDigitValue(t *testing.T) {
	for _, rg := range unicode.Nd.R16 {
		if rg.Stride != 1 || (rg.Hi-rg.Lo+1)%10 != 0 {
			t.Errorf("Nd range %U-%U stride %d is not sets of ten", rg.Lo, rg.Hi, rg.Stride)
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if rg.Stride != 1 || (rg.Hi-rg.Lo+1)%10 != 0 {
			t.Errorf("Nd range %U-%U stride %d is not sets of ten", rg.Lo, rg.Hi, rg.Stride)
		}
	}
	for r, want := range map[rune]int{'٣': 3, '۹': 9, '७': 7, '𝟎': 0, '𝟗': 9, '𝟭': 1} {
		if got := digitValue(r); got != want {
			t.Errorf("digitValue(%U) = %d, want %d", r, got, want)
		}
	}
}

// TestMyNumberFileNames: a number ended by a file extension is a number
// (山田_123456789018.pdf), except a scanner's time stamp.
func TestMyNumberFileNames(t *testing.T) {
	c := mustNew(t, Config{})
	for _, tt := range []struct {
		text  string
		found bool
	}{
		{"個人番号123456789018.txt", true},
		{"山田太郎_123456789018.pdf", true},
		{"個人番号 123456789018.pdf", true},
		{"202611251000.pdf", false},
		{"scan_202611251000.pdf", false},
		{"https://example.jp/files/123456789018.pdf", false},
		{"123456789018.example.com", false},
		{"123456789018.tar.gz", false},
	} {
		for _, k := range []inspect.Kind{inspect.KindFileName, inspect.KindBody} {
			f := c.ScanText("attachment:x", k, tt.text).Find(MyNumber)
			if (f != nil) != tt.found {
				t.Errorf("%s %q: found %v, want %v", k, tt.text, f != nil, tt.found)
			}
		}
	}
}

// TestCommaGrouped: Excel's comma style on a My Number column, exported
// to CSV, is a My Number with context; without context it is an amount.
func TestCommaGrouped(t *testing.T) {
	c := mustNew(t, Config{})
	for _, tt := range []struct {
		text  string
		found bool
	}{
		{"個人番号 123,456,789,018", true},
		{"個人番号 １２３,４５６,７８９,０１８", true},
		{"氏名,個人番号\n山田,\"123,456,789,018\"\n", true},
		{"総額 123,456,789,018 円", false},
		{"個人番号 1,123,456,789,018", false},
		{"個人番号 123,456,789,018,123", false},
		{"個人番号 123,456,789,019", false},
	} {
		for _, cut := range []int{0, len(tt.text) / 2, len(tt.text) - 3} {
			s := c.NewScanner()
			k := cut
			for k > 0 && k < len(tt.text) && !utf8.RuneStart(tt.text[k]) {
				k--
			}
			s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: tt.text[:k]})
			s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: tt.text[k:]})
			f := s.Report().Find(MyNumber)
			if (f != nil) != tt.found {
				t.Errorf("%q cut %d: found %v, want %v", tt.text, k, f != nil, tt.found)
			}
		}
	}
}

// BenchmarkFoldJapanese: the fold's slow path on Japanese prose with
// typographic quotes and ellipses (which start with the byte 0xE2).
func BenchmarkFoldJapanese(b *testing.B) {
	text := strings.Repeat("「個人番号」の“取扱い”について…市民課からお知らせします。①申請書 ②住民票\n", 2000)
	b.SetBytes(int64(len(text)))
	buf := make([]byte, 0, len(text))
	for i := 0; i < b.N; i++ {
		buf = appendFolded(buf[:0], text)
	}
}

// TestMarkupBoundaries: a tag around a number (raw XML, HTML source) and
// a "No." label are boundaries, not glue; a Message-ID stays glue.
func TestMarkupBoundaries(t *testing.T) {
	c := mustNew(t, Config{})
	for _, tt := range []struct {
		text  string
		found bool
	}{
		{"<MyNumber>123456789018</MyNumber>", true},
		{`<r><個人番号>123456789018</個人番号></r>`, true},
		{`<c r="B2"><v>123456789018</v></c>`, true},
		{"<123456789018@mail.example.jp>", false},
		{"マイナンバー No.123456789018", true},
		{"番号 NO.123456789018", true},
		{"v2.No.123456789018", false},
		{"ZNo.123456789018", false},
		{"<a@b>123456789018x", false},
		{"https://example.jp/<x>/123456789018/view", false},
	} {
		f := c.ScanText("attachment:a.xml", inspect.KindAttachment, tt.text).Find(MyNumber)
		if (f != nil) != tt.found {
			t.Errorf("%q: found %v, want %v", tt.text, f != nil, tt.found)
		}
	}
}
