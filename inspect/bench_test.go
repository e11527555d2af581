package inspect

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"
)

// bench25MB writes a 25 MB message with mixed attachments to a file (as
// the spool holds it): a Japanese text body, an HTML alternative, Shift_JIS
// CSV rosters, random binary (base64), a ZIP of CSV and text, a DOCX when
// the office test files are there, and a forwarded message.
func bench25MB(b *testing.B) string {
	b.Helper()
	r := rand.New(rand.NewSource(25))
	var m bytes.Buffer
	m.WriteString("From: =?UTF-8?B?5bGx55Sw?= <a@city.example.lg.jp>\r\nTo: b@example.com\r\nSubject: =?ISO-2022-JP?B?GyRCO3FOQRsoQg==?=\r\n" +
		"Message-ID: <bench@example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BENCH\"\r\n\r\n")
	part := func(hdr string, body []byte) {
		m.WriteString("--BENCH\r\n" + hdr + "\r\n")
		m.Write(body)
		m.WriteString("\r\n")
	}
	b64 := func(data []byte) []byte {
		enc := base64.StdEncoding.EncodeToString(data)
		var out bytes.Buffer
		for len(enc) > 76 {
			out.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		out.WriteString(enc)
		return out.Bytes()
	}
	var body strings.Builder
	for body.Len() < 1<<20 {
		fmt.Fprintf(&body, "お世話になります。会議資料 %d 件、住所は東京都若葉市中央一丁目%d番。Regards, ID %012d\r\n", body.Len(), r.Intn(50), r.Int63n(1e12))
	}
	part("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n", []byte(body.String()))
	part("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
		b64([]byte("<html><body><table><tr><td>"+strings.ReplaceAll(body.String()[:256<<10], "\r\n", "</td></tr><tr><td>")+"</td></tr></table></body></html>")))
	var csv strings.Builder
	csv.WriteString("氏名,住所,電話番号,生年月日,個人番号\r\n")
	for csv.Len() < 3<<20 {
		fmt.Fprintf(&csv, "山田\u3000太郎%d,東京都若葉市曙町%d丁目,042-555-%04d,1980/01/%02d,%012d\r\n", r.Intn(1000), r.Intn(9), r.Intn(10000), r.Intn(28)+1, r.Int63n(1e12))
	}
	sj, _, _ := transform.Bytes(japanese.ShiftJIS.NewEncoder(), []byte(csv.String()))
	for i := 0; i < 2; i++ {
		part(fmt.Sprintf("Content-Type: text/csv\r\nContent-Disposition: attachment; filename=\"roster%d.csv\"\r\nContent-Transfer-Encoding: base64\r\n", i), b64(sj))
	}
	bin := make([]byte, 6<<20)
	r.Read(bin)
	part("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"blob.bin\"\r\nContent-Transfer-Encoding: base64\r\n", b64(bin))
	z := zipOf(b, map[string][]byte{"inner.csv": []byte(csv.String()[:1<<20]), "memo.txt": []byte(body.String()[:64<<10]), "noise.bin": bin[:1<<20]})
	part("Content-Type: application/zip\r\nContent-Disposition: attachment; filename=\"bundle.zip\"\r\nContent-Transfer-Encoding: base64\r\n", b64(z))
	if docx, err := os.ReadFile(filepath.Join("testdata", "files", "office", "document.docx")); err == nil {
		part("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"doc.bin\"\r\nContent-Transfer-Encoding: base64\r\n", b64(docx))
	}
	part("Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"fwd.eml\"\r\n",
		[]byte("Subject: fwd\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+body.String()[:128<<10]))
	for m.Len() < 25<<20 {
		chunk := bin[:min(len(bin), 25<<20-m.Len())]
		part("Content-Type: image/png\r\nContent-Disposition: attachment; filename=\"pic.png\"\r\nContent-Transfer-Encoding: base64\r\n",
			b64(append([]byte("\x89PNG\r\n\x1a\n"), chunk[:len(chunk)*3/4]...)))
	}
	m.WriteString("--BENCH--\r\n")
	path := filepath.Join(b.TempDir(), "bench.eml")
	if err := os.WriteFile(path, m.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkMessage25MB reports the speed of inspection (MB/s of raw
// message) and the peak live heap while inspecting (the message is read
// from a file, as from the spool; the sink only counts).
func BenchmarkMessage25MB(b *testing.B) {
	path := bench25MB(b)
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	lim := DefaultLimits()
	lim.TempDir = b.TempDir()

	runtime.GC()
	base := heapBytes()
	var peak uint64
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				h := heapBytes()
				mu.Lock()
				peak = max(peak, h)
				mu.Unlock()
			}
		}
	}()
	b.ResetTimer()
	var text int64
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		var c countSink
		res, err := Message(context.Background(), f, lim, &c)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		text = res.TextBytes
	}
	b.StopTimer()
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(text)/(1<<20), "text-MB")
}

// heapBytes reads the live heap without stopping the world.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
