package office

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// Content types of OOXML parts (ECMA-376 Part 1, 11-13; [MS-OE376]).
const (
	ctWordHeader    = "wordprocessingml.header+xml"
	ctWordFooter    = "wordprocessingml.footer+xml"
	ctWordFootnotes = "wordprocessingml.footnotes+xml"
	ctWordEndnotes  = "wordprocessingml.endnotes+xml"
	ctWordComments  = "wordprocessingml.comments+xml"
	ctSheet         = "spreadsheetml.worksheet+xml"
	ctSharedStrings = "spreadsheetml.sharedstrings+xml"
	ctStyles        = "spreadsheetml.styles+xml"
	ctXLComments    = "spreadsheetml.comments+xml"
	ctXLThreaded    = "ms-excel.threadedcomments+xml"
	ctDrawing       = "drawing+xml"
	ctSlide         = "presentationml.slide+xml"
	ctNotes         = "presentationml.notesslide+xml"
	ctPPTComments   = "presentationml.comments+xml"
	ctPPTComments2  = "ms-powerpoint.comments+xml"
	ctCore          = "package.core-properties+xml"
	ctCustomProps   = "officedocument.custom-properties+xml"
	ctWordGlossary  = "wordprocessingml.document.glossary+xml"
)

// ooxmlFormat reads [Content_Types].xml (ECMA-376 Part 2, 10.1.2) and finds
// the main document part, which tells the format.
func (x *extractor) ooxmlFormat() (format, main string, err error) {
	rc, err := x.open("[Content_Types].xml")
	if err != nil {
		return "", "", err
	}
	defer rc.Close()
	x.overrides = map[string]string{}
	x.defaults = map[string]string{}
	d := newDecoder(rc)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", "", fmt.Errorf("office: [Content_Types].xml: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		ct := strings.ToLower(attr(se, "ContentType"))
		switch se.Name.Local {
		case "Override":
			name := strings.ToLower(strings.TrimPrefix(attr(se, "PartName"), "/"))
			x.overrides[name] = ct
			if f := mainFormat(ct); f != "" && main == "" {
				format, main = f, name
			}
		case "Default":
			x.defaults[strings.ToLower(attr(se, "Extension"))] = ct
		}
	}
	if format == "xlsb" {
		return "", "", fmt.Errorf("%w: xlsb", ErrUnsupported)
	}
	if main != "" && x.files[main] == nil {
		return "", "", fmt.Errorf("office: main part %s: %w", main, errMissing)
	}
	return format, main, nil
}

func mainFormat(ct string) string {
	if !strings.HasSuffix(ct, ".main+xml") && !strings.HasSuffix(ct, ".main") {
		return ""
	}
	switch {
	case strings.Contains(ct, "ms-excel.sheet.binary"):
		return "xlsb"
	case strings.Contains(ct, "wordprocessingml.") || strings.Contains(ct, "ms-word."):
		return "docx"
	case strings.Contains(ct, "spreadsheetml.") || strings.Contains(ct, "ms-excel."):
		return "xlsx"
	case strings.Contains(ct, "presentationml.") || strings.Contains(ct, "ms-powerpoint."):
		return "pptx"
	}
	return ""
}

func (x *extractor) contentType(part string) string {
	if ct, ok := x.overrides[part]; ok {
		return ct
	}
	return x.defaults[strings.TrimPrefix(path.Ext(part), ".")]
}

// partsOf lists the parts whose content type ends with one of suffixes,
// in natural order.
func (x *extractor) partsOf(suffixes ...string) []string {
	var out []string
	for name := range x.files {
		ct := x.contentType(name)
		for _, s := range suffixes {
			if strings.HasSuffix(ct, s) {
				out = append(out, name)
				break
			}
		}
	}
	sortParts(out)
	return out
}

type rel struct {
	typ    string // last path element of the relationship type URI
	target string // resolved part name, lower-cased
}

// rels reads the relationships of part (ECMA-376 Part 2, 9.3).
func (x *extractor) rels(part string) (map[string]rel, error) {
	name := path.Join(path.Dir(part), "_rels", path.Base(part)+".rels")
	out := map[string]rel{}
	rc, err := x.open(name)
	if errors.Is(err, errMissing) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	defer rc.Close()
	d := newDecoder(rc)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("office: %s: %w", name, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Relationship" || attr(se, "TargetMode") == "External" {
			continue
		}
		out[attr(se, "Id")] = rel{
			typ:    path.Base(attr(se, "Type")),
			target: strings.ToLower(resolve(part, attr(se, "Target"))),
		}
	}
}

// ooxmlText extracts the text of a WordprocessingML or DrawingML part
// (document body, header, footer, notes, comments, slide): runs of t,
// paragraphs as lines, tabs and breaks. With tables set, each top-level
// table becomes a Table section; otherwise cells are separated by tabs and
// rows by new lines inside the running text.
func (x *extractor) ooxmlText(part, section string, tables bool) error {
	return x.ooxmlTextMode(part, section, tables, false)
}

// ooxmlTextMode is ooxmlText; with masters set (slide masters and layouts)
// prompt placeholders are left out.
func (x *extractor) ooxmlTextMode(part, section string, tables, masters bool) error {
	rc, err := x.open(part)
	if err != nil {
		return err
	}
	defer rc.Close()
	t := x.t
	t.begin(section, false)
	d := newDecoder(rc)

	type tbl struct {
		rows, cells int
		extra       int // grid columns the last cell spans beyond its own
	}
	var (
		stack   []tbl  // open tables
		inText  int    // inside t, delText
		cellSep bool   // a paragraph ended inside a cell: space before more text
		shapes  []bool // open p:sp shapes: true for a prompt placeholder (masters)
		prompt  int    // open shapes that are prompt placeholders
		fields  strings.Builder
	)
	inCell := func() bool { return len(stack) > 0 }
	w := func(s string) error {
		if inCell() {
			if cellSep {
				cellSep = false
				if err := t.write(" "); err != nil {
					return err
				}
			}
			s = cellText(s)
		}
		return t.write(s)
	}
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
			switch tok.Name.Local {
			case "instrText":
				// A field code (QUOTE "…", MERGEFIELD …) leaves with the
				// file even when its result is empty or stale: its text
				// is read apart, after the part, so that it does not
				// split the shown text.
				var s string
				s, err = collectText(d, 1<<16)
				if fields.Len() < 1<<20 {
					fields.WriteString(s + "\n")
				}
			case "Fallback", "pPr", "rPr", "rPh", "rt", "tblPr", "trPr", "endParaRPr":
				// mc:Fallback repeats mc:Choice (ECMA-376 Part 3); the
				// others hold formatting or phonetic guides (rPh, w:rt:
				// furigana would split the name it reads).
				if err := skip(d); err != nil {
					return fmt.Errorf("office: %s: %w", part, err)
				}
			case "footnote", "endnote":
				// Separator notes hold only the separator line.
				if ty := attr(tok, "type"); ty == "separator" || ty == "continuationSeparator" || ty == "continuationNotice" {
					if err := skip(d); err != nil {
						return fmt.Errorf("office: %s: %w", part, err)
					}
				}
			case "fld":
				if attr(tok, "type") == "slidenum" {
					if err := skip(d); err != nil {
						return fmt.Errorf("office: %s: %w", part, err)
					}
				}
			case "sp":
				if masters {
					shapes = append(shapes, false)
				}
			case "ph":
				// ECMA-376 Part 1, 19.3.1.36: on masters and layouts the
				// title/body/object placeholders hold only prompt text
				// ("Click to edit…"); footer, date and header ones hold
				// what every slide shows.
				if masters && len(shapes) > 0 && !shapes[len(shapes)-1] {
					switch attr(tok, "type") {
					case "ftr", "dt", "hdr":
					default:
						shapes[len(shapes)-1] = true
						prompt++
					}
				}
			case "t", "delText", "text":
				if tok.Name.Local != "text" || tok.Name.Space == "p" || tok.Name.Space == "" {
					inText++
				}
			case "tab":
				err = w("\t")
			case "br", "cr":
				err = w("\n")
			case "noBreakHyphen":
				err = w("-")
			case "tbl":
				if len(stack) == 0 && tables {
					t.begin(section, true)
				}
				stack = append(stack, tbl{})
			case "tr":
				if len(stack) > 0 {
					top := &stack[len(stack)-1]
					top.extra = 0
					if top.rows > 0 {
						if len(stack) == 1 {
							err = t.write("\n")
						} else {
							cellSep = true
						}
					}
					top.rows++
					top.cells = 0
				}
			case "tc":
				if len(stack) > 0 {
					top := &stack[len(stack)-1]
					if top.cells > 0 {
						if len(stack) == 1 {
							err = t.write(strings.Repeat("\t", 1+top.extra))
						} else {
							cellSep = true
						}
					}
					top.extra = 0
					top.cells++
					cellSep = false
				}
			case "gridSpan":
				// A merged cell covers more grid columns: keep the columns
				// of the next cells aligned.
				if n, e := strconv.Atoi(attr(tok, "val")); e == nil && n > 1 && len(stack) > 0 {
					stack[len(stack)-1].extra = min(n, 64) - 1
				}
			}
		case xml.EndElement:
			switch tok.Name.Local {
			case "sp":
				if masters && len(shapes) > 0 {
					if shapes[len(shapes)-1] {
						prompt--
					}
					shapes = shapes[:len(shapes)-1]
				}
			case "t", "delText", "text":
				if inText > 0 && (tok.Name.Local != "text" || tok.Name.Space == "p" || tok.Name.Space == "") {
					inText--
				}
			case "p":
				if inCell() {
					cellSep = true
				} else {
					err = t.write("\n")
				}
			case "comment", "cm", "threadedComment", "footnote", "endnote":
				if !inCell() {
					err = t.write("\n")
				}
			case "tbl":
				if len(stack) > 0 {
					stack = stack[:len(stack)-1]
				}
				if len(stack) == 0 && tables {
					t.begin(section, false)
				}
				cellSep = len(stack) > 0
			}
		case xml.CharData:
			if inText > 0 && prompt == 0 {
				err = w(string(tok))
			}
		}
		if err != nil {
			return err
		}
	}
	if err := t.write("\n"); err != nil {
		return err
	}
	if strings.TrimSpace(fields.String()) != "" {
		return t.section(section+":fields", false, fields.String())
	}
	return nil
}

// collectText reads the text of the element whose start was just read, up
// to its end (at most max bytes kept).
func collectText(d *tokenizer, max int) (string, error) {
	var b strings.Builder
	for depth := 1; depth > 0; {
		tok, err := d.RawToken()
		if err != nil {
			return b.String(), err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if b.Len() < max {
				b.Write(tok)
			}
		}
	}
	return b.String(), nil
}

// textParts runs ooxmlText over parts, each in section name.
func (x *extractor) textParts(parts []string, section string) error {
	for _, p := range parts {
		if err := x.ooxmlText(p, section, false); err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) docx(main string) error {
	if err := x.ooxmlText(main, "body", true); err != nil {
		return err
	}
	// w:altChunk (ECMA-376 Part 1, 17.17.2): content Word imports from
	// another file (HTML, MHT, RTF, DOCX) kept as a part of its own, shown
	// as the document's text.
	rs, err := x.rels(main)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.typ == "aFChunk" && x.files[r.target] != nil {
			if err := x.embeddedFile(x.files[r.target].Name); err != nil {
				return err
			}
		}
	}
	for _, s := range []struct{ ct, name string }{
		{ctWordHeader, "header"},
		{ctWordFooter, "footer"},
		{ctWordFootnotes, "footnotes"},
		{ctWordEndnotes, "endnotes"},
		{ctWordComments, "comments"},
		// Building blocks (AutoText) saved in the file: not on a page,
		// but they leave with it.
		{ctWordGlossary, "glossary"},
	} {
		if err := x.textParts(x.partsOf(s.ct), s.name); err != nil {
			return err
		}
	}
	if err := x.extras(); err != nil {
		return err
	}
	return x.coreProps()
}

func (x *extractor) pptx(main string) error {
	slides, err := x.slideOrder(main)
	if err != nil {
		return err
	}
	for i, s := range slides {
		n := strconv.Itoa(i + 1)
		if err := x.ooxmlText(s, "slide:"+n, false); err != nil {
			return err
		}
		rs, err := x.rels(s)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.typ == "notesSlide" && x.files[r.target] != nil {
				if err := x.ooxmlText(r.target, "notes:"+n, false); err != nil {
					return err
				}
			}
		}
	}
	if err := x.textParts(x.partsOf(ctPPTComments, ctPPTComments2), "comments"); err != nil {
		return err
	}
	// Text placed on masters and layouts shows on every slide that uses
	// them (a 社外秘 footer); their placeholder prompts come along.
	for _, p := range x.partsOf(ctSlideMaster, ctSlideLayout) {
		if err := x.ooxmlTextMode(p, "masters", false, true); err != nil {
			return err
		}
	}
	if err := x.extras(); err != nil {
		return err
	}
	return x.coreProps()
}

// slideOrder lists the slides in presentation order (p:sldIdLst), falling
// back to every slide part in natural order.
func (x *extractor) slideOrder(main string) ([]string, error) {
	rs, err := x.rels(main)
	if err != nil {
		return nil, err
	}
	rc, err := x.open(main)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var slides []string
	seen := map[string]bool{}
	d := newDecoder(rc)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("office: %s: %w", main, err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "sldId" {
			if r, ok := rs[attrNS(se, "r", "id")]; ok && x.files[r.target] != nil && !seen[r.target] {
				seen[r.target] = true
				slides = append(slides, r.target)
			}
		}
	}
	// Slides not in the list (hidden from the order but still in the file)
	// still leave with the file.
	for _, p := range x.partsOf(ctSlide) {
		if !seen[p] {
			slides = append(slides, p)
		}
	}
	return slides, nil
}

// coreProps adds title, subject, keywords and description from
// docProps/core.xml (ECMA-376 Part 2, 11).
func (x *extractor) coreProps() error {
	want := map[string]bool{"title": true, "subject": true, "keywords": true, "description": true, "keyword": true}
	for _, p := range x.partsOf(ctCore) {
		if err := x.props(p, want); err != nil {
			return err
		}
	}
	// Custom properties (docProps/custom.xml) carry classification labels
	// (sensitivity labels, 機密区分 fields): "name: value" lines.
	for _, p := range x.partsOf(ctCustomProps) {
		if err := x.props(p, nil); err != nil {
			return err
		}
	}
	return nil
}

// props collects the text of the named elements of a metadata part, one
// per line, as section "properties"; and of named properties (OOXML custom
// property, ODF meta:user-defined) as "name: value".
func (x *extractor) props(part string, want map[string]bool) error {
	rc, err := x.open(part)
	if err != nil {
		return err
	}
	defer rc.Close()
	d := newDecoder(rc)
	var lines []string
	var cur strings.Builder
	depth := 0 // inside a collected element
	label := ""
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
			switch {
			case depth > 0:
				depth++
			case tok.Name.Local == "property" || tok.Name.Local == "user-defined":
				depth = 1
				label = attr(tok, "name")
				cur.Reset()
			case want[tok.Name.Local]:
				depth = 1
				label = ""
				cur.Reset()
			}
		case xml.EndElement:
			if depth == 0 {
				continue
			}
			depth--
			if depth == 0 {
				if s := strings.TrimSpace(cur.String()); s != "" {
					if label != "" {
						s = label + ": " + s
					}
					lines = append(lines, s)
				}
			}
		case xml.CharData:
			if depth > 0 && cur.Len() < 1<<16 {
				cur.Write(tok)
			}
		}
		if len(lines) > 10000 {
			break
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return x.t.section("properties", false, strings.Join(lines, "\n"))
}

// Content types of parts that carry copies of data (ECMA-376 Part 1, 21.2
// charts, 21.4 diagrams, 18.10 pivot caches, 18.14 external links).
const (
	ctChart         = "drawingml.chart+xml"
	ctDiagramData   = "drawingml.diagramdata+xml"
	ctExternalLink  = "spreadsheetml.externallink+xml"
	ctPivotDef      = "spreadsheetml.pivotcachedefinition+xml"
	ctPivotRecords  = "spreadsheetml.pivotcacherecords+xml"
	ctSlideMaster   = "presentationml.slidemaster+xml"
	ctSlideLayout   = "presentationml.slidelayout+xml"
	maxValueLineLen = 1 << 16
)

// extras reads the parts that keep copies of data outside the main text:
// chart caches (the numbers and labels a chart was drawn from), SmartArt
// text, pivot caches and cached cells of linked workbooks. They leave with
// the file even when the sheet they came from was deleted.
func (x *extractor) extras() error {
	if err := x.textParts(x.partsOf(ctDiagramData), "diagrams"); err != nil {
		return err
	}
	for _, s := range []struct{ ct, name string }{
		{ctChart, "charts"},
		{ctPivotDef, "pivotcache"},
		{ctPivotRecords, "pivotcache"},
		{ctExternalLink, "externallinks"},
	} {
		for _, p := range x.partsOf(s.ct) {
			if err := x.valuesText(p, s.name); err != nil {
				return err
			}
		}
	}
	return nil
}

// valuesText writes the cached values of a chart, pivot cache or external
// link part, one per line: text of t and v elements, and the v attribute
// of pivot items (s, n, d, e, b). Numbers as full digits.
func (x *extractor) valuesText(part, section string) error {
	rc, err := x.open(part)
	if err != nil {
		return err
	}
	defer rc.Close()
	t := x.t
	t.begin(section, false)
	d := newDecoder(rc)
	var cur strings.Builder
	in := 0
	line := func(s string, number bool) error {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
		if number {
			s = formatNumber(s)
		}
		if err := t.write(cellText(s)); err != nil {
			return err
		}
		return t.write("\n")
	}
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("office: %s: %w", part, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			switch tok.Name.Local {
			case "t", "v":
				in++
				cur.Reset()
			case "s", "n", "d", "e", "b":
				if v := attr(tok, "v"); v != "" {
					if err := line(v, tok.Name.Local == "n"); err != nil {
						return err
					}
				}
			}
		case xml.EndElement:
			if (tok.Name.Local == "t" || tok.Name.Local == "v") && in > 0 {
				in--
				s := cur.String()
				_, perr := strconv.ParseFloat(strings.TrimSpace(s), 64)
				if err := line(s, perr == nil); err != nil {
					return err
				}
				cur.Reset()
			}
		case xml.CharData:
			if in > 0 && cur.Len() < maxValueLineLen {
				cur.Write(tok)
			}
		}
	}
}
