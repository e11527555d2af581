// Package release rewrites a held message for release so that nothing
// leaves unencrypted (clause 3.3.5: information sent by e-mail must be
// encrypted or password-protected): every attachment that is not already
// encrypted is replaced by an OpenPGP-encrypted file "name.pgp", and when
// the body itself has findings it moves into an encrypted attachment
// ("本文.txt.pgp") behind a short Japanese cover note.
//
// Attachments are encrypted for all the recipients' public keys. When a
// recipient has no usable key, Mode decides: refuse (MissingKeyError names
// them) or encrypt everything with a generated passphrase, returned once in
// the Result for the sender to pass on by another channel.
//
// The .pgp files are binary OpenPGP, not ASCII-armored .asc: the part is
// base64 in the mail anyway, armor would add another third to the size,
// and Gpg4win/Kleopatra (what Windows recipients use) open .pgp files by
// double-click.
//
// Header fields that carried findings (ProtectHeaders: the Subject above
// all) leave only inside the encryption: outside, the Subject is replaced
// by a neutral Japanese one, address fields keep their addresses without
// display names, other such fields are removed; the originals travel in
// the encrypted attachment 元のヘッダー.txt.pgp (protected headers, as
// draft-ietf-lamps-header-protection and OpenPGP "memory hole" do).
//
// The message is read with package mimemsg, as inspection read it. Send is
// the release as a whole: it compares the stored message's MIME tree with
// the tree inspected and refuses (Refusal, with a reason code such as
// content_mismatch) when they differ, allows "encryption none" only for
// class III or under a named 8.4 exception, and then rewrites or copies.
//
// The rewrite streams: parts are copied, decoded, encrypted and encoded
// piece by piece, so a 25 MB attachment is never held whole in memory.
package release

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/go-crypto/openpgp/s2k"
	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"dlpguard/mimemsg"
)

// Mode is what to do when a recipient has no usable public key.
type Mode int

const (
	// RefuseWithoutKey fails with *MissingKeyError naming the recipients.
	RefuseWithoutKey Mode = iota
	// PassphraseWithoutKey encrypts every part with one generated
	// passphrase (OpenPGP SKESK, AES-256, iterated and salted S2K) for all
	// recipients, those with keys included, so that there is one way to
	// open the message.
	PassphraseWithoutKey
)

// Preset selects the OpenPGP packet formats.
type Preset int

const (
	// Compatible: AES-256, SEIPDv1 (MDC), iterated+salted S2K with the
	// highest count. GnuPG 2.2/2.4 and every common tool read it.
	Compatible Preset = iota
	// RFC9580: as Compatible, plus AEAD (OCB, SEIPDv2) when every
	// recipient key advertises it, and Argon2 for passphrases. Only for
	// recipients known to have RFC 9580 tools; GnuPG does not read SEIPDv2.
	RFC9580
)

// KeyLookup finds usable public keys; *keyring.Keyring implements it.
type KeyLookup interface {
	ForRecipients(recipients []string) (keys openpgp.EntityList, missing []string, err error)
}

// Options for Rewrite.
type Options struct {
	// Recipients are the envelope recipients the message goes to.
	Recipients []string
	Keys       KeyLookup
	Mode       Mode
	Preset     Preset
	// BodyHasFindings moves the text body (text/plain and text/html parts
	// that are not attachments) into encrypted attachments.
	BodyHasFindings bool
	// Inspected is the attachment list from inspection (the scan JSON's
	// attachments[]: name and encrypted flag). An attachment passes
	// unchanged when its name occurs exactly once in this list and is
	// flagged encrypted (PGP, S/MIME, encrypted ZIP, PDF or Office); a
	// name listed twice is encrypted again, so a plaintext twin cannot
	// ride on the encrypted one's flag. Parts of type multipart/encrypted,
	// application/pgp-encrypted and S/MIME enveloped data always pass.
	Inspected []Inspected
	// ProtectHeaders names the top-level header fields that carried
	// findings (FieldsWithFindings). Outside they are replaced (Subject by
	// Subject, address fields keep only the addresses, others are
	// removed) and the originals go, encrypted, into the attachment
	// 元のヘッダー.txt.pgp (protected headers, as
	// draft-ietf-lamps-header-protection does); in the parts' headers such
	// fields are removed (3.3.5).
	ProtectHeaders []string
	// Subject replaces a protected Subject (default DefaultSubject).
	Subject string
	// Limits are those the message was inspected with (header size, depth,
	// parts), so that it is split as inspection split it.
	Limits mimemsg.Limits
	// Detach, when set, makes the release one by download link (3.3.5
	// "暗号化又はパスワード設定等": the files wait encrypted at rest behind
	// TLS and a one-time code): every part that would be encrypted, and
	// every attachment that would pass as already encrypted, is handed to
	// Detach decoded instead, and no key is needed. What Rewrite writes is
	// then not for sending; the caller mails notices with Result.Outer.
	Detach func(f Detached, r io.Reader) error
	// MessageID is used in log lines.
	MessageID string
	Logger    *slog.Logger
	Now       func() time.Time
}

// Inspected is one attachment as inspection saw it.
type Inspected struct {
	Name      string `json:"name"`
	Encrypted bool   `json:"encrypted"`
}

// Part is the proof for one part of the released message.
type Part struct {
	Kind     string `json:"kind"`      // "attachment", "body" or "header" (the protected header fields)
	Name     string `json:"name"`      // the original file name ("" for a body part)
	SentName string `json:"sent_name"` // the name as sent ("x.pdf.pgp", or unchanged)
	Action   string `json:"action"`    // "encrypted" or "unchanged"
	// OriginalSHA256 is over the decoded part as it was (and inspected);
	// SentSHA256 over the decoded part as sent (the .pgp file).
	OriginalSHA256 string `json:"original_sha256"`
	SentSHA256     string `json:"sent_sha256"`
	OriginalSize   int64  `json:"original_size"`
	SentSize       int64  `json:"sent_size"`
}

// Result of Rewrite.
type Result struct {
	// Method is "public-key", "passphrase" or "none" (nothing needed
	// encrypting).
	Method string `json:"method"`
	// Fingerprints of the keys encrypted to.
	Fingerprints []string `json:"fingerprints,omitempty"`
	// Passphrase is set in passphrase mode only. Give it to the sender
	// once, by another channel; it is in no log and not in the message.
	Passphrase string `json:"-"`
	Parts      []Part `json:"parts"`
	// ProtectedHeaders are the header fields moved into the encrypted
	// 元のヘッダー.txt.pgp.
	ProtectedHeaders []string `json:"protected_headers,omitempty"`
	// PartsChecked: the stored message's MIME tree was compared with the
	// inspected one and was the same (Send); false for a hold recorded
	// before trees were kept.
	PartsChecked bool `json:"parts_checked"`
	// Exception is the 8.4 exception under which class I/II content left
	// unencrypted (Send with Encryption "none").
	Exception string `json:"exception,omitempty"`
	// Outer is, with Detach, the message's own header fields that may
	// leave (protected ones replaced, Content- fields left out) for the
	// notices that carry the links.
	Outer mimemsg.Header `json:"-"`
}

// MissingKeyError is returned in RefuseWithoutKey mode.
type MissingKeyError struct{ Recipients []string }

func (e *MissingKeyError) Error() string {
	return "release: no usable OpenPGP key for " + strings.Join(e.Recipients, ", ")
}

// Limits against MIME bombs; the message was inspected already, so a real
// message is far inside them.
const (
	maxDepth = 20
	maxParts = 2000
)

// Rewrite reads the raw message from r and writes the message to send to
// w. On error, what was written to w must be discarded.
func Rewrite(ctx context.Context, w io.Writer, r io.Reader, opts Options) (*Result, error) {
	opts.Limits = opts.Limits.WithDefaults()
	if opts.Subject == "" {
		opts.Subject = DefaultSubject
	}
	rw := &rewriter{ctx: ctx, opts: opts, res: &Result{Method: "none"}, log: opts.Logger, now: opts.Now}
	if rw.log == nil {
		rw.log = slog.Default()
	}
	if rw.now == nil {
		rw.now = time.Now
	}
	rw.encrypted, rw.passed = map[string]bool{}, map[string]bool{}
	count := map[string]int{}
	for _, a := range opts.Inspected {
		count[a.Name]++
	}
	for _, a := range opts.Inspected {
		if a.Encrypted && count[a.Name] == 1 {
			rw.encrypted[a.Name] = true
		}
	}
	var keys openpgp.EntityList
	var missing []string
	switch {
	case len(opts.Recipients) == 0:
		return nil, errors.New("release: no recipients")
	case opts.Detach != nil:
		// No key: the parts leave the mail.
	case opts.Keys == nil:
		return nil, errors.New("release: no keyring")
	default:
		var err error
		if keys, missing, err = opts.Keys.ForRecipients(opts.Recipients); err != nil {
			return nil, fmt.Errorf("release %s: keys: %w", opts.MessageID, err)
		}
	}
	var err error
	switch {
	case opts.Detach != nil:
	case len(missing) == 0:
		rw.keys = keys
		for _, k := range keys {
			rw.fprs = append(rw.fprs, strings.ToUpper(hex.EncodeToString(k.PrimaryKey.Fingerprint)))
		}
	case opts.Mode == PassphraseWithoutKey:
		if rw.passphrase, err = NewPassphrase(); err != nil {
			return nil, err
		}
	default:
		// 3.3.5: sent information is encrypted or password-protected;
		// with no key and no passphrase allowed, nothing is sent.
		return nil, &MissingKeyError{Recipients: missing}
	}

	// The message is read as inspection read it (one MIME model): what is
	// encrypted or passed is the part that was inspected.
	br := bufio.NewReaderSize(mimemsg.ContextReader(ctx, r), 64<<10)
	mh, hr, err := mimemsg.ReadHeader(br, opts.Limits.MaxHeaderBytes)
	if err != nil {
		return nil, fmt.Errorf("release %s: header: %w", opts.MessageID, err)
	}
	if hr.Truncated {
		return nil, fmt.Errorf("release %s: header larger than %d bytes", opts.MessageID, opts.Limits.MaxHeaderBytes)
	}
	body := mimemsg.BodyReader(hr, br)
	if opts.Detach != nil {
		rw.res.Outer, _, _ = rw.splitHeader(mh)
	}
	if rw.protectsAny(mh) {
		err = rw.protected(w, mh, body)
	} else {
		// A multipart body needs its own header written first; in every
		// other case the top-level header changes with the part it
		// describes.
		top := func(nh textproto.Header) (io.Writer, error) {
			if !nh.Has("Mime-Version") {
				nh.Set("MIME-Version", "1.0")
			}
			return w, textproto.WriteHeader(w, nh)
		}
		// A protected Content- field (Content-Description) of the
		// message's own header goes, as in its parts.
		err = rw.entity(top, toTP(rw.strip(mh)), body, 0, false)
	}
	if err != nil {
		return nil, fmt.Errorf("release %s: %w", opts.MessageID, err)
	}
	res := rw.res
	if opts.Detach != nil {
		res.Method = "link"
	}
	if res.Method != "none" {
		res.Fingerprints = rw.fprs
		res.Passphrase = rw.passphrase
	}
	rw.log.Info("release: rewritten", "id", opts.MessageID, "method", res.Method,
		"parts", len(res.Parts), "keys", len(rw.fprs))
	return res, nil
}

type createFunc func(textproto.Header) (io.Writer, error)

type rewriter struct {
	ctx        context.Context
	opts       Options
	res        *Result
	log        *slog.Logger
	now        func() time.Time
	keys       openpgp.EntityList
	fprs       []string
	passphrase string
	encrypted  map[string]bool
	passed     map[string]bool // encrypted attachments passed unchanged
	parts      int
	coverDone  bool
	bodyNames  map[string]int
}

// mediaType reads the type as inspection does (mimemsg.ContentType: an
// unreadable field is text/plain there too, and a class I/II body is
// encrypted whatever its type).
func mediaType(h textproto.Header) (string, map[string]string) {
	t, p, _ := mimemsg.ContentTypeOf(h.Get("Content-Type"), false)
	return t, p
}

const peekSize = 16 << 10

// looksEncrypted checks the start of a part whose type says it is
// encrypted: a PGP/MIME part (RFC 3156 §4) is the "Version: 1" control
// part or an OpenPGP message (armored or binary packets), S/MIME is DER
// with the envelopedData OID (RFC 8551). It cannot tell a file that only
// starts like an encrypted one: that is for inspection to flag.
func looksEncrypted(t, cte string, rawPrefix []byte) bool {
	p := decodePrefix(cte, rawPrefix)
	switch t {
	case "application/pgp-encrypted":
		if bytes.HasPrefix(bytes.TrimSpace(p), []byte("-----BEGIN PGP MESSAGE-----")) {
			return true
		}
		if len(bytes.TrimSpace(p)) <= 64 && bytes.HasPrefix(bytes.TrimSpace(p), []byte("Version: 1")) {
			return true
		}
		// Binary: the first packet is a session key packet, PKESK (1)
		// or SKESK (3), in the old or the new packet format.
		if len(p) > 0 {
			b := p[0]
			tag := -1
			if b&0xc0 == 0xc0 {
				tag = int(b & 0x3f)
			} else if b&0xc0 == 0x80 {
				tag = int(b>>2) & 0x0f
			}
			return tag == 1 || tag == 3
		}
		return false
	default: // S/MIME enveloped data
		oid := []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03}
		oidAuth := []byte{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17}
		head := p[:min(len(p), 64)]
		return len(p) > 0 && p[0] == 0x30 && (bytes.Contains(head, oid) || bytes.Contains(head, oidAuth))
	}
}

// decodePrefix decodes as much of an encoded prefix as is whole.
func decodePrefix(cte string, raw []byte) []byte {
	out, _ := io.ReadAll(decode(cte, bytes.NewReader(raw)))
	return out
}

// strictType is the media type as a strict reader (mime.ParseMediaType,
// what many mail readers use) reads it, "" when it cannot: a part passes
// unencrypted only when every reader agrees on its encrypted type.
func strictType(h textproto.Header) string {
	t, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(t)
}

// passthroughType reports parts that are encrypted by their type.
func passthroughType(t string, p map[string]string) bool {
	switch t {
	case "application/pgp-encrypted":
		return true
	case "application/pkcs7-mime", "application/x-pkcs7-mime":
		st := strings.ToLower(p["smime-type"])
		return st == "enveloped-data" || st == "authenveloped-data"
	}
	return false
}

func (rw *rewriter) entity(create createFunc, h textproto.Header, body io.Reader, depth int, inAlt bool) error {
	if err := rw.ctx.Err(); err != nil {
		return err
	}
	if depth > maxDepth {
		return errors.New("MIME nesting too deep")
	}
	if rw.parts++; rw.parts > maxParts {
		return errors.New("too many MIME parts")
	}
	for _, k := range []string{"Content-Type", "Content-Transfer-Encoding", "Content-Disposition"} {
		if len(h.Values(k)) > 1 {
			// Mail readers disagree on which of two such fields counts;
			// whatever the part is, it leaves encrypted, undecoded.
			hh := h.Copy()
			hh.Del("Content-Transfer-Encoding")
			return rw.encryptPart(create, hh, body, "添付ファイル.bin", "添付ファイル.bin.pgp", "attachment")
		}
	}
	t, params := mediaType(h)
	if t == "multipart/encrypted" && params["boundary"] != "" {
		// PGP/MIME (RFC 3156 §4) keeps its structure; each of its parts
		// is checked in multipart, so a plaintext part added to it does
		// not pass.
		return rw.multipart(create, h, body, t, params, depth, inAlt)
	}
	if passthroughType(t, params) && strictType(h) == t {
		// Trust the type only when the content agrees: a plaintext file
		// labelled application/pgp-encrypted must not pass in the clear.
		br := bufio.NewReaderSize(body, peekSize)
		prefix, _ := br.Peek(peekSize)
		if looksEncrypted(t, h.Get("Content-Transfer-Encoding"), prefix) {
			return rw.unchanged(create, h, br, "attachment", filename(h))
		}
		body = br
	}
	if strings.HasPrefix(t, "multipart/") && params["boundary"] != "" {
		if rw.opts.BodyHasFindings && t == "multipart/alternative" && !inAlt {
			return rw.alternative(create, h, body, params["boundary"], depth)
		}
		return rw.multipart(create, h, body, t, params, depth, inAlt)
	}
	name := filename(h)
	// A body is text with no disposition or a plain "inline" one. Judged
	// on the raw field: a malformed "attachment; filename=…" that does not
	// parse is still an attachment to some mail readers (and to
	// inspection), so it must not pass as a body.
	rawDisp := strings.ToLower(strings.TrimSpace(h.Get("Content-Disposition")))
	isBody := name == "" && (t == "text/plain" || t == "text/html") &&
		(rawDisp == "" || strings.HasPrefix(rawDisp, "inline") && !strings.Contains(rawDisp, "name"))
	if isBody {
		// 3.3.5: personal information is not sent in the clear; a body
		// without findings stays readable, one with findings is moved.
		if !rw.opts.BodyHasFindings {
			return rw.unchanged(create, h, body, "body", "")
		}
		return rw.moveBody(create, h, body, t, inAlt)
	}
	if name == "" {
		name = defaultName(t)
	}
	if rw.encrypted[name] {
		if rw.passed[name] {
			// The inspection list said the name was unique: it was not
			// the list of this message.
			return fmt.Errorf("attachment %q occurs twice but was listed once", name)
		}
		rw.passed[name] = true
		return rw.unchanged(create, h, body, "attachment", name)
	}
	// 3.3.5: every attachment of a released class I/II message leaves
	// encrypted.
	return rw.encryptPart(create, h, body, name, name+".pgp", "attachment")
}

func defaultName(t string) string {
	switch {
	case t == "message/rfc822":
		return "転送メッセージ.eml"
	case strings.HasPrefix(t, "text/"):
		return "添付ファイル.txt"
	}
	if exts, _ := mime.ExtensionsByType(t); len(exts) > 0 {
		return "添付ファイル" + exts[0]
	}
	return "添付ファイル.bin"
}

func (rw *rewriter) multipart(create createFunc, h textproto.Header, body io.Reader, t string, params map[string]string, depth int, inAlt bool) error {
	nh := h.Copy()
	in := params["boundary"]
	mw := textproto.NewMultipartWriter(nil)
	if mw.SetBoundary(in) != nil {
		// Longer than RFC 2046 §5.1.1 allows, or odd characters: readers
		// coped, but the writer wants a valid one.
		params["boundary"] = mw.Boundary()
		nh.Set("Content-Type", mime.FormatMediaType(t, params))
	}
	nh.Del("Content-Transfer-Encoding") // multipart is 7bit/8bit/binary only (RFC 2045 §6.4)
	out, err := create(nh)
	if err != nil {
		return err
	}
	mw = textproto.NewMultipartWriter(out)
	mw.SetBoundary(params["boundary"])
	err = rw.eachPart(body, in, t == "multipart/digest", func(p part) error {
		if t == "multipart/encrypted" {
			if rw.parts++; rw.parts > maxParts {
				return errors.New("too many MIME parts")
			}
			br := bufio.NewReaderSize(p, peekSize)
			prefix, _ := br.Peek(peekSize)
			if looksEncrypted("application/pgp-encrypted", p.Header.Get("Content-Transfer-Encoding"), prefix) {
				return rw.unchanged(mw.CreatePart, p.Header, br, "attachment", filename(p.Header))
			}
			// Nothing in PGP/MIME is a body: whatever is not encrypted
			// gets encrypted.
			pt, _ := mediaType(p.Header)
			name := filename(p.Header)
			if name == "" {
				name = defaultName(pt)
			}
			return rw.encryptPart(mw.CreatePart, p.Header, br, name, name+".pgp", "attachment")
		}
		return rw.entity(mw.CreatePart, p.Header, p, depth+1, inAlt || t == "multipart/alternative")
	})
	if err != nil {
		return err
	}
	return mw.Close()
}

// part is one part of a multipart body, read by mimemsg.
type part struct {
	io.Reader
	Header textproto.Header
}

// eachPart splits a multipart body with the splitter inspection used and
// calls fn for each part; inside multipart/digest a part without a type is
// a message (RFC 2046 §5.1.5), which its header then says.
func (rw *rewriter) eachPart(body io.Reader, boundary string, digest bool, fn func(part) error) error {
	mr := mimemsg.NewMultipartReader(body, boundary)
	// The preamble and epilogue are not content (RFC 2046 §5.1.1) and
	// are not sent.
	if _, err := io.Copy(io.Discard, mr.Preamble()); err != nil {
		return fmt.Errorf("multipart: %w", err)
	}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			if !mr.Final() {
				// Inspection read it leniently (and said so), but a
				// truncated message is not sent half rewritten.
				return errors.New("multipart: missing final boundary: the message may be truncated")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("multipart: %w", err)
		}
		pbr := bufio.NewReaderSize(p, 16<<10)
		ph, phr, err := mimemsg.ReadHeader(pbr, rw.opts.Limits.MaxHeaderBytes)
		if err != nil {
			return fmt.Errorf("multipart: %w", err)
		}
		if phr.Truncated {
			return errors.New("multipart: part header too large")
		}
		th := toTP(rw.strip(ph))
		if digest && ph.Get("Content-Type") == "" {
			th.Set("Content-Type", "message/rfc822")
		}
		if err := fn(part{Reader: mimemsg.BodyReader(phr, pbr), Header: th}); err != nil {
			return err
		}
	}
}

// alternative replaces a multipart/alternative body that has findings by a
// multipart/mixed: the cover note, then every alternative encrypted.
func (rw *rewriter) alternative(create createFunc, h textproto.Header, body io.Reader, boundary string, depth int) error {
	mw, err := rw.mixed(create, h)
	if err != nil {
		return err
	}
	if err := rw.cover(mw); err != nil {
		return err
	}
	err = rw.eachPart(body, boundary, false, func(p part) error {
		return rw.entity(mw.CreatePart, p.Header, p, depth+1, true)
	})
	if err != nil {
		return err
	}
	return mw.Close()
}

// mixed writes h as a multipart/mixed header (other fields kept) and
// returns the writer for its parts.
func (rw *rewriter) mixed(create createFunc, h textproto.Header) (*textproto.MultipartWriter, error) {
	nh := h.Copy()
	for _, k := range []string{"Content-Type", "Content-Transfer-Encoding", "Content-Disposition"} {
		nh.Del(k)
	}
	mw := textproto.NewMultipartWriter(nil)
	nh.Set("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mw.Boundary()}))
	out, err := create(nh)
	if err != nil {
		return nil, err
	}
	real := textproto.NewMultipartWriter(out)
	if err := real.SetBoundary(mw.Boundary()); err != nil {
		return nil, err
	}
	return real, nil
}

// moveBody replaces a text body with findings by its encrypted copy; the
// first one moved also gets the cover note (inside an alternative the
// cover was written by alternative).
func (rw *rewriter) moveBody(create createFunc, h textproto.Header, body io.Reader, t string, inAlt bool) error {
	ext := ".txt"
	if t == "text/html" {
		ext = ".html"
	}
	if rw.bodyNames == nil {
		rw.bodyNames = map[string]int{}
	}
	rw.bodyNames[ext]++
	name := "本文" + ext
	if n := rw.bodyNames[ext]; n > 1 {
		name = fmt.Sprintf("本文-%d%s", n, ext)
	}
	if inAlt || rw.coverDone {
		return rw.encryptPart(create, h, body, name, name+".pgp", "body")
	}
	mw, err := rw.mixed(create, h)
	if err != nil {
		return err
	}
	if err := rw.cover(mw); err != nil {
		return err
	}
	if err := rw.encryptPart(mw.CreatePart, h, body, name, name+".pgp", "body"); err != nil {
		return err
	}
	return mw.Close()
}

// cover writes the note that replaces a body with findings. Staff-facing
// text: Japanese first, English below.
func (rw *rewriter) cover(mw *textproto.MultipartWriter) error {
	rw.coverDone = true
	var ch textproto.Header
	ch.Set("Content-Type", "text/plain; charset=utf-8")
	ch.Set("Content-Transfer-Encoding", "base64")
	out, err := mw.CreatePart(ch)
	if err != nil {
		return err
	}
	how, howEn := "受信者の方の公開鍵で暗号化しています。OpenPGP 対応のソフトウェア（GnuPG、Gpg4win など）で復号してください。",
		"It is encrypted to your OpenPGP public key; open it with OpenPGP software (GnuPG, Gpg4win, ...)."
	if rw.passphrase != "" {
		how = "パスワードで暗号化しています。パスワードは送信者から別の手段（電話など）でお知らせします。OpenPGP 対応のソフトウェア（GnuPG、Gpg4win など）で復号してください。"
		howEn = "It is encrypted with a password, which the sender will give you by other means (e.g. by telephone). Open it with OpenPGP software (GnuPG, Gpg4win, ...)."
	}
	text := "このメールの本文には個人情報等が含まれるため、情報セキュリティ対策基準 3.3.5 に基づき、" +
		"本文を暗号化して添付ファイル（本文.txt.pgp など）に移しました。\r\n" + how + "\r\n" +
		"添付ファイルもすべて暗号化しています（ファイル名の末尾が .pgp）。\r\n\r\n" +
		"The body of this message contains personal information. Under clause 3.3.5 of the information " +
		"security standard it has been encrypted and moved into an attachment (本文.txt.pgp or similar).\r\n" +
		howEn + "\r\nEvery attachment is encrypted as well (file names ending in .pgp).\r\n"
	bw := newBase64Writer(out)
	if _, err := io.WriteString(bw, text); err != nil {
		return err
	}
	return bw.Close()
}

// unchanged copies a part byte for byte (header and encoded body) and
// records the hash of its decoded content.
func (rw *rewriter) unchanged(create createFunc, h textproto.Header, body io.Reader, kind, name string) error {
	if rw.opts.Detach != nil && kind == "attachment" {
		// With links every attachment leaves the mail, encrypted or not.
		return rw.detach(h, body, name, kind)
	}
	out, err := create(h)
	if err != nil {
		return err
	}
	dh := newDecodedHash(h.Get("Content-Transfer-Encoding"))
	_, err = io.Copy(out, io.TeeReader(mimemsg.ContextReader(rw.ctx, body), dh))
	sum, n, derr := dh.finish()
	if err != nil {
		return err
	}
	if derr != nil {
		return fmt.Errorf("part %q: %w", name, derr)
	}
	rw.res.Parts = append(rw.res.Parts, Part{Kind: kind, Name: name, SentName: name, Action: "unchanged",
		OriginalSHA256: sum, SentSHA256: sum, OriginalSize: n, SentSize: n})
	return nil
}

// encryptPart writes the decoded part, encrypted, as attachment sentName.
func (rw *rewriter) encryptPart(create createFunc, h textproto.Header, body io.Reader, name, sentName, kind string) error {
	if rw.opts.Detach != nil {
		return rw.detach(h, body, name, kind)
	}
	// The part's other fields stay (and, at the top level, From, To,
	// Subject…); only those describing the content change.
	ah := mail.AttachmentHeader{Header: message.Header{Header: h.Copy()}}
	for _, k := range []string{"Content-Type", "Content-Disposition", "Content-Transfer-Encoding", "Content-Md5"} {
		ah.Del(k)
	}
	ah.SetContentType("application/octet-stream", map[string]string{"name": sentName})
	ah.SetFilename(sentName) // RFC 2047 in the parameter: what Japanese Outlook reads
	ah.Set("Content-Transfer-Encoding", "base64")
	out, err := create(ah.Header.Header)
	if err != nil {
		return err
	}
	b64 := newBase64Writer(out)
	sentHash := sha256.New()
	sent := &countWriter{w: io.MultiWriter(b64, sentHash)}
	hints := &openpgp.FileHints{IsBinary: true, FileName: truncateName(name, 255), ModTime: rw.now()}
	var pw io.WriteCloser
	if rw.passphrase != "" {
		pw, err = openpgp.SymmetricallyEncrypt(sent, []byte(rw.passphrase), hints, rw.config())
	} else {
		pw, err = openpgp.Encrypt(sent, rw.keys, nil, hints, rw.config())
	}
	if err != nil {
		return fmt.Errorf("encrypt %q: %w", name, err)
	}
	origHash := sha256.New()
	n, err := io.Copy(io.MultiWriter(pw, origHash), mimemsg.ContextReader(rw.ctx, decode(h.Get("Content-Transfer-Encoding"), body)))
	if err != nil {
		return fmt.Errorf("part %q: %w", name, err)
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("encrypt %q: %w", name, err)
	}
	if err := b64.Close(); err != nil {
		return err
	}
	if rw.passphrase != "" {
		rw.res.Method = "passphrase"
	} else {
		rw.res.Method = "public-key"
	}
	rw.res.Parts = append(rw.res.Parts, Part{Kind: kind, Name: name, SentName: sentName, Action: "encrypted",
		OriginalSHA256: hex.EncodeToString(origHash.Sum(nil)), SentSHA256: hex.EncodeToString(sentHash.Sum(nil)),
		OriginalSize: n, SentSize: sent.n})
	return nil
}

func (rw *rewriter) config() *packet.Config {
	cfg := &packet.Config{
		DefaultCipher:          packet.CipherAES256,
		DefaultHash:            crypto.SHA256,
		DefaultCompressionAlgo: packet.CompressionNone, // attachments are mostly compressed already
		Time:                   rw.now,
		// 65011712 is the largest iterated S2K count: the "compatible"
		// preset that GnuPG reads (go-mail-notes §2.4).
		S2KConfig: &s2k.Config{S2KMode: s2k.IteratedSaltedS2K, S2KCount: 65011712, Hash: crypto.SHA256},
	}
	if rw.opts.Preset == RFC9580 {
		cfg.AEADConfig = &packet.AEADConfig{DefaultMode: packet.AEADModeOCB}
		if rw.passphrase != "" {
			cfg.S2KConfig = &s2k.Config{S2KMode: s2k.Argon2S2K, Argon2Config: &s2k.Argon2Config{
				NumberOfPasses: 3, DegreeOfParallelism: 4, Memory: 64 * 1024}}
		}
	}
	return cfg
}

// truncateName cuts a UTF-8 name to at most n bytes on a rune boundary
// (go-crypto cuts at 255 bytes, which could split a Japanese character).
func truncateName(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// NewPassphrase returns 25 characters from crypto/rand in 5 groups
// ("k7m2q-…"), about 124 bits, without look-alikes (0/o, 1/l/i).
func NewPassphrase() (string, error) {
	const alphabet = "23456789abcdefghjkmnpqrstuvwxyz" // 31 symbols
	var b strings.Builder
	buf := make([]byte, 1)
	for i := 0; i < 25; {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		if buf[0] >= 31*8 { // reject to keep the choice uniform
			continue
		}
		if i > 0 && i%5 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(alphabet[buf[0]%31])
		i++
	}
	return b.String(), nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// decode undoes a Content-Transfer-Encoding as inspection did
// (mimemsg.DecodeTransfer: leniently, so a slightly damaged part can still
// be released, encrypted). Unknown encodings give the raw bytes, which then
// get encrypted as they are.
func decode(cte string, r io.Reader) io.Reader {
	return mimemsg.DecodeTransfer(mimemsg.TransferEncoding(mimemsg.Header{{Key: "Content-Transfer-Encoding", Value: cte}}), r)
}

// decodedHash hashes the decoded form of what is written to it.
type decodedHash struct {
	pw   *io.PipeWriter
	done chan struct{}
	sum  string
	n    int64
	err  error
}

func newDecodedHash(cte string) *decodedHash {
	pr, pw := io.Pipe()
	d := &decodedHash{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		h := sha256.New()
		d.n, d.err = io.Copy(h, decode(cte, pr))
		d.sum = hex.EncodeToString(h.Sum(nil))
		pr.CloseWithError(d.err) // unblock the writer if decoding stopped early
		io.Copy(io.Discard, pr)
	}()
	return d
}

func (d *decodedHash) Write(p []byte) (int, error) {
	// A decoding error must not stop the copy of the part itself.
	d.pw.Write(p)
	return len(p), nil
}

func (d *decodedHash) finish() (string, int64, error) {
	d.pw.Close()
	<-d.done
	return d.sum, d.n, d.err
}

// base64Writer encodes to base64 in lines of 76 characters (RFC 2045 §6.8).
type base64Writer struct {
	enc  io.WriteCloser
	line *lineWriter
}

func newBase64Writer(w io.Writer) *base64Writer {
	lw := &lineWriter{w: w}
	return &base64Writer{enc: base64.NewEncoder(base64.StdEncoding, lw), line: lw}
}

func (b *base64Writer) Write(p []byte) (int, error) { return b.enc.Write(p) }

func (b *base64Writer) Close() error {
	if err := b.enc.Close(); err != nil {
		return err
	}
	if b.line.col > 0 {
		b.line.col = 0
		_, err := b.line.w.Write(append(b.line.buf[:0], '\r', '\n'))
		return err
	}
	return nil
}

type lineWriter struct {
	w   io.Writer
	col int
	buf []byte // reused: one Write to w per call, no allocation per line
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	l.buf = l.buf[:0]
	for len(p) > 0 {
		c := min(76-l.col, len(p))
		l.buf = append(l.buf, p[:c]...)
		l.col += c
		p = p[c:]
		if l.col == 76 {
			l.buf = append(l.buf, '\r', '\n')
			l.col = 0
		}
	}
	if _, err := l.w.Write(l.buf); err != nil {
		return 0, err
	}
	return n, nil
}
