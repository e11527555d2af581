package release

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/emersion/go-message/textproto"

	"dlpguard/mimemsg"
)

// Detached is one part that leaves the mail in a release by download
// link (Options.Detach).
type Detached struct {
	Kind string // "attachment", "body" or "header" (the protected header fields)
	Name string // the file name the recipient sees
	Type string // the part's media type ("application/octet-stream" when unknown)
}

// detach hands the decoded part to opts.Detach and records its hash and
// size; nothing of it is written to the message.
func (rw *rewriter) detach(h textproto.Header, body io.Reader, name, kind string) error {
	t, _ := mediaType(h)
	if t == "" || len(h.Values("Content-Type")) > 1 {
		t = "application/octet-stream"
	}
	sum := sha256.New()
	cnt := &countWriter{w: sum}
	r := io.TeeReader(mimemsg.ContextReader(rw.ctx, decode(h.Get("Content-Transfer-Encoding"), body)), cnt)
	if err := rw.opts.Detach(Detached{Kind: kind, Name: name, Type: t}, r); err != nil {
		return fmt.Errorf("part %q: %w", name, err)
	}
	// Whatever Detach left unread still counts: the hash is of the part.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("part %q: %w", name, err)
	}
	s := hex.EncodeToString(sum.Sum(nil))
	rw.res.Parts = append(rw.res.Parts, Part{Kind: kind, Name: name, SentName: name, Action: "link",
		OriginalSHA256: s, SentSHA256: s, OriginalSize: cnt.n, SentSize: cnt.n})
	return nil
}
