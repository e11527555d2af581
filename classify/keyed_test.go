package classify

import (
	"strings"
	"testing"

	"dlpguard/inspect"
)

// TestKeyedMyNumber (issue 12): a My Number written as people fill in
// forms, right after a keyword or in a labelled field, in any grouping, is
// high (reject); the same digits without context stay out.
func TestKeyedMyNumber(t *testing.T) {
	c := mustNew(t, Config{})
	const v = "123456789018" // valid check digit
	spaced := func(sep string) string { return strings.Join(strings.Split(v, ""), sep) }
	tests := []struct {
		name  string
		text  string
		table bool
		want  Confidence // "" = not found
	}{
		{"one digit per space", "個人番号 " + spaced(" "), false, High},
		{"one digit per full-width space", "個人番号　" + strings.Join(strings.Split("１２３４５６７８９０１８", ""), "　"), false, High},
		{"full-width digits, half-width spaces", "マイナンバー：" + strings.Join(strings.Split("１２３４５６７８９０１８", ""), " "), false, High},
		{"3-3-3-3 dashes", "個人番号 123-456-789-018", false, High},
		{"3-3-3-3 spaces", "個人番号 123 456 789 018", false, High},
		{"2-4-4-2", "個人番号: 12-3456-7890-18", false, High},
		{"6-6", "個人番号 123456-789018", false, High},
		{"dots 3-3-3-3", "マイナンバー 123.456.789.018", false, High},
		{"dash with spaces", "個人番号 123 - 456 - 789 - 018", false, High},
		{"one digit per cell beside the label", "氏名\t山田太郎\n個人番号\t" + spaced("\t"), true, High},
		{"one digit per cell under the label", "個人番号\n" + spaced("\t"), true, High},
		{"digits across a line break in a cell", "個人番号\t123456\n789018", true, High},
		{"label with a digit count", "個人番号（12桁）：" + spaced(" "), false, High},
		// hard negatives
		{"no keyword, one digit per space", "結果 " + spaced(" "), false, ""},
		{"table of single digits", "回答\n" + spaced("\t") + "\n" + spaced("\t"), true, ""},
		{"no keyword 3-3-3-3", "お問い合わせは 123-456-789-018 まで", false, ""},
		{"keyword too far", "個人番号" + strings.Repeat("の確認について", 5) + " " + spaced(" "), false, ""},
		{"ticket label nearer", "個人番号の届出 受付番号 " + spaced(" "), false, ""},
		{"thirteen digits", "個人番号 " + spaced(" ") + " 7", false, ""},
		{"check digit wrong", "個人番号 1 2 3 4 5 6 7 8 9 0 1 9", false, ""},
		{"phone after keyword", "個人番号の件は 03-1234-5678 まで", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := c.NewScanner()
			s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Table: tt.table, Text: tt.text})
			rep := s.Report()
			assertMasked(t, rep, nil)
			wantFinding(t, rep, tt.text, MyNumber, tt.want)
		})
	}
}
