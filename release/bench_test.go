package release

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

type staticKeys openpgp.EntityList

func (s staticKeys) ForRecipients(r []string) (openpgp.EntityList, []string, error) {
	return openpgp.EntityList(s), nil, nil
}

// bigMessage is a message with one attachment of n random bytes.
func bigMessage(n int) []byte {
	att := make([]byte, n)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(att)
	var b bytes.Buffer
	b.WriteString("From: a@city.example.lg.jp\r\nTo: b@example.jp\r\nSubject: big\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n" +
		"--x\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"big.bin\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(att)
	for i := 0; i < len(enc); i += 76 {
		b.WriteString(enc[i:min(i+76, len(enc))])
		b.WriteString("\r\n")
	}
	b.WriteString("--x--\r\n")
	return b.Bytes()
}

// BenchmarkRewrite25MB: a 25 MB attachment encrypted for one key. B/op
// shows the rewrite streams (it stays far below the message size).
func BenchmarkRewrite25MB(b *testing.B) {
	e, err := openpgp.NewEntity("b", "", "b@example.jp", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		b.Fatal(err)
	}
	msg := bigMessage(25 << 20)
	opts := Options{Recipients: []string{"b@example.jp"}, Keys: staticKeys{e}, Logger: slog.New(slog.DiscardHandler)}
	b.SetBytes(25 << 20)
	b.ReportAllocs()
	for b.Loop() {
		res, err := Rewrite(context.Background(), io.Discard, bytes.NewReader(msg), opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Parts) != 2 || res.Parts[1].OriginalSize != 25<<20 {
			b.Fatal(fmt.Sprint(res.Parts))
		}
	}
}

// heapWatch is a reader that samples the live heap as the message streams
// through, so benchmarks can report the peak above the starting point.
type heapWatch struct {
	r          io.Reader
	n, next    int
	base, peak uint64
}

func newHeapWatch(r io.Reader) *heapWatch {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return &heapWatch{r: r, base: m.HeapAlloc, peak: m.HeapAlloc}
}

func (h *heapWatch) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.n += n
	if h.n >= h.next {
		h.next = h.n + 1<<20
		runtime.GC() // live heap, not garbage waiting for the collector
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		h.peak = max(h.peak, m.HeapAlloc)
	}
	return n, err
}

// BenchmarkRewrite25MBPeakHeap reports the peak live heap (sampled after
// a GC every MiB) above the starting point (the input message itself is already in memory) while a
// 25 MB attachment is rewritten: it stays a few MB, not the message size.
func BenchmarkRewrite25MBPeakHeap(b *testing.B) {
	e, err := openpgp.NewEntity("b", "", "b@example.jp", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		b.Fatal(err)
	}
	msg := bigMessage(25 << 20)
	opts := Options{Recipients: []string{"b@example.jp"}, Keys: staticKeys{e}, Logger: slog.New(slog.DiscardHandler)}
	var peak uint64
	for b.Loop() {
		hw := newHeapWatch(bytes.NewReader(msg))
		if _, err := Rewrite(context.Background(), io.Discard, hw, opts); err != nil {
			b.Fatal(err)
		}
		peak = max(peak, hw.peak-hw.base)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}
