package classify

import (
	"strings"
	"testing"
	"unicode/utf8"

	"dlpguard/inspect"
)

func toFullWidthDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			r = r - '0' + '０'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// FuzzScanner: no panic on any input, split anywhere; the hot loop's
// shortcuts agree with the reference path; and a My Number found in
// half-width digits is found the same in full-width digits.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		"個人番号 123456789018", "1234-5678-9018 と 983205673214", "【秘】\n重要性Ⅱ", "氏名\t個人番号\n山田　太郎\t123456789018\n",
		"〒100-8914 東京都千代田区永田町一丁目7番1号 TEL 03-1234-5678", "生年月日 昭和60年4月1日", "a@example.com",
		"https://example.jp/123456789018", "注文番号 202610160001", "旅券 TK1234567", "クレジットカード 3528 8711 6989 3386",
	} {
		f.Add(s, uint16(3), false)
	}
	c, err := New(Config{Custom: []CustomDetector{{Name: "emp", Pattern: `EMP-[0-9]{4}`}}})
	if err != nil {
		f.Fatal(err)
	}
	ref, err := New(Config{Custom: []CustomDetector{{Name: "emp", Pattern: `EMP-[0-9]{4}`}}})
	if err != nil {
		f.Fatal(err)
	}
	ref.ref = true
	f.Fuzz(func(t *testing.T, text string, cut uint16, table bool) {
		if !utf8.ValidString(text) {
			text = strings.ToValidUTF8(text, "\uFFFD")
		}
		// the shortcuts change nothing (diff_test.go)
		diffOne(t, c, ref, "fuzz", text, []int{int(cut) % (len(text) + 1)}, table)
		scan := func(text string) Report {
			s := c.NewScanner()
			k := int(cut) % (len(text) + 1)
			for k > 0 && k < len(text) && !utf8.RuneStart(text[k]) {
				k--
			}
			s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Table: table, Text: text[:k]})
			s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Table: table, Text: text[k:]})
			return s.Report()
		}
		half := scan(text)
		full := scan(toFullWidthDigits(text))
		fh, ff := half.Find(MyNumber), full.Find(MyNumber)
		if fh != nil && (ff == nil || ff.Count != fh.Count) {
			t.Fatalf("half width %+v, full width %+v", fh, ff)
		}
		for _, rep := range []Report{half, full} {
			assertMasked(t, rep, nil)
			for _, fd := range rep.Findings {
				if fd.Count <= 0 || len(fd.Locations) == 0 {
					t.Fatalf("empty finding %+v", fd)
				}
			}
		}
	})
}
