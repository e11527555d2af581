package inspect

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"strings"

	"dlpguard/inspect/ocr"
	"dlpguard/inspect/pdf"
)

// OCR reads the text in pictures. inspect/ocr.Engine is the implementation
// (Tesseract in a separate process); a nil OCR in Limits means pictures are
// not read, and scanned content is reported unread for the policy to decide
// (対策基準 3.3.5: fail closed on what cannot be inspected).
type OCR interface {
	// ReadFile reads an image file (JPEG, PNG, TIFF with every page …):
	// the text of each page.
	ReadFile(ctx context.Context, data []byte) ([]string, error)
	// ReadImage reads a decoded picture.
	ReadImage(ctx context.Context, img image.Image) (string, error)
	// MaxPages is the most pages read by OCR in one file.
	MaxPages() int
	// MaxPixels is the largest picture read (width×height).
	MaxPixels() int64
}

// ocrSuffix marks the location of text read by OCR ("attachment:scan.pdf/page 2
// (OCR)"): classify lowers the confidence of what it finds there, since OCR
// misreads, unless a check digit holds.
const ocrSuffix = " (OCR)"

// ocrImage reads the text of an image attachment by OCR. Without OCR, or
// when it fails, the picture stays media, not inspected, with the reason.
func (w *walker) ocrImage(p *Part, sp *spill, head []byte) {
	p.Media = true
	if w.lim.OCR == nil {
		p.UnreadScan = scannerSignature(head)
		p.Reason = joinReason(p.Reason, "image: not read (no OCR: inspect.ocr off)")
		return
	}
	data, err := io.ReadAll(io.LimitReader(sp.reader(), w.lim.MaxPartBytes))
	if err != nil {
		p.UnreadScan = scannerSignature(head)
		p.Reason = joinReason(p.Reason, "image: not read by OCR: "+err.Error())
		return
	}
	pages, err := w.lim.OCR.ReadFile(w.ctx, data)
	truncated := false
	for i, t := range pages {
		// What was read is sent even when a later page failed.
		loc := "attachment:" + p.Name + ocrSuffix
		if len(pages) > 1 || err != nil {
			loc = fmt.Sprintf("attachment:%s/page %d%s", p.Name, i+1, ocrSuffix)
		}
		truncated = w.emitOCR(loc, t) || truncated
	}
	if len(pages) > 0 {
		p.OCR = true
	}
	switch {
	case err != nil:
		p.UnreadScan = scannerSignature(head)
		p.Reason = joinReason(p.Reason, "image: not read by OCR: "+ocrReason(err))
		w.log.Info("OCR: image not read", "part", p.Name, "err", err)
	case truncated:
		p.UnreadScan = scannerSignature(head)
		p.Reason = joinReason(p.Reason, "text limit reached (MaxTextBytes) in the text read by OCR")
	default:
		p.Inspected = true
		p.Reason = joinReason(p.Reason, fmt.Sprintf("image: text read by OCR (%d page(s))", len(pages)))
	}
}

// ocrPDF reads the scanned pages of a PDF (pages that draw pictures and no
// text) by OCR. It returns whether every one was read.
func (w *walker) ocrPDF(p *Part, r *pdf.Result) bool {
	if len(r.Scanned) == 0 {
		return true
	}
	if w.lim.OCR == nil {
		p.UnreadScan = true
		p.Reason = joinReason(p.Reason, fmt.Sprintf("%d scanned page(s) without a text layer: not read (no OCR: inspect.ocr off)", len(r.Scanned)))
		return false
	}
	ocr := w.lim.OCR
	pages := r.Scanned
	all := true
	if len(pages) > ocr.MaxPages() {
		p.Reason = joinReason(p.Reason, fmt.Sprintf("%d scanned pages: only the first %d read by OCR (max_pages)", len(pages), ocr.MaxPages()))
		pages, all = pages[:ocr.MaxPages()], false
	}
	read := 0
	for _, sp := range pages {
		if !w.checkCtx() {
			all = false
			break
		}
		text, err := w.ocrPage(r, sp)
		if text != "" && w.emitOCR(fmt.Sprintf("attachment:%s/page %d%s", p.Name, sp.Page, ocrSuffix), text) {
			err = errors.Join(err, errors.New("text limit reached (MaxTextBytes)"))
		}
		if err != nil {
			all = false
			p.Reason = joinReason(p.Reason, fmt.Sprintf("scanned page %d not read by OCR: %s", sp.Page, ocrReason(err)))
			w.log.Info("OCR: PDF page not read", "part", p.Name, "page", sp.Page, "err", err)
			continue
		}
		read++
	}
	if read > 0 {
		p.OCR = true
		p.Reason = joinReason(p.Reason, fmt.Sprintf("%d scanned page(s) read by OCR", read))
	}
	if !all {
		p.UnreadScan = true
	}
	return all
}

// emitOCR sends the text read from one page; it reports whether the text
// limit cut it. A page laid out as a table (a scanned list) is sent as one,
// so that its columns are read as a spreadsheet's are.
func (w *walker) emitOCR(loc, text string) bool {
	table := false
	if t, ok := ocr.Table(text); ok {
		text, table = t, true
	}
	e := w.newEmitter(loc, KindAttachment, table)
	e.WriteString(text)
	e.close()
	return e.truncated
}

// ocrPage reads the pictures of one scanned page, in drawing order.
func (w *walker) ocrPage(r *pdf.Result, sp pdf.ScannedPage) (string, error) {
	pics, err := r.Images(w.ctx, sp, w.lim.OCR.MaxPixels())
	var texts []string
	for _, pic := range pics {
		var t string
		var perr error
		if pic.JPEG != nil {
			var ts []string
			ts, perr = w.lim.OCR.ReadFile(w.ctx, pic.JPEG)
			t = strings.Join(ts, "\n")
		} else {
			t, perr = w.lim.OCR.ReadImage(w.ctx, pic.Image)
		}
		if perr != nil {
			err = errors.Join(err, perr)
			continue
		}
		texts = append(texts, t)
	}
	return strings.Join(texts, "\n"), err
}

// ocrReason is the English reason of an OCR failure for Part.Reason.
func ocrReason(err error) string {
	s := err.Error()
	return strings.TrimPrefix(s, "ocr: ")
}

// scannerSignature tells whether a picture looks like a scan rather than a
// photograph or a drawing: a TIFF, a multifunction printer's or scanner's
// name in its metadata, or a resolution of 150 dpi or more (cameras and
// screenshots say 72 or 96). Such a picture that OCR did not read is an
// unread scan for the policy (attachment_unread_scan).
func scannerSignature(head []byte) bool {
	if len(head) >= 4 && (string(head[:4]) == "II*\x00" || string(head[:4]) == "MM\x00*") {
		return true
	}
	for _, s := range scannerNames {
		if bytes.Contains(head, []byte(s)) {
			return true
		}
	}
	return imageDPI(head) >= 150
}

// scannerNames are model families of the multifunction printers and
// scanners in Japanese offices, as they write them into EXIF/XMP.
var scannerNames = []string{"imageRUNNER", "iR-ADV", "bizhub", "Apeos", "DocuCentre", "DocuPrint",
	"TASKalfa", "ECOSYS", "ScanSnap", "e-STUDIO", "RICOH IM", "RICOH MP", "RICOH SP", "SHARP MX",
	"SHARP BP", "imageFORMULA", "Scanner", "SCANNER", "scanner"}

// imageDPI reads the resolution a JPEG (JFIF APP0) or a PNG (pHYs) states;
// 0 when none.
func imageDPI(b []byte) int {
	switch {
	case len(b) >= 18 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF && b[3] == 0xE0 && string(b[6:11]) == "JFIF\x00":
		units, x := b[13], int(binary.BigEndian.Uint16(b[14:16]))
		switch units {
		case 1:
			return x
		case 2:
			return x * 254 / 100
		}
	case len(b) >= 8 && string(b[:8]) == "\x89PNG\r\n\x1a\n":
		if i := bytes.Index(b, []byte("pHYs")); i >= 4 && i+13 <= len(b) && b[i+12] == 1 {
			ppm := int(binary.BigEndian.Uint32(b[i+4 : i+8]))
			return ppm * 254 / 10000
		}
	}
	return 0
}
