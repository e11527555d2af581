package classify

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"unicode/utf8"

	"dlpguard/inspect"
)

// maskCase is one generated value of a detector as it appears in a text.
type maskCase struct {
	text  string // the message text
	shown string // the value as written in it
	date  bool   // a date: only its year may show
}

// luhnDigit completes s (digits) with its Luhn check digit.
func luhnDigit(s string) string {
	for d := byte('0'); d <= '9'; d++ {
		if ValidLuhn(s + string(d)) {
			return s + string(d)
		}
	}
	panic("no Luhn digit")
}

func digitsN(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rng.Intn(10))
	}
	return string(b)
}

func group(rng *rand.Rand, s string, sizes ...int) string {
	seps := []string{"", "-", " ", "－", "−"}
	sep := seps[rng.Intn(len(seps))]
	var parts []string
	for _, n := range sizes {
		parts = append(parts, s[:n])
		s = s[n:]
	}
	return strings.Join(parts, sep)
}

// maskGenerators make values of each detector kind in the forms staff
// meet, in a sentence that makes the detector report them.
var maskGenerators = map[string]func(rng *rand.Rand) maskCase{
	MyNumber: func(rng *rand.Rand) maskCase {
		v, _ := genMyNumbers(1, rng.Int63())
		s := group(rng, v[0], 4, 4, 4)
		if rng.Intn(3) == 0 {
			s = toFullWidthDigits(s)
		}
		return maskCase{text: "個人番号は " + s + " です。", shown: s}
	},
	CreditCard: func(rng *rand.Rand) maskCase {
		s := group(rng, luhnDigit("4"+digitsN(rng, 14)), 4, 4, 4, 4)
		return maskCase{text: "クレジットカード番号 " + s + " で決済", shown: s}
	},
	CorporateNumber: func(rng *rand.Rand) maskCase {
		rest := digitsN(rng, 12)
		for d := byte('1'); d <= '9'; d++ {
			if ValidCorporateNumber(string(d) + rest) {
				s := string(d) + rest
				return maskCase{text: "法人番号 " + s + " の事業者", shown: s}
			}
		}
		return maskCase{}
	},
	PhoneNumber: func(rng *rand.Rand) maskCase {
		s := "090-" + digitsN(rng, 4) + "-" + digitsN(rng, 4)
		return maskCase{text: "携帯電話 " + s + " まで", shown: s}
	},
	PostalCode: func(rng *rand.Rand) maskCase {
		s := "1" + digitsN(rng, 2) + "-" + digitsN(rng, 4)
		return maskCase{text: "住所 〒" + s + " 東京都立川市", shown: s}
	},
	PensionNumber: func(rng *rand.Rand) maskCase {
		s := digitsN(rng, 4) + "-" + digitsN(rng, 6)
		return maskCase{text: "基礎年金番号 " + s + " の方", shown: s}
	},
	Passport: func(rng *rand.Rand) maskCase {
		s := "TK" + digitsN(rng, 7)
		return maskCase{text: "旅券番号 " + s + " です", shown: s}
	},
	BankAccount: func(rng *rand.Rand) maskCase {
		s := digitsN(rng, 7)
		return maskCase{text: "振込先 普通口座 口座番号 " + s + " へ", shown: s}
	},
	BirthDate: func(rng *rand.Rand) maskCase {
		y, m, d := 1950+rng.Intn(50), 1+rng.Intn(12), 1+rng.Intn(28)
		forms := []string{
			fmt.Sprintf("%d-%02d-%02d", y, m, d),
			fmt.Sprintf("%d/%d/%d", y, m, d),
			fmt.Sprintf("%d年%d月%d日", y, m, d),
			fmt.Sprintf("%d%02d%02d", y, m, d),
		}
		if y >= 1950 && y <= 1988 {
			forms = append(forms, fmt.Sprintf("昭和%d年%d月%d日", y-1925, m, d))
		}
		s := forms[rng.Intn(len(forms))]
		return maskCase{text: "生年月日 " + s + " 生まれ", shown: s, date: true}
	},
}

// shownDigits returns which digits of a view of a value show (by their
// order among the value's digit positions: a digit or '*' each), and
// whether a view of a date shows any digit after its year.
func shownDigits(view string) (shown []bool) {
	for _, r := range view {
		switch {
		case isDigit(r):
			shown = append(shown, true)
		case r == '*':
			shown = append(shown, false)
		}
	}
	return shown
}

// onlyYear returns the year a view of a date shows, or "" when it shows
// any digit after the year (its month or day).
func onlyYear(view string) string {
	rest := strings.TrimPrefix(view, "昭和")
	year := rest[:len(rest)-len(strings.TrimLeftFunc(rest, isDigit))]
	if year == "" || strings.ContainsFunc(rest[len(year):], isDigit) {
		return ""
	}
	return year
}

// runeSlice is s[from:from+n] counted in runes.
func runeSlice(s string, from, n int) string {
	r := []rune(s)
	return string(r[from : from+n])
}

// TestMaskViewsAgree: for every detector kind, the views staff get of one
// value — the findings' sample (as classify reports it and as the console
// and notices re-mask it), the contexts, and the text pane (and subject)
// through MaskText — together reveal no more than the text pane alone:
// each view shows a subset of the digits the text pane shows (the last
// four of a number), a date never more than its year.
func TestMaskViewsAgree(t *testing.T) {
	c := mustNew(t, Config{})
	rng := rand.New(rand.NewSource(11))
	for kind, gen := range maskGenerators {
		t.Run(kind, func(t *testing.T) {
			found := 0
			for range 150 {
				mc := gen(rng)
				if mc.text == "" {
					continue
				}
				pane := MaskText(mc.text)
				at := utf8.RuneCountInString(mc.text[:strings.Index(mc.text, mc.shown)])
				paneView := runeSlice(pane, at, utf8.RuneCountInString(mc.shown))
				paneShown := shownDigits(paneView)
				nShown := 0
				for i, s := range paneShown {
					if s {
						nShown++
						if !mc.date && i < len(paneShown)-maskKeep {
							t.Fatalf("text pane shows more than the last four digits: %q → %q", mc.shown, paneView)
						}
					}
				}
				if mc.date {
					if onlyYear(paneView) == "" {
						t.Fatalf("text pane shows a date's month or day: %q → %q", mc.shown, paneView)
					}
				}
				rep := c.ScanText("body", inspect.KindBody, mc.text)
				f := rep.Find(kind)
				if f == nil {
					continue
				}
				found++
				for _, smp := range f.Samples {
					for _, view := range []string{smp, MaskText(smp), MaskValue(kind, strings.Map(func(r rune) rune {
						if r >= '０' && r <= '９' {
							return r - '０' + '0'
						}
						return r
					}, mc.shown))} {
						if mc.date {
							if onlyYear(view) == "" {
								t.Fatalf("%s sample %q of %q shows more than the year", kind, view, mc.shown)
							}
							continue
						}
						vs := shownDigits(view)
						if len(vs) != len(paneShown) {
							t.Fatalf("%s sample %q of %q: %d digit places, text pane %q has %d", kind, view, mc.shown, len(vs), paneView, len(paneShown))
						}
						for i := range vs {
							if vs[i] && !paneShown[i] {
								t.Fatalf("%s: sample %q shows digit %d of %q, which the text pane %q hides: together they reveal more",
									kind, view, i, mc.shown, paneView)
							}
						}
					}
				}
				for _, ctx := range f.Contexts {
					if strings.ContainsFunc(ctx, isDigit) {
						t.Fatalf("%s: context %q shows digits", kind, ctx)
					}
				}
			}
			if found < 50 {
				t.Fatalf("%s found in only %d of 150 generated texts: the generator does not exercise the detector", kind, found)
			}
		})
	}
}

// TestMaskRecords: a personal list's rows show no name, address or number
// in the text pane; the headings and the shape stay.
func TestMaskRecords(t *testing.T) {
	list := "氏名\t住所\t電話番号\n山田太郎\t東京都立川市錦町1-2-3\t042-523-2111\n鈴木 花子\t大阪府大阪市北区4-5\t06-1234-5678\n"
	got := MaskRecords(list)
	want := "氏名\t住所\t電話番号\n＊＊＊\t＊＊＊\t＊＊＊\n＊＊＊ ＊＊＊\t＊＊＊\t＊＊＊\n"
	if got != want {
		t.Fatalf("MaskRecords:\n%q\nwant\n%q", got, want)
	}
	for _, leak := range []string{"山田", "太郎", "鈴木", "花子", "立川", "大阪", "042", "5678"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q shows", leak)
		}
	}
	for _, tc := range []struct{ in, want string }{
		// A sheet name before the headings is masked too (fail closed).
		{"\nSheet1\nname,address\nTaro Yamada,1-2-3 Nishiki\r\n", "\n＊＊＊\nname,address\n＊＊＊ ＊＊＊,＊＊＊ ＊＊＊\r\n"},
		// A list typed with spaces has no headings to tell: all masked.
		{"山田太郎 立川市1-2 042-523-2111\n鈴木花子 立川市3-4 042-523-2112\n", "＊＊＊ ＊＊＊ ＊＊＊\n＊＊＊ ＊＊＊ ＊＊＊\n"},
		// A record line with digits is never taken for headings.
		{"山田太郎\t1980-01-10\n", "＊＊＊\t＊＊＊\n"},
	} {
		if got := MaskRecords(tc.in); got != tc.want {
			t.Errorf("MaskRecords(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
