package release

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// FuzzRewrite: whatever the input, a rewrite with body findings either
// fails or produces a message in which go-message (what a recipient's
// mailer would be) finds no plaintext part: only the cover note, .pgp
// files, and parts that are encrypted by type; and the protected fields
// are gone from its header (the Subject is the neutral one).
func FuzzRewrite(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	e, err := openpgp.NewEntity("f", "", "f@example.jp", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		f.Fatal(err)
	}
	opts := Options{Recipients: []string{"f@example.jp"}, Keys: staticKeys{e}, BodyHasFindings: true,
		ProtectHeaders: []string{"Subject", "X-Note"}, Logger: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		if _, err := Rewrite(context.Background(), &out, bytes.NewReader(in), opts); err != nil {
			return
		}
		m, err := message.Read(bytes.NewReader(out.Bytes()))
		if err != nil && !message.IsUnknownCharset(err) {
			return
		}
		if s := m.Header.Get("Subject"); (s != "" && s != encodeWord(DefaultSubject)) || m.Header.Has("X-Note") {
			t.Fatalf("protected field in the output header: Subject %q, X-Note %q", s, m.Header.Get("X-Note"))
		}
		var check func(e *message.Entity, depth int)
		check = func(e *message.Entity, depth int) {
			if depth > 30 {
				return
			}
			t0, p, _ := e.Header.ContentType()
			if passthroughType(t0, p) {
				return
			}
			if mr := e.MultipartReader(); mr != nil {
				for {
					part, err := mr.NextPart()
					if err != nil {
						if err == io.EOF || !message.IsUnknownCharset(err) {
							return
						}
					}
					check(part, depth+1)
				}
			}
			name, _ := (&mail.AttachmentHeader{Header: e.Header}).Filename()
			body, _ := io.ReadAll(io.LimitReader(e.Body, 1<<20))
			switch {
			case strings.HasSuffix(name, ".pgp") && t0 == "application/octet-stream":
			case name == "" && t0 == "text/plain" && bytes.Contains(body, []byte("3.3.5")):
			case looksEncrypted("application/pgp-encrypted", "", body):
				// a part of PGP/MIME, passed as it is
			case t0 == "text/plain" && len(bytes.TrimSpace(body)) == 0:
				// an empty part carries nothing
			default:
				t.Fatalf("plaintext part in the output: type %q name %q body %.60q\n%s", t0, name, body, out.Bytes())
			}
		}
		check(m, 0)
	})
}
