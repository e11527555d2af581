package office

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxRepeat bounds how often a repeated non-empty cell or row is written
// (ODF writers repeat empty cells and rows up to the sheet's edge; a
// hostile file repeats full ones).
const maxRepeat = 64

// odfFormat reads the "mimetype" member (ODF 1.2 Part 3, 3.3).
func (x *extractor) odfFormat(f *zip.File) (string, error) {
	rc, err := x.open(f.Name)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 128))
	if err != nil {
		return "", fmt.Errorf("office: mimetype: %w", err)
	}
	mt := strings.TrimSpace(string(b))
	mt = strings.TrimSuffix(mt, "-template")
	switch mt {
	case "application/vnd.oasis.opendocument.text":
		return "odt", nil
	case "application/vnd.oasis.opendocument.spreadsheet":
		return "ods", nil
	case "application/vnd.oasis.opendocument.presentation":
		return "odp", nil
	case "application/vnd.oasis.opendocument.graphics":
		return "odg", nil
	}
	return "", nil
}

func (x *extractor) odf(format string) error {
	if enc, err := x.odfEncrypted(); err != nil {
		return err
	} else if enc {
		return ErrEncrypted
	}
	if err := x.odfPart("content.xml", format, false); err != nil {
		return err
	}
	if x.files["styles.xml"] != nil {
		if err := x.odfPart("styles.xml", format, true); err != nil {
			return err
		}
	}
	if x.files["meta.xml"] != nil {
		return x.props("meta.xml", map[string]bool{"title": true, "subject": true, "keyword": true, "description": true})
	}
	return nil
}

// odfEncrypted tells whether the manifest marks content as encrypted
// (ODF 1.2 Part 3, 4.8: manifest:encryption-data).
func (x *extractor) odfEncrypted() (bool, error) {
	rc, err := x.open("META-INF/manifest.xml")
	if errors.Is(err, errMissing) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer rc.Close()
	d := newDecoder(rc)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("office: manifest: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "encryption-data" {
			return true, nil
		}
	}
}

// odfState is the parse state of one ODF XML part.
type odfState struct {
	x      *extractor
	format string
	styles bool // styles.xml: only headers and footers

	section    string // current section name (without table)
	pDepth     int    // inside text:p / text:h
	annot      int    // inside office:annotation
	annotBuf   strings.Builder
	comments   strings.Builder
	tableDepth int
	// current row (top-level table): cells written into row, repeated at
	// its end.
	row         strings.Builder
	rowRepeat   int
	rowTabs     int // tabs in row = column of next cell
	rowCol      int // column of the next cell
	rowsWritten int
	// current cell
	inCell     bool
	cell       strings.Builder
	cellSep    bool
	cellValue  string // office:value etc., overriding the shown text
	cellRep    int
	slide      int
	inMaster   bool // styles.xml: inside office:master-styles
	masterPage int  // styles.xml: inside style:master-page
	hfDepth    int  // inside a header or footer element
	shapes     strings.Builder
}

func (x *extractor) odfPart(part, format string, styles bool) error {
	rc, err := x.open(part)
	if err != nil {
		return err
	}
	defer rc.Close()
	s := &odfState{x: x, format: format, styles: styles, section: "body"}
	if !styles {
		x.t.begin(s.section, false)
	}
	d := newDecoder(rc)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("office: %s: %w", part, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			err = s.start(d, tok)
		case xml.EndElement:
			err = s.end(tok)
		case xml.CharData:
			if s.pDepth > 0 {
				err = s.text(collapseSpace(string(tok)))
			}
		}
		if err != nil {
			return err
		}
	}
	x.t.end()
	if s.shapes.Len() > 0 {
		if err := x.t.section("shapes", false, s.shapes.String()); err != nil {
			return err
		}
	}
	if s.comments.Len() > 0 {
		return x.t.section("comments", false, s.comments.String())
	}
	return nil
}

// visible tells whether text at this point is shown to a reader: styles.xml
// holds text in the master pages' headers and footers, and, in a
// presentation, in shapes on the master pages (shown on every slide).
func (s *odfState) visible() bool {
	return !s.styles || s.hfDepth > 0 || (s.pages() && s.masterPage > 0)
}

// pages tells a format made of draw:page pages (presentation, drawing).
func (s *odfState) pages() bool { return s.format == "odp" || s.format == "odg" }

// text routes shown text to where it belongs: an annotation, a cell, a
// shape outside cells (spreadsheets), or the running section.
func (s *odfState) text(str string) error {
	if str == "" || !s.visible() {
		return nil
	}
	switch {
	case s.annot > 0:
		if s.annotBuf.Len() < 1<<20 {
			s.annotBuf.WriteString(str)
		}
		return nil
	case s.inCell:
		if s.cellSep {
			s.cellSep = false
			s.cell.WriteByte(' ')
		}
		if s.cell.Len() < 1<<20 {
			s.cell.WriteString(cellText(str))
		}
		return nil
	case s.format == "ods" && !s.styles:
		if s.shapes.Len() < 1<<20 {
			s.shapes.WriteString(str)
		}
		return nil
	}
	return s.x.t.write(str)
}

func (s *odfState) start(d *tokenizer, se xml.StartElement) error {
	t := s.x.t
	switch se.Name.Local {
	case "master-styles":
		s.inMaster = true
	case "master-page":
		if s.styles && s.inMaster {
			s.masterPage++
			if s.pages() {
				t.begin("masters", false)
			}
		}
	case "header", "header-left", "header-first", "footer", "footer-left", "footer-first":
		if s.styles && s.inMaster && (se.Name.Space == "style" || se.Name.Space == "") {
			if s.hfDepth == 0 {
				t.begin(strings.SplitN(se.Name.Local, "-", 2)[0], false)
			}
			s.hfDepth++
		}
	case "p", "h":
		if se.Name.Space == "text" || se.Name.Space == "" {
			s.pDepth++
		}
	case "s":
		if se.Name.Space != "text" {
			return nil
		}
		n, err := strconv.Atoi(attr(se, "c"))
		if err != nil || n < 1 {
			n = 1
		}
		return s.text(strings.Repeat(" ", min(n, 64)))
	case "tab":
		if s.pDepth > 0 && se.Name.Space == "text" {
			return s.text("\t")
		}
	case "line-break":
		return s.text("\n")
	case "note-citation":
		// The footnote number, not content.
		if se.Name.Space == "text" {
			return skip(d)
		}
	case "creator", "date", "date-string":
		// Annotation author and date (dc:, meta:); text:date and
		// text:creator fields in a paragraph are shown, so they stay.
		if se.Name.Space == "dc" || se.Name.Space == "meta" {
			return skip(d)
		}
	case "annotation":
		s.annot++
	case "page":
		if se.Name.Space == "draw" && !s.styles {
			s.slide++
			s.section = s.pageName()
			t.begin(s.section, false)
		}
	case "notes":
		if se.Name.Space == "presentation" && !s.styles {
			s.section = "notes:" + strconv.Itoa(s.slide)
			t.begin(s.section, false)
		}
	case "table":
		if se.Name.Space != "table" || s.styles {
			return nil
		}
		s.tableDepth++
		if s.tableDepth == 1 {
			name := s.section
			if s.format == "ods" {
				name = "sheet:" + attr(se, "name")
			}
			t.begin(name, true)
			s.rowsWritten = 0
		} else if s.inCell {
			s.cellSep = true
		}
	case "table-row":
		if s.tableDepth == 1 {
			s.row.Reset()
			s.rowTabs, s.rowCol = 0, 0
			s.rowRepeat = repeat(attr(se, "number-rows-repeated"))
		} else if s.inCell {
			s.cellSep = true
		}
	case "table-cell", "covered-table-cell":
		if s.tableDepth == 1 {
			s.inCell = true
			s.cell.Reset()
			s.cellSep = false
			s.cellRep = repeat(attr(se, "number-columns-repeated"))
			s.cellValue = odfCellValue(se)
		} else if s.inCell {
			s.cellSep = true
		}
	}
	return nil
}

// pageName names the section of the current page: "slide:N" in a
// presentation, "page:N" in a drawing.
func (s *odfState) pageName() string {
	if s.format == "odg" {
		return "page:" + strconv.Itoa(s.slide)
	}
	return "slide:" + strconv.Itoa(s.slide)
}

func repeat(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1
	}
	return min(n, 1<<20)
}

// odfCellValue renders a cell's typed value (ODF 1.2 Part 1, 19.385-19.389):
// numbers as full digits, whatever the column width shows; dates as
// yyyy/mm/dd. "" means use the shown text.
func odfCellValue(se xml.StartElement) string {
	switch attr(se, "value-type") {
	case "float", "percentage", "currency":
		if v := attr(se, "value"); v != "" {
			return formatNumber(v)
		}
	case "date":
		v := attr(se, "date-value")
		if len(v) >= 10 && v[4] == '-' && v[7] == '-' && strings.Trim(v[:4]+v[5:7]+v[8:10], "0123456789") == "" {
			out := v[:4] + "/" + v[5:7] + "/" + v[8:10]
			if len(v) > 11 && v[10] == 'T' && strings.TrimLeft(v[11:], "0:.") != "" {
				out += " " + v[11:min(len(v), 30)]
			}
			return out
		}
	}
	return ""
}

func (s *odfState) end(ee xml.EndElement) error {
	t := s.x.t
	switch ee.Name.Local {
	case "master-styles":
		s.inMaster = false
	case "master-page":
		if s.masterPage > 0 {
			s.masterPage--
		}
	case "header", "header-left", "header-first", "footer", "footer-left", "footer-first":
		if s.hfDepth > 0 && (ee.Name.Space == "style" || ee.Name.Space == "") {
			s.hfDepth--
			if s.hfDepth == 0 {
				t.end()
			}
		}
	case "p", "h":
		if ee.Name.Space != "text" && ee.Name.Space != "" {
			return nil
		}
		if s.pDepth > 0 {
			s.pDepth--
		}
		switch {
		case !s.visible():
		case s.annot > 0:
			s.annotBuf.WriteByte(' ')
		case s.inCell:
			s.cellSep = true
		case s.format == "ods" && !s.styles:
			s.shapes.WriteByte('\n')
		default:
			return t.write("\n")
		}
	case "annotation":
		if s.annot > 0 {
			s.annot--
		}
		if s.annot == 0 {
			if a := strings.TrimSpace(s.annotBuf.String()); a != "" && s.comments.Len() < 1<<20 {
				s.comments.WriteString(a)
				s.comments.WriteByte('\n')
			}
			s.annotBuf.Reset()
		}
	case "table-cell", "covered-table-cell":
		if s.tableDepth != 1 || !s.inCell {
			return nil
		}
		s.inCell = false
		val := s.cellValue
		shown := strings.TrimSpace(s.cell.String())
		switch {
		case val == "":
			val = shown
		case shown != val && strings.Trim(shown, "0123456789") == "" && strings.TrimLeft(shown, "0") == strings.TrimLeft(val, "0"):
			// A number shown with leading zeros (min-integer-digits):
			// 012345678901 is what the reader sees, and a 12-digit
			// My Number.
			val = shown
		}
		if val != "" {
			if s.rowCol > s.rowTabs {
				s.row.WriteString(strings.Repeat("\t", min(s.rowCol-s.rowTabs, maxColGap)))
				s.rowTabs = s.rowCol
			}
			for i := 0; i < min(s.cellRep, maxRepeat); i++ {
				if i > 0 {
					s.row.WriteByte('\t')
					s.rowTabs++
				}
				s.row.WriteString(val)
			}
			s.rowCol = s.rowTabs + 1
			return nil
		}
		s.rowCol += s.cellRep
	case "table-row":
		if s.tableDepth != 1 || s.row.Len() == 0 {
			return nil
		}
		for i := 0; i < min(s.rowRepeat, maxRepeat); i++ {
			if s.rowsWritten > 0 {
				if err := t.write("\n"); err != nil {
					return err
				}
			}
			if err := t.write(s.row.String()); err != nil {
				return err
			}
			s.rowsWritten++
		}
		s.row.Reset()
	case "table":
		if ee.Name.Space != "table" || s.styles || s.tableDepth == 0 {
			return nil
		}
		s.tableDepth--
		if s.tableDepth == 0 {
			t.begin(s.section, false)
		}
	case "notes":
		if ee.Name.Space == "presentation" && !s.styles {
			s.section = s.pageName()
		}
	}
	return nil
}
