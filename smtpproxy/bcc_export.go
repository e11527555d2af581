package smtpproxy

import "io"

// RewriteHidden copies the message from r to w with the addresses in hide
// taken out of the To and Cc headers (the bcc action, 3.3.5 mis-sending);
// package dispose applies it. See rewriteHidden.
func RewriteHidden(w io.Writer, r io.Reader, hide []string) error {
	return rewriteHidden(w, r, hide)
}
