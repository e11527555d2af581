package office

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxColGap bounds the empty fields written to keep a far cell in its
// column (a cell at XFD1 must not cost 16k tabs on every row).
const maxColGap = 1024

type sheetRef struct{ name, part string }

func (x *extractor) xlsx(main string) error {
	rs, err := x.rels(main)
	if err != nil {
		return err
	}
	sheets, date1904, err := x.workbook(main, rs)
	if err != nil {
		return err
	}
	var ssPart, stylesPart string
	for _, r := range rs {
		switch r.typ {
		case "sharedStrings":
			ssPart = r.target
		case "styles":
			stylesPart = r.target
		}
	}
	// Writers that skip the relationship still name the part's type.
	if p := x.partsOf(ctSharedStrings); ssPart == "" && len(p) > 0 {
		ssPart = p[0]
	}
	if p := x.partsOf(ctStyles); stylesPart == "" && len(p) > 0 {
		stylesPart = p[0]
	}
	var shared []string
	var styles []cellStyle
	if ssPart != "" && x.files[ssPart] != nil {
		if shared, err = x.sharedStrings(ssPart); err != nil {
			return err
		}
	}
	if stylesPart != "" && x.files[stylesPart] != nil {
		if styles, err = x.cellStyles(stylesPart); err != nil {
			return err
		}
	}
	// Worksheets the workbook does not list still leave with the file.
	listed := map[string]bool{}
	for _, s := range sheets {
		listed[s.part] = true
	}
	for _, p := range x.partsOf(ctSheet) {
		if !listed[p] {
			sheets = append(sheets, sheetRef{name: p, part: p})
		}
	}
	// Sheet names are seen by every reader of the workbook (tabs).
	names := make([]string, len(sheets))
	for i, s := range sheets {
		names[i] = s.name
	}
	if err := x.t.section("sheets", false, strings.Join(names, "\n")); err != nil {
		return err
	}
	c := &cellFmt{shared: shared, styles: styles, date1904: date1904}
	for _, s := range sheets {
		if err := x.sheet(s, c); err != nil {
			return err
		}
	}
	if err := x.textParts(x.partsOf(ctXLComments, ctXLThreaded), "comments"); err != nil {
		return err
	}
	// Text boxes and shapes drawn on sheets.
	if err := x.textParts(x.partsOf(ctDrawing), "drawings"); err != nil {
		return err
	}
	if err := x.extras(); err != nil {
		return err
	}
	return x.coreProps()
}

// workbook reads the sheet list (names in tab order) and the date system.
func (x *extractor) workbook(main string, rs map[string]rel) ([]sheetRef, bool, error) {
	rc, err := x.open(main)
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	var sheets []sheetRef
	date1904 := false
	d := newDecoder(rc)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false, fmt.Errorf("office: %s: %w", main, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "workbookPr":
			v := attr(se, "date1904")
			date1904 = v == "1" || v == "true"
		case "sheet":
			r, ok := rs[attrNS(se, "r", "id")]
			if !ok || x.files[r.target] == nil {
				continue // a chart sheet or a dangling reference: no cells
			}
			sheets = append(sheets, sheetRef{name: attr(se, "name"), part: r.target})
		}
	}
	return sheets, date1904, nil
}

// sharedStrings reads the shared string table (ECMA-376 Part 1, 18.4):
// rich-text runs joined, phonetic guides (rPh) left out.
func (x *extractor) sharedStrings(part string) ([]string, error) {
	rc, err := x.open(part)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []string
	var cur []byte
	inT := 0
	d := newDecoder(rc)
	for {
		k, err := d.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("office: %s: %w", part, err)
		}
		switch k {
		case kStart:
			switch string(d.local()) {
			case "rPh", "rPr":
				if err := skip(d); err != nil {
					return out, fmt.Errorf("office: %s: %w", part, err)
				}
			case "t":
				inT++
			case "si":
				cur = cur[:0]
			}
		case kEnd:
			switch string(d.local()) {
			case "t":
				if inT > 0 {
					inT--
				}
			case "si":
				out = append(out, string(cur))
			}
		case kText:
			if inT > 0 && len(cur) < 1<<20 {
				cur = append(cur, d.chars...)
			}
		}
	}
}

// cellStyle is what matters of a cell style (cellXfs entry) for showing a
// number: a date format, or a zero-padded integer format ("000000000000":
// a My Number or phone number kept as a number with its leading zero).
type cellStyle struct {
	date bool
	pad  int // digits to pad integers to; 0 for none
}

// cellStyles reads, per cell style index (cellXfs), its number format
// (ECMA-376 Part 1, 18.8.30 built-in formats; 27-36 and 50-58 are the East
// Asian date formats).
func (x *extractor) cellStyles(part string) ([]cellStyle, error) {
	rc, err := x.open(part)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	custom := map[int]cellStyle{}
	var out []cellStyle
	inXfs := false
	d := newDecoder(rc)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("office: %s: %w", part, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			switch tok.Name.Local {
			case "numFmt":
				id, err := strconv.Atoi(attr(tok, "numFmtId"))
				if err == nil && len(custom) < 1<<16 {
					code := attr(tok, "formatCode")
					custom[id] = cellStyle{date: isDateFormat(code), pad: zeroPad(code)}
				}
			case "cellXfs":
				inXfs = true
			case "xf":
				if inXfs && len(out) < 1<<20 {
					id, _ := strconv.Atoi(attr(tok, "numFmtId"))
					st, ok := custom[id]
					if !ok {
						st = cellStyle{date: builtinDate(id)}
					}
					out = append(out, st)
				}
			}
		case xml.EndElement:
			if tok.Name.Local == "cellXfs" {
				inXfs = false
			}
		}
	}
}

// zeroPad returns n for a format code of n zeros ("000000000000"), else 0.
func zeroPad(code string) int {
	if len(code) < 2 || len(code) > 32 || strings.Trim(code, "0") != "" {
		return 0
	}
	return len(code)
}

func builtinDate(id int) bool {
	return (id >= 14 && id <= 22) || (id >= 27 && id <= 36) || (id >= 45 && id <= 47) || (id >= 50 && id <= 58)
}

// isDateFormat tells whether a custom number format code shows a date or
// time: it has y, m, d, h or s (or the Japanese era e/g) outside quoted
// text, brackets and escapes.
func isDateFormat(code string) bool {
	if strings.EqualFold(code, "general") {
		return false
	}
	quoted, bracket, esc := false, false, false
	for _, r := range code {
		switch {
		case esc:
			esc = false
		case quoted:
			quoted = r != '"'
		case bracket:
			bracket = r != ']'
		case r == '\\' || r == '_' || r == '*':
			esc = true
		case r == '"':
			quoted = true
		case r == '[':
			bracket = true
		case strings.ContainsRune("yYmMdDhHsSeg", r):
			return true
		}
	}
	return false
}

type cellFmt struct {
	shared   []string
	styles   []cellStyle
	date1904 bool
}

// value renders one cell as its reader sees its content.
func (c *cellFmt) value(typ, style, v, inline string) string {
	switch typ {
	case "s":
		i, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || i < 0 || i >= len(c.shared) {
			return ""
		}
		return c.shared[i]
	case "inlineStr":
		return inline
	case "str", "e", "d":
		return v
	case "b":
		switch strings.TrimSpace(v) {
		case "1":
			return "TRUE"
		case "0":
			return "FALSE"
		}
		return v
	}
	if v == "" {
		return inline
	}
	if style == "" || len(c.styles) == 0 {
		return formatNumber(v)
	}
	si, err := strconv.Atoi(style)
	if err != nil || si < 0 || si >= len(c.styles) {
		return formatNumber(v)
	}
	st := c.styles[si]
	if st.date {
		if s, ok := excelDate(v, c.date1904); ok {
			return s
		}
	}
	n := formatNumber(v)
	if st.pad > len(n) && strings.Trim(n, "0123456789") == "" {
		n = strings.Repeat("0", st.pad-len(n)) + n
	}
	return n
}

// formatNumber writes a stored number as full digits: a 12-digit My Number
// kept as a number is "123456789018", never "1.23456789018E+11"; other
// numbers with at most 15 significant digits, as Excel shows them.
func formatNumber(v string) string {
	v = strings.TrimSpace(v)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return v
	}
	a := math.Abs(f)
	if a >= 1e21 || (a != 0 && a < 1e-9) {
		return strconv.FormatFloat(f, 'G', 15, 64)
	}
	if f == math.Trunc(f) {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	// Round to 15 significant digits, then print without exponent.
	r, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 15, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// excelDate renders a serial date (ECMA-376 Part 1, 18.17.4.1): days since
// 1899-12-30 in the 1900 system (whose fictitious 1900-02-29 is serial 60),
// since 1904-01-01 in the 1904 system.
func excelDate(v string, date1904 bool) (string, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || f > 2958465 { // 9999-12-31
		return "", false
	}
	days := math.Floor(f)
	secs := int64(math.Round((f - days) * 86400))
	var base time.Time
	switch {
	case date1904:
		base = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)
	case days < 61:
		base = time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC)
	default:
		base = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	}
	t := base.AddDate(0, 0, int(days)).Add(time.Duration(secs) * time.Second)
	switch {
	case f < 1 && !date1904:
		return t.Format("15:04:05"), true
	case secs != 0:
		return t.Format("2006/01/02 15:04:05"), true
	}
	return t.Format("2006/01/02"), true
}

// colIndex parses the column letters of a cell reference ("C5" → 2).
func colIndex(ref string) (int, bool) {
	n := 0
	i := 0
	for ; i < len(ref); i++ {
		c := ref[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c < 'A' || c > 'Z' {
			break
		}
		n = n*26 + int(c-'A'+1)
		if n > 1<<20 {
			return 0, false
		}
	}
	if i == 0 {
		return 0, false
	}
	return n - 1, true
}

// sheet streams one worksheet (ECMA-376 Part 1, 18.3) as a Table section
// "sheet:NAME": rows on lines, cells in their columns, then its header and
// footer text. It is the hot path, so it uses the tokenizer's low-level
// calls (no per-token allocation).
func (x *extractor) sheet(s sheetRef, c *cellFmt) error {
	rc, err := x.open(s.part)
	if err != nil {
		return err
	}
	defer rc.Close()
	t := x.t
	t.begin("sheet:"+s.name, true)
	d := newDecoder(rc)
	var (
		rows     int // rows written
		rowCells int // cells written in this row
		tabs     int // tabs written in this row (= column of the next cell)
		nextCol  int // column of a cell without a reference
		inCell   bool
		typ, sty string
		col      int
		v        []byte
		inline   []byte
		inV, inT bool
		hf       []string
		inHF     bool
		hfBuf    strings.Builder
	)
	for {
		k, err := d.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("office: %s: %w", s.part, err)
		}
		switch k {
		case kStart:
			switch string(d.local()) {
			case "row":
				rowCells, tabs, nextCol = 0, 0, 0
			case "c":
				inCell = true
				typ = cellType(d.attrVal("t"))
				sty = ""
				if b := d.attrVal("s"); len(b) > 0 {
					sty = string(b)
				}
				col = nextCol
				if i, ok := colIndex(string(d.attrVal("r"))); ok {
					col = i
				}
				nextCol = col + 1
				v = v[:0]
				inline = inline[:0]
			case "v":
				inV = inCell
			case "t":
				inT = inCell
			case "rPh", "rPr", "f":
				// Phonetic guides, run formatting and formula text are not
				// what the cell shows; <v> holds the cached result.
				if err := skip(d); err != nil {
					return fmt.Errorf("office: %s: %w", s.part, err)
				}
			case "oddHeader", "oddFooter", "evenHeader", "evenFooter", "firstHeader", "firstFooter":
				inHF = true
				hfBuf.Reset()
			}
		case kEnd:
			switch string(d.local()) {
			case "v":
				inV = false
			case "t":
				inT = false
			case "c":
				inCell = false
				val := c.value(typ, sty, string(v), string(inline))
				if val == "" {
					continue
				}
				if rowCells == 0 && rows > 0 {
					if err := t.write("\n"); err != nil {
						return err
					}
				}
				if col > tabs {
					if err := t.write(strings.Repeat("\t", min(col-tabs, maxColGap))); err != nil {
						return err
					}
					tabs = col
				}
				if err := t.write(cellText(val)); err != nil {
					return err
				}
				if rowCells == 0 {
					rows++
				}
				rowCells++
			case "oddHeader", "oddFooter", "evenHeader", "evenFooter", "firstHeader", "firstFooter":
				inHF = false
				if s := headerFooterText(hfBuf.String()); s != "" {
					hf = append(hf, s)
				}
			}
		case kText:
			switch {
			case inV && len(v) < 1<<16:
				v = append(v, d.chars...)
			case inT && len(inline) < 1<<20:
				inline = append(inline, d.chars...)
			case inHF && hfBuf.Len() < 1<<16:
				hfBuf.Write(d.chars)
			}
		}
	}
	if len(hf) > 0 {
		return t.section("headerfooter:"+s.name, false, strings.Join(hf, "\n"))
	}
	return nil
}

// cellType maps the t attribute of a cell to a constant string.
func cellType(b []byte) string {
	switch string(b) {
	case "", "n":
		return ""
	case "s":
		return "s"
	case "str":
		return "str"
	case "inlineStr":
		return "inlineStr"
	case "b":
		return "b"
	case "e":
		return "e"
	case "d":
		return "d"
	}
	return string(b)
}

// headerFooterText removes the formatting codes of a sheet header or
// footer (ECMA-376 Part 1, 18.3.1.39): &L &C &R start sections, &P &N &D
// &T &Z &F &A are fields, &"font" &nn &K.. set fonts; && is '&'.
func headerFooterText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '&' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch c := s[i]; {
		case c == '&':
			b.WriteByte('&')
		case c == 'L' || c == 'C' || c == 'R':
			b.WriteByte(' ')
		case c == '"':
			if j := strings.IndexByte(s[i+1:], '"'); j >= 0 {
				i += j + 1
			} else {
				i = len(s)
			}
		case c >= '0' && c <= '9':
			for i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
				i++
			}
		case c == 'K':
			i += min(6, len(s)-1-i) // &Krrggbb or &KttSnnn
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
