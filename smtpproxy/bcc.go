package smtpproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"

	gmcharset "github.com/emersion/go-message/charset"
)

// maxRewriteHeader bounds the header block rewriteHidden reads; the
// session has already refused larger headers.
const maxRewriteHeader = 4 << 20

// rewriteHidden copies the message from r to w with the addresses in hide
// taken out of the To and Cc headers (the bcc action, 3.3.5 mis-sending).
// A To that is left empty becomes "undisclosed-recipients:;" (RFC 5322
// 3.4 group syntax), an empty Cc is dropped; the body is copied as is. An
// address header that cannot be parsed is an error: the caller then holds
// the message rather than sending it with every recipient visible.
func rewriteHidden(w io.Writer, r io.Reader, hide []string) error {
	hidden := map[string]bool{}
	for _, a := range hide {
		hidden[strings.ToLower(a)] = true
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var fields [][]byte // each header field with its folded lines and CRLFs
	read := 0
	for {
		line, err := br.ReadBytes('\n')
		read += len(line)
		if read > maxRewriteHeader {
			return errors.New("bcc: header too large")
		}
		if err != nil && (err != io.EOF || len(line) == 0) {
			if err == io.EOF {
				return errors.New("bcc: no end of header")
			}
			return fmt.Errorf("bcc: read header: %w", err)
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			fields = append(fields, line) // the blank line
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] = append(fields[len(fields)-1], line...)
			continue
		}
		fields = append(fields, append([]byte(nil), line...))
		if err == io.EOF {
			return errors.New("bcc: no end of header")
		}
	}
	sawTo := false
	for _, f := range fields {
		name, value, ok := bytes.Cut(f, []byte{':'})
		key := strings.ToLower(strings.TrimSpace(string(name)))
		if !ok || (key != "to" && key != "cc") {
			if _, err := w.Write(f); err != nil {
				return err
			}
			continue
		}
		kept, err := keepAddresses(string(value), hidden)
		if err != nil {
			return fmt.Errorf("bcc: %s: %w", key, err)
		}
		switch {
		case key == "to" && sawTo:
			continue // a second To field: its addresses were folded into the first
		case key == "to":
			sawTo = true
			if len(kept) == 0 {
				kept = []string{"undisclosed-recipients:;"}
			}
		case len(kept) == 0:
			continue // Cc with nobody left
		}
		if _, err := fmt.Fprintf(w, "%s: %s\r\n", bytes.TrimSpace(name), strings.Join(kept, ",\r\n\t")); err != nil {
			return err
		}
	}
	_, err := io.Copy(w, br)
	return err
}

// keepAddresses parses an address list and returns the mailboxes not in
// hidden, formatted for a header.
func keepAddresses(value string, hidden map[string]bool) ([]string, error) {
	value = strings.TrimSpace(strings.NewReplacer("\r\n", "", "\n", "").Replace(value))
	if value == "" || strings.HasSuffix(value, ":;") {
		return nil, nil // empty, or an empty group
	}
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: charsetReader}}
	list, err := p.ParseList(value)
	if err != nil {
		return nil, err
	}
	var kept []string
	for _, a := range list {
		if !hidden[strings.ToLower(a.Address)] {
			kept = append(kept, a.String())
		}
	}
	return kept, nil
}

// charsetReader lets display names in any charset parse; they are written
// back as UTF-8 encoded words by mail.Address.String.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	return gmcharset.Reader(charset, input)
}
