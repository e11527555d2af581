package classify

import (
	"encoding/binary"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"dlpguard/inspect"
)

// The hot loop has shortcuts (plainRun, exact keyword windows); the
// reference mode (Classifier.ref) takes the full path everywhere. These
// tests scan the same text both ways and want the same reports.

// diffPieces are fragments that sit at the edges of the shortcuts: digit
// runs followed by every kind of byte, separators, keywords of every
// detector in both scripts, dates, addresses, markings.
var diffPieces = []string{
	"7f3a9c1e", "12ms", "200 OK", "4711 was", "12,480 JPY", "123,456,789,018", "(03)1234-5678", "(0", ")",
	"2026-11-25T10:15:32Z", "2026/11/25", "1985/04/01", "R5.4.1", "昭和60年4月1日", "令和元年5月1日", "元年",
	"22:00", "id=20261125", "No.", "<MyNumber>", "</MyNumber>", ".pdf", "_", "+81 90-1234-5678",
	"123456789018", "1234 5678 9018", "1234-5678-9018", "１２３４５６７８９０１８", "983205673214",
	"3528 8711 6989 3386", "4111111111111111", "TK1234567", "1234567", "1234-567890", "12345678901",
	"090-1234-5678", "03-1234-5678", "0312345678", "〒100-8914", "100-8914", "東京都千代田区永田町一丁目7番1号",
	"若葉市本町1丁目2番3号", "1-2-3", "山田　太郎", "佐藤 花子",
	"個人番号", "マイナンバー", "my number", "番号", "電話番号", "注文番号", "受付番号", "order", "invoice",
	"法人番号", "住民票コード", "基礎年金番号", "pension", "運転免許証", "免許", "driver's license",
	"パスポート", "passport", "クレジットカード", "card no", "visa", "口座番号", "普通", "account no",
	"電話", "tel", "TEL", "fax", "phone", "郵便番号", "zip", "住所", "address", "生年月日", "dob", "DOB",
	"date of birth", "birth", "歳", "adobe", "氏名", "name",
	"【秘】", "重要性Ⅱ", "取扱注意", "機密性2", "関係者限り", "秘書課",
	"a@example.com", "x.y@mail.example.lg.jp", "@", "\u200b", "\u00ad", "\u3000", "－", "ー", "．", "／",
	" ", " ", " ", "  ", "\n", "\n", "\t", "\r\n", ",", ";", ":", "=", "/", ".", "-", "(", "（", "）",
	"a", "Z", "x", "the ", "and ", "is ", "円", "の", "年", "月", "日",
	"\x00", "\v", "\f", "\x1b", "\x7f", "\r", "\u0085", "\u2028", "1234\t5678\t9018", "1234\r\n5678\r\n9018",
}

// diffText strings random pieces and random digit runs together.
func diffText(rng *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		switch k := rng.Intn(10); {
		case k < 6:
			b.WriteString(diffPieces[rng.Intn(len(diffPieces))])
		case k < 9:
			// a digit run of a random length: 1 to 20 digits
			d := rng.Intn(20) + 1
			for i := 0; i < d; i++ {
				b.WriteByte(byte('0' + rng.Intn(10)))
			}
		default:
			// prose, so that windows hold ASCII and Japanese text
			if rng.Intn(2) == 0 {
				b.WriteString(strings.Repeat("The quick brown fox jumps over the lazy dog. ", rng.Intn(8)))
			} else {
				b.WriteString(strings.Repeat("いつもお世話になっております。", rng.Intn(8)))
			}
		}
	}
	return b.String()
}

// scanChunks scans text split at the given cuts, as one location.
func scanChunks(c *Classifier, text string, cuts []int, table bool) Report {
	s := c.NewScanner()
	prev := 0
	for _, k := range cuts {
		if k <= prev || k >= len(text) {
			continue
		}
		s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Table: table, Text: text[prev:k]})
		prev = k
	}
	s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Table: table, Text: text[prev:]})
	return s.Report()
}

func reportJSON(t *testing.T, r Report) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func diffClassifiers(t *testing.T, cfg Config) (fast, ref *Classifier) {
	fast = mustNew(t, cfg)
	ref = mustNew(t, cfg)
	ref.ref = true
	return fast, ref
}

// diffOne fails when the two ways disagree on text.
func diffOne(t *testing.T, fast, ref *Classifier, name, text string, cuts []int, table bool) {
	t.Helper()
	got, want := reportJSON(t, scanChunks(fast, text, cuts, table)), reportJSON(t, scanChunks(ref, text, cuts, table))
	if got != want {
		t.Fatalf("%s (table %v, cuts %v): shortcut and reference disagree\ntext: %q\nfast: %s\nref:  %s", name, table, cuts, text, got, want)
	}
}

func TestDifferentialGenerated(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 500
	}
	fast, ref := diffClassifiers(t, Config{})
	rng := rand.New(rand.NewSource(7))
	found := 0
	for i := 0; i < n; i++ {
		text := diffText(rng, 50+rng.Intn(1500))
		var cuts []int
		for k := rng.Intn(3); k > 0; k-- {
			cuts = append(cuts, rng.Intn(len(text)+1))
		}
		if len(cuts) == 2 && cuts[0] > cuts[1] {
			cuts[0], cuts[1] = cuts[1], cuts[0]
		}
		table := rng.Intn(4) == 0
		diffOne(t, fast, ref, "generated "+strconv.Itoa(i), text, cuts, table)
		if len(scanChunks(fast, text, cuts, table).Findings) > 0 {
			found++
		}
	}
	// the generator must exercise the detectors, not only the skips
	if found < n/2 {
		t.Fatalf("only %d of %d generated texts had findings", found, n)
	}
}

// TestDifferentialBench: the benchmark texts, whole and in 64 KiB chunks.
func TestDifferentialBench(t *testing.T) {
	fast, ref := diffClassifiers(t, Config{})
	size := 1 << 20
	if testing.Short() {
		size = 256 << 10
	}
	for _, ja := range []bool{false, true} {
		for _, other := range []int{0, 4, 16} {
			text := benchText(ja, other, size)
			var cuts []int
			for off := 64 << 10; off < len(text); off += 64 << 10 {
				cuts = append(cuts, off)
			}
			name := "bench ja=" + strconv.FormatBool(ja) + " other=" + strconv.Itoa(other)
			diffOne(t, fast, ref, name, text, cuts, false)
		}
	}
}

// TestDifferentialSeeds: the fuzz corpus and the redteam-like samples,
// cut at every rune boundary of the short ones, with a custom detector and
// tuned windows.
func TestDifferentialSeeds(t *testing.T) {
	var texts []string
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzScanner", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "string(") {
				s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(line, "string("), ")"))
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				texts = append(texts, s)
			}
		}
	}
	if len(texts) == 0 {
		t.Fatal("no fuzz seeds found")
	}
	texts = append(texts, diffPieces...)
	cfgs := []Config{
		{},
		{Custom: []CustomDetector{{Name: "emp", Pattern: `EMP-[0-9]{4}`}},
			Builtin: map[string]DetectorSettings{"my_number": {Window: 40}, "birth_date": {Window: 80, ExtraKeywords: []string{"born"}}}},
	}
	for ci, cfg := range cfgs {
		fast, ref := diffClassifiers(t, cfg)
		for ti, text := range texts {
			for _, table := range []bool{false, true} {
				diffOne(t, fast, ref, "seed "+strconv.Itoa(ti), text, nil, table)
				for k := 1; k < len(text); k++ {
					if text[k]&0xC0 != 0x80 {
						diffOne(t, fast, ref, "seed "+strconv.Itoa(ti)+" cfg "+strconv.Itoa(ci), text, []int{k}, table)
					}
				}
			}
		}
	}
}

// TestRunesStep: the word-at-a-time rune steps against one byte at a
// time, on valid and invalid UTF-8.
func TestRunesStep(t *testing.T) {
	back := func(buf []byte, i, n int) int {
		for i > 0 && n > 0 {
			i--
			if buf[i]&0xC0 != 0x80 {
				n--
			}
		}
		return i
	}
	fwd := func(buf []byte, i, n int) int {
		if i > len(buf) {
			return len(buf)
		}
		for i < len(buf) && n > 0 {
			i++
			for i < len(buf) && buf[i]&0xC0 == 0x80 {
				i++
			}
			n--
		}
		return i
	}
	rng := rand.New(rand.NewSource(3))
	alphabet := []string{"a", " ", "1", "番", "号", "é", "\U0001D7CF", "\x80", "\xbf", "\xe3", "\xff"}
	for iter := 0; iter < 300; iter++ {
		var b strings.Builder
		for k := rng.Intn(120); k > 0; k-- {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		buf := []byte(b.String())
		for i := 0; i <= len(buf)+1; i++ {
			for _, n := range []int{0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 61, 301} {
				if i <= len(buf) {
					if got, want := runesBack(buf, i, n), back(buf, i, n); got != want {
						t.Fatalf("runesBack(%q, %d, %d) = %d, want %d", buf, i, n, got, want)
					}
				}
				if got, want := runesFwd(buf, i, n), fwd(buf, i, n); got != want {
					t.Fatalf("runesFwd(%q, %d, %d) = %d, want %d", buf, i, n, got, want)
				}
			}
		}
	}
}

// TestNonLetters: every byte value at every position.
func TestNonLetters(t *testing.T) {
	for pos := 0; pos < 8; pos++ {
		for v := 0; v < 256; v++ {
			b := []byte("abcdefgh")
			b[pos] = byte(v)
			m := nonLetters(binary.LittleEndian.Uint64(b))
			for k := 0; k < 8; k++ {
				want := !asciiLetter(b[k]) || b[k] >= 0x80
				if got := m>>(8*k+7)&1 == 1; got != want {
					t.Fatalf("%q: byte %d marked %v, want %v", b, k, got, want)
				}
			}
		}
	}
}

// TestContainsBirth: the eight-places-at-a-time search against
// containsFold, for keyword sets with few and many first letters.
func TestContainsBirth(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	alphabet := []string{"d", "D", "b", "B", "o", "O", "i", "a", "x", " ", "-", "dob", "DoB", "birth", "BIRTH", "date of birth",
		"date of", "bir", "bo", "1", "@", "`", "B1", "Da", "\x7f", "O\x7f"}
	for _, extra := range [][]string{nil, {"born"}, {"age", "x", "year"}, {"@dob"}} {
		c := mustNew(t, Config{Builtin: map[string]DetectorSettings{"birth_date": {ExtraKeywords: extra}}})
		if want := len(extra) == 0 || extra[0] == "born"; (c.birthFirst2[0] != 0) != want {
			t.Fatalf("extra %v: birthFirst2 %#x", extra, c.birthFirst2)
		}
		for n := 0; n < 20000; n++ {
			var b strings.Builder
			for k := rng.Intn(20); k > 0; k-- {
				b.WriteString(alphabet[rng.Intn(len(alphabet))])
			}
			text := []byte(b.String())
			if got, want := c.containsBirth(text), containsFold(text, c.birthASCII, &c.birthFirst); got != want {
				t.Fatalf("extra %v, %q: containsBirth %v, containsFold %v", extra, text, got, want)
			}
		}
	}
}

// TestWideWindowAfterNarrow: the keyword index used to miss keywords
// behind a narrow window (the driver's licence window, 100 runes, is
// looked at before the My Number one, 300): 個人番号 150 Japanese runes
// before a number was not seen. Every keyword within the window counts,
// whatever was looked at first.
func TestWideWindowAfterNarrow(t *testing.T) {
	c := mustNew(t, Config{})
	for _, n := range []int{20, 100, 150, 200, 280} {
		for _, filler := range []string{"あ", "a"} {
			text := "個人番号について。" + strings.Repeat(filler, n) + " 123456789018"
			if f := c.ScanText("body", inspect.KindBody, text).Find(MyNumber); f == nil || f.Confidence != High {
				t.Errorf("keyword %d×%q before the number: %+v, want high", n, filler, f)
			}
		}
	}
	// beyond the window it does not count
	text := "個人番号について。" + strings.Repeat("あ", 320) + " 123456789018"
	if f := c.ScanText("body", inspect.KindBody, text).Find(MyNumber); f == nil || f.Confidence != Medium {
		t.Errorf("keyword 320 runes before: %+v, want medium", f)
	}
}

// TestMayNeedFold: the word-at-a-time test against one byte at a time.
func TestMayNeedFold(t *testing.T) {
	naive := func(text []byte) bool {
		for i := 0; i < len(text); i++ {
			c := text[i]
			switch {
			case c < 0xC2:
			case c <= 0xDF, c == 0xE0, c == 0xE1, c == 0xEA, c >= 0xF0:
				return true
			case c == 0xE2:
				if i+1 < len(text) && (text[i+1] <= 0x83 || text[i+1] >= 0x91 && text[i+1] <= 0x93 || text[i+1] == 0x9D || text[i+1] == 0x9E) {
					return true
				}
			case c == 0xEF:
				if i+2 < len(text) && (text[i+1] == 0xBB && text[i+2] == 0xBF || text[i+1] == 0xB8 && text[i+2] < 0x90) {
					return true
				}
			}
		}
		return false
	}
	rng := rand.New(rand.NewSource(9))
	alphabet := []string{"a", "1", " ", "番", "号", "\u3000", "－", "\u200b", "\u00ad", "\ufeff", "\ufe0f", "\u2010", "\u2212",
		"\xe3", "\xe2", "\xef", "\x80", "\xbb\xbf", "é", "\U0001D7CF", strings.Repeat("x", 40)}
	for n := 0; n < 50000; n++ {
		var b strings.Builder
		for k := rng.Intn(30); k > 0; k-- {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		text := []byte(b.String())
		if got, want := mayNeedFold(text), naive(text); got != want {
			t.Fatalf("%q: mayNeedFold %v, want %v", text, got, want)
		}
	}
}
