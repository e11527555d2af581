package smtpproxy

import (
	"io"

	"github.com/emersion/go-smtp"
)

var (
	// errBareCRLF: a bare CR or LF is how SMTP smuggling hides a second
	// message behind "<LF>.<CR><LF>"; like mox and Postfix
	// (smtpd_forbid_bare_newline) the message is refused (RFC 5321 2.3.8:
	// CR and LF only as CRLF).
	errBareCRLF = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "Bare CR or LF in message, only CRLF line endings are allowed (RFC 5321 2.3.8)"}
	// errNUL: RFC 5322 (2.2, 3.5: text excludes %d0) and RFC 5321 4.1.4
	// leave no room for NUL in a message; BINARYMIME, which would, is not
	// offered. NUL also splits a number so that detectors miss it (issue
	// 17), so the message is refused, headers and body alike (3.3.5).
	errNUL = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "NUL character in message (RFC 5322)"}
	// RFC 5321 4.5.3.1.6 limits a text line; ours is configurable.
	errLineTooLong = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
		Message: "Line too long (RFC 5321 4.5.3.1.6)"}
	errHeaderTooLarge = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: "Message header too large"}
	// RFC 5321 6.3: a message with too many Received headers is in a loop.
	errTooManyHops = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 4, 6},
		Message: "Too many hops, mail loop detected"}
)

// maxHops is the largest number of Received headers accepted (with
// ours added), like Postfix's hopcount_limit.
const maxHops = 50

// checkWriter passes the message through to w while checking line endings
// and the header size, without buffering the message.
type checkWriter struct {
	w         io.Writer
	maxHeader int64

	header   int64 // header bytes so far
	inHeader bool  // the blank line not seen yet
	started  bool
	prev     byte // last byte written
	lineLen  int  // bytes on the current line (0: at a line start)
	head     [9]byte
	hops     int // Received headers seen
}

func (c *checkWriter) Write(p []byte) (int, error) {
	if !c.started {
		c.started, c.inHeader = true, true
	}
	for _, b := range p {
		switch {
		case b == 0:
			return 0, errNUL
		case b == '\n' && c.prev != '\r':
			return 0, errBareCRLF
		case c.prev == '\r' && b != '\n':
			return 0, errBareCRLF
		}
		if c.inHeader {
			c.header++
			if b == '\n' {
				if c.lineLen == 1 { // the line was just CR: end of header
					c.inHeader = false
				}
				c.lineLen = 0
			} else {
				if c.lineLen < len(c.head) {
					c.head[c.lineLen] = b | 0x20 // ASCII lower case
					if c.lineLen == len(c.head)-1 && string(c.head[:]) == "received:" {
						if c.hops++; c.hops >= maxHops {
							return 0, errTooManyHops
						}
					}
				}
				c.lineLen++
			}
			if c.inHeader && c.header > c.maxHeader {
				return 0, errHeaderTooLarge
			}
		}
		c.prev = b
	}
	return c.w.Write(p)
}

// finish checks the end of the message.
func (c *checkWriter) finish() *smtp.SMTPError {
	if c.prev == '\r' {
		return errBareCRLF
	}
	return nil
}
