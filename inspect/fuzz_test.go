package inspect

import (
	"bytes"
	"context"
	"dlpguard/mimemsg"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzLimits are small so that one input stays cheap.
func fuzzLimits() Limits {
	return Limits{
		MaxDecodedBytes:     4 << 20,
		MaxPartBytes:        1 << 20,
		MaxParts:            50,
		MaxDepth:            8,
		MaxArchiveEntries:   50,
		MaxCompressionRatio: 100,
		MaxTextBytes:        1 << 20,
		MaxHeaderBytes:      64 << 10,
		Timeout:             20 * time.Second,
	}
}

// addSeeds adds the hand-made messages and the samples as seeds, besides
// the corpus in testdata/fuzz/FuzzMessage.
func addSeeds(f *testing.F) {
	for _, pat := range []string{"testdata/mime/*.eml", "../testdata/samples/*.eml"} {
		files, _ := filepath.Glob(pat)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
}

// FuzzMessage: on any input the MIME walk returns, without error (the
// input is in memory), within its limits, sending only valid UTF-8.
func FuzzMessage(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := fuzzLimits()
		var c countSink
		res, err := Message(context.Background(), bytes.NewReader(data), lim, &c)
		if err != nil {
			t.Fatalf("error on in-memory input: %v", err)
		}
		if res == nil {
			t.Fatal("nil result")
		}
		if res.TreeComplete {
			// The tree is the list release compares against (3.3.5).
			split, err := mimemsg.Split(context.Background(), bytes.NewReader(data),
				mimemsg.Limits{MaxDepth: lim.MaxDepth, MaxParts: lim.MaxParts, MaxHeaderBytes: lim.MaxHeaderBytes})
			if err != nil {
				t.Fatalf("split: %v", err)
			}
			if m := mimemsg.Compare(split, res.Tree); m != nil {
				t.Fatalf("tree differs from mimemsg.Split: %v", m)
			}
		}
		if len(res.Parts) > lim.MaxParts {
			t.Errorf("%d parts over MaxParts %d", len(res.Parts), lim.MaxParts)
		}
		if res.TextBytes > lim.MaxTextBytes || c.bytes != res.TextBytes {
			t.Errorf("text %d (sink %d) over %d", res.TextBytes, c.bytes, lim.MaxTextBytes)
		}
		if c.invalid {
			t.Error("invalid UTF-8 sent")
		}
		for _, p := range res.Parts {
			if p.Size > lim.MaxPartBytes {
				t.Errorf("part %q size %d over MaxPartBytes", p.Name, p.Size)
			}
			if !utf8.ValidString(p.Name) {
				t.Errorf("part name not UTF-8: %q", p.Name)
			}
		}
	})
}

type countSink struct {
	bytes   int64
	invalid bool
}

func (c *countSink) Chunk(ch Chunk) {
	c.bytes += int64(len(ch.Text))
	if !utf8.ValidString(ch.Text) || !utf8.ValidString(ch.Location) {
		c.invalid = true
	}
}

// FuzzRTF: the RTF reader ends on any input with valid UTF-8 output.
func FuzzRTF(f *testing.F) {
	f.Add([]byte(`{\rtf1\ansi\ansicpg932{\fonttbl{\f0\fcharset128 x;}}\f0\'82\'a0\u23665?\par}`))
	f.Add([]byte(`{\*\x{\bin3 }}}}{{\u-1\uc0\'`))
	if b, err := os.ReadFile("testdata/mime/libreoffice.rtf"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b bytes.Buffer
		rtfToText(bytes.NewReader(data), &b)
		if !utf8.Valid(b.Bytes()) {
			t.Fatal("invalid UTF-8")
		}
	})
}

// FuzzTNEF: winmail.dat of any shape ends within the limits.
func FuzzTNEF(f *testing.F) {
	f.Add([]byte{0x01, 0x00, 0x01, 0x03, 0x90, 0x06, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00})
	f.Add([]byte{0x01, 0x00, 0x02, 0x02, 0x90, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x05, 0x90, 0x06, 0x00, 0x04, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := append([]byte{0x78, 0x9f, 0x3e, 0x22}, data...)
		var c countSink
		res, err := File(context.Background(), "winmail.dat", bytes.NewReader(in), fuzzLimits(), &c)
		if err != nil || res == nil || c.invalid {
			t.Fatalf("err %v invalid %v", err, c.invalid)
		}
	})
}

// FuzzDecoders: the small decoders added by the red team (UTF-7, CSS
// strings, JSON escapes, content-line folding, pasted base64) never panic
// and give valid UTF-8.
func FuzzDecoders(f *testing.F) {
	for _, s := range []string{"+UAtOunVqU/f/Gg-123 a+-b", `p::before{content:"\31 \FF1A" 'x\'y'}`, `{"\u500b\ud83d\ude00\u00"}`,
		"DESCRIPTION:a\r\n b\\nc\\,", "\x00\x00\x00\x05tEXtk\x00abc\x00\x00\x00\x00", "\xFF\xFE\x00\x05abc", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY\n-----BEGIN X-----\n", "+2D3cAA-", "content:\"\\"} {
		f.Add([]byte(s))
	}
	utf7, _, _ := mimemsg.LookupCharset("utf-7")
	f.Fuzz(func(t *testing.T, b []byte) {
		if s := mimemsg.DecodeBytes(b, utf7); !utf8.ValidString(s) {
			t.Errorf("utf-7 gave invalid UTF-8 for %q", b)
		}
		for _, c := range cssContent(b) {
			_ = c
		}
		if s := unescapeJSON(b); utf8.Valid(b) && !utf8.ValidString(s) {
			t.Errorf("JSON unescape gave invalid UTF-8 for %q", b)
		}
		_ = unfoldContentLines(b)
		_ = base64Line(b)
		_ = readableBlob(b)
		for _, prefix := range []string{"\x89PNG\r\n\x1a\n", "\xFF\xD8"} {
			m := append([]byte(prefix), b...)
			if s := mediaText(bytes.NewReader(m), int64(len(m))); !utf8.ValidString(s) {
				t.Errorf("media text invalid UTF-8 for %q", m)
			}
		}
	})
}
