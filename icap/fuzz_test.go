package icap

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"dlpguard/policy"
)

// FuzzICAPRequest feeds arbitrary bytes to the connection handler: it must
// not panic and must answer with ICAP status lines only.
func FuzzICAPRequest(f *testing.F) {
	csv, _ := myNumberCSV()
	mp, body := multipartBody(map[string]string{"a.csv": csv}, map[string]string{"f": "x"})
	f.Add([]byte("OPTIONS icap://h/reqmod ICAP/1.0\r\nHost: h\r\n\r\n"))
	f.Add([]byte(upload{ctype: "text/plain", body: []byte(harmless), allow204: true, preview: -1}.full("h")))
	f.Add([]byte(upload{ctype: mp, body: body, allow204: true, chunk: 9, ext: "; a=b", preview: -1}.full("h")))
	f.Add([]byte(upload{ctype: "text/plain", body: []byte(harmless), preview: 10}.head("h") + "a\r\n0123456789\r\n0; ieof\r\n\r\n"))
	f.Add([]byte(upload{method: "GET", nobody: true, preview: -1}.full("h")))
	f.Add([]byte("REQMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body=999999\r\n\r\n"))
	eng, err := policy.Default()
	if err != nil {
		f.Fatal(err)
	}
	s := New(Config{TempDir: f.TempDir(), MaxBodyBytes: 1 << 20}, func() *policy.Engine { return eng }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		var out strings.Builder
		bw := bufio.NewWriter(&out)
		s.handle(context.Background(), bufio.NewReader(strings.NewReader(string(data))), bw, func(bool) bool { return true }, nil)
		bw.Flush()
		resp := out.String()
		if resp != "" && !strings.HasPrefix(resp, "ICAP/1.0 ") {
			t.Fatalf("response does not start with a status line: %q", resp[:min(len(resp), 80)])
		}
	})
}
