package inspect

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dlpguard/inspect/ocr"
	"dlpguard/internal/ocrtest"
)

type chunkSink struct{ chunks []Chunk }

func (s *chunkSink) Chunk(c Chunk) { s.chunks = append(s.chunks, c) }

func (s *chunkSink) text(loc string) string {
	var b strings.Builder
	for _, c := range s.chunks {
		if c.Location == loc {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

// TestOCRFiles runs File over the pictures of inspect/ocr/testdata with and
// without OCR: where the text read by OCR is located, the part's flags, and
// that the PDF pictures are taken in each of the ways scanners store them
// (JPEG as is, a Flate raster, CCITT Group 4).
func TestOCRFiles(t *testing.T) {
	eng := ocrtest.Engine(t, ocr.Config{})
	for _, tc := range []struct {
		file     string
		loc      string // location of the OCR text
		want     string // in it, spaces removed
		media    bool   // Part.Media with OCR
		scanOff  bool   // Part.UnreadScan without OCR
		mediaOff bool   // Part.Media without OCR
	}{
		{"form-scan.pdf", "attachment:form-scan.pdf/page 1 (OCR)", "314159265352", false, true, true},           // Flate, 1 bit
		{"form-scan-jpeg.pdf", "attachment:form-scan-jpeg.pdf/page 1 (OCR)", "314159265352", false, true, true}, // DCTDecode
		{"namelist-scan.pdf", "attachment:namelist-scan.pdf/page 1 (OCR)", "佐藤", false, true, true},             // CCITT G4
		{"namelist-scan.tif", "attachment:namelist-scan.tif/page 2 (OCR)", "090", true, true, true},
		{"card-photo.jpg", "attachment:card-photo.jpg (OCR)", "271828182840", true, false, true},
		{"form-scan.jpg", "attachment:form-scan.jpg (OCR)", "314159265352", true, true, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("ocr", "testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			lim := DefaultLimits()
			lim.OCR = eng
			var sink chunkSink
			res, err := File(context.Background(), tc.file, strings.NewReader(string(data)), lim, &sink)
			if err != nil {
				t.Fatal(err)
			}
			p := res.Parts[0]
			if !p.Inspected || !p.OCR || p.UnreadScan || p.Media != tc.media || res.Incomplete {
				t.Errorf("with OCR: %+v incomplete=%v", p, res.Incomplete)
			}
			got := strings.Join(strings.Fields(sink.text(tc.loc)), "")
			if !strings.Contains(got, tc.want) {
				t.Errorf("text at %q lacks %q: %q", tc.loc, tc.want, got)
			}

			lim.OCR = nil
			sink = chunkSink{}
			res, err = File(context.Background(), tc.file, strings.NewReader(string(data)), lim, &sink)
			if err != nil {
				t.Fatal(err)
			}
			p = res.Parts[0]
			if p.Inspected || p.OCR || p.UnreadScan != tc.scanOff || p.Media != tc.mediaOff || !strings.Contains(p.Reason, "no OCR") {
				t.Errorf("without OCR: %+v", p)
			}
			for _, c := range sink.chunks {
				if strings.HasSuffix(c.Location, "(OCR)") {
					t.Errorf("OCR text without OCR: %+v", c)
				}
			}
		})
	}
}

// OCR never keeps an inspection past its deadline: a Tesseract that hangs
// is killed when the message's time runs out, and the scanned part is
// reported unread (the relay then holds the message, fail closed).
func TestOCRInspectionTimeout(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "tesseract")
	os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = --list-langs ] && { echo jpn; echo eng; exit 0; }\nexec sleep 60\n"), 0o755)
	eng, err := ocr.New(ocr.Config{Enabled: "true", Command: script, Timeout: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("ocr", "testdata", "form-scan.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	lim := DefaultLimits()
	lim.OCR = eng
	lim.Timeout = 2 * time.Second
	start := time.Now()
	res, err := File(context.Background(), "form-scan.pdf", strings.NewReader(string(data)), lim, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("inspection took %s: OCR outlived the deadline", took)
	}
	p := res.Parts[0]
	if p.Inspected || !p.UnreadScan || !res.Incomplete || !strings.Contains(p.Reason, "time") {
		t.Fatalf("part %+v incomplete=%v problems=%v", p, res.Incomplete, res.Problems)
	}
}
