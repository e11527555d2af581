package office

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// tokens renders a token stream for comparison; character data made of
// white space only is dropped (encoding/xml and the tokenizer agree on it,
// but the parsers never read it outside text elements).
func tokens(t *testing.T, next func() (xml.Token, error)) []string {
	t.Helper()
	var out []string
	for {
		tok, err := next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			return append(out, "error")
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			s := "<" + tok.Name.Space + ":" + tok.Name.Local
			for _, a := range tok.Attr {
				s += fmt.Sprintf(" %s:%s=%q", a.Name.Space, a.Name.Local, a.Value)
			}
			out = append(out, s+">")
		case xml.EndElement:
			out = append(out, "</"+tok.Name.Space+":"+tok.Name.Local+">")
		case xml.CharData:
			out = append(out, "text "+string(tok))
		}
	}
}

func stdTokens(t *testing.T, b []byte) []string {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	return tokens(t, func() (xml.Token, error) {
		for {
			tok, err := d.RawToken()
			switch tok.(type) {
			case xml.ProcInst, xml.Comment, xml.Directive:
				continue
			}
			return tok, err
		}
	})
}

// TestTokenizerMatchesEncodingXML compares the tokenizer with
// encoding/xml's RawToken over every XML part of the generated files.
func TestTokenizerMatchesEncodingXML(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(files, "office", "*"))
	parts := 0
	for _, p := range paths {
		if strings.HasPrefix(filepath.Base(p), "damaged") {
			continue // not well-formed on purpose (TestDamagedMainPart)
		}
		b := load(t, strings.TrimPrefix(p, files+"/"))
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			continue // OLE files
		}
		for _, f := range zr.File {
			if !strings.HasSuffix(f.Name, ".xml") && !strings.HasSuffix(f.Name, ".rels") {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				continue // encrypted ODF parts
			}
			data, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("<")) {
				continue
			}
			parts++
			want := stdTokens(t, data)
			z := newTokenizer(bytes.NewReader(data))
			got := tokens(t, z.RawToken)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Errorf("%s %s: token %d = %s, want %s", p, f.Name, i, got[i], want[i])
						break
					}
				}
				if len(got) != len(want) {
					t.Errorf("%s %s: %d tokens, want %d", p, f.Name, len(got), len(want))
				}
			}
		}
	}
	if parts < 50 {
		t.Errorf("compared only %d parts", parts)
	}
}

func TestTokenizerCases(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`<a x="1 > 0" y='&lt;&#x41;&#66;'>t&amp;u</a>`, `<:a :x="1 > 0" :y="<AB">|text t&u|</:a>`},
		{`<w:t xml:space="preserve"> a </w:t>`, `<w:t xml:space="preserve">|text  a |</w:t>`},
		{"<a>x\r\ny\rz</a>", "<:a>|text x\ny\nz|</:a>"},
		{`<?xml version="1.0"?><!-- <b> --><a><![CDATA[<b>&amp;]]></a>`, `<:a>|text <b>&amp;|</:a>`},
		{`<!DOCTYPE a [<!ENTITY e "boom">]><a>&e;</a>`, `<:a>|text &e;|</:a>`},
		{`<a/><b c="d"/>`, `<:a>|</:a>|<:b :c="d">|</:b>|error`}, // two roots: damaged, read through
		// Not well-formed (issue 12): read as far as it goes, then an error
		// instead of the end, so a damaged part never reads as complete.
		{`<a><b>t</a>`, `<:a>|<:b>|text t|</:a>|error`},
		{`<a>t</b></a>`, `<:a>|text t|</:b>|</:a>|error`},
		{`<a>t</a></a>`, `<:a>|text t|</:a>|</:a>|error`},
		{`<a><b>t</b>`, `<:a>|<:b>|text t|</:b>|error`},
		{`text only`, `text text only|error`},
		{``, `error`},
		{"garbage\xff<a>x</a>", "text garbage\uFFFD|<:a>|text x|</:a>|error"},
		{`<a><<b>t</a>`, `<:a>|<:<b>|text t|</:a>|error`},
		{"<a>t</a>\n  \n", "<:a>|text t|</:a>|text \n  \n"}, // white space after the root is fine
		{"<a>\xff</a>", "<:a>|text \uFFFD|</:a>"},
		{`<a>&#0;&#x110000;&bogus</a>`, "<:a>|text \x00\uFFFD&bogus|</:a>"},
		{"\xef\xbb\xbf<a>bom</a>", "<:a>|text bom|</:a>"},
		{"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><a>\x96\xbc\x95\xeb</a>", "<:a>|text 名簿|</:a>"},
		{"\xff\xfe<\x00a\x00>\x00\x0d\x54<\x00/\x00a\x00>\x00", "<:a>|text 名|</:a>"}, // UTF-16LE
		{`<a`, `error`},
		{`<a b="x>`, `error`},
	} {
		z := newTokenizer(strings.NewReader(tt.in))
		got := strings.Join(tokens(t, z.RawToken), "|")
		if got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

// TestTokenizerSmallBuffer: tags and text longer than the read buffer (and
// a '>' inside a quoted value across a buffer edge) come out whole.
func TestTokenizerSmallBuffer(t *testing.T) {
	long := strings.Repeat("値>", 3000)
	in := `<?xml version="1.0"?><root a="` + long + `"><!-- ` + long + ` --><t>` + strings.Repeat("文字&amp;", 5000) + `</t><e x='1'/></root>`
	want := stdTokens(t, []byte(in))
	for _, size := range []int{16, 100, 4096} {
		z := newTokenizerSize(strings.NewReader(in), size)
		got := tokens(t, z.RawToken)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("buffer %d: %d tokens differ from encoding/xml's %d", size, len(got), len(want))
		}
	}
}
