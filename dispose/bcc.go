package dispose

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"dlpguard/mimemsg"
)

// maxRewriteHeader bounds the header block rewriteHidden reads; the
// relay has already refused larger headers.
const maxRewriteHeader = 4 << 20

// rewriteHidden copies the message from r to w with the addresses in hide
// taken out of the To and Cc headers (the bcc action, 3.3.5 mis-sending).
// The header is read with mimemsg, as inspection read it (so the addresses
// hidden are the ones the policy counted); fields are copied byte for
// byte, To and Cc rewritten only when an address goes. A To that is left
// empty becomes "undisclosed-recipients:;" (RFC 5322 3.4 group syntax), an
// empty Cc is dropped, a second To is folded into the first; the body is
// copied as is. An address that cannot be read is an error: the caller
// then holds the message rather than sending it with a recipient visible.
func rewriteHidden(w io.Writer, r io.Reader, hide []string) error {
	hidden := map[string]bool{}
	for _, a := range hide {
		hidden[strings.ToLower(a)] = true
	}
	br := bufio.NewReaderSize(r, 64<<10)
	h, hr, err := mimemsg.ReadHeader(br, maxRewriteHeader)
	if err != nil {
		return fmt.Errorf("bcc: read header: %w", err)
	}
	if hr.Truncated {
		return errors.New("bcc: header too large")
	}
	var to []string
	toAt, toChanged := -1, false
	out := make([][]byte, 0, len(h))
	for _, f := range h {
		if f.Key != "To" && f.Key != "Cc" {
			out = append(out, f.Raw)
			continue
		}
		kept, removed, err := keepAddresses(f.Value, hidden)
		if err != nil {
			return fmt.Errorf("bcc: %s: %w", f.Key, err)
		}
		switch {
		case f.Key == "To":
			to = append(to, kept...)
			toChanged = toChanged || removed || toAt >= 0
			if toAt < 0 {
				toAt = len(out)
				out = append(out, f.Raw)
			}
		case !removed:
			out = append(out, f.Raw)
		case len(kept) > 0:
			out = append(out, addressField("Cc", kept))
		}
	}
	if toAt >= 0 && toChanged {
		if len(to) == 0 {
			to = []string{"undisclosed-recipients:;"}
		}
		out[toAt] = addressField("To", to)
	}
	for _, f := range out {
		if _, err := w.Write(f); err != nil {
			return err
		}
	}
	// The blank line; a line that could not start a field ended the
	// header and is body, as inspection read it.
	if _, err := io.WriteString(w, "\r\n"); err != nil {
		return err
	}
	_, err = io.Copy(w, mimemsg.BodyReader(hr, br))
	return err
}

func addressField(key string, addrs []string) []byte {
	return []byte(key + ": " + strings.Join(addrs, ",\r\n\t") + "\r\n")
}

// keepAddresses reads an address list as inspection does and returns the
// mailboxes not in hidden, formatted for a header, and whether one was
// taken out.
func keepAddresses(value string, hidden map[string]bool) ([]string, bool, error) {
	var kept []string
	removed := false
	for _, a := range mimemsg.ParseAddressList([]string{value}) {
		at := strings.IndexByte(a.Address, '@')
		if at <= 0 || at == len(a.Address)-1 || strings.ContainsAny(a.Address, "<>,;: \t\"") {
			return nil, false, fmt.Errorf("unreadable address %q", a.Address)
		}
		if hidden[strings.ToLower(a.Address)] {
			removed = true
			continue
		}
		kept = append(kept, (&mail.Address{Name: a.Name, Address: a.Address}).String())
	}
	return kept, removed, nil
}
