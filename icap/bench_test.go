package icap

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"dlpguard/policy"
)

// BenchmarkReqmod1MB: one REQMOD of a harmless 1 MB multipart upload,
// parsed, spooled, inspected and answered 204 (no network).
func BenchmarkReqmod1MB(b *testing.B) {
	eng := defaultEngine(b)
	s := New(Config{TempDir: b.TempDir()}, func() *policy.Engine { return eng }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	var file bytes.Buffer
	for i := 0; file.Len() < 1<<20; i++ {
		fmt.Fprintf(&file, "%06d 議事録の本文です。The minutes of the meeting, item %d.\n", i, i)
	}
	mp, body := multipartBody(map[string]string{"議事録.txt": file.String()}, nil)
	raw := upload{ctype: mp, body: body, allow204: true, chunk: 32 << 10, preview: -1}.full("h")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var out strings.Builder
		bw := bufio.NewWriter(&out)
		s.handle(context.Background(), bufio.NewReader(strings.NewReader(raw)), bw, func(bool) bool { return true }, nil)
		bw.Flush()
		if !strings.HasPrefix(out.String(), "ICAP/1.0 204") {
			b.Fatalf("response %q", out.String())
		}
	}
}
