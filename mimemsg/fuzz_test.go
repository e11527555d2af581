package mimemsg

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSplit: on any input Split returns (the input is in memory, so
// without error unless too many parts), the same list twice, the message
// first and every part after its parent; header decoding and parameter
// parsing give valid UTF-8.
func FuzzSplit(f *testing.F) {
	for _, pat := range []string{"testdata/*.eml", "../testdata/samples/*.eml", "../inspect/testdata/mime/*.eml"} {
		files, _ := filepath.Glob(pat)
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	lim := Limits{MaxDepth: 8, MaxParts: 50, MaxHeaderBytes: 64 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Split(context.Background(), bytes.NewReader(data), lim)
		if err != nil && err != ErrTooManyParts {
			t.Fatalf("split: %v", err)
		}
		b, _ := Split(context.Background(), bytes.NewReader(data), lim)
		if m := Compare(a, b); m != nil {
			t.Fatalf("two splits differ: %v", m)
		}
		if len(a) == 0 || a[0].Path != RootPath || len(a) > lim.MaxParts {
			t.Fatalf("list: %+v", a)
		}
		seen := map[string]bool{}
		for _, p := range a {
			if i := strings.LastIndexByte(p.Path, '.'); i >= 0 && !seen[p.Path[:i]] {
				t.Fatalf("part %s before its parent", p.Path)
			}
			if seen[p.Path] {
				t.Fatalf("path %s twice", p.Path)
			}
			seen[p.Path] = true
			if !utf8.ValidString(p.Type) || len(p.SHA256) != 64 || len(p.HeaderSHA256) != 64 {
				t.Fatalf("entry %+v", p)
			}
		}
		h, _, _ := ReadHeader(bufioReader(data), lim.MaxHeaderBytes)
		for _, fl := range h {
			if s := DecodeHeader(fl.Value); !utf8.ValidString(s) {
				t.Fatalf("DecodeHeader(%q) is not UTF-8", fl.Value)
			}
			_, params := ParseParams(fl.Value)
			for _, v := range params {
				if !utf8.ValidString(v) {
					t.Fatalf("ParseParams(%q) gave invalid UTF-8", fl.Value)
				}
			}
		}
	})
}

// FuzzCharsetSniff: the sniffer gives the same answer fed whole or in
// pieces, and decoding with its answer (or any label) gives valid UTF-8.
func FuzzCharsetSniff(f *testing.F) {
	for _, s := range [][]byte{
		[]byte("plain"), []byte("\x1b$B8D?M\x1b(B"), {0x8c, 0xc2, 0x90, 0x6c}, {0xb8, 0xc4, 0xbf, 0xcd},
		{0xef, 0xbb, 0xbf, 'a'}, {0xff, 0xfe, 'a', 0}, {0xe6, 0x9c}, {0x8f, 0xb0}, {0x1b, '$'},
	} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		whole, _ := SniffCharset(data)
		var s Sniffer
		n := int(step%16) + 1
		for i := 0; i < len(data); i += n {
			s.Write(data[i:min(i+n, len(data))])
		}
		if pieces, _ := s.Result(); pieces != whole {
			t.Fatalf("whole %s, in pieces of %d %s", whole, n, pieces)
		}
		for _, name := range []string{whole, CharsetCP932, CharsetEUCJP, CharsetISO2022JP, CharsetUTF8, CharsetUTF16LE} {
			if out := DecodeBytes(data, EncodingFor(name)); !utf8.ValidString(out) {
				t.Fatalf("%s decode not valid UTF-8", name)
			}
		}
		if out := DecodeHeader(string(data)); !utf8.ValidString(out) {
			t.Fatal("decodeHeader not valid UTF-8")
		}
		_, params := ParseParams(string(data))
		for k, v := range params {
			if !utf8.ValidString(v) {
				t.Fatalf("param %q not valid UTF-8", k)
			}
		}
	})
}
