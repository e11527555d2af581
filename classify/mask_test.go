package classify

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMask(t *testing.T) {
	cases := []struct{ in, want string }{
		{"個人番号 123456789018 です", "個人番号 ********9018 です"},
		{"1234 5678 9018", "**** **** 9018"},
		{"１２３４　５６７８　９０１８", "****　****　９０１８"},
		{"1234−5678−9018", "****−****−9018"},
		{"1234\u200b5678\u200b9018", "****\u200b****\u200b9018"},
		{"カード 4111-1111-1111-1111", "カード ****-****-****-1111"},
		{"年金 1234-567890", "年金 ****-**7890"},
		{"〒190-8666", "〒***-8666"}, // seven digits: masked too
		{"電話 03-1234-5678", "電話 **-****-5678"},
		// Dates: the year only, whatever the form (one way with the
		// birth_date samples, 1980-**-**).
		{"2026年11月25日 会議は 3 件", "2026年**月**日 会議は 3 件"},
		{"生年月日 1980-01-10", "生年月日 1980-**-**"},
		{"生年月日 1980/1/10", "生年月日 1980/*/**"},
		{"生年月日 １９８０年１月１０日", "生年月日 １９８０年*月**日"},
		{"生年月日 昭和55年1月10日", "生年月日 昭和55年*月**日"},
		{"生年月日 S55.1.10", "生年月日 S55.*.**"},
		{"生年月日 19800110", "生年月日 1980****"},
		{"口座 12345678", "口座 ****5678"},         // not a date (month 56)
		{"1980-01-10-1234", "****-**-**-1234"}, // a longer number, not a date
		{"55年1月10日", "55年1月10日"},               // two-digit year without an era: no date
		{"2026-11-25T10:00", "2026-**-**T10:00"},
		{"旅券 TK1234567", "旅券 TK***4567"},
		{"short 123456", "short 123456"},
		{"a-1234567", "a-***4567"},
		{"12   34567890", "12   ****7890"}, // three spaces break the run
		{"", ""},
	}
	for _, c := range cases {
		got := MaskText(c.in)
		if got != c.want {
			t.Errorf("MaskText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMaskLoose(t *testing.T) {
	cases := []struct{ in, want string }{
		{`"content_sha256":"0b4ce92bf4431457e03f0d2ed9ba1234567"`, `"content_sha256":"0b4ce92bf4431457e03f0d2ed9ba1234567"`},
		{"2026-11-25T23:55:01.123456789Z", "2026-11-25T23:55:01.123456789Z"},
		{`"reason":"番号 123456789018 のため"`, `"reason":"番号 ********9018 のため"`},
		{"TK1234567", "TK1234567"},
	}
	for _, c := range cases {
		if got := MaskTextLoose(c.in); got != c.want {
			t.Errorf("MaskTextLoose(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// maskedOK: no number-like run in s has seven digits or more.
func maskedOK(s string) bool {
	b := []byte(s)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if !isDigit(r) {
			i += n
			continue
		}
		end, digits := runEnd(b, i)
		if digits >= maskMinDigits {
			return false
		}
		i = end
	}
	return true
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"123456789018", "１２３４　５６７８　９０１８", "4111-1111-1111-1111", "a\xff1234567", "12--34--56--78",
		"1980-01-10", "1980/1/10", "昭和55年1月10日", "S55.1.10", "19800110", "2026-11-25T10:00", "1980年13月40日", "㍼55年1月10日"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := MaskText(s)
		if !maskedOK(m) {
			t.Fatalf("MaskText(%q) = %q still has a long number", s, m)
		}
		if MaskText(m) != m {
			t.Fatalf("Mask is not idempotent on %q", s)
		}
		if utf8.ValidString(s) && utf8.RuneCountInString(m) != utf8.RuneCountInString(s) {
			t.Fatalf("Mask changed the length of %q: %q", s, m)
		}
		if strings.Count(m, "*") < strings.Count(s, "*") {
			t.Fatal("lost characters")
		}
	})
}

// FuzzMaskRecords: whatever the text, a personal list's rows keep their
// line count and show no digit and no letter of any field (only the
// separators, ＊＊＊ and the one heading line).
func FuzzMaskRecords(f *testing.F) {
	for _, s := range []string{"氏名\t住所\n山田太郎\t立川市1-2\n", "a,b\n1,2\r\n", "山田 太郎 042-523-2111\n", "\n\n", "x\xff\t\xfe\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := MaskRecords(s)
		if strings.Count(m, "\n") != strings.Count(s, "\n") {
			t.Fatalf("line count changed: %q → %q", s, m)
		}
		heading := true
		for _, line := range strings.Split(m, "\n") {
			rest := strings.NewReplacer(recordMask, "", "\r", "").Replace(line)
			rest = strings.Map(func(r rune) rune {
				if isFieldSep(r) {
					return -1
				}
				return r
			}, rest)
			if rest == "" {
				continue
			}
			if heading && !strings.ContainsFunc(line, isDigit) {
				heading = false // the one heading line may show
				continue
			}
			t.Fatalf("a row shows %q: %q → %q", rest, s, m)
		}
	})
}

// BenchmarkMaskText: masking the text pane's bound (256 KiB) of mixed
// Japanese text with numbers and dates.
func BenchmarkMaskText(b *testing.B) {
	line := "個人番号 1234 5678 9018、生年月日 昭和55年1月10日、電話 03-1234-5678、会議は 2026年11月25日 10:00 から 3 件。\n"
	text := strings.Repeat(line, (256<<10)/len(line))
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		MaskText(text)
	}
}
