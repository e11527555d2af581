package ocr

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzTIFFPages walks arbitrary TIFF directories: never a panic or a loop,
// never more pages than asked for.
func FuzzTIFFPages(f *testing.F) {
	f.Add(tiffHeader(3, 100, 100))
	f.Add(tiffHeader(1, 60000, 60000))
	f.Add(readTestdata(f, "namelist-scan.tif"))
	f.Add([]byte("MM\x00*\x00\x00\x00\x08\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !isTIFF(b) {
			return
		}
		pages, _ := tiffPages(b, 5)
		if len(pages) > 5 {
			t.Fatalf("%d pages", len(pages))
		}
		for _, p := range pages {
			if p.w <= 0 || p.h <= 0 {
				t.Fatalf("page %+v", p)
			}
			_ = tiffPageFirst(b, p)
		}
	})
}

// FuzzClean: the text given to the detectors is valid UTF-8, and a table is
// one only when it has rows.
func FuzzClean(f *testing.F) {
	f.Add("個人番号 3 1 4 1 5 9 2 6 5 3 5 2\f")
	f.Add("1 |佐藤 太郎 |〇〇市  昭和40年\n2  鈴木  090-1234-5678\n3 | a | b\n")
	f.Add("\xff\xfe 1 2 3 4")
	f.Fuzz(func(t *testing.T, s string) {
		c := Clean(s)
		if !utf8.ValidString(c) || strings.ContainsRune(c, '\f') {
			t.Fatalf("Clean(%q) = %q", s, c)
		}
		if tb, ok := Table(c); ok && strings.Count(tb, "\n") < 3 {
			t.Fatalf("table of fewer than 3 rows: %q", tb)
		}
	})
}
