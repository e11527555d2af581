// Package pdf extracts the text layer of PDF files, including Japanese text
// in CID fonts through ToUnicode CMaps as LibreOffice and Microsoft Word write
// them, and tells whether a PDF needs a user password to open. A PDF that is
// encrypted with an empty user password opens without one, so it is
// decrypted and read.
//
// The reader is written for a guard, not a viewer: it reads classic and
// stream cross-references, object streams and incremental updates, rebuilds
// a damaged cross-reference by scanning, and bounds every offset, nesting,
// loop and decompressed size, and the work of the whole file: at most
// WorkPerByte units (about a content token each) per byte of the file plus
// WorkBase, so that a small file cannot ask for minutes of work (form
// XObjects drawing each other, one content stream on thousands of pages);
// past it the result is Incomplete. Besides the pages it reads what else leaves
// with the file: annotations, form fields (AcroForm and XFA), bookmarks, the
// document information, text replaced by later revisions or on no page, and
// it returns embedded files for the caller to inspect. What it cannot read
// is reported in Result.Notes (and Result.Incomplete) rather than silently
// skipped.
package pdf

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
)

// Result is what Extract found.
type Result struct {
	Text string
	// Encrypted is true when the file has an /Encrypt dictionary.
	Encrypted bool
	// NeedsPassword is true when the text could not be read without a user
	// password: for our purposes the file is encrypted.
	NeedsPassword bool
	Truncated     bool // maxText reached
	Pages         int
	// Notes lists what could not be read or looked wrong (damaged
	// cross-reference, a stream with an unknown filter, glyphs without a
	// Unicode mapping…), in English, for the part's reason. Empty when the
	// file was read cleanly.
	Notes []string
	// Incomplete is true when some content may not be in Text: a content
	// stream was skipped (unknown filter, over maxStreamBytes, damaged), a
	// limit was hit, or 12 or more glyphs (a My Number's worth) could not
	// be mapped to Unicode. A guard should not treat the text as all there
	// is. A repaired cross-reference alone does not set it (the repair
	// reads every object); Notes still says so.
	Incomplete bool
	// ImagesOnly is true when the pages draw images but have no text at
	// all: a scanned document without an OCR text layer, which cannot be
	// read here as text; Scanned lists its pages for OCR.
	ImagesOnly bool
	// ImagePages counts the pages that draw images and have no text: in a
	// document that is partly scanned, what those pages show is not in
	// Text.
	ImagePages int
	// Work is the work spent, in units of about a content token; it never
	// goes much past WorkPerByte per byte of the file plus WorkBase (then
	// Incomplete is set and Notes says so).
	Work int64
	// Embedded holds the files attached to the PDF (the /EmbeddedFiles
	// name tree and file attachment annotations, §7.11.4): they leave with
	// the PDF, so the caller inspects each like an archive member.
	Embedded []EmbeddedFile
	// Scanned lists the pages with pictures and no text, for OCR
	// (Images decodes their pictures).
	Scanned []ScannedPage

	doc *document // for Images
}

// EmbeddedFile is a file attached inside a PDF.
type EmbeddedFile struct {
	Name string // file name as the PDF gives it (/UF, else /F), decoded
	Data []byte // decoded content; nil when Err is set
	Err  error  // why the content could not be decoded
}

// maxEmbedded bounds the embedded files returned.
const maxEmbedded = 1000

// ErrNotPDF means the input does not start like a PDF.
var ErrNotPDF = errors.New("pdf: not a PDF file")

// errInternal is a recovered panic: a bug, reported as an unreadable file.
var errInternal = errors.New("pdf: internal error on malformed file")

// Default bounds when the caller passes zero or less.
const (
	defaultMaxText   = 64 << 20
	defaultMaxStream = 64 << 20
	// The total decompressed over a whole file is bounded to this many
	// times maxStreamBytes (and at least minTotalBudget), so that one
	// bomb referenced from every page cannot be decoded again and again.
	totalBudgetFactor = 8
	minTotalBudget    = 64 << 20
	// maxFileBytes bounds the file read into memory.
	maxFileBytes = 1 << 30
	maxPages     = 100000
	maxNotes     = 20
)

// Extract reads the PDF in r and returns its text, at most maxText bytes
// (negative: a default of 64 MiB; zero: no room, so any text sets
// Truncated). maxStreamBytes bounds the decompressed size of any one stream
// (zero or less: 64 MiB). The file is read into memory, unless r has a
// method Bytes() []byte that returns it (then it is read in place). An error
// means the file is damaged beyond reading; partial text may still be set.
func Extract(r io.ReaderAt, size int64, maxText, maxStreamBytes int64) (*Result, error) {
	return ExtractContext(context.Background(), r, size, maxText, maxStreamBytes)
}

// ExtractContext is Extract that stops when ctx is done (the per-message time
// limit), returning the text read so far and ctx's error.
func ExtractContext(ctx context.Context, r io.ReaderAt, size int64, maxText, maxStreamBytes int64) (res *Result, err error) {
	res = &Result{}
	if maxText < 0 {
		maxText = defaultMaxText
	}
	if maxStreamBytes <= 0 {
		maxStreamBytes = defaultMaxStream
	}
	if size < 0 || size > maxFileBytes {
		return res, fmt.Errorf("pdf: file size %d out of range", size)
	}
	var buf []byte
	if bs, ok := r.(interface{ Bytes() []byte }); ok && int64(len(bs.Bytes())) >= size {
		// The caller holds the file in memory: read it in place (it is
		// never written to).
		buf = bs.Bytes()[:size:size]
	} else {
		buf = make([]byte, size)
		n, rerr := r.ReadAt(buf, 0)
		if rerr != nil && rerr != io.EOF {
			return res, fmt.Errorf("pdf: read: %w", rerr)
		}
		buf = buf[:n]
	}
	if !bytes.Contains(buf[:min(len(buf), 1024)], []byte("%PDF-")) {
		return res, ErrNotPDF
	}
	nt := &notes{}
	out := &textOut{max: maxText}
	defer func() {
		// A last resort: a bug on a strange file must not take the relay
		// down. The file is reported as unreadable.
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errInternal, p)
			res.Incomplete = true
		}
		res.Text = out.b.String()
		res.Truncated = out.truncated
		res.Notes = nt.list
		if nt.incomplete {
			res.Incomplete = true
		}
	}()
	total := max(maxStreamBytes*totalBudgetFactor, minTotalBudget)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	bud := &budget{maxStream: maxStreamBytes, total: total, maxWork: WorkPerByte*int64(len(buf)) + WorkBase}
	defer func() {
		res.Work = bud.work
		if bud.work > bud.maxWork && !nt.incomplete {
			nt.add("%v", errWork)
		}
	}()
	d := newDocument(ctx, buf, bud, nt)
	if err := d.load(); err != nil {
		return res, err
	}
	if _, ok := d.trailer["Encrypt"]; ok {
		res.Encrypted = true
		if err := d.setupCrypt(); err != nil {
			if errors.Is(err, errNeedsPassword) {
				res.NeedsPassword = true
				return res, nil
			}
			res.NeedsPassword = true
			nt.add("encryption: %v", err)
			return res, nil
		}
	}
	x := &extractor{d: d, out: out, fonts: map[objRef]*font{}, forms: map[objRef]bool{}, used: map[int]bool{}}
	root, _ := d.resolve(d.trailer["Root"]).(dict)
	pages := d.pages(root)
	if len(pages) == 0 {
		pages = d.orphanPages()
		if len(pages) > 0 {
			nt.info("page tree damaged: %d pages found by scanning", len(pages))
		}
	}
	res.Pages = len(pages)
	// Embedded files first: they are returned even when the text is cut.
	res.Embedded = d.embedded(root, pages)
	if len(res.Embedded) > 0 {
		// Their content is not in Text: the caller inspects them.
		nt.info("%d embedded files (not in the text)", len(res.Embedded))
	}
	for _, p := range pages {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := x.page(p); err != nil {
			if errors.Is(err, errTruncated) {
				return res, nil
			}
			if errors.Is(err, errTooMuch) || errors.Is(err, errWork) {
				nt.add("%v", err)
				return res, nil
			}
			return res, err
		}
	}
	if err := x.extras(root); err != nil && !errors.Is(err, errTruncated) {
		if errors.Is(err, errTooMuch) || errors.Is(err, errWork) {
			nt.add("%v", err)
			return res, nil
		}
		return res, err
	}
	if err := x.leftovers(pages); err != nil && !errors.Is(err, errTruncated) {
		if errors.Is(err, errTooMuch) || errors.Is(err, errWork) {
			nt.add("%v", err)
			return res, nil
		}
		return res, err
	}
	res.ImagePages = x.imagePages
	res.Scanned, res.doc = x.scanned, d
	if x.imagePages > 0 {
		nt.info("%d of %d pages have images and no text (scanned?)", x.imagePages, len(pages))
	}
	if x.images > 0 && strings.TrimSpace(out.b.String()) == "" {
		res.ImagesOnly = true
		nt.info("no text layer at all: %d images drawn", x.images)
	}
	switch {
	case x.unknown >= minUnknownGlyphs:
		nt.add("%d glyphs without a Unicode mapping", x.unknown)
	case x.unknown > 0:
		// A few unmapped symbols cannot hide an identifier; say so
		// without calling the text incomplete.
		nt.info("%d glyphs without a Unicode mapping", x.unknown)
	}
	return res, nil
}

// notes collects what went wrong, bounded. incomplete is set by add: what
// it reports may have hidden text.
type notes struct {
	list       []string
	incomplete bool
}

func (n *notes) add(format string, args ...any) {
	n.incomplete = true
	n.info(format, args...)
}

func (n *notes) info(format string, args ...any) {
	if len(n.list) < maxNotes {
		n.list = append(n.list, fmt.Sprintf(format, args...))
	}
}

// minUnknownGlyphs unmapped glyphs make the text incomplete: as many as a
// My Number has digits.
const minUnknownGlyphs = 12

// page is a page dictionary with its inherited resources (§7.7.3.4).
type page struct {
	d   dict
	res dict
}

// pages walks the page tree (§7.7.3), bounded and cycle-safe.
func (d *document) pages(root dict) []page {
	var out []page
	seen := map[objRef]bool{}
	var walk func(v any, res dict, depth int)
	walk = func(v any, res dict, depth int) {
		if depth > 64 || len(out) >= maxPages || d.spend(1) {
			return
		}
		if r, ok := v.(objRef); ok {
			if seen[r] {
				return
			}
			seen[r] = true
		}
		node, ok := d.resolve(v).(dict)
		if !ok {
			return
		}
		if r := d.getDict(node, "Resources"); r != nil {
			res = r
		}
		kids, hasKids := d.get(node, "Kids").(array)
		if t, _ := node["Type"].(name); t == "Page" || (!hasKids && t != "Pages") {
			out = append(out, page{node, res})
			return
		}
		for _, k := range kids {
			walk(k, res, depth+1)
		}
	}
	if root != nil {
		walk(root["Pages"], nil, 0)
	}
	return out
}

// orphanPages finds page objects when the tree is unusable, in object
// number order.
func (d *document) orphanPages() []page {
	d.scan()
	var nums []int
	for n := range d.xref {
		nums = append(nums, n)
	}
	for n := range d.scanned {
		if _, ok := d.xref[n]; !ok {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	var out []page
	for _, n := range nums {
		if len(out) >= maxPages {
			break
		}
		if pd, ok := d.resolve(objRef{n, 0}).(dict); ok && pd["Type"] == name("Page") {
			res := d.getDict(pd, "Resources")
			if res == nil {
				// Inherit from the parent as far as it is readable.
				if parent := d.getDict(pd, "Parent"); parent != nil {
					res = d.getDict(parent, "Resources")
				}
			}
			out = append(out, page{pd, res})
		}
	}
	return out
}

// page extracts the text of one page.
func (x *extractor) page(p page) error {
	if x.d.spend(1) {
		return errWork
	}
	var data []byte
	switch c := x.d.resolve(p.d["Contents"]).(type) {
	case *stream:
		x.used[c.off] = true
		b, err := x.d.decodeStream(c)
		if err != nil {
			x.d.notes.add("page content skipped: %v", err)
		}
		data = b
	case array:
		for _, e := range c {
			s, ok := x.d.resolve(e).(*stream)
			if !ok {
				continue
			}
			x.used[s.off] = true
			b, err := x.d.decodeStream(s)
			if err != nil {
				x.d.notes.add("page content stream skipped: %v", err)
				continue
			}
			// Streams of one page are one content stream split anywhere
			// between tokens (§7.8.2).
			data = append(data, b...)
			data = append(data, '\n')
		}
	}
	g := &gstate{ctm: identity, th: 1}
	images, text := x.images, x.out.b.Len()
	x.pageNo++
	x.pictures = x.pictures[:0]
	if err := x.runContent(data, p.res, g, 0); err != nil {
		x.out.flush()
		return err
	}
	if err := x.out.flush(); err != nil {
		return err
	}
	if x.images > images && x.out.b.Len() == text {
		x.imagePages++
		x.scanned = append(x.scanned, ScannedPage{Page: x.pageNo, streams: append([]*stream(nil), x.pictures...)})
	}
	return x.annots(p.d)
}

// annots adds the text of annotations a reader sees (§12.5): /Contents of
// comments and the appearance of form fields and stamps.
func (x *extractor) annots(pd dict) error {
	for i, a := range x.d.getArray(pd, "Annots") {
		if i >= 10000 {
			break
		}
		if x.d.spend(1) {
			return errWork
		}
		ad, ok := x.d.resolve(a).(dict)
		if !ok {
			continue
		}
		if s := textString(x.d.get(ad, "Contents")); s != "" {
			if err := x.out.text(s); err != nil {
				return err
			}
		}
		// The normal appearance shows what a filled-in field or a stamp
		// displays.
		ap := x.d.getDict(ad, "AP")
		var s *stream
		switch n := x.d.get(ap, "N").(type) {
		case *stream:
			s = n
		case dict:
			if as, ok := x.d.get(ad, "AS").(name); ok {
				s, _ = x.d.get(n, as).(*stream)
			}
		}
		if s == nil {
			continue
		}
		x.used[s.off] = true
		data, err := x.d.decodeStream(s)
		if err != nil {
			continue
		}
		g := &gstate{ctm: identity, th: 1}
		res := x.d.getDict(s.dict, "Resources")
		if err := x.runContent(data, res, g, 1); err != nil {
			x.out.flush()
			return err
		}
		if err := x.out.flush(); err != nil {
			return err
		}
	}
	return nil
}

// leftovers reads text that is in the file but on no page: page contents
// replaced by an incremental update (a "deleted" My Number is still in the
// bytes that leave), and content or form streams nothing refers to. Any
// stream with text operators that was not run as content is run with the
// resources of the page that uses its object number now, or of the first
// page.
func (x *extractor) leftovers(pages []page) error {
	d := x.d
	d.scan()
	resOf := map[int]dict{}
	for _, p := range pages {
		switch c := p.d["Contents"].(type) {
		case objRef:
			resOf[c.num] = p.res
		case array:
			for _, e := range c {
				if r, ok := e.(objRef); ok {
					resOf[r.num] = p.res
				}
			}
		}
	}
	var firstRes dict
	if len(pages) > 0 {
		firstRes = pages[0].res
	}
	found := 0
	for _, off := range d.allObjs {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		l := &lexer{buf: d.buf, pos: off}
		ref, o, err := d.parseIndirect(l, 0)
		if err != nil {
			continue
		}
		s, ok := o.(*stream)
		if !ok || x.used[s.off] || !maybeContent(s.dict) {
			continue
		}
		x.used[s.off] = true
		s.dict = d.decryptObject(s.dict, ref).(dict)
		data, err := d.decodeStream(s)
		if err != nil || !bytes.Contains(data, []byte("BT")) ||
			!(bytes.Contains(data, []byte("Tj")) || bytes.Contains(data, []byte("TJ")) || bytes.Contains(data, []byte("'"))) {
			continue
		}
		res, ok := resOf[ref.num]
		if !ok {
			res = d.getDict(s.dict, "Resources")
		}
		if res == nil {
			res = firstRes
		}
		before := x.out.b.Len() + int(x.out.pending)
		g := &gstate{ctm: identity, th: 1}
		if err := x.runContent(data, res, g, 1); err != nil {
			x.out.flush()
			return err
		}
		if err := x.out.flush(); err != nil {
			return err
		}
		if x.out.b.Len() > before {
			found++
		}
	}
	if found > 0 {
		d.notes.info("text of %d streams on no page read (earlier revisions or unused content)", found)
	}
	return nil
}

// maybeContent reports whether a stream may be page content or a form:
// not an image, font, metadata, cross-reference, object stream, embedded
// file, CMap or ICC profile.
func maybeContent(sd dict) bool {
	switch t, _ := sd["Type"].(name); t {
	case "XRef", "ObjStm", "Metadata", "EmbeddedFile", "CMap":
		return false
	}
	switch st, _ := sd["Subtype"].(name); st {
	case "Image", "Type1C", "CIDFontType0C", "OpenType", "XML":
		return false
	}
	for _, k := range []name{"Length1", "Length2", "Length3", "N", "FunctionType", "PatternType", "ShadingType"} {
		if _, ok := sd[k]; ok {
			return false
		}
	}
	return true
}

// extras adds text outside the pages that a recipient can read: form field
// values and the document information (title, author, subject, keywords).
func (x *extractor) extras(root dict) error {
	var parts []string
	info, _ := x.d.resolve(x.d.trailer["Info"]).(dict)
	for _, k := range []name{"Title", "Author", "Subject", "Keywords"} {
		if s := textString(x.d.get(info, k)); s != "" {
			parts = append(parts, s)
		}
	}
	seen := map[objRef]bool{}
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 32 || len(parts) > 100000 {
			return
		}
		if r, ok := v.(objRef); ok {
			if seen[r] {
				return
			}
			seen[r] = true
		}
		fd, ok := x.d.resolve(v).(dict)
		if !ok {
			return
		}
		if s := textString(x.d.get(fd, "V")); s != "" {
			parts = append(parts, s)
		}
		for _, k := range x.d.getArray(fd, "Kids") {
			walk(k, depth+1)
		}
	}
	if af := x.d.getDict(root, "AcroForm"); af != nil {
		for _, f := range x.d.getArray(af, "Fields") {
			walk(f, 0)
		}
		parts = append(parts, x.xfa(af)...)
	}
	// Bookmark titles (§12.3.3), shown in every viewer's side panel.
	if ol := x.d.getDict(root, "Outlines"); ol != nil {
		parts = append(parts, x.outlines(ol)...)
	}
	for _, p := range parts {
		if err := x.out.text(p); err != nil {
			return err
		}
	}
	return nil
}

// maxOutlines bounds the bookmarks read.
const maxOutlines = 100000

// outlines returns the titles of the outline tree, depth first.
func (x *extractor) outlines(root dict) []string {
	var out []string
	seen := map[objRef]bool{}
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		// Siblings are a linked list (/Next): iterate them, recurse into
		// children (/First) only.
		for n := 0; v != nil && n < maxOutlines && len(out) < maxOutlines && depth <= 32 && !x.d.spend(1); n++ {
			r, isRef := v.(objRef)
			if isRef {
				if seen[r] {
					return
				}
				seen[r] = true
			}
			item, ok := x.d.resolve(v).(dict)
			if !ok {
				return
			}
			if t := textString(x.d.get(item, "Title")); t != "" {
				out = append(out, t)
			}
			if first, ok := item["First"]; ok {
				walk(first, depth+1)
			}
			v = item["Next"]
		}
	}
	walk(root["First"], 0)
	return out
}

// xfa returns the text of an XFA form (§12.7.8): its XML packets, tags
// removed. Dynamic forms keep their filled-in data only there.
func (x *extractor) xfa(af dict) []string {
	var streams []*stream
	switch v := x.d.get(af, "XFA").(type) {
	case *stream:
		streams = append(streams, v)
	case array:
		// [name1 stream1 name2 stream2 …]
		for i := 1; i < len(v); i += 2 {
			if st, ok := x.d.resolve(v[i]).(*stream); ok {
				streams = append(streams, st)
			}
		}
	}
	var out []string
	for _, st := range streams {
		data, err := x.d.decodeStream(st)
		if err != nil {
			x.d.notes.add("XFA form packet skipped: %v", err)
			continue
		}
		if t := xmlText(data); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// xmlText returns the character data of an XML fragment, one text per
// line; markup errors end it with what was read.
func xmlText(data []byte) string {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = false
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var b strings.Builder
	for {
		tok, err := dec.RawToken()
		if err != nil {
			break
		}
		if cd, ok := tok.(xml.CharData); ok {
			if t := strings.TrimSpace(string(cd)); t != "" {
				b.WriteString(t)
				b.WriteByte('\n')
			}
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// textString decodes a text string (§7.9.2.2): UTF-16BE or UTF-8 with a
// byte order mark, else PDFDocEncoding.
func textString(v any) string {
	s, ok := v.(pdfString)
	if !ok || len(s) == 0 {
		return ""
	}
	b := []byte(s)
	switch {
	case len(b) >= 2 && b[0] == 0xfe && b[1] == 0xff:
		b = b[2:]
		u := make([]uint16, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		}
		return string(utf16.Decode(u))
	case len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf:
		return strings.ToValidUTF8(string(b[3:]), "\uFFFD")
	case utf8.Valid(b):
		// Not allowed by the standard but written by some Japanese
		// software; UTF-8 with multibyte sequences is unlikely to be
		// PDFDocEncoding by chance.
		return string(b)
	}
	if t, ok := shiftJISText(b); ok {
		return t // older Japanese software writes its code page
	}
	var sb strings.Builder
	for _, c := range b {
		if r, ok := pdfDocHigh[c]; ok {
			sb.WriteRune(r)
		} else {
			sb.WriteRune(rune(c))
		}
	}
	return sb.String()
}

// shiftJISText decodes b as Shift_JIS when it decodes cleanly and holds
// Japanese letters; PDFDocEncoding text almost never does both.
func shiftJISText(b []byte) (string, bool) {
	t, err := japanese.ShiftJIS.NewDecoder().Bytes(b)
	if err != nil || !utf8.Valid(t) || bytes.ContainsRune(t, utf8.RuneError) {
		return "", false
	}
	for _, r := range string(t) {
		if unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Han) {
			return string(t), true
		}
	}
	return "", false
}

// Reason summarises the notes for a part's reason: "" when there are none.
func (r *Result) Reason() string {
	if r == nil || len(r.Notes) == 0 {
		return ""
	}
	return "PDF: " + strings.Join(r.Notes, "; ")
}

// pdfDocHigh holds where PDFDocEncoding differs from Latin-1 (Annex D.2).
var pdfDocHigh = map[byte]rune{
	0x80: '•', 0x81: '†', 0x82: '‡', 0x83: '…', 0x84: '—', 0x85: '–', 0x86: 'ƒ', 0x87: '⁄',
	0x88: '‹', 0x89: '›', 0x8a: '−', 0x8b: '‰', 0x8c: '„', 0x8d: '“', 0x8e: '”', 0x8f: '‘',
	0x90: '’', 0x91: '‚', 0x92: '™', 0x93: 'ﬁ', 0x94: 'ﬂ', 0x95: 'Ł', 0x96: 'Œ', 0x97: 'Š',
	0x98: 'Ÿ', 0x99: 'Ž', 0x9a: 'ı', 0x9b: 'ł', 0x9c: 'œ', 0x9d: 'š', 0x9e: 'ž', 0xa0: '€',
}

// embedded collects the files attached to the document and to its pages.
func (d *document) embedded(root dict, pages []page) []EmbeddedFile {
	var out []EmbeddedFile
	seen := map[objRef]bool{}
	add := func(v any) {
		if len(out) >= maxEmbedded {
			return
		}
		if r, ok := v.(objRef); ok {
			if seen[r] {
				return
			}
			seen[r] = true
		}
		fs, ok := d.resolve(v).(dict)
		if !ok {
			return
		}
		ef := d.getDict(fs, "EF")
		if ef == nil {
			return
		}
		nm := textString(d.get(fs, "UF"))
		if nm == "" {
			nm = textString(d.get(fs, "F"))
		}
		s, ok := d.get(ef, "UF").(*stream)
		if !ok {
			s, ok = d.get(ef, "F").(*stream)
		}
		if !ok {
			out = append(out, EmbeddedFile{Name: nm, Err: errors.New("pdf: embedded file without a stream")})
			return
		}
		data, err := d.decodeStream(s)
		if err != nil {
			out = append(out, EmbeddedFile{Name: nm, Err: err})
			return
		}
		out = append(out, EmbeddedFile{Name: nm, Data: data})
	}
	// The /EmbeddedFiles name tree (§7.9.6).
	visited := map[objRef]bool{}
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 32 {
			return
		}
		if r, ok := v.(objRef); ok {
			if visited[r] {
				return
			}
			visited[r] = true
		}
		node, ok := d.resolve(v).(dict)
		if !ok {
			return
		}
		names := d.getArray(node, "Names")
		for i := 1; i < len(names); i += 2 {
			add(names[i])
		}
		for _, k := range d.getArray(node, "Kids") {
			walk(k, depth+1)
		}
	}
	if nd := d.getDict(root, "Names"); nd != nil {
		walk(nd["EmbeddedFiles"], 0)
	}
	for _, p := range pages {
		for _, a := range d.getArray(p.d, "Annots") {
			if ad, ok := d.resolve(a).(dict); ok && ad["Subtype"] == name("FileAttachment") {
				add(ad["FS"])
			}
		}
	}
	return out
}
