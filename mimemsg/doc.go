// Package mimemsg is dlpguard's one model of an Internet message (RFC 5322,
// MIME): a lenient splitter of header blocks and multipart bodies, header
// field and parameter decoding (RFC 2047, RFC 2231 in any charset, raw
// Shift_JIS and ISO-2022-JP), Japanese charset detection and file names,
// and the list of parts with the SHA-256 of each body as transferred.
//
// Inspection, release and the bcc rewrite all read messages with it, so the
// part that was inspected is the part that is released or rewritten: a
// message that two parsers split differently is the classic way past a DLP
// gateway. It is lenient where real mail differs from the RFCs (a missing
// final boundary, a part without a header, \r\r\n line ends) and never fails
// on malformed input: what it could not read is reported to the caller.
package mimemsg
