// Package redteam attacks the promise that no personal data slips through
// a parsing gap. It holds only tests: crafted messages go through
// policy.Default() → Engine.Evaluate, exactly as the relay runs them, and
// must not pass (reject for a My Number with context, hold for the rest);
// benign look-alikes must pass. Each case names the gap it probes.
//
//	go test ./redteam/...
//
// Decisions on cases at the edge (each kept in the tables with its
// expected verdict):
//
//   - Digits of other scripts (Arabic-Indic, Devanagari, mathematical
//     bold …: Unicode Nd), runs of circled/superscript digits (①②③, ¹²³),
//     keycaps, invisible format characters (soft hyphen, zero-width, bidi
//     controls) and exotic spaces (thin, narrow no-break) are folded by
//     classify before detection: staff never type them, insiders might.
//   - Kanji numerals (一二三…) are not read as digits (detectors.md §10.1:
//     they occur in addresses), not even right after a My Number keyword
//     (open: issue 12). Within 20 runes after a My Number keyword, twelve
//     digits in any grouping are one number (one digit a line or per
//     space, per spreadsheet cell, 3-3-3-3, 6-6, dots: a form's field,
//     issue 12; tested here). Without a keyword, a number spread one
//     digit a line, over two lines without a separator, or over two
//     spreadsheet cells is not joined (columns of figures would join into
//     false numbers): these pass; they need intent and are out of scope
//     for a content filter.
//   - Headers: besides Subject and display names, every field a person
//     can write (X-*, Comments, Keywords, Reply-To, a part's
//     Content-Description, a second Subject) is scanned; machine fields
//     (Received, Message-ID, DKIM, ARC, X-MS-*, Thread-Index …) are not.
//   - The multipart preamble and epilogue, HTML comments, CSS generated
//     content, data-* and meta content attributes are hidden by clients but
//     leave with the message: they are scanned (apart from the visible
//     text, so a comment between digits does not split them).
//   - message/partial and message/external-body are held (the content is
//     not in this message). Images are run here without OCR: they pass
//     (policy: media) unless they carry a scanner's signature (held:
//     unread-scan-hold; the relay reads them by OCR, inspect.ocr), but
//     their metadata text (PNG text chunks, JPEG
//     comments, XMP) is read, and an image with a ZIP appended is read as
//     an archive.
//   - A 12-digit number ending a file name (山田_123456789018.pdf) is a
//     number, unless it reads as a scanner's time stamp (202611251000.pdf).
//   - 123,456,789,018 (Excel's comma style) is a My Number only with a
//     keyword or a 個人番号 column; otherwise an amount.
//   - The default policy holds a valid number next to 注文番号 (low
//     confidence): mynumber-hold has no min_confidence. Kept as is (the
//     policy belongs to its owner); reported.
//   - Word field codes (w:instrText) are read apart from the text.
//   - Files pasted into text: uuencode and base64 blocks are decoded and
//     inspected (base64 only when it decodes to text or a container, so
//     keys and hashes hold nothing); BinHex and yEnc are held, not read.
//     Hex dumps, base32, ROT13 and the like are out of scope (any cipher
//     can hide text; the policy's answer is the encrypted-attachment hold).
//   - Open: a ZIP embedded in an Office document is held, not read.
package redteam
