package inspect

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"dlpguard/inspect/ocr"
)

// BenchmarkScannedPage is the cost of one scanned page: the image-only PDF
// of a form (300 dpi, 2480×1350 pixels) inspected with and without OCR. The
// difference of the two is the latency OCR adds per scanned page; with one
// Tesseract job at a time (OMP_THREAD_LIMIT=1) pages/s is per core.
//
//	go test -run '^$' -bench BenchmarkScannedPage -count 3 ./inspect
func BenchmarkScannedPage(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("ocr", "testdata", "form-scan.pdf"))
	if err != nil {
		b.Fatal(err)
	}
	withAndWithoutOCR(b, func(b *testing.B, lim Limits) {
		cpu0 := cpuTime()
		for b.Loop() {
			res, err := File(context.Background(), "form-scan.pdf", strings.NewReader(string(data)), lim, nil)
			if err != nil || (lim.OCR != nil) != res.Parts[0].OCR {
				b.Fatalf("err %v part %+v", err, res.Parts[0])
			}
		}
		// CPU time of the relay and its Tesseract children: what a page
		// costs a core, whatever else the machine is doing.
		cpu := (cpuTime() - cpu0).Seconds()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/page")
		b.ReportMetric(cpu*1000/float64(b.N), "cpu-ms/page")
		b.ReportMetric(float64(b.N)/cpu, "pages/cpu-s")
	})
}

// BenchmarkOrdinaryMail: mail without pictures costs the same with OCR on
// (no picture, no OCR job), so the relay's msg/s on ordinary mail stays.
func BenchmarkOrdinaryMail(b *testing.B) {
	msg := "From: a@city.example.lg.jp\r\nTo: b@example.jp\r\nSubject: 会議の件\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat("来週の会議は第3会議室で行います。資料は当日配布します。\r\n", 300)
	withAndWithoutOCR(b, func(b *testing.B, lim Limits) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			if _, err := Message(context.Background(), strings.NewReader(msg), lim, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
	})
}

// BenchmarkMailWithLogo: the same picture in every message (a signature's
// logo) is read by Tesseract once; after that OCR costs a hash.
func BenchmarkMailWithLogo(b *testing.B) {
	logo, err := os.ReadFile(filepath.Join("ocr", "testdata", "map.png"))
	if err != nil {
		b.Fatal(err)
	}
	msg := "From: a@city.example.lg.jp\r\nTo: b@example.jp\r\nSubject: 会議の件\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/related; boundary=\"r\"\r\n\r\n--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		"<p>来週の会議は第3会議室で行います。</p><img src=\"cid:logo\">\r\n--r\r\nContent-Type: image/png\r\n" +
		"Content-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(logo) + "\r\n--r--\r\n"
	withAndWithoutOCR(b, func(b *testing.B, lim Limits) {
		// The first message reads the logo (the steady state is measured).
		if _, err := Message(context.Background(), strings.NewReader(msg), lim, nil); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := Message(context.Background(), strings.NewReader(msg), lim, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
	})
}

// withAndWithoutOCR runs fn as sub-benchmarks ocr-off and ocr-on (one
// Tesseract at a time).
func withAndWithoutOCR(b *testing.B, fn func(b *testing.B, lim Limits)) {
	e, err := ocr.New(ocr.Config{Enabled: "auto", Concurrency: 1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if e == nil {
		b.Skip("tesseract not installed")
	}
	for _, tc := range []struct {
		name string
		ocr  OCR
	}{{"ocr-off", nil}, {"ocr-on", e}} {
		b.Run(tc.name, func(b *testing.B) {
			lim := DefaultLimits()
			lim.OCR = tc.ocr
			fn(b, lim)
		})
	}
}

// cpuTime is the user and system time of this process and its waited-for
// children.
func cpuTime() time.Duration {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(children.Utime) + tv(children.Stime)
}
