package ocr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // formats staff attach
	_ "image/jpeg"
	_ "image/png"
	"strconv"

	_ "golang.org/x/image/bmp"
	"golang.org/x/image/draw"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// minWidth is the width below which a picture is enlarged: Tesseract reads
// best with capitals some 30 pixels high, which a card photographed at
// 800 pixels across does not have.
const minWidth = 1600

// prepare makes the picture grayscale (Tesseract binarises it anyway; gray
// is a third of the bytes to pass) and enlarges a small one, within
// maxPixels.
func prepare(img image.Image, maxPixels int64) *image.Gray {
	g := gray(img)
	binarize(g)
	removeBoxes(g)
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	if w >= minWidth || w <= 0 || h <= 0 {
		return g
	}
	f := min(4, (minWidth+w-1)/w)
	for f > 1 && int64(w*f)*int64(h*f) > maxPixels {
		f--
	}
	if f <= 1 {
		return g
	}
	big := image.NewGray(image.Rect(0, 0, w*f, h*f))
	draw.CatmullRom.Scale(big, big.Bounds(), g, b, draw.Src, nil)
	return big
}

// gray converts to 8-bit grayscale; a JPEG's luma plane is gray already.
func gray(img image.Image) *image.Gray {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.Gray:
		c := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
		for y := 0; y < b.Dy(); y++ {
			copy(c.Pix[y*c.Stride:y*c.Stride+b.Dx()], m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):])
		}
		return c
	case *image.YCbCr:
		g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
		for y := 0; y < b.Dy(); y++ {
			off := m.YOffset(b.Min.X, b.Min.Y+y)
			copy(g.Pix[y*g.Stride:y*g.Stride+b.Dx()], m.Y[off:off+b.Dx()])
		}
		return g
	}
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	var pix []uint8 // 8-bit RGBA or NRGBA rows: the common PNG layouts
	stride := 0
	switch m := img.(type) {
	case *image.RGBA:
		pix, stride = m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride
	case *image.NRGBA:
		pix, stride = m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			if pix != nil {
				p := pix[y*stride+4*x:]
				// ITU-R 601 luma, as color.GrayModel (alpha ignored: scans are opaque)
				r, gr, bl := uint32(p[0])*0x101, uint32(p[1])*0x101, uint32(p[2])*0x101
				g.Pix[y*g.Stride+x] = uint8((19595*r + 38470*gr + 7471*bl + 1<<15) >> 24)
				continue
			}
			g.Pix[y*g.Stride+x] = color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
		}
	}
	return g
}

// pgm encodes a gray picture as binary PGM (Netpbm P5), which Tesseract's
// image library reads from standard input without any decompression.
func pgm(g *image.Gray) []byte {
	b := g.Bounds()
	hdr := "P5\n" + strconv.Itoa(b.Dx()) + " " + strconv.Itoa(b.Dy()) + "\n255\n"
	out := make([]byte, 0, len(hdr)+b.Dx()*b.Dy())
	out = append(out, hdr...)
	for y := 0; y < b.Dy(); y++ {
		out = append(out, g.Pix[y*g.Stride:y*g.Stride+b.Dx()]...)
	}
	return out
}

func isTIFF(b []byte) bool {
	return len(b) >= 8 && (string(b[:4]) == "II*\x00" || string(b[:4]) == "MM\x00*")
}

type tiffPage struct {
	w, h int
	ifd  int64 // offset of its directory
}

// tiffPages walks the image file directories of a TIFF (TIFF 6.0 §2) for
// each page's size, at most limit pages, without decoding any pixel.
func tiffPages(b []byte, limit int) ([]tiffPage, error) {
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 'M' {
		bo = binary.BigEndian
	}
	off := int64(bo.Uint32(b[4:8]))
	seen := map[int64]bool{}
	var pages []tiffPage
	for off != 0 && len(pages) < limit {
		if seen[off] || off < 8 || off+2 > int64(len(b)) {
			if len(pages) == 0 || seen[off] {
				return pages, errors.New("damaged directory chain")
			}
			break
		}
		seen[off] = true
		n := int64(bo.Uint16(b[off : off+2]))
		end := off + 2 + n*12
		if end+4 > int64(len(b)) {
			return pages, errors.New("directory past the end of the file")
		}
		p := tiffPage{ifd: off}
		for i := int64(0); i < n; i++ {
			e := b[off+2+i*12 : off+2+i*12+12]
			tag, typ := bo.Uint16(e[0:2]), bo.Uint16(e[2:4])
			var v int
			switch typ {
			case 3: // SHORT
				v = int(bo.Uint16(e[8:10]))
			case 4: // LONG
				v = int(bo.Uint32(e[8:12]))
			default:
				continue
			}
			switch tag {
			case 256:
				p.w = v
			case 257:
				p.h = v
			}
		}
		if p.w <= 0 || p.h <= 0 {
			return pages, fmt.Errorf("page %d has no size", len(pages)+1)
		}
		pages = append(pages, p)
		off = int64(bo.Uint32(b[end : end+4]))
	}
	return pages, nil
}

// tiffPage returns the TIFF with page p first: the same bytes with the
// header pointing at p's directory (its strips are at absolute offsets), so
// that a decoder that reads the first page reads p.
func tiffPageFirst(b []byte, p tiffPage) []byte {
	out := append([]byte(nil), b...)
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 'M' {
		bo = binary.BigEndian
	}
	bo.PutUint32(out[4:8], uint32(p.ifd))
	return out
}
