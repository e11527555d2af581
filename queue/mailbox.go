package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"dlpguard/spool"
)

// mailbox is the demo transport used when no upstream is configured: each
// recipient gets a Maildir under root/<address>/ and every message lands in
// its new/ folder, written to tmp/, fsynced and renamed (the Maildir
// protocol), so a newcomer can watch mail arrive.
type mailbox struct {
	root     string
	hostname string
}

func (m *mailbox) idle(time.Duration) {}
func (m *mailbox) close()             {}

func (m *mailbox) deliver(ctx context.Context, env *spool.Envelope, rcpts []string, body io.ReadSeeker) []result {
	res := make([]result, len(rcpts))
	for i, rc := range rcpts {
		if err := ctx.Err(); err != nil {
			res[i] = tempLocal("mailbox: %v", err)
			continue
		}
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			res[i] = tempLocal("mailbox: %v", err)
			continue
		}
		name, err := m.store(rc, body)
		if err != nil {
			res[i] = tempLocal("mailbox %s: %v", rc, err)
			continue
		}
		res[i] = result{Delivered: true, Code: 250, Status: "2.0.0", Text: "delivered to " + name}
	}
	return res
}

// store writes one copy into the recipient's Maildir and returns its path.
func (m *mailbox) store(rcpt string, body io.Reader) (string, error) {
	dir := filepath.Join(m.root, MailboxName(rcpt))
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return "", err
		}
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	now := time.Now()
	// Maildir unique name: time, a random part and the host.
	name := fmt.Sprintf("%d.M%dP%dR%s.%s", now.Unix(), now.Nanosecond()/1000, os.Getpid(), hex.EncodeToString(rnd[:]), sanitize(m.hostname))
	tmp := filepath.Join(dir, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	final := filepath.Join(dir, "new", name)
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", err
	}
	d, err := os.Open(filepath.Join(dir, "new"))
	if err != nil {
		return "", err
	}
	err = d.Sync()
	d.Close()
	return final, err
}

// MailboxName is the folder name of an address's demo mailbox: the address
// in lower case with anything that could act on a path (separators, "..",
// controls) replaced, so that no address names a folder outside the root.
func MailboxName(addr string) string {
	s := sanitize(strings.ToLower(addr))
	if s == "" || strings.Trim(s, ".") == "" {
		return "_"
	}
	if s[0] == '.' {
		s = "_" + s[1:]
	}
	return s
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '@', r == '.', r == '-', r == '_', r == '+', r > 0x7f && r != 0xfffd:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() > 200 {
			break
		}
	}
	return strings.ReplaceAll(b.String(), "..", "__")
}
