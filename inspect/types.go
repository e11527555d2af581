// Package inspect turns a raw message (or an uploaded file) into what
// classification needs: every piece of text a recipient could read, from the
// headers, the body and every attachment at any depth, decoded to UTF-8, plus
// a list of every part with its real type and whether it is encrypted or could
// not be read. Whatever cannot be read is reported, never silently skipped, so
// that the policy can hold it (fail closed).
//
// It reads the message with package mimemsg (the one MIME model of
// dlpguard) and records the message's MIME tree as transferred
// (Result.Tree: path, type, SHA-256 of each entity's header and raw
// body), the list a release compares with what it sends.
//
// inspect knows nothing of detectors or policy: it only extracts.
package inspect

import (
	"time"

	"dlpguard/mimemsg"
)

// Limits bound the work and memory of one inspection. Each breach is reported
// as a Reason on the part (or on the Result) rather than stopping the scan.
// A zero field takes its value from DefaultLimits (a negative Timeout means
// none).
type Limits struct {
	MaxDecodedBytes     int64         // total decoded bytes over all parts and archive members
	MaxPartBytes        int64         // decoded bytes of one part or archive member
	MaxParts            int           // MIME parts plus archive members
	MaxDepth            int           // nesting: multipart, message/rfc822, archives
	MaxArchiveEntries   int           // entries in one archive
	MaxCompressionRatio int64         // uncompressed/compressed size of an archive member (bombs)
	MaxTextBytes        int64         // UTF-8 text handed to the sink in total
	MaxHeaderBytes      int64         // bytes of one header block
	Timeout             time.Duration // wall time for the whole message
	// OCR reads the text of images and scanned PDF pages; nil: they are
	// not read (see inspect/ocr and the server's inspect.ocr settings).
	OCR OCR
	// TempDir is where parts larger than a few MiB are buffered while they
	// are read ("" = os.TempDir()). The files are unlinked at creation.
	TempDir string
}

// DefaultLimits are the limits used when the configuration sets none.
func DefaultLimits() Limits {
	return Limits{
		MaxDecodedBytes:     200 << 20,
		MaxPartBytes:        64 << 20,
		MaxParts:            2000,
		MaxDepth:            12,
		MaxArchiveEntries:   10000,
		MaxCompressionRatio: 200,
		MaxTextBytes:        64 << 20,
		MaxHeaderBytes:      1 << 20,
		Timeout:             60 * time.Second,
	}
}

// Kind says where a chunk of text comes from; detectors weigh kinds differently
// (a marking in the subject or a file name weighs more than one deep in a body).
type Kind uint8

const (
	KindSubject    Kind = iota + 1 // the Subject header, decoded
	KindHeader                     // another header that staff or recipients see (From/To display names, configured label headers)
	KindBody                       // a text or HTML body part of the message
	KindFileName                   // the name of an attachment or archive member
	KindAttachment                 // text extracted from an attachment or archive member
)

func (k Kind) String() string {
	switch k {
	case KindSubject:
		return "subject"
	case KindHeader:
		return "header"
	case KindBody:
		return "body"
	case KindFileName:
		return "filename"
	case KindAttachment:
		return "attachment"
	}
	return "unknown"
}

// Chunk is one piece of extracted text. Consecutive chunks with the same
// Location are one continuous text cut into pieces: a detector must be able to
// match across their boundary. A new Location starts a new text.
type Chunk struct {
	// Location names where the text is, as reported in findings:
	// "subject", "body", "header:From", "attachment:名簿.xlsx",
	// "attachment:outer.zip/inner.csv". A file name chunk carries the
	// location of its attachment.
	Location string
	Kind     Kind
	// Table is true when Text is tabular: rows separated by '\n' and cells by
	// '\t' (spreadsheets, document tables) or the CSV/TSV delimiter as found.
	Table bool
	Text  string // valid UTF-8, not normalised
}

// Sink receives the text of a message as inspection extracts it, in reading
// order, so that text need not be held whole in memory. classify.Scanner is
// the usual sink.
type Sink interface {
	Chunk(c Chunk)
}

// Part describes one MIME part, attachment or archive member.
type Part struct {
	// Name is the attachment name; archive members are named
	// "outer.zip/inner.csv". Body parts have an empty Name.
	Name         string
	Attachment   bool   // true for attachments and archive members; false for body text
	DeclaredType string // Content-Type as declared by the sender ("" for archive members)
	Type         string // real type, by content (mimetype)
	Size         int64  // decoded size in bytes (as far as read)
	Charset      string // charset used to decode text ("" when not text)
	Encrypted    bool   // encrypted: needs a key or password to read
	Inspected    bool   // its content was read completely
	Reason       string // why it was not (fully) inspected, or what was odd; "" when fine
	// Media is true for images, audio and video: they have no text layer to
	// read, so Inspected is false unless OCR read an image's text, but they
	// do not make the message Incomplete; a policy may still act on them.
	Media bool
	// OCR is true when text of the part was read by OCR (an image, scanned
	// PDF pages); that text is located "attachment:NAME (OCR)" or
	// "attachment:NAME/page N (OCR)".
	OCR bool
	// UnreadScan is true when scanned content was not read: scanned PDF
	// pages, or a picture with a scanner's signature (TIFF, a scanner's
	// name or 150 dpi or more in its metadata), that OCR did not read (off,
	// failed, over a limit). The policy's attachment_unread_scan.
	UnreadScan bool
	// Signature is true for a detached signature (PGP/MIME, S/MIME signed):
	// signatures are not encryption and hide no content.
	Signature bool
	Depth     int // 0 for the top-level message
}

// Address is a decoded mailbox from a header.
type Address = mimemsg.Address

// Header is what inspection found in the top-level message header.
type Header struct {
	Subject   string // decoded
	From      []Address
	To        []Address
	Cc        []Address
	MessageID string
	Date      time.Time
	// Raw holds every header field, decoded per RFC 2047 where possible,
	// keyed by canonical name (textproto.CanonicalMIMEHeaderKey), in order.
	Raw map[string][]string
}

// Result is the outcome of inspecting one message or file.
type Result struct {
	Header Header
	Parts  []Part
	// Problems lists message-level problems: malformed MIME, a limit reached,
	// a timeout. Any problem that may have hidden content sets Incomplete.
	Problems []string
	// Incomplete is true when some content could not be inspected (an
	// encrypted, corrupt, unknown or over-limit part, or a broken structure):
	// the policy must not pass the message as if it had been read.
	Incomplete bool
	TextBytes  int64 // UTF-8 text bytes handed to the sink
	// Tree lists every entity of the message's MIME tree as transferred
	// (path, type, SHA-256 of header and raw body), as mimemsg.Split
	// lists it; attachments and embedded messages are one entity each.
	// A release compares it with the message it sends (3.3.5). Empty for
	// File.
	Tree []mimemsg.Part
	// TreeComplete is true when Tree covers the whole message (no limit,
	// timeout or read error cut the walk short).
	TreeComplete bool
}
