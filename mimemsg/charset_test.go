package mimemsg

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"math/rand"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"
)

// TestJapaneseExtensions records what x/text's decoders cover: its ShiftJIS
// is CP932 (NEC row 13, NEC-selected IBM and IBM extensions); CP932's
// user-defined area (F0–F9) is not mapped and comes out as U+FFFD.
func TestJapaneseExtensions(t *testing.T) {
	cases := []struct {
		name string
		dec  func() transform.Transformer
		in   []byte
		want string
	}{
		{"cp932 NEC row 13", func() transform.Transformer { return japanese.ShiftJIS.NewDecoder() }, []byte{0x87, 0x40, 0x87, 0x54, 0x87, 0x8a, 0x87, 0x82}, "①Ⅰ㈱№"},
		{"cp932 IBM ext", func() transform.Transformer { return japanese.ShiftJIS.NewDecoder() }, []byte{0xfb, 0xfc, 0xfa, 0x40}, "髙ⅰ"},
		{"cp932 NEC-selected IBM", func() transform.Transformer { return japanese.ShiftJIS.NewDecoder() }, []byte{0xed, 0x40}, "纊"},
		{"cp932 user-defined", func() transform.Transformer { return japanese.ShiftJIS.NewDecoder() }, []byte{0xf0, 0x40}, "\uFFFD"},
		{"euc-jp NEC row 13", func() transform.Transformer { return japanese.EUCJP.NewDecoder() }, []byte{0xad, 0xa1, 0xad, 0xb5}, "①Ⅰ"},
		{"euc-jp JIS X 0212", func() transform.Transformer { return japanese.EUCJP.NewDecoder() }, []byte{0x8f, 0xb0, 0xa1}, "丂"},
		{"cp50220 in iso-2022-jp", func() transform.Transformer { return japanese.ISO2022JP.NewDecoder() }, []byte("\x1b$B-!-5\x1b(B"), "①Ⅰ"},
		{"iso-2022-jp half-width kana", func() transform.Transformer { return japanese.ISO2022JP.NewDecoder() }, []byte("\x1b(I1\x1b(B"), "ｱ"},
	}
	for _, c := range cases {
		got, _, err := transform.Bytes(c.dec(), c.in)
		if err != nil || string(got) != c.want {
			t.Errorf("%s: %q %v, want %q", c.name, got, err, c.want)
		}
	}
}

func TestLookupCharset(t *testing.T) {
	for label, want := range map[string]string{
		"cp932": "cp932", "MS932": "cp932", "Windows-31J": "cp932", "x-sjis": "cp932", "Shift-JIS": "cp932",
		"sjis": "cp932", "csShiftJIS": "cp932", "Shift_JIS": "cp932",
		"CP50220": "iso-2022-jp", "cp50221": "iso-2022-jp", "ISO-2022-JP-MS": "iso-2022-jp", "iso-2022-jp-2": "iso-2022-jp",
		"iso-2022-jp-3": "iso-2022-jp", "csISO2022JP": "iso-2022-jp",
		"euc-jp": "euc-jp", "eucjp": "euc-jp", "x-euc-jp": "euc-jp",
		"utf8": "utf-8", "UTF-8": "utf-8", "\"utf-8\"": "utf-8", "us-ascii": "us-ascii",
		"iso-8859-1": "iso-8859-1", "ISO-8859-15": "iso-8859-15", "utf-16le": "utf-16le",
	} {
		_, name, ok := LookupCharset(label)
		if !ok || name != want {
			t.Errorf("%q → %q %v, want %q", label, name, ok, want)
		}
	}
	if _, _, ok := LookupCharset("x-wakaba-unknown"); ok {
		t.Error("unknown label accepted")
	}
}

func TestSniffCharset(t *testing.T) {
	text := "個人番号は123456789012です。住所：東京都若葉市中央一丁目①"
	sj, _, _ := transform.Bytes(japanese.ShiftJIS.NewEncoder(), []byte(text))
	eu, _, _ := transform.Bytes(japanese.EUCJP.NewEncoder(), []byte("個人番号は123456789012です。住所：東京都若葉市中央一丁目"))
	iso, _, _ := transform.Bytes(japanese.ISO2022JP.NewEncoder(), []byte("個人番号は123456789012です。"))
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"ascii", []byte("hello 123"), "us-ascii"},
		{"utf-8", []byte(text), "utf-8"},
		{"utf-8 bom", append([]byte{0xef, 0xbb, 0xbf}, text...), "utf-8"},
		{"utf-16le bom", []byte{0xff, 0xfe, 'a', 0}, "utf-16le"},
		{"utf-16be bom", []byte{0xfe, 0xff, 0, 'a'}, "utf-16be"},
		{"cp932", sj, "cp932"},
		{"euc-jp", eu, "euc-jp"},
		{"iso-2022-jp", iso, "iso-2022-jp"},
		{"half-width kana cp932", []byte{0xb1, 0xb2, 0xb3, 0x82, 0xa0, 0x82, 0xa2, 0x82, 0xa4}, "cp932"},
	}
	for _, c := range cases {
		if got, _ := SniffCharset(c.in); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
		// Fed in small pieces, the answer is the same (split runes and
		// escape sequences across writes).
		var s Sniffer
		for i := 0; i < len(c.in); i += 3 {
			end := min(i+3, len(c.in))
			s.Write(c.in[i:end])
		}
		if got, _ := s.Result(); got != c.want {
			t.Errorf("%s in pieces: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestDecodeHeader(t *testing.T) {
	iso := func(s string) []byte {
		b, _, _ := transform.Bytes(japanese.ISO2022JP.NewEncoder(), []byte(s))
		return b
	}
	full := iso("個人番号のお知らせ")
	split := "=?ISO-2022-JP?B?" + b64(full[:11]) + "?= =?ISO-2022-JP?B?" + b64(full[11:]) + "?="
	u := []byte("取扱注意")
	cases := map[string]string{
		"plain":                    "plain",
		"=?UTF-8?Q?caf=C3=A9_ok?=": "café ok",
		"=?utf-8?b?5Y+W5omx?=":     "取扱",
		"a =?UTF-8?B?5Y+W?= b":     "a 取 b",
		split:                      "個人番号のお知らせ",
		"=?UTF-8?B?" + b64(u[:4]) + "?=\r\n =?UTF-8?B?" + b64(u[4:]) + "?=": "取扱注意",
		"=?unknown-cs?B?" + b64([]byte("重要")) + "?=":                        "重要",
		"=?ISO-2022-JP*ja?B?" + b64(iso("秘")) + "?=":                        "秘",
		"=?broken":                 "=?broken",
		"=?UTF-8?X?abc?=":          "=?UTF-8?X?abc?=",
		string(sjisBytes("【秘】資料")): "【秘】資料",
	}
	for in, want := range cases {
		if got := DecodeHeader(in); got != want {
			t.Errorf("decodeHeader(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseParams(t *testing.T) {
	cases := []struct {
		in, key, want, typ string
	}{
		{`text/plain; charset="ISO-2022-JP"`, "charset", "ISO-2022-JP", "text/plain"},
		{`attachment; filename*=shift_jis''%96%BC%95%EB.csv`, "filename", "名簿.csv", "attachment"},
		{`attachment; filename*=UTF-8''%E5%90%8D%E7%B0%BF.csv`, "filename", "名簿.csv", "attachment"},
		{`attachment; filename*0*=UTF-8''%E5%90%8D; filename*1=".csv"`, "filename", "名.csv", "attachment"},
		{`attachment; filename="a.txt"; filename="b.txt"`, "filename", "a.txt", "attachment"},
		{`attachment; filename="x"; filename*=UTF-8''%E5%90%8D`, "filename", "名", "attachment"},
		{`attachment; filename=unquoted name.txt`, "filename", "unquoted name.txt", "attachment"},
		{`attachment; filename="semi;colon.txt"`, "filename", "semi;colon.txt", "attachment"},
		{`attachment; filename="unterminated`, "filename", "unterminated", "attachment"},
		{`Multipart/Mixed; boundary=----=_Part_0`, "boundary", "----=_Part_0", "multipart/mixed"},
		{`attachment; filename="` + string(sjisBytes("表ソ.csv")) + `"`, "filename", "表ソ.csv", "attachment"},
		{`;;;`, "x", "", ""},
	}
	for _, c := range cases {
		typ, params := ParseParams(c.in)
		if typ != c.typ || params[c.key] != c.want {
			t.Errorf("parseParams(%q) = %q %q, want %q %q", c.in, typ, params[c.key], c.typ, c.want)
		}
	}
}

func TestReadHeader(t *testing.T) {
	in := "From a@b Mon Jan  1 00:00:00 2024\r\nSubject: one\r\n two\r\nX-Nul: a\x00b\r\r\nBad Line Here\r\nrest"
	h, res, err := ReadHeader(bufio.NewReader(strings.NewReader(in)), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if h.Get("Subject") != "one two" || h.Get("X-Nul") != "ab" {
		t.Errorf("header %+v", h)
	}
	if string(res.Leftover) != "Bad Line Here\r\n" || res.Problem == "" {
		t.Errorf("leftover %q problem %q", res.Leftover, res.Problem)
	}
}

func TestTransferDecoders(t *testing.T) {
	for in, want := range map[string]string{
		"5pys5paH":           "本文",
		"5pys\r\n5paH":       "本文",
		"5py s5p*aH":         "本文",
		"YQ==YQ==":           "aa",
		"YWJj\r\nZA":         "abcd",
		"5pys5paH-_":         "本文",
		"":                   "",
		"=====":              "",
		"YWJjZA=\r\n=\r\nYQ": "abcda",
	} {
		got, _ := DecodeBase64([]byte(in))
		if !strings.HasPrefix(string(got), want) {
			t.Errorf("base64 %q → %q, want %q", in, got, want)
		}
	}
	// Well-formed bodies of any size, through the fast path and the slow
	// path (line breaks, small reads), decode to the original.
	r := rand.New(rand.NewSource(7))
	for _, size := range []int{0, 1, 2, 3, 45, 57, 1000, 70000} {
		data := make([]byte, size)
		r.Read(data)
		enc := base64.StdEncoding.EncodeToString(data)
		var lined strings.Builder
		for i := 0; i < len(enc); i += 76 {
			lined.WriteString(enc[i:min(i+76, len(enc))] + "\r\n")
		}
		got, err := io.ReadAll(transform.NewReader(iotest.OneByteReader(strings.NewReader(lined.String())), &Base64Decoder{}))
		got2, _ := DecodeBase64([]byte(lined.String()))
		if err != nil || !bytes.Equal(got, data) || !bytes.Equal(got2, data) {
			t.Errorf("base64 round trip of %d bytes: %v", size, err)
		}
	}
	for in, want := range map[string]string{
		"a=3Db":          "a=b",
		"soft=\r\nline":  "softline",
		"soft= \r\nx":    "softx",
		"bad=ZZ":         "bad=ZZ",
		"end=":           "end",
		"=E6=9C=AC":      "本",
		"lower=e6=9c=ac": "lower本",
	} {
		got, _, err := transform.String(&QPDecoder{}, in)
		if err != nil || got != want {
			t.Errorf("qp %q → %q %v, want %q", in, got, err, want)
		}
	}
}

func b64(b []byte) string {
	return base64.StdEncoding.EncodeToString(b)
}

func sjisBytes(s string) []byte {
	b, _, _ := transform.Bytes(japanese.ShiftJIS.NewEncoder(), []byte(s))
	return b
}
