package classify

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand"
	"strings"
	"testing"

	"dlpguard/inspect"
)

// refMyNumberCheck is an independent formulation (left-to-right weights
// 6 5 4 3 2 7 6 5 4 3 2, detectors.md §1) used to generate test numbers.
func refMyNumberCheck(base string) byte {
	w := []int{6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i := 0; i < 11; i++ {
		sum += int(base[i]-'0') * w[i]
	}
	r := sum % 11
	if r <= 1 {
		return '0'
	}
	return byte('0' + 11 - r)
}

// genMyNumbers returns n valid numbers and, for each, one with a wrong
// check digit.
func genMyNumbers(n int, seed int64) (valid, invalid []string) {
	rng := rand.New(rand.NewSource(seed))
	for len(valid) < n {
		b := make([]byte, 11)
		for i := range b {
			b[i] = byte('0' + rng.Intn(10))
		}
		cd := refMyNumberCheck(string(b))
		valid = append(valid, string(b)+string(cd))
		wrong := byte('0' + (int(cd-'0')+1+rng.Intn(9))%10)
		invalid = append(invalid, string(b)+string(wrong))
	}
	return
}

func TestCheckDigits(t *testing.T) {
	tests := []struct {
		name string
		f    func(string) bool
		ok   []string
		bad  []string
	}{
		{"my_number", ValidMyNumber,
			[]string{"123456789018", "983205673214", "111111111118", "000111111111", "073340418570", "221586645320",
				"176749365367", "861564985029", "942849815402", "699370974431", "142395606424"},
			[]string{"983205673210", "123456789019", "176749365362", "861564985021", "942849815407", "699370974437",
				"142395606421", "12345678901", "1234567890180", "12345678901a", "１２３４５６７８９０１８"}},
		{"corporate_number", ValidCorporateNumber,
			[]string{"7123456789012", "4011001098993", "7010705000725", "6010701027558", "6201032593470",
				"8602882181042", "3844445461271", "7192445106538", "4822547647491"},
			[]string{"8201032593470", "3602882181042", "5844445461271", "5192445106538", "5822547647491", "0123456789012", "712345678901"}},
		{"luhn", ValidLuhn,
			[]string{"3530111333300000", "3566002020360505", "4111111111111111", "5555555555554444", "378282246310005",
				"30569309025904", "6011111111111117", "3528871169893386", "3589393806262293", "3541147688255214"},
			[]string{"3528871169893381", "3589393806262298", "3541147688255219", "3566712231619458", "4111111111111112", "x"}},
		{"drivers_license", validDriversLicense,
			[]string{"902529252941", "459276580740", "308931775110", "622322202311", "459827972020"},
			[]string{"902529252971", "459276580770", "308931775140", "622322202341", "459827972050"}},
	}
	for _, tt := range tests {
		for _, v := range tt.ok {
			if !tt.f(v) {
				t.Errorf("%s: %s should be valid", tt.name, v)
			}
		}
		for _, v := range tt.bad {
			if tt.f(v) {
				t.Errorf("%s: %s should be invalid", tt.name, v)
			}
		}
	}
	valid, invalid := genMyNumbers(2000, 8085)
	for i := range valid {
		if !ValidMyNumber(valid[i]) {
			t.Fatalf("generated %s should be valid", valid[i])
		}
		if ValidMyNumber(invalid[i]) {
			t.Fatalf("generated %s should be invalid", invalid[i])
		}
	}
	if !cardBrandOK("3528871169893386") || cardBrandOK("3527000000000000") || cardBrandOK("3590000000000000") {
		t.Error("JCB range 3528–3589")
	}
}

func fullWidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			r = r - '0' + '０'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestMyNumberFormats(t *testing.T) {
	c := mustNew(t, Config{})
	v := "123456789018"
	g := "1234 5678 9018"
	tests := []struct {
		name  string
		text  string
		count int
		conf  Confidence
	}{
		{"plain with keyword", "個人番号 " + v, 1, High},
		{"plain no context", "資料 " + v + " を確認", 1, Medium},
		{"grouped spaces", "資料 " + g, 1, High},
		{"full width", "個人番号：" + fullWidth(v), 1, High},
		{"full width ideographic spaces", "資料　１２３４　５６７８　９０１８", 1, High},
		{"hyphen", "資料 1234-5678-9018", 1, High},
		{"U+2010", "資料 1234‐5678‐9018", 1, High},
		{"U+2012", "資料 1234‒5678‒9018", 1, High},
		{"U+2013", "資料 1234–5678–9018", 1, High},
		{"U+2014", "資料 1234—5678—9018", 1, High},
		{"U+2015", "資料 1234―5678―9018", 1, High},
		{"U+2212", "資料 1234−5678−9018", 1, High},
		{"U+30FC", "資料 1234ー5678ー9018", 1, High},
		{"U+FF0D", "資料 １２３４－５６７８－９０１８", 1, High},
		{"zero width inside", "資料 1234\u200b5678\u200b9018", 1, Medium},
		{"next to Japanese", "番号は123456789018です", 1, High},
		{"next to Japanese, no keyword", "申請者は123456789018です", 1, Medium},
		{"keyword after", v + " がマイナンバーです", 1, High},
		{"my number english", "My Number: " + v, 1, High},
		{"wrapped table cell", "資料 1234-5678-\n9018", 1, High},
		{"two distinct numbers", "A " + v + "\nB 983205673214", 2, High},
		{"same number twice", "A " + v + "\nB " + v, 1, Medium},
		{"negative keyword", "注文番号 202610160001", 1, Low},
		{"negative keyword, grouped", "注文番号 2026-1016-0001", 1, Medium},
		{"negative far, positive near", "注文番号は別紙。" + strings.Repeat("あ", 40) + "個人番号 " + v, 1, High},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := c.ScanText("body", inspect.KindBody, tt.text)
			assertMasked(t, rep, []string{v})
			f := rep.Find(MyNumber)
			if f == nil {
				t.Fatalf("no my_number in %q: %+v", tt.text, rep)
			}
			if f.Count != tt.count || f.Confidence != tt.conf {
				t.Errorf("count %d conf %s, want %d %s", f.Count, f.Confidence, tt.count, tt.conf)
			}
			if rep.Level != LevelI {
				t.Errorf("level %s, want I", rep.Level)
			}
			if len(f.Samples) == 0 || !strings.HasPrefix(f.Samples[0], "**** **** ") {
				t.Errorf("samples %q", f.Samples)
			}
		})
	}
	// every generated valid number is found, every invalid one is not,
	// half and full width, grouped with a random dash look-alike.
	valid, invalid := genMyNumbers(300, 1)
	dashes := []string{"-", "‐", "‒", "–", "—", "―", "−", "ー", "－", " ", "　"}
	for i := range valid {
		d := dashes[i%len(dashes)]
		for _, n := range []string{valid[i], valid[i][:4] + d + valid[i][4:8] + d + valid[i][8:]} {
			for _, text := range []string{"個人番号 " + n, "個人番号 " + fullWidth(n)} {
				if f := c.ScanText("body", inspect.KindBody, text).Find(MyNumber); f == nil || f.Count != 1 {
					t.Fatalf("valid %q not found", text)
				}
			}
		}
		n := invalid[i][:4] + d + invalid[i][4:8] + d + invalid[i][8:]
		if f := c.ScanText("body", inspect.KindBody, "個人番号 "+n).Find(MyNumber); f != nil {
			t.Fatalf("invalid %q found", n)
		}
	}
}

func TestMyNumberHardNegatives(t *testing.T) {
	c := mustNew(t, Config{})
	tests := []struct{ name, text string }{
		{"16-digit with valid window", "お客様番号：6227617654048139"},
		{"16 digits containing a valid 12", "番号 9912345678901899"},
		{"16-digit grouped 4-4-4-4", "個人番号 1234 5678 9018 1234"},
		{"13-digit corporate", "個人番号 7123456789012"},
		{"13 digits with valid tail", "個人番号 5123456789018"},
		{"URL", "個人番号 https://example.jp/a/123456789018/view"},
		{"URL query", "番号 https://example.jp/?id=123456789018"},
		{"base64", "番号 QUJDRA123456789018xyz+/ab=="},
		{"Message-ID", "Message-ID: <123456789018@mail.example.jp>"},
		{"Message-ID with dots", "<20261125.123456789018.abc@host>"},
		{"alphanumeric", "個人番号 ID123456789018"},
		{"letters after", "個人番号 123456789018abc"},
		// a scanner's time-stamped file name; 123456789018.pdf is found
		// (TestMyNumberFileNames)
		{"file name timestamp", "個人番号 202611251000.pdf"},
		{"wrong check digit", "個人番号 123456789019"},
		{"wrong check full width", "受付番号　３３０３６９３１４８７０"},
		{"wrong check dash variants", "整理番号 6055‐0626‐0221\n整理番号 3418－6273－7329"},
		{"mixed separators", "番号 1234-5678 9018"},
		{"11 digits", "個人番号 12345678901"},
		{"decimal", "個人番号 3.123456789018"},
		{"dash compound", "番号 12-123456789018"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := c.ScanText("body", inspect.KindBody, tt.text)
			if f := rep.Find(MyNumber); f != nil {
				t.Errorf("%q: my_number found: %+v", tt.text, f)
			}
			assertMasked(t, rep, nil)
		})
	}
}

func TestMarkings(t *testing.T) {
	c := mustNew(t, Config{})
	tests := []struct {
		text string
		kind inspect.Kind
		want Level // "" for none
	}{
		{"【重要性１】課税台帳", inspect.KindSubject, LevelI},
		{"重要性Ⅰ", inspect.KindBody, LevelI},
		{"重要性I 資料", inspect.KindBody, LevelI},
		{"重要性 1", inspect.KindBody, LevelI},
		{"重要性：Ⅱ", inspect.KindBody, LevelII},
		{"重要性II", inspect.KindBody, LevelII},
		{"重要性２", inspect.KindBody, LevelII},
		{"重要性分類Ⅱ", inspect.KindBody, LevelII},
		{"【重要性Ⅲ】イベント案内", inspect.KindSubject, LevelIII},
		{"重要性III", inspect.KindBody, LevelIII},
		{"【機密性３】", inspect.KindSubject, LevelI},
		{"機密性2情報", inspect.KindBody, LevelII},
		{"【機密性2】会議資料.docx", inspect.KindFileName, LevelII},
		{"【機2】打合せ", inspect.KindSubject, LevelII},
		{"要機密情報", inspect.KindBody, LevelII},
		{"極秘", inspect.KindBody, LevelI},
		{"【秘】人事異動", inspect.KindSubject, LevelI},
		{"［秘］", inspect.KindBody, LevelI},
		{"（秘）名簿", inspect.KindBody, LevelI},
		{"㊙ 資料", inspect.KindBody, LevelI},
		{"本文\n秘\n本文", inspect.KindBody, LevelI},
		{"秘密文書として扱う", inspect.KindBody, LevelI},
		{"部外秘", inspect.KindBody, LevelII},
		{"社外秘の資料", inspect.KindBody, LevelII},
		{"【取扱注意】対象者一覧", inspect.KindSubject, LevelII},
		{"取扱い注意\n", inspect.KindBody, LevelII},
		{"関係者限り\n\nお疲れ様です", inspect.KindBody, LevelII},
		{"本資料は庁内限りです", inspect.KindBody, LevelII},
		{"【転送禁止】", inspect.KindSubject, LevelII},
		// not markings
		{"秘書課の件", inspect.KindBody, ""},
		{"便秘の薬", inspect.KindBody, ""},
		{"秘密保持契約について", inspect.KindBody, ""},
		{"重要性の高い案件", inspect.KindBody, ""},
		{"取扱注意事項の説明会", inspect.KindSubject, ""},
		{"関係者限りの会議", inspect.KindBody, ""},
		{"可能性が高い", inspect.KindBody, ""},
		{"機密性の確保", inspect.KindBody, ""},
		{"重要性12", inspect.KindBody, ""},
		{"極秘裏に進める", inspect.KindBody, ""},
		{"機械2台", inspect.KindBody, ""},
		{"転送禁止設定の方法", inspect.KindBody, ""},
	}
	for _, tt := range tests {
		rep := c.ScanText("subject", tt.kind, tt.text)
		assertMasked(t, rep, nil)
		f := rep.Find(Marking)
		switch {
		case tt.want == "" && f != nil:
			t.Errorf("%q: marking %s found (%v)", tt.text, f.Level, f.Samples)
		case tt.want != "" && f == nil:
			t.Errorf("%q: no marking, want %s", tt.text, tt.want)
		case f != nil && f.Level != tt.want:
			t.Errorf("%q: level %s, want %s", tt.text, f.Level, tt.want)
		case f != nil && rep.Level != tt.want:
			t.Errorf("%q: report level %s, want %s", tt.text, rep.Level, tt.want)
		}
	}
	// the mapping is configurable
	c2 := mustNew(t, Config{Markings: map[string]Level{"重要性2": LevelI}})
	if f := c2.ScanText("body", inspect.KindBody, "重要性Ⅱ").Find(Marking); f == nil || f.Level != LevelI {
		t.Errorf("configured 重要性2 → I: %+v", f)
	}
}

func TestDetectors(t *testing.T) {
	c := mustNew(t, Config{})
	tests := []struct {
		name  string
		text  string
		det   string
		count int // 0: must not be found
		level Level
	}{
		{"corporate", "法人番号 7010705000725", CorporateNumber, 1, LevelIII},
		{"corporate invoice T", "登録番号 T7010705000725", CorporateNumber, 1, LevelIII},
		{"corporate bad check", "法人番号 8201032593470", CorporateNumber, 0, LevelIII},
		{"resident with keyword", "住民票コード 12345678901", ResidentCode, 1, LevelI},
		{"resident no keyword", "番号 12345678901", ResidentCode, 0, LevelIII},
		{"pension", "基礎年金番号 4744-954239", PensionNumber, 1, LevelI},
		{"pension no keyword", "整理 4744-954239", PensionNumber, 0, LevelIII},
		{"drivers licence", "運転免許証番号 第902529252941号", DriversLicense, 1, LevelI},
		{"passport", "旅券番号 TK1234567", Passport, 1, LevelI},
		{"passport full width", "パスポート ＴＲ０１２３４５６", Passport, 1, LevelI},
		{"passport no keyword", "品番 TK1234567", Passport, 0, LevelIII},
		{"passport 3 letters", "旅券 XTK1234567", Passport, 0, LevelIII},
		{"card JCB", "クレジットカード 3528 8711 6989 3386", CreditCard, 1, LevelI},
		{"card visa dashes", "card number 4111-1111-1111-1111", CreditCard, 1, LevelI},
		{"card bad luhn", "クレジットカード 3528871169893381", CreditCard, 0, LevelIII},
		{"card no keyword", "お客様番号 3528871169893386", CreditCard, 0, LevelIII},
		{"card grouped no keyword", "番号 3528 8711 6989 3386", CreditCard, 1, LevelI},
		{"card grouped bad brand", "番号 9000 0000 0000 0001", CreditCard, 0, LevelIII},
		{"bank", "普通 口座番号 9393308", BankAccount, 1, LevelIII},
		{"bank no keyword", "整理 9393308", BankAccount, 0, LevelIII},
		{"mobile", "携帯 090-1234-5678", PhoneNumber, 1, LevelIII},
		{"mobile full width", "０８０ー１２３４ー５６７８", PhoneNumber, 1, LevelIII},
		{"mobile ungrouped", "07012345678", PhoneNumber, 1, LevelIII},
		{"fixed", "TEL 03-1234-5678", PhoneNumber, 1, LevelIII},
		{"fixed glued label", "TEL03-1234-5678", PhoneNumber, 1, LevelIII},
		{"fixed brackets", "電話 (03)1234-5678", PhoneNumber, 1, LevelIII},
		{"fixed full-width brackets", "（０３）１２３４－５６７８", PhoneNumber, 1, LevelIII},
		{"international mobile", "+81 90-1234-5678", PhoneNumber, 1, LevelIII},
		{"international fixed", "+81-3-1234-5678", PhoneNumber, 1, LevelIII},
		{"brackets not a phone", "(2024)1234-5678", PhoneNumber, 0, LevelIII},
		{"brackets not a My Number", "番号 (2024)1234-5678 と (1234)5678-9018", MyNumber, 0, LevelIII},
		{"hex id", "id=7f3a9c1e 0312345678ab", PhoneNumber, 0, LevelIII},
		{"free dial", "0120-123-456", PhoneNumber, 1, LevelIII},
		{"not a phone", "2024-04-01", PhoneNumber, 0, LevelIII},
		{"short", "090-1234-567", PhoneNumber, 0, LevelIII},
		{"postal", "〒100-8914 東京都千代田区永田町一丁目7番1号", PostalCode, 1, LevelIII},
		{"postal full width", "〒１００－８９１４", PostalCode, 1, LevelIII},
		{"postal label", "郵便番号：1008914", PostalCode, 1, LevelIII},
		{"postal no mark", "2024-0401", PostalCode, 0, LevelIII},
		{"address", "住所 東京都千代田区永田町一丁目7番1号", AddressDet, 1, LevelIII},
		{"address dashes", "大阪府大阪市北区梅田3-1-1", AddressDet, 1, LevelIII},
		{"address hokkaido", "北海道札幌市中央区北1条西2丁目", AddressDet, 1, LevelIII},
		{"not address", "東京都知事選挙の結果 3番目", AddressDet, 0, LevelIII},
		{"birth wareki", "生年月日 昭和60年4月1日", BirthDate, 1, LevelIII},
		{"birth full width", "生年月日：昭和６０年４月１日", BirthDate, 1, LevelIII},
		{"birth R", "生年月日 R5.4.1", BirthDate, 1, LevelIII},
		{"birth H", "生年月日 H1.1.8", BirthDate, 1, LevelIII},
		{"birth gannen", "生年月日 令和元年5月1日", BirthDate, 1, LevelIII},
		{"birth ligature", "生年月日 ㍼60年4月1日", BirthDate, 1, LevelIII},
		{"birth seireki", "誕生日 1985/04/01", BirthDate, 1, LevelIII},
		{"birth 年月日", "生年月日 1985年4月1日", BirthDate, 1, LevelIII},
		{"birth outside era", "生年月日 平成31年5月1日", BirthDate, 0, LevelIII},
		{"birth S64", "生年月日 昭和64年1月8日", BirthDate, 0, LevelIII},
		{"birth H2.2.30", "生年月日 H2.2.30", BirthDate, 0, LevelIII},
		{"invalid date", "生年月日 2023/02/30", BirthDate, 0, LevelIII},
		{"date without context", "会議は2026/04/01です", BirthDate, 0, LevelIII},
		{"ascii date without context", "Order shipped on 2026-04-01 by courier.", BirthDate, 0, LevelIII},
		{"ascii date of birth", "Date of Birth: 1985-04-01", BirthDate, 1, LevelIII},
		{"ascii DOB after", "1985-04-01 (DOB)", BirthDate, 1, LevelIII},
		{"ascii keyword too far", "birth" + strings.Repeat(" x", 40) + " 1985-04-01", BirthDate, 0, LevelIII},
		{"email", "連絡先 taro.yamada@example.com まで", EmailAddress, 1, LevelIII},
		{"email two", "a@example.com b@example.org a@example.com", EmailAddress, 2, LevelIII},
		{"not email", "foo@bar", EmailAddress, 0, LevelIII},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := c.ScanText("body", inspect.KindBody, tt.text)
			assertMasked(t, rep, nil)
			f := rep.Find(tt.det)
			if tt.count == 0 {
				if f != nil {
					t.Errorf("%q: %s found: %+v", tt.text, tt.det, f)
				}
				return
			}
			if f == nil || f.Count != tt.count {
				t.Fatalf("%q: %s = %+v, want count %d (report %+v)", tt.text, tt.det, f, tt.count, rep)
			}
			if rep.Level != tt.level {
				t.Errorf("%q: level %s, want %s", tt.text, rep.Level, tt.level)
			}
			if len(f.Locations) != 1 || f.Locations[0] != "body" {
				t.Errorf("locations %v", f.Locations)
			}
		})
	}
}

// TestMasking: no whole identifier in any part of a report.
func TestMasking(t *testing.T) {
	c := mustNew(t, Config{})
	texts := map[string][]string{
		"個人番号 123456789018 と 983205673214": {"123456789018", "983205673214", "5678", "3205"},
		"クレジットカード 3528 8711 6989 3386":     {"35288711", "8711 6989", "3528"},
		"住民票コード 12345678901":               {"12345678901", "1234567"},
		"基礎年金番号 4744-954239":               {"4744-954239", "954239"},
		"旅券番号 TK1234567":                   {"TK1234567", "12345"},
		"運転免許証 902529252941":               {"902529252941", "9025"},
		"個人番号：１２３４　５６７８　９０１８":              {"１２３４", "５６７８"},
		"氏名\t個人番号\n山田　太郎\t123456789018\n":  {"123456789018"},
	}
	for text, secrets := range texts {
		table := strings.Contains(text, "\t")
		s := c.NewScanner()
		s.Chunk(inspect.Chunk{Location: "attachment:x.csv", Kind: inspect.KindAttachment, Table: table, Text: text})
		rep := s.Report()
		if len(rep.Findings) == 0 {
			t.Errorf("%q: nothing found", text)
		}
		assertMasked(t, rep, secrets)
	}
}

func TestCrossChunk(t *testing.T) {
	c := mustNew(t, Config{})
	text := "お世話になります。申請者の個人番号は１２３４−５６７８−９０１８です。\n【秘】\n生年月日 昭和60年4月1日"
	runes := []rune(text)
	for cut := 1; cut < len(runes); cut++ {
		s := c.NewScanner()
		s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: string(runes[:cut])})
		s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: string(runes[cut:])})
		rep := s.Report()
		assertMasked(t, rep, nil)
		if f := rep.Find(MyNumber); f == nil || f.Confidence != High {
			t.Fatalf("cut at %d: my_number %+v", cut, f)
		}
		if rep.Find(Marking) == nil || rep.Find(BirthDate) == nil {
			t.Fatalf("cut at %d: %+v", cut, rep)
		}
	}
	// one rune per chunk
	s := c.NewScanner()
	for _, r := range runes {
		s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: string(r)})
	}
	if f := s.Report().Find(MyNumber); f == nil || f.Count != 1 {
		t.Fatalf("rune chunks: %+v", f)
	}
	// across locations: not one number
	num := "123456789018"
	for cut := 1; cut < len(num); cut++ {
		s := c.NewScanner()
		s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: "個人番号 " + num[:cut]})
		s.Chunk(inspect.Chunk{Location: "attachment:a.txt", Kind: inspect.KindAttachment, Text: num[cut:]})
		if f := s.Report().Find(MyNumber); f != nil {
			t.Fatalf("cut %d across locations found %+v", cut, f)
		}
	}
	// a file-name chunk and the attachment text share a location but are
	// different texts
	s = c.NewScanner()
	s.Chunk(inspect.Chunk{Location: "attachment:1234", Kind: inspect.KindFileName, Text: "1234"})
	s.Chunk(inspect.Chunk{Location: "attachment:1234", Kind: inspect.KindAttachment, Text: "56789018"})
	if f := s.Report().Find(MyNumber); f != nil {
		t.Fatalf("file name joined to text: %+v", f)
	}
	// a long text in small chunks: the buffer stays bounded
	s = c.NewScanner()
	filler := strings.Repeat("会議の資料を送付します。", 100)
	for i := 0; i < 200; i++ {
		s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: filler})
	}
	if len(s.buf) > 3*len(filler)+s.c.back+s.c.margin {
		t.Fatalf("buffer grew to %d", len(s.buf))
	}
	s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: "個人番号 1234"})
	s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: "56789018"})
	if f := s.Report().Find(MyNumber); f == nil {
		t.Fatal("number after long text not found")
	}
}

func TestTables(t *testing.T) {
	c := mustNew(t, Config{})
	valid, _ := genMyNumbers(30, 7)
	scan := func(text string, table bool) Report {
		s := c.NewScanner()
		s.Chunk(inspect.Chunk{Location: "attachment:名簿.xlsx", Kind: inspect.KindAttachment, Table: table, Text: text})
		rep := s.Report()
		assertMasked(t, rep, nil)
		return rep
	}
	// labelled column: high even for one number, even far from the header
	var b strings.Builder
	b.WriteString("番号\t氏名\t個人番号\n")
	for i := 0; i < 40; i++ {
		b.WriteString("1\t山田　太郎\t" + strings.Repeat("x", 30) + "\n")
	}
	b.WriteString("2\t佐藤　花子\t" + valid[0] + "\n")
	if f := scan(b.String(), true).Find(MyNumber); f == nil || f.Confidence != High {
		t.Errorf("labelled column: %+v", f)
	}
	// unlabelled column, one number, no keyword: medium
	if f := scan("区分\t値\nA\t"+valid[1]+"\n", true).Find(MyNumber); f == nil || f.Confidence != Medium {
		t.Errorf("unlabelled: %+v", f)
	}
	// a column labelled with a negative keyword lowers the confidence
	var nb strings.Builder
	nb.WriteString("受付番号\t件名\n")
	for i := 0; i < 40; i++ {
		nb.WriteString("x\t" + strings.Repeat("申請", 20) + "\n")
	}
	nb.WriteString(valid[2] + "\t申請\n")
	if f := scan(nb.String(), true).Find(MyNumber); f == nil || f.Confidence != Low {
		t.Errorf("negative column: %+v", f)
	}
	// spreadsheet number cell lost its leading zero
	var lead string
	for _, v := range valid {
		if v[0] != '0' {
			continue
		}
		lead = v
	}
	if lead == "" {
		lead = "031809944550"
	}
	if f := scan("氏名\t個人番号\n山田　太郎\t"+lead[1:]+"\n", true).Find(MyNumber); f == nil || f.Count != 1 {
		t.Errorf("leading zero: %+v", f)
	}
	if f := scan("氏名\t電話番号\n山田　太郎\t"+lead[1:]+"\n", true).Find(MyNumber); f != nil {
		t.Errorf("11 digits in a phone column: %+v", f)
	}
	// personal list: records counted at the threshold
	list := func(n int, delim string) string {
		var b strings.Builder
		b.WriteString(strings.Join([]string{"氏名", "フリガナ", "性別", "生年月日", "住所", "電話番号"}, delim) + "\n")
		for i := 0; i < n; i++ {
			b.WriteString(strings.Join([]string{"山田　太郎", "ヤマダ", "男", "1980/01/02", "東京都若葉市本町1丁目2番3号", "042-555-1234"}, delim) + "\n")
		}
		return b.String()
	}
	for _, delim := range []string{"\t", ","} {
		if f := scan(list(12, delim), true).Find(PersonalList); f == nil || f.Count != 12 {
			t.Errorf("12 records (%q): %+v", delim, f)
		}
		if f := scan(list(9, delim), true).Find(PersonalList); f != nil {
			t.Errorf("9 records (%q): %+v", delim, f)
		}
	}
	// a list in plain text lines
	var tl strings.Builder
	for i := 0; i < 11; i++ {
		tl.WriteString("佐藤　花子 090-1234-56" + string(rune('0'+i%10)) + "0\n")
	}
	rep := scan(tl.String(), false)
	if f := rep.Find(PersonalList); f == nil || f.Count != 11 || rep.Level != LevelI {
		t.Errorf("text list: %+v", rep)
	}
	// names without a phone, address or birth date are not records
	var nl strings.Builder
	for i := 0; i < 20; i++ {
		nl.WriteString("氏名,フリガナ\n山田　太郎,ヤマダ\n")
	}
	if f := scan(nl.String(), true).Find(PersonalList); f != nil {
		t.Errorf("names only: %+v", f)
	}
	// the min count is configurable
	c3 := mustNew(t, Config{Builtin: map[string]DetectorSettings{PersonalList: {MinCount: 3}}})
	s := c3.NewScanner()
	s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: "佐藤　花子 090-1234-5670\n山田　太郎 090-1234-5671\n鈴木　一郎 090-1234-5672\n"})
	if f := s.Report().Find(PersonalList); f == nil || f.Count != 3 {
		t.Errorf("min_count 3: %+v", f)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad regexp", Config{Custom: []CustomDetector{{Name: "emp", Pattern: "a(b"}}}, "emp"},
		{"empty match", Config{Custom: []CustomDetector{{Name: "emp", Pattern: "a*"}}}, "empty"},
		{"unknown validator", Config{Custom: []CustomDetector{{Name: "emp", Pattern: "[0-9]+", Validator: "crc"}}}, "validator"},
		{"bad level", Config{Custom: []CustomDetector{{Name: "emp", Pattern: "[0-9]+", Level: "IV"}}}, "level"},
		{"duplicate name", Config{Custom: []CustomDetector{{Name: "my_number", Pattern: "[0-9]+"}}}, "my_number"},
		{"require keyword without keywords", Config{Custom: []CustomDetector{{Name: "emp", Pattern: "[0-9]+", RequireKeyword: true}}}, "require_keyword"},
		{"unknown builtin", Config{Builtin: map[string]DetectorSettings{"mynumber": {}}}, "mynumber"},
		{"negative window", Config{Builtin: map[string]DetectorSettings{MyNumber: {Window: -1}}}, "my_number"},
		{"bad range", Config{Exclude: Exclusions{Ranges: []NumberRange{{Detector: MyNumber, From: "2", To: "10"}}}}, "my_number"},
		{"unknown range detector", Config{Exclude: Exclusions{Ranges: []NumberRange{{Detector: "foo", From: "1", To: "2"}}}}, "foo"},
		{"bad hash", Config{Exclude: Exclusions{Hashes: []string{"abc"}}}, "SHA-256"},
		{"bad marking level", Config{Markings: map[string]Level{"秘": "IV"}}, "秘"},
		{"unknown marking", Config{Markings: map[string]Level{"foo": LevelI}}, "foo"},
		{"bad marking header", Config{MarkingHeaders: []MarkingHeader{{Header: "X-Class", Values: map[string]Level{"a": "x"}}}}, "X-Class"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one naming %q", tt.name, err, tt.want)
		}
	}
}

func TestCustomDetectors(t *testing.T) {
	c := mustNew(t, Config{Custom: []CustomDetector{
		{Name: "employee_id", Pattern: `EMP-[0-9]{6}`, Keywords: []string{"職員番号"}, Level: LevelII},
		{Name: "insurer", Pattern: `[0-9]{8}`, RequireKeyword: true, Keywords: []string{"保険者番号"}},
		{Name: "card16", Pattern: `[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{4}`, Validator: "luhn", Level: LevelIII},
	}})
	rep := c.ScanText("body", inspect.KindBody, "職員番号 ＥＭＰ－１２３４５６ と EMP-654321")
	f := rep.Find("employee_id")
	if f == nil || f.Count != 2 || f.Confidence != High || f.Level != LevelII || rep.Level != LevelII {
		t.Fatalf("employee_id: %+v / %+v", f, rep)
	}
	assertMasked(t, rep, []string{"123456", "654321"})
	if f := c.ScanText("body", inspect.KindBody, "番号 33120015").Find("insurer"); f != nil {
		t.Errorf("insurer without keyword: %+v", f)
	}
	if f := c.ScanText("body", inspect.KindBody, "保険者番号 33120015").Find("insurer"); f == nil || f.Count != 1 {
		t.Errorf("insurer: %+v", f)
	}
	if f := c.ScanText("body", inspect.KindBody, "x 4111-1111-1111-1112").Find("card16"); f != nil {
		t.Errorf("luhn validator: %+v", f)
	}
	if f := c.ScanText("body", inspect.KindBody, "x 4111-1111-1111-1111").Find("card16"); f == nil {
		t.Errorf("luhn valid not found")
	}
	// across chunks
	s := c.NewScanner()
	s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: "職員番号 EMP-12"})
	s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: "3456 です"})
	if f := s.Report().Find("employee_id"); f == nil || f.Count != 1 {
		t.Errorf("custom across chunks: %+v", f)
	}
}

func TestExclusionsAndOrganisation(t *testing.T) {
	h := sha256.Sum256([]byte("983205673214"))
	c := mustNew(t, Config{
		Organisation: Organisation{
			Domains:   []string{"city.example.lg.jp"},
			Phones:    []string{"042-555"},
			Addresses: []string{"東京都若葉市中央一丁目1番1号"},
			Signature: []string{"若葉市役所 代表 123456789018"},
		},
		Exclude: Exclusions{
			Ranges: []NumberRange{{Detector: MyNumber, From: "111111111100", To: "111111111199"}},
			Hashes: []string{hex.EncodeToString(h[:])},
			Text:   []string{"この番号 000111111111 は見本です"},
		},
	})
	tests := []struct{ text, det string }{
		{"個人番号 111111111118", MyNumber},
		{"個人番号 983205673214", MyNumber},
		{"注意：この番号 000111111111 は見本です。", MyNumber},
		{"--\n若葉市役所 代表 123456789018\n", MyNumber},
		{"TEL 042-555-0539", PhoneNumber},
		{"t-4c1fd7@city.example.lg.jp", EmailAddress},
		{"x@sub.city.example.lg.jp", EmailAddress},
		{"〒190-8699 東京都若葉市中央一丁目1番1号", AddressDet},
	}
	for _, tt := range tests {
		rep := c.ScanText("body", inspect.KindBody, tt.text)
		assertMasked(t, rep, nil)
		if f := rep.Find(tt.det); f != nil {
			t.Errorf("%q: %s not excluded: %+v", tt.text, tt.det, f)
		}
	}
	// look-alike domains and other numbers still count
	for _, tt := range []struct{ text, det string }{
		{"x@city.example.lg.jp.example.com", EmailAddress},
		{"TEL 042-556-0539", PhoneNumber},
		{"個人番号 111111111200", ""},
		{"個人番号 123456789018", MyNumber},
		{"東京都若葉市中央二丁目3番4号", AddressDet},
	} {
		if tt.det == "" {
			continue
		}
		if f := c.ScanText("body", inspect.KindBody, tt.text).Find(tt.det); f == nil {
			t.Errorf("%q: %s should be found", tt.text, tt.det)
		}
	}
}

func TestHeadersAndTuning(t *testing.T) {
	c := mustNew(t, Config{})
	s := c.NewScanner()
	s.Headers(map[string][]string{"Sensitivity": {"Company-Confidential"}})
	rep := s.Report()
	if f := rep.Find(Marking); f == nil || f.Level != LevelII || f.Locations[0] != "header:Sensitivity" || rep.Level != LevelII {
		t.Errorf("Sensitivity: %+v", rep)
	}
	c = mustNew(t, Config{MarkingHeaders: []MarkingHeader{{Header: "msip_labels",
		Values: map[string]Level{"MSIP_Label_d4243a53-0000_Enabled=true": LevelI}}}})
	s = c.NewScanner()
	s.Headers(map[string][]string{"Msip_labels": {"MSIP_Label_d4243a53-0000_Enabled=true; MSIP_Label_d4243a53-0000_Name=Secret"}})
	if f := s.Report().Find(Marking); f == nil || f.Level != LevelI {
		t.Errorf("msip_labels: %+v", f)
	}
	// tuning: disabled, replaced and extra keywords, window
	c = mustNew(t, Config{Builtin: map[string]DetectorSettings{MyNumber: {Disabled: true}}})
	if f := c.ScanText("body", inspect.KindBody, "個人番号 123456789018").Find(MyNumber); f != nil {
		t.Errorf("disabled: %+v", f)
	}
	c = mustNew(t, Config{Builtin: map[string]DetectorSettings{MyNumber: {ExtraKeywords: []string{"本人確認"}}}})
	if f := c.ScanText("body", inspect.KindBody, "本人確認 123456789018").Find(MyNumber); f == nil || f.Confidence != High {
		t.Errorf("extra keyword: %+v", f)
	}
	c = mustNew(t, Config{Builtin: map[string]DetectorSettings{MyNumber: {Window: 5}}})
	if f := c.ScanText("body", inspect.KindBody, "個人番号について。"+strings.Repeat("あ", 20)+"123456789018").Find(MyNumber); f == nil || f.Confidence != Medium {
		t.Errorf("window 5: %+v", f)
	}
	c = mustNew(t, Config{Builtin: map[string]DetectorSettings{BirthDate: {Keywords: []string{"DOB"}}}})
	if f := c.ScanText("body", inspect.KindBody, "生年月日 1985/04/01").Find(BirthDate); f != nil {
		t.Errorf("replaced keywords: %+v", f)
	}
	if f := c.ScanText("body", inspect.KindBody, "dob: 1985/04/01").Find(BirthDate); f == nil {
		t.Errorf("replaced keywords (case folded): missing")
	}
}

func TestNoPanicOnOddInput(t *testing.T) {
	c := mustNew(t, Config{Custom: []CustomDetector{{Name: "x", Pattern: "[0-9]{3}"}}})
	inputs := []string{"", "\xff\xfe\xfd", "1", "１", "@", "@@@", "秘", "性", "重要性", "【", "\n\n\n", strings.Repeat("9", 5000),
		strings.Repeat("１", 3000), "0120-", "〒", "年", "元年", "令和元年", "R", "\xe3", "\xef\xbc", "1\u200b",
		strings.Repeat("1-", 2000), "住所 東京都" + strings.Repeat("市", 100) + "1番"}
	for _, in := range inputs {
		for _, table := range []bool{false, true} {
			s := c.NewScanner()
			s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Table: table, Text: in})
			s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Table: table, Text: in})
			s.Report()
		}
	}
}

func TestScannerReset(t *testing.T) {
	c := mustNew(t, Config{})
	s := c.NewScanner()
	s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: "個人番号 123456789018\n【秘】"})
	if r := s.Report(); r.Find(MyNumber) == nil || r.Level != LevelI {
		t.Fatalf("first message: %+v", r)
	}
	s.Reset()
	s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: "会議のご案内です。"})
	if r := s.Report(); len(r.Findings) != 0 || r.Level != LevelIII {
		t.Fatalf("after Reset: %+v", r)
	}
	c.Release(s)
	s2 := c.NewScanner()
	s2.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: "予定のご連絡です。"})
	if r := s2.Report(); len(r.Findings) != 0 {
		t.Fatalf("pooled scanner: %+v", r)
	}
}

func TestSWARStop(t *testing.T) {
	// every byte value at every position: exactly the bytes the table
	// stops at are marked
	c := mustNew(t, Config{})
	for _, table := range []bool{false, true} {
		skip := &c.skipASCII
		if table {
			skip = &c.skipTable
		}
		for pos := 0; pos < 8; pos++ {
			for v := 0; v < 256; v++ {
				b := []byte("abcdefgh")
				b[pos] = byte(v)
				x := uint64(0)
				for k := 7; k >= 0; k-- {
					x = x<<8 | uint64(b[k])
				}
				want := !skip[v]
				if got := swarStop(x, table)>>(8*pos+7)&1 == 1; got != want {
					t.Fatalf("byte %#x at %d (table %v): swarStop %v, want %v", v, pos, table, got, want)
				}
			}
		}
	}
	// random words: marks are exact whatever the neighbours, and
	// nextStop finds the first byte to stop at
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte("ab Z:=-/.,\n\t0189@?\x80\xe3\xff")
	for _, table := range []bool{false, true} {
		skip := &c.skipASCII
		if table {
			skip = &c.skipTable
		}
		for n := 0; n < 200000; n++ {
			var b [24]byte
			for k := range b {
				b[k] = alphabet[rng.Intn(len(alphabet))]
			}
			m := swarStop(binary.LittleEndian.Uint64(b[:8]), table)
			for k := 0; k < 8; k++ {
				if !skip[b[k]] != (m>>(8*k+7)&1 == 1) {
					t.Fatalf("%q (table %v): byte %d marked %v", b[:8], table, k, m>>(8*k+7)&1 == 1)
				}
			}
			from := rng.Intn(len(b))
			want := len(b)
			for k := from; k < len(b); k++ {
				if !skip[b[k]] {
					want = k
					break
				}
			}
			if got := nextStop(b[:], from, table, skip); got != want {
				t.Fatalf("%q from %d (table %v): next stop %d, want %d", b[:], from, table, got, want)
			}
		}
	}
}

// TestConcurrentScanners: one Classifier, many Scanners at once (run
// with -race).
func TestConcurrentScanners(t *testing.T) {
	c := mustNew(t, Config{Custom: []CustomDetector{{Name: "emp", Pattern: `EMP-[0-9]{4}`}}})
	done := make(chan Report)
	for g := 0; g < 4; g++ {
		go func() {
			var last Report
			for i := 0; i < 20; i++ {
				s := c.NewScanner()
				s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: "個人番号 123456789018 EMP-1234\n【秘】"})
				last = s.Report()
				c.Release(s)
			}
			done <- last
		}()
	}
	for g := 0; g < 4; g++ {
		if r := <-done; r.Find(MyNumber) == nil || r.Find("emp") == nil || r.Level != LevelI {
			t.Errorf("goroutine report %+v", r)
		}
	}
}
