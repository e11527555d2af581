package console

import (
	"net/http"
	"strings"
	"testing"

	"dlpguard/classify"
	"dlpguard/hold"
)

// BenchmarkDetailPage: one detail page of a held message with a 40-row
// XLSX attachment (decrypt, inspect, mask, render) over loopback HTTP.
func BenchmarkDetailPage(b *testing.B) {
	f := newFixture(b)
	id := f.hold("p017_personal_list.eml", "user2@city.example.lg.jp", "list@example.com")
	c := f.client()
	c.signIn("kacho")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := c.get("/console/holds/" + id); r.status != http.StatusOK {
			b.Fatalf("status %d", r.status)
		}
	}
}

// BenchmarkListPage: the first page of 50 out of 500 holds.
func BenchmarkListPage(b *testing.B) {
	f := newFixture(b)
	raw := readSample(f.t, "p020_marking.eml")
	for i := 0; i < 500; i++ {
		f.putRaw(raw, "user2@city.example.lg.jp", "福祉課", hold.Verdict{Action: "hold", Rules: []hold.Rule{{ID: "marking-i-hold", Action: "hold", Clause: "3.3.5"}}})
	}
	c := f.client()
	c.signIn("kacho")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := c.get("/console/holds"); r.status != http.StatusOK {
			b.Fatalf("status %d", r.status)
		}
	}
}

func BenchmarkMask(b *testing.B) {
	text := strings.Repeat("福祉課の山田です。個人番号 1234 5678 9018 の件、電話 03-1234-5678 までご連絡ください。2026年11月25日\n", 200)
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		classify.MaskText(text)
	}
}
