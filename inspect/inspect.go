package inspect

import (
	"bufio"
	"bytes"
	"context"
	"dlpguard/mimemsg"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"strings"
)

// walker holds the state of one inspection. It is not shared between
// messages.
type walker struct {
	ctx    context.Context
	parent context.Context
	lim    Limits
	sink   Sink
	res    *Result
	log    *slog.Logger

	parts    int
	decoded  int64
	textFull bool
	stopped  bool // timeout or MaxParts: nothing more is read
	lastLoc  string
	readErr  error
	treeCut  bool // the tree (Result.Tree) was not read to its end
	probSeen map[string]bool

	chunkBuf []byte // reused between emitters
	copyBuf  []byte // reused by buffer
	memBufs  [][]byte
}

// errReader remembers a read error of the message source, so that it is
// returned as the error of Message rather than taken for truncated MIME.
type errReader struct {
	r   io.Reader
	err *error
}

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && *e.err == nil {
		*e.err = err
	}
	return n, err
}

func newWalker(ctx context.Context, lim Limits, sink Sink) (*walker, context.CancelFunc) {
	def := DefaultLimits()
	if lim.MaxDecodedBytes <= 0 {
		lim.MaxDecodedBytes = def.MaxDecodedBytes
	}
	if lim.MaxPartBytes <= 0 {
		lim.MaxPartBytes = def.MaxPartBytes
	}
	if lim.MaxParts <= 0 {
		lim.MaxParts = def.MaxParts
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = def.MaxDepth
	}
	if lim.MaxArchiveEntries <= 0 {
		lim.MaxArchiveEntries = def.MaxArchiveEntries
	}
	if lim.MaxCompressionRatio <= 0 {
		lim.MaxCompressionRatio = def.MaxCompressionRatio
	}
	if lim.MaxTextBytes <= 0 {
		lim.MaxTextBytes = def.MaxTextBytes
	}
	if lim.MaxHeaderBytes <= 0 {
		lim.MaxHeaderBytes = def.MaxHeaderBytes
	}
	if lim.Timeout == 0 {
		lim.Timeout = def.Timeout
	}
	if sink == nil {
		sink = discardSink{}
	}
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if lim.Timeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, lim.Timeout)
	}
	return &walker{
		ctx:      wctx,
		parent:   ctx,
		lim:      lim,
		sink:     sink,
		res:      &Result{Header: Header{Raw: map[string][]string{}}},
		log:      slog.Default(),
		probSeen: map[string]bool{},
	}, cancel
}

type discardSink struct{}

func (discardSink) Chunk(Chunk) {}

// Message inspects one RFC 5322 message read from r, sending its text to sink
// and returning the list of parts and problems. Malformed content never makes
// it fail: it is reported in the Result (Problems, Incomplete, Part.Reason).
// The error is only for failures to read r or a cancelled ctx.
func Message(ctx context.Context, r io.Reader, lim Limits, sink Sink) (*Result, error) {
	w, cancel := newWalker(ctx, lim, sink)
	defer cancel()
	src := mimemsg.ContextReader(w.ctx, errReader{r: r, err: &w.readErr})
	br := bufio.NewReaderSize(src, 64<<10)

	h, hr, err := mimemsg.ReadHeader(br, w.lim.MaxHeaderBytes)
	if err != nil && w.readErr == nil && w.ctx.Err() == nil {
		w.readErr = err
	}
	w.topHeader(h)
	w.log = w.log.With("msgid", w.res.Header.MessageID)
	if hr.Truncated {
		w.problem("header larger than MaxHeaderBytes (%d): the rest of it was skipped", w.lim.MaxHeaderBytes)
	}
	if hr.Problem != "" {
		w.problem("message header: %s", hr.Problem)
	}
	w.entity(h, mimemsg.BodyReader(hr, br), 0, scope{bodyLoc: "body", bodyKind: KindBody, path: mimemsg.RootPath})
	w.res.TreeComplete = !w.treeCut && !w.stopped && w.readErr == nil && w.ctx.Err() == nil
	return w.finish()
}

// File inspects one file (an upload, or an attachment handled on its own) as
// if it were an attachment named name.
func File(ctx context.Context, name string, r io.Reader, lim Limits, sink Sink) (*Result, error) {
	w, cancel := newWalker(ctx, lim, sink)
	defer cancel()
	w.log = w.log.With("file", name)
	if name == "" {
		name = "upload"
	}
	src := mimemsg.ContextReader(w.ctx, errReader{r: r, err: &w.readErr})
	w.attachment(name, "", src, 0, scope{bodyLoc: "body", bodyKind: KindBody})
	return w.finish()
}

// finish computes Incomplete and the error to return.
func (w *walker) finish() (*Result, error) {
	if w.ctx.Err() != nil && w.parent.Err() == nil {
		w.problem("inspection timed out after %s: the rest of the message was not read", w.lim.Timeout)
	}
	for _, p := range w.res.Parts {
		if p.Media || p.Signature {
			continue
		}
		if !p.Inspected || p.Encrypted {
			w.res.Incomplete = true
		}
	}
	if err := w.parent.Err(); err != nil {
		w.res.Incomplete = true
		return w.res, fmt.Errorf("inspect: %w", err)
	}
	if w.readErr != nil {
		w.res.Incomplete = true
		return w.res, fmt.Errorf("inspect: reading message: %w", w.readErr)
	}
	return w.res, nil
}

// problem records a message-level problem; every problem may hide content,
// so the result is Incomplete.
func (w *walker) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	w.res.Incomplete = true
	if w.probSeen[msg] {
		return
	}
	w.probSeen[msg] = true
	w.res.Problems = append(w.res.Problems, msg)
	w.log.Info("inspect problem", "problem", msg)
}

// topHeader fills Result.Header and sends the header text that people read:
// the subject and the display names (3.3.5: a marking or a personal name
// there leaves with the message). Message-ID, References, Received and the
// like are never sent: their long digit strings are not content.
func (w *walker) topHeader(h mimemsg.Header) {
	rh := &w.res.Header
	for _, f := range h {
		rh.Raw[f.Key] = append(rh.Raw[f.Key], mimemsg.DecodeHeader(f.Value))
	}
	rh.Subject = strings.TrimSpace(mimemsg.DecodeHeader(h.Get("Subject")))
	rh.From = mimemsg.ParseAddressList(h.Values("From"))
	rh.To = mimemsg.ParseAddressList(h.Values("To"))
	rh.Cc = mimemsg.ParseAddressList(h.Values("Cc"))
	rh.MessageID = strings.TrimSpace(h.Get("Message-Id"))
	if d := h.Get("Date"); d != "" {
		if t, err := mail.ParseDate(strings.TrimSpace(d)); err == nil {
			rh.Date = t
		}
	}
	w.emitString("subject", KindSubject, rh.Subject)
	for _, hd := range []struct {
		name  string
		addrs []Address
	}{{"From", rh.From}, {"To", rh.To}, {"Cc", rh.Cc}} {
		var names []string
		for _, a := range hd.addrs {
			if a.Name != "" {
				names = append(names, a.Name)
			}
		}
		w.emitString("header:"+hd.name, KindHeader, strings.Join(names, "\n"))
	}
	w.freeHeaders(h, "header:", "Subject", "From", "To", "Cc")
}

// machineFields are header fields written by software for software
// (transport, threading, MIME structure, signatures, keys): their digit
// strings are not content and scanning them would only hold mail for
// nothing.
var machineFields = map[string]bool{
	"Received": true, "Return-Path": true, "Message-Id": true, "References": true,
	"In-Reply-To": true, "Date": true, "Resent-Date": true, "Resent-Message-Id": true,
	"Mime-Version": true, "Content-Type": true, "Content-Transfer-Encoding": true,
	"Content-Id": true, "Content-Disposition": true, "Content-Length": true,
	"Content-Language": true, "Accept-Language": true, "Dkim-Signature": true,
	"Domainkey-Signature": true, "Authentication-Results": true, "Received-Spf": true,
	"Thread-Index": true, "Autocrypt": true, "Openpgp": true, "Face": true, "X-Face": true,
	"Feedback-Id": true, "X-Received": true, "X-Originating-Ip": true, "Bcc": true,
}

// machinePrefixes are families of machine fields.
var machinePrefixes = []string{"Arc-", "List-", "X-Ms-", "X-Microsoft-", "X-Forefront-",
	"X-Exchange-", "X-Google-", "X-Gm-", "X-Spam-", "X-Virus-", "X-Ses-"}

// freeHeaders sends the other header fields that leave with the message
// (X-Note, Comments, Keywords, Reply-To, Thread-Topic …): an insider can
// put a number there as easily as in the body (3.3.5). The first field of
// each name in skip is already sent; machine fields are left out.
func (w *walker) freeHeaders(h mimemsg.Header, prefix string, skip ...string) {
	seen := map[string]bool{}
	for _, f := range h {
		if machineFields[f.Key] {
			continue
		}
		if contains(skip, f.Key) && !seen[f.Key] {
			// the first one is sent by the caller; a second Subject is
			// what some clients show instead
			seen[f.Key] = true
			continue
		}
		machine := false
		for _, p := range machinePrefixes {
			if strings.HasPrefix(f.Key, p) {
				machine = true
				break
			}
		}
		if !machine {
			w.emitString(prefix+f.Key, KindHeader, strings.TrimSpace(mimemsg.DecodeHeader(f.Value)))
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// scope says where the text of an entity goes: the top message's body, or
// the body of an attached message that is reported under its file name.
type scope struct {
	bodyLoc    string // Location of body text
	bodyKind   Kind
	namePrefix string // prefix of attachment names ("fwd.eml/")
	digest     bool   // parent is multipart/digest
	// path is the entity's place in the message's MIME tree
	// (mimemsg.Part.Path); "" inside an attachment or embedded message,
	// which is one entity of the tree.
	path string
}

// checkCtx stops the walk at the deadline.
func (w *walker) checkCtx() bool {
	if w.stopped {
		return false
	}
	if w.ctx.Err() != nil {
		w.stopped = true
		return false
	}
	return true
}

// newPart counts a part against MaxParts.
func (w *walker) countPart() bool {
	w.parts++
	if w.parts > w.lim.MaxParts {
		w.problem("more than %d parts (MaxParts): the rest of the message was not read", w.lim.MaxParts)
		w.stopped = true
		return false
	}
	return true
}

// entity inspects one MIME entity: a multipart container, an embedded
// message or a leaf.
func (w *walker) entity(h mimemsg.Header, body io.Reader, depth int, sc scope) {
	if !w.checkCtx() || !w.countPart() {
		w.treeCut = sc.path != "" || w.treeCut
		return
	}
	mt, params, bad := mimemsg.ContentType(h, sc.digest)
	if sc.path != "" {
		// The tree as transferred (3.3.5: what is released is what was
		// inspected): recorded as mimemsg.Split records it.
		tb := w.treeEntry(sc.path, h, mt, body)
		body = tb
		defer w.treeDone(tb)
	}
	if depth > w.lim.MaxDepth {
		w.problem("MIME nesting deeper than %d (MaxDepth): deeper parts were not read", w.lim.MaxDepth)
		w.res.Parts = append(w.res.Parts, Part{Name: sc.namePrefix + "nested-part", Attachment: true,
			DeclaredType: mt, Reason: "nested too deep (MaxDepth)", Depth: depth})
		return
	}
	if bad {
		w.problem("unreadable Content-Type %q: read as %s", truncate(h.Get("Content-Type"), 80), mt)
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		boundary := params["boundary"]
		if boundary == "" {
			w.problem("%s without a boundary: body read as text", mt)
			w.leaf(h, "text/plain", params, body, depth, sc)
			return
		}
		w.multipart(mt, params, boundary, body, depth, sc)
	case mt == "message/partial":
		// RFC 2046 §5.2.2: one fragment of a message split over several
		// mails; the whole cannot be read from this one (fail closed).
		n, _ := io.Copy(io.Discard, body)
		w.res.Parts = append(w.res.Parts, Part{Name: sc.namePrefix + w.genName("partial"), Attachment: true,
			DeclaredType: mt, Type: mt, Size: n, Depth: depth,
			Reason: "message/partial fragment: the whole message cannot be read from one part"})
	case mt == "message/external-body":
		// RFC 2046 §5.2.3: the body is elsewhere (a URL, an FTP site, a
		// mail server); only a reference leaves with the message, and what
		// it points to cannot be read here (fail closed).
		n, _ := io.Copy(io.Discard, body)
		w.res.Parts = append(w.res.Parts, Part{Name: sc.namePrefix + w.genName("external"), Attachment: true,
			DeclaredType: mt, Type: mt, Size: n, Depth: depth,
			Reason: "message/external-body: the content is outside the message and cannot be inspected"})
	case mt == "message/rfc822" || mt == "message/global":
		name, disp := mimemsg.Filename(h)
		if disp == "attachment" || name != "" {
			if name == "" {
				name = w.genName("message.eml")
			}
			w.attachment(sc.namePrefix+name, mt, w.cteReader(h, body, nil), depth, sc)
			return
		}
		// An inline forwarded message: its text is read as part of the body.
		w.embedded(w.cteReader(h, body, nil), "", depth, sc)
	default:
		w.leaf(h, mt, params, body, depth, sc)
	}
}

// multipart walks the parts of a multipart entity (RFC 2046 §5.1).
func (w *walker) multipart(mt string, params map[string]string, boundary string, body io.Reader, depth int, sc scope) {
	mr := mimemsg.NewMultipartReader(body, boundary)
	// The preamble is not content, but if no delimiter ever appears it is
	// the whole body: keep its start to read it then.
	pre := make([]byte, 0, 512)
	preBuf := make([]byte, 4096)
	preOver := false
	for {
		n, err := mr.Preamble().Read(preBuf)
		if len(pre)+n <= 1<<20 {
			pre = append(pre, preBuf[:n]...)
		} else {
			preOver = true
		}
		if err != nil {
			break
		}
	}
	sub := strings.TrimPrefix(mt, "multipart/")
	childScope := sc
	childScope.digest = sub == "digest"
	protocol := strings.ToLower(params["protocol"])
	encryptedPart := false
	i := 0
	for {
		if !w.checkCtx() {
			w.treeCut = true
			return
		}
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		i++
		pbr := bufio.NewReaderSize(p, 16<<10)
		ph, phr, err := mimemsg.ReadHeader(pbr, w.lim.MaxHeaderBytes)
		if err != nil {
			w.problem("%s part %d: %v", mt, i, err)
		}
		if phr.Truncated {
			w.problem("%s part %d: header larger than MaxHeaderBytes", mt, i)
		}
		pbody := mimemsg.BodyReader(phr, pbr)
		childScope.path = ""
		var opaque *treeBody
		if sc.path != "" {
			childScope.path = mimemsg.ChildPath(sc.path, i)
			if !mimemsg.Descends(sub, i, ph) {
				// An encrypted part or a signature: one entity of the tree,
				// whatever its type says.
				pmt, _, _ := mimemsg.ContentType(ph, childScope.digest)
				opaque = w.treeEntry(childScope.path, ph, pmt, pbody)
				pbody = opaque
			}
		}
		// A part's own fields (Content-Description, an X-Note) leave
		// with the message too.
		if sc.bodyLoc == "body" {
			w.freeHeaders(ph, "header:")
		} else {
			w.freeHeaders(ph, sc.bodyLoc+"/header:")
		}
		switch {
		case sub == "encrypted":
			// RFC 1847 §2.2, RFC 3156 §4: the second part is the ciphertext.
			if i == 2 {
				n, _ := io.Copy(io.Discard, pbody)
				name := "encrypted.asc"
				reason := "PGP/MIME encrypted message: needs the recipient's key"
				if strings.Contains(protocol, "pkcs7") {
					name, reason = "smime.p7m", "S/MIME encrypted message: needs the recipient's key"
				}
				if !w.countPart() {
					return
				}
				w.res.Parts = append(w.res.Parts, Part{Name: sc.namePrefix + name, Attachment: true,
					DeclaredType: "multipart/encrypted", Type: orDefault(protocol, "application/pgp-encrypted"),
					Size: n, Encrypted: true, Reason: reason, Depth: depth + 1})
				encryptedPart = true
			}
		case sub == "signed" && i > 1 && mimemsg.IsSignature(ph):
			// RFC 1847 §2.1: the last part is the signature.
			n, _ := io.Copy(io.Discard, pbody)
			pmt, _, _ := mimemsg.ContentType(ph, false)
			name, _ := mimemsg.Filename(ph)
			if name == "" {
				name = "signature.asc"
				if strings.Contains(pmt, "pkcs7") {
					name = "smime.p7s"
				}
			}
			if !w.countPart() {
				return
			}
			w.res.Parts = append(w.res.Parts, Part{Name: sc.namePrefix + name, Attachment: true,
				DeclaredType: pmt, Type: pmt, Size: n, Signature: true, Inspected: true,
				Reason: "signature: not encryption", Depth: depth + 1})
		default:
			w.entity(ph, pbody, depth+1, childScope)
		}
		if opaque != nil {
			w.treeDone(opaque)
		}
	}
	if sub == "encrypted" && !encryptedPart && !w.stopped {
		// A broken multipart/encrypted still says "encrypted": fail closed.
		w.res.Parts = append(w.res.Parts, Part{Name: sc.namePrefix + "encrypted.asc", Attachment: true,
			DeclaredType: mt, Type: orDefault(protocol, "application/pgp-encrypted"), Encrypted: true,
			Reason: "malformed encrypted message: treated as encrypted", Depth: depth + 1})
		return
	}
	if mr.Parts() == 0 && !w.stopped {
		w.problem("%s: boundary %q never found: body read as text", mt, truncate(boundary, 70))
		if preOver {
			w.problem("%s: body without parts larger than 1 MiB: only its start was read", mt)
		}
		w.leaf(nil, "text/plain", nil, strings.NewReader(string(pre)), depth, sc)
		return
	}
	if !mr.Final() && !w.stopped {
		w.problem("%s: missing final boundary: the message may be truncated", mt)
	}
	// The preamble and the epilogue are hidden by mail clients but leave
	// with the message (3.3.5): a number put there is still sent.
	w.outside(sc, "preamble", pre, preOver)
	epi, epiOver := mr.Epilogue()
	w.outside(sc, "epilogue", epi, epiOver)
}

// outside scans the text of a multipart preamble or epilogue as body text.
func (w *walker) outside(sc scope, what string, b []byte, over bool) {
	if w.stopped || len(bytes.TrimSpace(b)) == 0 {
		return
	}
	if over {
		w.problem("multipart %s larger than 1 MiB: only its start was read", what)
	}
	w.emitString(sc.bodyLoc, sc.bodyKind, mimemsg.DecodeUnknown(b))
}

// treeEntry records an entity of the message's tree (as mimemsg.Split
// records it) and returns its body, which hashes what is read; treeDone
// drains it and records the sum.
func (w *walker) treeEntry(path string, h mimemsg.Header, mt string, body io.Reader) *treeBody {
	w.res.Tree = append(w.res.Tree, mimemsg.Part{Path: path, Type: mt, HeaderSHA256: h.Digest()})
	return &treeBody{HashReader: mimemsg.NewHashReader(body), idx: len(w.res.Tree) - 1}
}

type treeBody struct {
	*mimemsg.HashReader
	idx int
}

func (w *walker) treeDone(tb *treeBody) {
	sum, n, err := tb.Drain()
	if err != nil {
		w.treeCut = true
	}
	w.res.Tree[tb.idx].SHA256, w.res.Tree[tb.idx].Size = sum, n
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// embedded reads a message/rfc822 entity: its subject and its body are read
// as the recipient would read them.
func (w *walker) embedded(body io.Reader, name string, depth int, sc scope) {
	br := bufio.NewReaderSize(body, 16<<10)
	h, hr, err := mimemsg.ReadHeader(br, w.lim.MaxHeaderBytes)
	if err != nil {
		w.problem("embedded message %s: %v", name, err)
	}
	if hr.Truncated {
		w.problem("embedded message %s: header larger than MaxHeaderBytes", name)
	}
	inner := sc
	inner.path = "" // the embedded message is one entity of the tree
	subjLoc := "subject"
	if name != "" {
		inner = scope{bodyLoc: "attachment:" + name, bodyKind: KindAttachment, namePrefix: name + "/"}
		subjLoc = inner.bodyLoc
	}
	w.emitString(subjLoc, KindSubject, strings.TrimSpace(mimemsg.DecodeHeader(h.Get("Subject"))))
	// A forwarded message's other fields (its From and To with their
	// display names, an X-Note) are read like the top header's.
	hdrPrefix := "header:"
	if name != "" {
		hdrPrefix = "attachment:" + name + "/header:"
	}
	w.freeHeaders(h, hdrPrefix, "Subject")
	w.entity(h, mimemsg.BodyReader(hr, br), depth+1, inner)
}

func (w *walker) genName(ext string) string {
	return fmt.Sprintf("part%d-%s", w.parts, ext)
}
