package pdf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"

	"golang.org/x/image/ccitt"
)

// ScannedPage is a page that draws pictures and has no text: a scan. Its
// pictures are decoded only when asked for (Images), so that a relay that
// does no OCR pays nothing for them.
type ScannedPage struct {
	Page    int // 1-based page number
	streams []*stream
}

// Picture is one image XObject of a scanned page, ready for OCR: JPEG data
// as is (DCTDecode needs no decoding here), or a decoded raster.
type Picture struct {
	Width, Height int
	JPEG          []byte      // DCTDecode data, when the image is a JPEG
	Image         image.Image // the decoded raster otherwise
}

// ErrPictureTooLarge is returned by Images for a picture over maxPixels,
// before its data is decoded.
var ErrPictureTooLarge = errors.New("pdf: picture too large")

// maxPagePictures bounds the pictures taken from one page (a scan has one;
// a page tiled into thousands of strips is not read).
const maxPagePictures = 64

// Images returns the pictures drawn on a scanned page, in drawing order.
// A picture of more than maxPixels is refused before it is decoded. The
// error says why a picture could not be taken (an unsupported filter such
// as JBIG2 or JPEG 2000, damaged data, a limit); the pictures taken before
// it are returned with it.
func (r *Result) Images(ctx context.Context, sp ScannedPage, maxPixels int64) ([]Picture, error) {
	if r.doc == nil {
		return nil, errors.New("pdf: no document")
	}
	d := r.doc
	if len(sp.streams) > maxPagePictures {
		return nil, fmt.Errorf("pdf: page %d draws %d pictures (over %d)", sp.Page, len(sp.streams), maxPagePictures)
	}
	// Each picture is decoded under a budget of its own, sized by its
	// pixel limit (4 bytes a pixel and a margin): the text's budget is
	// spent, and a 20-page scan must not run out on page 7. Images is
	// called after Extract, on one goroutine, so the swap is safe. Its work
	// limit is sized the same way (decoded bytes are charged at 1/64 a
	// unit): the picture is bounded by its pixels, not by the file's size.
	saved := d.budget
	defer func() { d.budget = saved }()
	var out []Picture
	for _, s := range sp.streams {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		n := maxPixels*4 + 1<<20
		d.budget = &budget{maxStream: n, total: 2 * n, maxWork: n/16 + WorkBase}
		p, err := d.picture(s, maxPixels)
		if err != nil {
			return out, fmt.Errorf("page %d: %w", sp.Page, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// picture decodes one image XObject (§8.9.5).
func (d *document) picture(s *stream, maxPixels int64) (p Picture, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: picture: %v", errInternal, v)
		}
	}()
	w, _ := d.resolve(s.dict["Width"]).(int64)
	h, _ := d.resolve(s.dict["Height"]).(int64)
	if w <= 0 || h <= 0 || w > 1<<20 || h > 1<<20 {
		return p, fmt.Errorf("picture of %d×%d pixels", w, h)
	}
	if w*h > maxPixels {
		return p, fmt.Errorf("%w: %d×%d pixels, over %d", ErrPictureTooLarge, w, h, maxPixels)
	}
	p.Width, p.Height = int(w), int(h)
	if m, _ := d.resolve(s.dict["ImageMask"]).(bool); m {
		// A stencil mask is also how scanners store 1-bit pages: read as
		// 1-bit gray (a copy: the parsed object is left as it is).
		sd := make(dict, len(s.dict)+2)
		for k, v := range s.dict {
			sd[k] = v
		}
		sd["BitsPerComponent"], sd["ColorSpace"] = int64(1), name("DeviceGray")
		s = &stream{dict: sd, raw: s.raw, ref: s.ref, off: s.off}
	}
	filters, parms := d.filters(s.dict)
	last := name("")
	var lastParm dict
	if len(filters) > 0 {
		last = filters[len(filters)-1]
		if len(parms) >= len(filters) {
			lastParm = parms[len(filters)-1]
		}
	}
	switch last {
	case "DCTDecode", "DCT", "CCITTFaxDecode", "CCF":
		data, err := d.decodeUpTo(s, filters[:len(filters)-1], parms)
		if err != nil {
			return p, err
		}
		if last == "DCTDecode" || last == "DCT" {
			p.JPEG = data
			return p, nil
		}
		img, err := d.ccittImage(data, lastParm, int(w), int(h), d.invertDecode(s.dict))
		p.Image = img
		return p, err
	case "JBIG2Decode", "JPXDecode":
		return p, fmt.Errorf("picture with /%s is not read", last)
	}
	data, err := d.decodeStream(s)
	if err != nil {
		return p, err
	}
	p.Image, err = d.raster(s.dict, data, int(w), int(h))
	return p, err
}

// decodeUpTo applies the filters before the image codec (usually none).
func (d *document) decodeUpTo(s *stream, filters []name, parms []dict) ([]byte, error) {
	data := s.raw
	if d.crypt != nil {
		var err error
		if data, err = d.crypt.decryptStream(s); err != nil {
			return nil, err
		}
	}
	for i, f := range filters {
		var p dict
		if i < len(parms) {
			p = parms[i]
		}
		var err error
		if data, err = d.applyFilter(f, p, data); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// invertDecode tells whether /Decode [1 0] swaps black and white.
func (d *document) invertDecode(sd dict) bool {
	a := d.getArray(sd, "Decode")
	if len(a) < 2 {
		return false
	}
	lo, _ := num(d.resolve(a[0]))
	hi, _ := num(d.resolve(a[1]))
	return lo > hi
}

// ccittImage decodes Group 3 (one-dimensional) and Group 4 fax data, as
// office scanners write black-and-white pages (§7.4.6).
func (d *document) ccittImage(data []byte, p dict, w, h int, invert bool) (image.Image, error) {
	k, _ := d.resolve(p["K"]).(int64)
	if k > 0 {
		return nil, errors.New("CCITT Group 3 two-dimensional pictures are not read")
	}
	if c, ok := d.resolve(p["Columns"]).(int64); ok && c > 0 && int(c) != w {
		w = int(c)
	}
	black1, _ := d.resolve(p["BlackIs1"]).(bool)
	align, _ := d.resolve(p["EncodedByteAlign"]).(bool)
	sf := ccitt.Group3
	if k < 0 {
		sf = ccitt.Group4
	}
	g := image.NewGray(image.Rect(0, 0, w, h))
	err := ccitt.DecodeIntoGray(g, bytes.NewReader(data), ccitt.MSB, sf, &ccitt.Options{Align: align, Invert: black1 != invert})
	if err != nil {
		return nil, fmt.Errorf("CCITT picture: %w", err)
	}
	return g, nil
}

// raster builds a picture from decoded samples: gray, RGB, CMYK or indexed,
// 1 or 8 bits per component — what scanners and PDF writers produce.
func (d *document) raster(sd dict, data []byte, w, h int) (image.Image, error) {
	bpc, _ := d.resolve(sd["BitsPerComponent"]).(int64)
	cs := d.resolve(sd["ColorSpace"])
	n, base, palette := d.colorSpace(cs)
	invert := d.invertDecode(sd)
	switch {
	case bpc == 1 && n == 1 && palette == nil:
		row := (w + 7) / 8
		if len(data) < row*h {
			return nil, fmt.Errorf("picture data short: %d bytes for %d×%d", len(data), w, h)
		}
		g := image.NewGray(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				bit := data[y*row+x/8]>>(7-uint(x%8))&1 == 1
				if bit != invert {
					g.Pix[y*g.Stride+x] = 255
				}
			}
		}
		return g, nil
	case bpc != 8:
		return nil, fmt.Errorf("picture with %d bits per component is not read", bpc)
	case palette != nil:
		if len(data) < w*h {
			return nil, fmt.Errorf("picture data short: %d bytes for %d×%d", len(data), w, h)
		}
		pal := make(color.Palette, 256)
		for i := range pal {
			pal[i] = color.Gray{}
		}
		for i := 0; i < 256 && (i+1)*base <= len(palette); i++ {
			c := palette[i*base : (i+1)*base]
			switch base {
			case 1:
				pal[i] = color.Gray{Y: c[0]}
			case 3:
				pal[i] = color.RGBA{R: c[0], G: c[1], B: c[2], A: 255}
			case 4:
				pal[i] = color.CMYK{C: c[0], M: c[1], Y: c[2], K: c[3]}
			}
		}
		img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		copy(img.Pix, data[:w*h])
		return img, nil
	}
	if len(data) < w*h*n {
		return nil, fmt.Errorf("picture data short: %d bytes for %d×%d×%d", len(data), w, h, n)
	}
	switch n {
	case 1:
		g := image.NewGray(image.Rect(0, 0, w, h))
		copy(g.Pix, data[:w*h])
		if invert {
			for i := range g.Pix {
				g.Pix[i] = 255 - g.Pix[i]
			}
		}
		return g, nil
	case 3:
		// Converted to gray here: that is all OCR needs.
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			r, gg, b := uint32(data[3*i]), uint32(data[3*i+1]), uint32(data[3*i+2])
			g.Pix[i] = uint8((19595*r + 38470*gg + 7471*b + 1<<15) >> 16)
		}
		return g, nil
	case 4:
		img := image.NewCMYK(image.Rect(0, 0, w, h))
		copy(img.Pix, data[:w*h*4])
		return img, nil
	}
	return nil, fmt.Errorf("picture colour space with %d components is not read", n)
}

// colorSpace returns the number of components, and for /Indexed the base's
// components and the lookup table (§8.6).
func (d *document) colorSpace(cs any) (n, base int, palette []byte) {
	switch v := cs.(type) {
	case name:
		switch v {
		case "DeviceGray", "CalGray", "G":
			return 1, 0, nil
		case "DeviceRGB", "CalRGB", "RGB":
			return 3, 0, nil
		case "DeviceCMYK", "CMYK":
			return 4, 0, nil
		}
	case array:
		if len(v) == 0 {
			break
		}
		kind, _ := d.resolve(v[0]).(name)
		switch kind {
		case "ICCBased":
			if len(v) > 1 {
				if s, ok := d.resolve(v[1]).(*stream); ok {
					if c, ok := d.resolve(s.dict["N"]).(int64); ok && c >= 1 && c <= 4 {
						return int(c), 0, nil
					}
				}
			}
		case "CalGray":
			return 1, 0, nil
		case "CalRGB":
			return 3, 0, nil
		case "Indexed", "I":
			if len(v) < 4 {
				break
			}
			bn, _, _ := d.colorSpace(d.resolve(v[1]))
			var lut []byte
			switch t := d.resolve(v[3]).(type) {
			case pdfString:
				lut = []byte(t)
			case *stream:
				lut, _ = d.decodeStream(t)
			}
			if bn > 0 && lut != nil {
				return 1, bn, lut
			}
		}
	}
	return 1, 0, nil
}
