package icap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dlpguard/inspect/ocr"
	"dlpguard/internal/ocrtest"
)

// Uploads through the proxy are read by OCR as mail is: a scanned form with
// a My Number is blocked by mynumber-reject, a scanned flyer passes; without
// OCR the scanned form is blocked unread (unread-scan-hold, 3.3.5).
func TestReqmodOCR(t *testing.T) {
	eng := ocrtest.Engine(t, ocr.Config{})
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "inspect", "ocr", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	withOCR := startServer(t, Config{OCR: eng}, defaultEngine(t))
	withoutOCR := startServer(t, Config{}, defaultEngine(t))
	for _, tc := range []struct {
		name   string
		ts     *testServer
		file   string
		status int
		rule   string
	}{
		{"scanned form, OCR", withOCR, "form-scan.pdf", 200, "mynumber-reject"},
		{"scanned flyer, OCR", withOCR, "flyer-scan.pdf", 204, ""},
		{"scanned form, no OCR", withoutOCR, "form-scan.pdf", 200, "unread-scan-hold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := multipartBody(map[string]string{tc.file: read(tc.file)}, nil)
			up := upload{ctype: ct, body: body, allow204: true, preview: -1}
			r := tc.ts.roundTrip(t, up.full(tc.ts.addr))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d (%q)", r.status, tc.status, r.httpHdr)
			}
			if tc.rule != "" && (!strings.HasPrefix(r.httpHdr, "HTTP/1.1 403") || !strings.Contains(string(r.body), tc.rule)) {
				t.Fatalf("want a 403 page naming %s: %q\n%s", tc.rule, r.httpHdr, r.body)
			}
		})
	}
}
