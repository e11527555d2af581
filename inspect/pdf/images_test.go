package pdf

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// ocrDir holds the scans made by inspect/ocr/testdata/gen/gen.sh (img2pdf,
// tiff2pdf): image-only PDFs as multifunction printers write them.
var ocrDir = filepath.Join("..", "ocr", "testdata")

// TestScannedPictures takes the picture of each scanned page in each of the
// ways scanners store it, and refuses a picture over the pixel limit before
// decoding it.
func TestScannedPictures(t *testing.T) {
	for _, tc := range []struct {
		file          string
		jpeg          bool
		width, height int
	}{
		{"form-scan-jpeg.pdf", true, 0, 0}, // DCTDecode: the JPEG as is
		{"form-scan.pdf", false, 0, 0},     // FlateDecode, 1 bit
		{"namelist-scan.pdf", false, 0, 0}, // CCITTFaxDecode, Group 4
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(ocrDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Extract(bytes.NewReader(b), int64(len(b)), -1, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !r.ImagesOnly || len(r.Scanned) != 1 || r.Scanned[0].Page != 1 {
				t.Fatalf("ImagesOnly %v, scanned %+v", r.ImagesOnly, r.Scanned)
			}
			pics, err := r.Images(context.Background(), r.Scanned[0], 50_000_000)
			if err != nil || len(pics) != 1 {
				t.Fatalf("%d pictures, err %v", len(pics), err)
			}
			p := pics[0]
			if tc.jpeg {
				cfg, err := jpeg.DecodeConfig(bytes.NewReader(p.JPEG))
				if err != nil || cfg.Width != p.Width || cfg.Height != p.Height {
					t.Fatalf("JPEG %+v (%v), picture %d×%d", cfg, err, p.Width, p.Height)
				}
			} else {
				if p.Image == nil || p.Image.Bounds().Dx() != p.Width || p.Image.Bounds().Dy() != p.Height {
					t.Fatalf("raster %v for %d×%d", p.Image, p.Width, p.Height)
				}
				// a scan is mostly white paper with some black ink
				var black, white int
				bd := p.Image.Bounds()
				for y := bd.Min.Y; y < bd.Max.Y; y += 4 {
					for x := bd.Min.X; x < bd.Max.X; x += 4 {
						if r, _, _, _ := p.Image.At(x, y).RGBA(); r < 0x8000 {
							black++
						} else {
							white++
						}
					}
				}
				if black == 0 || white < 5*black {
					t.Fatalf("picture does not look like a scan: %d black, %d white samples", black, white)
				}
			}
			if _, err := r.Images(context.Background(), r.Scanned[0], 1000); !errors.Is(err, ErrPictureTooLarge) {
				t.Fatalf("over the pixel limit: err %v", err)
			}
		})
	}
}

// FuzzImages takes the pictures of every scanned page of arbitrary input:
// never a panic, never a picture over the limit.
func FuzzImages(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(ocrDir, "*.pdf"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && len(b) < 60000 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Extract(bytes.NewReader(data), int64(len(data)), 1<<14, 1<<20)
		if r == nil || errors.Is(err, errInternal) {
			t.Fatalf("result %v err %v", r, err)
		}
		for _, sp := range r.Scanned {
			pics, err := r.Images(context.Background(), sp, 4_000_000)
			if errors.Is(err, errInternal) {
				t.Fatalf("panic: %v", err)
			}
			for _, p := range pics {
				if int64(p.Width)*int64(p.Height) > 4_000_000 {
					t.Fatalf("picture %d×%d over the limit", p.Width, p.Height)
				}
			}
		}
	})
}

// scanPDF writes an image-only PDF of n pages, each one 8-bit gray Flate
// picture of w×h pixels (white, with a black bar), as a lossless scanner
// setting does. Its cross-reference is left for the reader to rebuild.
func scanPDF(t *testing.T, n, w, h int) []byte {
	t.Helper()
	raw := bytes.Repeat([]byte{255}, w*h)
	for x := 0; x < w; x++ {
		raw[(h/2)*w+x] = 0
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n")
	kids := ""
	for i := 0; i < n; i++ {
		kids += fmt.Sprintf("%d 0 R ", 10+2*i)
	}
	fmt.Fprintf(&b, "2 0 obj << /Type /Pages /Kids [%s] /Count %d >> endobj\n", kids, n)
	content := fmt.Sprintf("q %d 0 0 %d 0 0 cm /Im0 Do Q", w, h)
	fmt.Fprintf(&b, "3 0 obj << /Length %d >> stream\n%s\nendstream endobj\n", len(content), content)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 3 0 R /Resources << /XObject << /Im0 %d 0 R >> >> >> endobj\n",
			10+2*i, w, h, 11+2*i)
		fmt.Fprintf(&b, "%d 0 obj << /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode /Length %d >> stream\n",
			11+2*i, w, h, z.Len())
		b.Write(z.Bytes())
		b.WriteString("\nendstream endobj\n")
	}
	b.WriteString("trailer << /Root 1 0 R >>\n%%EOF\n")
	return b.Bytes()
}

// A long scan of lossless 8-bit pages is taken whole: each picture is
// decoded under its own budget, not what the text left of the file's.
func TestScannedPicturesBudget(t *testing.T) {
	const pages, w, h = 10, 2500, 3500 // 8.75 MB a page, 87.5 MB in all
	b := scanPDF(t, pages, w, h)
	// 10 MB a stream: the file's budget is the minimum, 64 MB
	r, err := Extract(bytes.NewReader(b), int64(len(b)), -1, 10<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Scanned) != pages {
		t.Fatalf("%d scanned pages, want %d (notes %v)", len(r.Scanned), pages, r.Notes)
	}
	for _, sp := range r.Scanned {
		pics, err := r.Images(context.Background(), sp, 40_000_000)
		if err != nil || len(pics) != 1 || pics[0].Image == nil {
			t.Fatalf("page %d: %d pictures, err %v", sp.Page, len(pics), err)
		}
		if g, ok := pics[0].Image.(*image.Gray); !ok || g.GrayAt(10, h/2).Y != 0 || g.GrayAt(10, 10).Y != 255 {
			t.Fatalf("page %d: picture not as written", sp.Page)
		}
	}
}
