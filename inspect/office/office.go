// Package office extracts the text of office documents: OOXML (DOCX, XLSX,
// PPTX) and OpenDocument (ODT, ODS, ODP, ODG), including headers, footers,
// comments, notes and sheet names, and recognises password-protected Office
// files (an OLE container holding EncryptionInfo and EncryptedPackage).
//
// Every XML part is read through a bounded reader and parsed as a token
// stream, so memory follows the limits, not the file: only XLSX shared
// strings and the extracted text itself are held.
package office

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Section is one stretch of text from a document: a sheet, the body, a
// header or footer, comments, notes, a slide.
type Section struct {
	Name  string // e.g. "sheet:名簿", "body", "header", "comments", "slide:3"
	Table bool   // rows separated by '\n', cells by '\t'
	Text  string
}

// Doc is what Extract found.
type Doc struct {
	Format   string // "docx", "xlsx", "pptx", "odt", "ods", "odp", "odg"
	Sections []Section
	// Truncated is set when MaxText stopped extraction early.
	Truncated bool
	// Unread lists embedded objects whose content could not be read (an
	// OLE object, an unknown or encrypted file inside the document), each
	// "name: why". Extract then also returns ErrUnreadEmbedded. Embedded
	// OOXML/ODF documents are read: their sections are named
	// "embedded:NAME/…".
	Unread []string
}

// ErrNotOffice means the file is not a document this package reads.
var ErrNotOffice = errors.New("office: not an OOXML or OpenDocument file")

var (
	// ErrLimit means a part of the document was larger than maxEntryBytes,
	// or declared an absurd compression ratio (a bomb). Extract returns it
	// together with the text read so far.
	ErrLimit = errors.New("office: part over the size or ratio limit")
	// ErrEncrypted means an OpenDocument file saved with a password: its
	// content cannot be read. (Encrypted OOXML is an OLE file: see
	// IsEncryptedOLE.)
	ErrEncrypted = errors.New("office: document is password-protected")
	// ErrUnsupported means an office container this package recognises but
	// does not read (XLSB: binary sheets).
	ErrUnsupported = errors.New("office: format not read")
	// ErrUnreadEmbedded means the document's own text was read but an
	// object embedded in it was not (see Doc.Unread): the document must
	// not count as fully inspected.
	ErrUnreadEmbedded = errors.New("office: embedded object not read")
)

// Defaults used when Extract is given a maxText < 0 or a maxEntryBytes <= 0.
// (maxText 0 means no room left: nothing is extracted, Truncated is set.)
const (
	DefaultMaxText       = 64 << 20
	DefaultMaxEntryBytes = 64 << 20
	// maxRatio is the compression ratio above which a part larger than
	// 1 MiB is refused: XML compresses 10-50 times, bombs 1000 times.
	maxRatio = 1000
)

// Extract reads the document held in r (a ZIP container) and returns its
// text, at most maxText bytes of it (< 0: DefaultMaxText). maxEntryBytes
// bounds the decompressed size of any one XML part (zip bombs).
//
// A ZIP that is neither OOXML ([Content_Types].xml naming a main document)
// nor OpenDocument (a "mimetype" member) gives ErrNotOffice: the caller
// treats it as an archive. With ErrLimit, or an error while parsing one part
// (a damaged document), the returned Doc holds what was read before it.
func Extract(r io.ReaderAt, size int64, maxText, maxEntryBytes int64) (*Doc, error) {
	return extract(r, size, maxText, maxEntryBytes, 0)
}

// maxEmbedDepth bounds documents embedded in documents.
const maxEmbedDepth = 3

func extract(r io.ReaderAt, size int64, maxText, maxEntryBytes int64, depth int) (*Doc, error) {
	if maxText < 0 {
		maxText = DefaultMaxText
	}
	if maxEntryBytes <= 0 {
		maxEntryBytes = DefaultMaxEntryBytes
	}
	// An office file starts with its first local header (APPNOTE 4.3.6).
	// archive/zip also finds a ZIP at the end of other data (a tar holding
	// an xlsx, a self-extracting program): those are not documents.
	var sig [4]byte
	if n, _ := r.ReadAt(sig[:], 0); n < 4 || string(sig[:]) != "PK\x03\x04" {
		return nil, ErrNotOffice
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, ErrNotOffice
	}
	x := &extractor{
		files:    make(map[string]*zip.File, len(zr.File)),
		zfiles:   zr.File,
		maxEntry: maxEntryBytes,
		depth:    depth,
	}
	for _, f := range zr.File {
		x.files[strings.ToLower(f.Name)] = f
	}
	x.t = &textOut{doc: &Doc{}, max: maxText}

	if f := x.files["mimetype"]; f != nil {
		format, err := x.odfFormat(f)
		if err != nil {
			return nil, err
		}
		if format != "" {
			x.t.doc.Format = format
			err := x.odf(format)
			return x.finish(err)
		}
	}
	if x.files["[content_types].xml"] != nil {
		format, main, err := x.ooxmlFormat()
		if err != nil {
			return nil, err
		}
		if format != "" {
			x.t.doc.Format = format
			var err error
			switch format {
			case "docx":
				err = x.docx(main)
			case "xlsx":
				err = x.xlsx(main)
			case "pptx":
				err = x.pptx(main)
			}
			return x.finish(err)
		}
	}
	return nil, ErrNotOffice
}

func (x *extractor) finish(err error) (*Doc, error) {
	if !errors.Is(err, errFull) {
		if eerr := x.embedded(); err == nil {
			err = eerr
		}
	}
	x.t.end()
	if errors.Is(err, errFull) {
		err = nil
	}
	if err == nil && len(x.malformed) > 0 {
		// Read leniently as far as it goes, but a damaged document is
		// never a complete inspection (3.3.5, fail closed).
		err = fmt.Errorf("%w: %s", ErrMalformed, strings.Join(x.malformed, "; "))
	}
	if err == nil && len(x.t.doc.Unread) > 0 {
		err = fmt.Errorf("%w: %s", ErrUnreadEmbedded, strings.Join(x.t.doc.Unread, "; "))
	}
	return x.t.doc, err
}

// extractor holds the state of one Extract call.
type extractor struct {
	files    map[string]*zip.File // by lower-cased name (OPC part names are case-insensitive)
	zfiles   []*zip.File          // in archive order, names as written
	maxEntry int64
	depth    int // of documents embedded in documents
	t        *textOut
	// OOXML content types
	overrides map[string]string // part name (lower, no leading '/') → content type
	defaults  map[string]string // extension (lower) → content type
	// malformed lists the XML parts read to their end that were not
	// well-formed, each "part: why".
	malformed []string
}

// damaged records a part that is not well-formed XML.
func (x *extractor) damaged(part, why string) {
	if len(x.malformed) < 8 {
		x.malformed = append(x.malformed, part+": "+why)
	}
}

// open opens a member for reading, refusing it when it is declared too big
// or too compressed, and bounding what is actually read.
func (x *extractor) open(name string) (io.ReadCloser, error) {
	f := x.files[strings.ToLower(name)]
	if f == nil {
		return nil, fmt.Errorf("office: part %s: %w", name, errMissing)
	}
	if f.UncompressedSize64 > uint64(x.maxEntry) {
		return nil, fmt.Errorf("office: part %s declares %d bytes: %w", name, f.UncompressedSize64, ErrLimit)
	}
	if f.UncompressedSize64 > 1<<20 && f.UncompressedSize64/max(f.CompressedSize64, 1) > maxRatio {
		return nil, fmt.Errorf("office: part %s compresses %d:1: %w", name, f.UncompressedSize64/max(f.CompressedSize64, 1), ErrLimit)
	}
	if f.Flags&0x1 != 0 {
		return nil, fmt.Errorf("office: part %s: %w", name, ErrEncrypted)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("office: part %s: %w", name, err)
	}
	return &limitedPart{rc: rc, left: x.maxEntry, name: name, size: int64(f.UncompressedSize64), damaged: x.damaged}, nil
}

var errMissing = errors.New("missing")

// limitedPart fails, rather than ending quietly, when a part turns out
// larger than the limit: a cut XML part must not look complete.
type limitedPart struct {
	rc   io.ReadCloser
	left int64
	name string
	size int64 // as declared: sizes the read buffer
	// damaged is told when the part, read to its end, was not well-formed.
	damaged func(part, why string)
}

func (l *limitedPart) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells a part of exactly the limit from a longer one.
		var b [1]byte
		if n, _ := l.rc.Read(b[:]); n > 0 {
			return 0, fmt.Errorf("office: part %s: %w", l.name, ErrLimit)
		}
		return l.rc.Read(p[:0])
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedPart) Close() error { return l.rc.Close() }

// errFull stops the parsers once maxText is reached.
var errFull = errors.New("office: text limit reached")

// textOut accumulates Sections up to max bytes of text.
type textOut struct {
	doc   *Doc
	max   int64
	n     int64
	sb    strings.Builder
	name  string
	table bool
	open  bool
	// prefix goes before every section name ("embedded:Object 1/").
	prefix string
}

// begin ends the current section and starts a new one.
func (t *textOut) begin(name string, table bool) {
	name = strings.ToValidUTF8(t.prefix+name, "\uFFFD")
	if t.open && t.name == name && t.table == table {
		return
	}
	t.end()
	t.name, t.table, t.open = name, table, true
}

// end closes the current section, keeping it if it has text.
func (t *textOut) end() {
	if t.open {
		s := strings.TrimRight(t.sb.String(), "\n\t ")
		s = strings.TrimLeft(s, "\n")
		if !t.table {
			s = strings.TrimLeft(s, "\t ")
		}
		if strings.TrimSpace(s) != "" {
			t.doc.Sections = append(t.doc.Sections, Section{Name: t.name, Table: t.table, Text: s})
		}
	}
	t.sb.Reset()
	t.open = false
}

// write appends s, cutting it at the limit (on a rune boundary).
func (t *textOut) write(s string) error {
	if t.doc.Truncated {
		return errFull
	}
	if !utf8.ValidString(s) {
		// The tokenizer already replaces bad bytes; this guards every
		// other path (cut values, odd attributes).
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if t.n+int64(len(s)) > t.max {
		cut := int(t.max - t.n)
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		t.sb.WriteString(s[:cut])
		t.n += int64(cut)
		t.doc.Truncated = true
		return errFull
	}
	t.sb.WriteString(s)
	t.n += int64(len(s))
	return nil
}

// section adds a whole section at once.
func (t *textOut) section(name string, table bool, text string) error {
	t.end()
	t.begin(name, table)
	err := t.write(text)
	t.end()
	return err
}

// cellText makes s safe inside a table cell: no row or cell separators.
func cellText(s string) string {
	if !strings.ContainsAny(s, "\t\n\r") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}
