package classify

import (
	"strings"
	"testing"

	"dlpguard/inspect"
)

func BenchmarkTmpProse(b *testing.B) {
	text := strings.Repeat("いつもお世話になっております。次回の会議資料を送付いたしますので、ご確認ください。\n", 40000)
	c := mustNew(b, Config{})
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		s := c.NewScanner()
		for off := 0; off < len(text); off += 64 << 10 {
			s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: text[off:min(off+64<<10, len(text))]})
		}
		s.Report()
	}
}

func BenchmarkTmpASCIIProse(b *testing.B) {
	text := strings.Repeat("Please find attached the minutes of the meeting held on Tuesday. The quick brown fox jumps over the lazy dog.\n", 40000)
	c := mustNew(b, Config{})
	b.SetBytes(int64(len(text)))
	start := cpuTime()
	defer func() { reportCPU(b, start, len(text)) }()
	for i := 0; i < b.N; i++ {
		s := c.NewScanner()
		for off := 0; off < len(text); off += 64 << 10 {
			s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: text[off:min(off+64<<10, len(text))]})
		}
		s.Report()
	}
}

func BenchmarkTmpDates(b *testing.B) {
	text := strings.Repeat("Order 4711 was shipped on 2026-11-20; the invoice total was 12,480 JPY. ", 40000)
	c := mustNew(b, Config{})
	b.SetBytes(int64(len(text)))
	start := cpuTime()
	defer func() { reportCPU(b, start, len(text)) }()
	for i := 0; i < b.N; i++ {
		s := c.NewScanner()
		for off := 0; off < len(text); off += 64 << 10 {
			s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: text[off:min(off+64<<10, len(text))]})
		}
		s.Report()
	}
}
