package inspect

import (
	"bytes"
	"dlpguard/mimemsg"
	"io"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"
)

func sjisBytes(s string) []byte {
	b, _, _ := transform.Bytes(japanese.ShiftJIS.NewEncoder(), []byte(s))
	return b
}

func TestHTMLToText(t *testing.T) {
	in := `<html><head><style>p{color:red}</style></head><body><p>A&nbsp;B &lt;c&gt;</p><br>` +
		`<span style="display:none">hidden</span><img alt="alt text"><table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table>` +
		`<pre>  keep   spaces</pre><input value="typed"></body></html>`
	var b strings.Builder
	if err := htmlToText(strings.NewReader(in), &b); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, w := range []string{"A\u00a0B <c>", "hidden", "alt text", "1\t2\t", "3\t", "  keep   spaces", "typed"} {
		if !strings.Contains(got, w) {
			t.Errorf("%q not in %q", w, got)
		}
	}
	if strings.Contains(got, "color") {
		t.Errorf("style content in %q", got)
	}
	if !utf8.ValidString(got) {
		t.Error("invalid UTF-8")
	}
}

func TestRTFToText(t *testing.T) {
	// As Word and WordPad write Japanese: a CP932 font, \'hh escapes, and
	// \uN with a fallback.
	in := `{\rtf1\ansi\ansicpg932\deff0{\fonttbl{\f0\fnil\fcharset128 \'82\'6c\'82\'72 \'96\'be\'92\'a9;}{\f1\fswiss\fcharset0 Arial;}}` +
		`{\colortbl ;\red255\green0\blue0;}{\*\generator Riched20 10.0;}\viewkind4\uc1\pard\f0\fs22 \'81\'79\'94\'e9\'81\'7a\par` +
		`\'8c\'c2\'90\'6c\'94\'d4\'8d\'86 1234 5678 9012\par\f1 Name\tab\u23665?\u26412?\cell\par{\pict\wmetafile8 0102ff}\'82\'a0}`
	var b strings.Builder
	if err := rtfToText(strings.NewReader(in), &b); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, w := range []string{"【秘】\n", "個人番号 1234 5678 9012\n", "Name\t山本\t"} {
		if !strings.Contains(got, w) {
			t.Errorf("%q not in %q", w, got)
		}
	}
	for _, w := range []string{"Arial", "Riched20", "0102ff", "red255", "ＭＳ"} {
		if strings.Contains(got, w) {
			t.Errorf("%q (not text) in %q", w, got)
		}
	}
}

// TestRTFFile: an RTF written by LibreOffice (testdata/mime/libreoffice.rtf,
// soffice --convert-to rtf of a Japanese text), read by content whatever
// its name.
func TestRTFFile(t *testing.T) {
	f, err := os.Open("testdata/mime/libreoffice.rtf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c collect
	res, err := File(t.Context(), "memo.dat", f, DefaultLimits(), &c)
	if err != nil {
		t.Fatal(err)
	}
	if p := findPart(res, "memo.dat"); p == nil || p.Type != "text/rtf" || !p.Inspected {
		t.Errorf("%s", dumpParts(res))
	}
	for _, w := range []string{"【秘】個人番号 1234 5678 9012", "氏名 山田太郎"} {
		if !strings.Contains(c.text(""), w) {
			t.Errorf("%q not in %q", w, c.text(""))
		}
	}
}

func TestFlowed(t *testing.T) {
	for _, c := range []struct {
		in    string
		delsp bool
		want  string
	}{
		{"a \r\nb\r\n", false, "a b\r\n"},
		{"個人番 \r\n号\r\n", true, "個人番号\r\n"},
		{">> q1 \r\n>> q2\r\n", false, ">> q1 q2\r\n"},
		{"> 1234 \r\n> 5678\r\n", true, "> 12345678\r\n"},
		{"> quoted \r\nnot\r\n", false, "> quoted \nnot\r\n"},
		{" From stuffed\r\n", false, "From stuffed\r\n"},
		{"-- \r\nsig\r\n", true, "-- \r\nsig\r\n"},
		{"no end ", true, "no end "},
	} {
		got, err := io.ReadAll(newFlowed(strings.NewReader(c.in), c.delsp))
		if err != nil || string(got) != c.want {
			t.Errorf("flowed %q → %q, want %q", c.in, got, c.want)
		}
	}
}

func TestResolveCharset(t *testing.T) {
	for _, c := range []struct {
		label, text, want string
		reason            bool
	}{
		{"iso-8859-1", "café", "iso-8859-1", false},
		{"iso-8859-1", "個人番号", "utf-8", true},    // UTF-8 mislabelled Latin-1
		{"utf-8", "ok \xff bad", "utf-8", false}, // one bad byte: stays UTF-8
		{"iso-2022-jp", string(sjisBytes("個人番号")), "cp932", true},
		{"us-ascii", "\x1b$B8D?M\x1b(B", "iso-2022-jp", true},
		{"shift_jis", string(sjisBytes("個人番号①")), "cp932", false},
		{"x-unknown", string(sjisBytes("個人番号")), "cp932", true},
		{"", "plain", "us-ascii", false},
	} {
		var sn mimemsg.Sniffer
		if c.label == "iso-8859-1" && c.text == "café" {
			sn.Write([]byte{'c', 'a', 'f', 0xe9})
		} else {
			sn.Write([]byte(c.text))
		}
		_, name, reason := resolveCharset(c.label, &sn)
		if name != c.want || (reason != "") != c.reason {
			t.Errorf("%q on %q: %s %q, want %s (reason %v)", c.label, c.text, name, reason, c.want, c.reason)
		}
	}
}

// TestOpenPGPPackets: binary OpenPGP messages encrypted to a key (PKESK)
// and to a passphrase (SKESK), made with go-crypto, are recognised; a PNG
// (whose first byte also has the high bit set) is not.
func TestOpenPGPPackets(t *testing.T) {
	ent, err := openpgp.NewEntity("t", "", "t@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var pk, sk bytes.Buffer
	w, err := openpgp.Encrypt(&pk, []*openpgp.Entity{ent}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("個人番号 123456789012"))
	w.Close()
	w, err = openpgp.SymmetricallyEncrypt(&sk, []byte("pw"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	w.Close()
	for name, c := range map[string]struct {
		b    []byte
		want int
	}{
		"pkesk": {pk.Bytes(), pgpEncrypted},
		"skesk": {sk.Bytes(), pgpEncrypted},
		"png":   {[]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), pgpNone},
		"text":  {[]byte("hello"), pgpNone},
	} {
		if got := pgpKind(c.b); got != c.want {
			t.Errorf("%s: %d, want %d", name, got, c.want)
		}
	}
}

func TestHeaderlessFromLine(t *testing.T) {
	// A part with no header whose text starts with "From " keeps that line.
	raw := "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nFrom the desk of 山田 個人番号 123456789012\r\n--b--\r\n"
	var c collect
	if _, err := Message(t.Context(), strings.NewReader(raw), DefaultLimits(), &c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.text("body"), "From the desk of 山田 個人番号 123456789012") {
		t.Errorf("%q", c.text(""))
	}
}
