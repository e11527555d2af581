package inspect

import (
	"archive/zip"
	"bufio"
	"bytes"
	"dlpguard/mimemsg"
	"errors"
	"fmt"
	"golang.org/x/text/encoding/unicode"
	"io"
	"os"
	"path"
	"strings"

	"github.com/gabriel-vasile/mimetype"
	"golang.org/x/text/encoding"
	"golang.org/x/text/transform"

	"dlpguard/inspect/archive"
	"dlpguard/inspect/office"
	"dlpguard/inspect/pdf"
)

// memSpill is how much of one part is held in memory; more goes to a temp
// file. With nesting (an archive inside an attachment) at most MaxDepth such
// buffers are alive at once.
const memSpill = 4 << 20

// ratioFloor: below this many bytes a member is never called a bomb (small
// files of repeated text compress far better than 200:1).
const ratioFloor = 1 << 20

// spill holds one decoded part for random access (office, PDF and ZIP
// readers need io.ReaderAt): in memory up to memSpill, else in a temp file
// that is removed on close.
type spill struct {
	w    *walker
	mem  []byte
	f    *os.File
	size int64
}

func (w *walker) newSpill() *spill {
	s := &spill{w: w}
	if n := len(w.memBufs); n > 0 {
		s.mem = w.memBufs[n-1][:0]
		w.memBufs = w.memBufs[:n-1]
	}
	return s
}

func (s *spill) Write(p []byte) (int, error) {
	if s.f == nil && s.size+int64(len(p)) <= memSpill {
		if need := len(s.mem) + len(p); need > cap(s.mem) {
			// Small parts grow by doubling; past 256 KiB straight to the
			// in-memory maximum, so a big part costs one allocation.
			c := max(need, 2*cap(s.mem), 32<<10)
			if c > 256<<10 {
				c = memSpill
			}
			s.mem = append(make([]byte, 0, c), s.mem...)
		}
		s.mem = append(s.mem, p...)
		s.size += int64(len(p))
		return len(p), nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.w.lim.TempDir, "dlpguard-part-*")
		if err != nil {
			return 0, fmt.Errorf("spill part to disk: %w", err)
		}
		// Removed at once: the open file stays readable, and nothing is
		// left behind if the process dies.
		os.Remove(f.Name())
		if _, err := f.Write(s.mem); err != nil {
			f.Close()
			return 0, fmt.Errorf("spill part to disk: %w", err)
		}
		s.f = f
		s.release()
	}
	n, err := s.f.Write(p)
	s.size += int64(n)
	return n, err
}

func (s *spill) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("spill: negative offset")
	}
	if s.f != nil {
		if off >= s.size {
			return 0, io.EOF
		}
		return s.f.ReadAt(p, off)
	}
	if off >= int64(len(s.mem)) {
		return 0, io.EOF
	}
	n := copy(p, s.mem[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// reader reads the whole part from the start.
func (s *spill) reader() io.Reader { return io.NewSectionReader(s, 0, s.size) }

// head returns up to n bytes from the start.
func (s *spill) head(n int) []byte {
	if s.f == nil {
		if len(s.mem) < n {
			return s.mem
		}
		return s.mem[:n]
	}
	b := make([]byte, n)
	m, _ := s.ReadAt(b, 0)
	return b[:m]
}

func (s *spill) release() {
	if s.mem != nil && cap(s.mem) <= memSpill*2 && len(s.w.memBufs) < 2 {
		s.w.memBufs = append(s.w.memBufs, s.mem[:0])
	}
	s.mem = nil
}

func (s *spill) close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	s.release()
}

// limitHit says which limit stopped buffering.
type limitHit string

// buffer copies r into a new spill, within MaxPartBytes, the message's
// MaxDecodedBytes and, for archive members, the compression ratio. When
// drain is set the rest of r is read and discarded after a limit, so that
// the MIME walk can go on to the next part.
func (w *walker) buffer(r io.Reader, ratioCap int64, drain bool) (*spill, limitHit, error) {
	sp := w.newSpill()
	// The copy finishes before anything is dispatched, so buffer never
	// runs inside another buffer: one copy buffer serves them all.
	if w.copyBuf == nil {
		w.copyBuf = make([]byte, 32<<10)
	}
	buf := w.copyBuf
	var hit limitHit
	for {
		if w.ctx.Err() != nil {
			w.stopped = true
			return sp, "inspection timed out", nil
		}
		n, err := r.Read(buf)
		if n > 0 {
			b := buf[:n]
			switch {
			case sp.size+int64(n) > w.lim.MaxPartBytes:
				hit = limitHit(fmt.Sprintf("too large: more than %d bytes (MaxPartBytes)", w.lim.MaxPartBytes))
			case w.decoded+int64(n) > w.lim.MaxDecodedBytes:
				hit = limitHit(fmt.Sprintf("total decoded size of the message over %d bytes (MaxDecodedBytes)", w.lim.MaxDecodedBytes))
				w.problem("total decoded size over %d bytes (MaxDecodedBytes): later content was not read", w.lim.MaxDecodedBytes)
			case ratioCap > 0 && sp.size+int64(n) > ratioCap:
				hit = limitHit(fmt.Sprintf("compression ratio over %d:1 (MaxCompressionRatio): possible archive bomb", w.lim.MaxCompressionRatio))
			}
			if hit != "" {
				if drain {
					io.Copy(io.Discard, r)
				}
				return sp, hit, nil
			}
			if _, werr := sp.Write(b); werr != nil {
				return sp, "", werr
			}
			w.decoded += int64(n)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return sp, "", nil
			}
			return sp, "", err
		}
	}
}

// cteState collects what the transfer decoding had to repair.
type cteState struct {
	b64     *mimemsg.Base64Decoder
	qp      *mimemsg.QPDecoder
	unknown string
}

// note returns a reason for the part, and whether content may be damaged.
func (st *cteState) note() (string, bool) {
	if st == nil {
		return "", false
	}
	switch {
	case st.unknown != "":
		return fmt.Sprintf("unknown Content-Transfer-Encoding %q: read as is", st.unknown), true
	case st.b64 != nil && (st.b64.Invalid > 0 || st.b64.Partial):
		return fmt.Sprintf("broken base64 (%d invalid characters skipped): decoded best-effort", st.b64.Invalid), true
	case st.qp != nil && st.qp.Invalid > 0:
		return fmt.Sprintf("broken quoted-printable (%d bad escapes kept as is)", st.qp.Invalid), false
	}
	return "", false
}

// cteReader undoes the Content-Transfer-Encoding (RFC 2045 §6).
func (w *walker) cteReader(h mimemsg.Header, body io.Reader, st *cteState) io.Reader {
	if st == nil {
		st = &cteState{}
	}
	cte := mimemsg.TransferEncoding(h)
	switch cte {
	case "", "7bit", "8bit", "binary":
		return body
	case "base64":
		st.b64 = &mimemsg.Base64Decoder{}
		return transform.NewReader(body, st.b64)
	case "quoted-printable":
		st.qp = &mimemsg.QPDecoder{}
		return transform.NewReader(body, st.qp)
	case "x-uuencode", "uuencode", "x-uue":
		// Not in RFC 2045, but sent by old clients.
		return uuBody(body)
	}
	st.unknown = cte
	return body
}

// leaf inspects a non-multipart entity: body text, or an attachment.
func (w *walker) leaf(h mimemsg.Header, mt string, params map[string]string, body io.Reader, depth int, sc scope) {
	name, disp := mimemsg.Filename(h)
	if mt == "application/applefile" {
		// The AppleDouble header part (RFC 1740): Finder metadata and the
		// resource fork; the file itself is the next part.
		n, _ := io.Copy(io.Discard, w.cteReader(h, body, nil))
		w.res.Parts = append(w.res.Parts, Part{Name: sc.namePrefix + orDefault(name, w.genName("applefile")), Attachment: true,
			DeclaredType: mt, Type: mt, Size: n, Inspected: true, Reason: "AppleDouble header (metadata)", Depth: depth})
		return
	}
	isBody := name == "" && disp != "attachment" && isBodyType(mt)
	if !isBody {
		if name == "" {
			switch mt {
			case "application/pkcs7-mime", "application/x-pkcs7-mime":
				name = "smime.p7m" // the name clients give it (RFC 8551 §3.2)
			case "application/pkcs7-signature", "application/x-pkcs7-signature":
				name = "smime.p7s"
			case "application/pgp-encrypted":
				name = "encrypted.asc"
			default:
				name = w.genName(extFor(mt))
			}
		}
		if alt := altName(h, name); alt != "" {
			// Content-Type's name differs from the filename: some
			// clients show that one (RFC 2183 §2.3 vs RFC 2046 §4.5.1).
			w.emitString("attachment:"+sc.namePrefix+name, KindFileName, alt)
		}
		var st cteState
		w.attachmentCTE(sc.namePrefix+name, name, mt, params, w.cteReader(h, body, &st), &st, depth, sc)
		return
	}
	var st cteState
	r := w.cteReader(h, body, &st)
	p := Part{DeclaredType: mt, Type: mt, Depth: depth}
	sp, hit, err := w.buffer(r, 0, true)
	defer sp.close()
	p.Size = sp.size
	if err != nil {
		p.Reason = err.Error()
		w.res.Parts = append(w.res.Parts, p)
		return
	}
	if hit != "" {
		p.Reason = string(hit)
		w.res.Parts = append(w.res.Parts, p)
		return
	}
	if note, damaged := st.note(); note != "" {
		p.Reason = note
		if damaged {
			w.problem("body part: %s", note)
		}
	}
	w.text(&p, sp, params, mt == "text/html", sc.bodyLoc, sc.bodyKind, false)
	w.res.Parts = append(w.res.Parts, p)
}

// isBodyType: the text types a mail reader shows as the message text.
func isBodyType(mt string) bool {
	switch mt {
	case "text/plain", "text/html", "text/enriched", "text/richtext", "text/x-aol", "text/flowed":
		return true
	}
	return false
}

func extFor(mt string) string {
	if m := mimetype.Lookup(mt); m != nil && m.Extension() != "" {
		return strings.TrimPrefix(m.Extension(), ".")
	}
	return "bin"
}

// attachment inspects one attachment (or uploaded file) read from r.
func (w *walker) attachment(name, declared string, r io.Reader, depth int, sc scope) {
	w.attachmentCTE(name, path.Base(name), declared, nil, r, nil, depth, sc)
}

func (w *walker) attachmentCTE(name, shown, declared string, params map[string]string, r io.Reader, st *cteState, depth int, sc scope) {
	loc := "attachment:" + name
	w.emitString(loc, KindFileName, shown)
	p := Part{Name: name, Attachment: true, DeclaredType: declared, Depth: depth}
	idx := len(w.res.Parts)
	w.res.Parts = append(w.res.Parts, p)
	sp, hit, err := w.buffer(r, 0, true)
	defer sp.close()
	p.Size = sp.size
	switch {
	case err != nil:
		p.Reason = err.Error()
	case hit != "":
		p.Reason = string(hit)
	default:
		if declared == "message/rfc822" || declared == "message/global" {
			p.Type = "message/rfc822"
			p.Inspected = true
			w.res.Parts[idx] = p
			w.embedded(sp.reader(), name, depth, sc)
			return
		}
		hi := hints{declared: declared, params: params}
		if depth == 0 && sc.bodyLoc == "body" && strings.Contains(declared, "pkcs7-mime") {
			hi.whole = &sc
		}
		w.dispatch(&p, sp, depth, hi)
		if note, damaged := st.note(); note != "" {
			p.Reason = joinReason(p.Reason, note)
			if damaged {
				w.problem("attachment %s: %s", name, note)
			}
		}
	}
	w.res.Parts[idx] = p
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + "; " + b
}

// hints are what the sender declared; used only where content cannot tell
// (S/MIME smime-type), never to skip reading.
type hints struct {
	declared string
	params   map[string]string
	// whole is set when the entity is the whole message (an opaque-signed
	// S/MIME message): its signed content is read as the message body.
	whole *scope
}

// dispatch reads a buffered file by its real type.
func (w *walker) dispatch(p *Part, sp *spill, depth int, hi hints) {
	size := sp.size
	p.Size = size
	if size == 0 {
		p.Type = "application/x-empty"
		p.Inspected = true // nothing to read
		return
	}
	head := sp.head(64 << 10)
	lower := strings.ToLower(p.Name)
	switch pgpKind(head) {
	case pgpEncrypted:
		p.Type = "application/pgp-encrypted"
		p.Encrypted = true
		p.Reason = "OpenPGP encrypted data: needs a key or passphrase"
		return
	case pgpSignature:
		p.Type = "application/pgp-signature"
		p.Signature = true
		p.Inspected = true
		p.Reason = "signature: not encryption"
		return
	}
	switch cmsKind(head) {
	case cmsEnveloped:
		p.Type = "application/pkcs7-mime"
		p.Encrypted = true
		p.Reason = "S/MIME enveloped data: needs the recipient's key"
		return
	case cmsSigned:
		if hi.declared == "application/pkcs7-signature" || hi.declared == "application/x-pkcs7-signature" || strings.HasSuffix(lower, ".p7s") {
			p.Type = "application/pkcs7-signature"
			p.Signature = true
			p.Inspected = true
			p.Reason = "signature: not encryption"
			return
		}
		p.Type = "application/pkcs7-mime"
		var content []byte
		ok := false
		w.guard(p, func() { content, ok = cmsSignedContent(sp) })
		if ok {
			p.Inspected = true
			p.Reason = "S/MIME signed data: its content was read"
			csp := w.newSpill()
			csp.Write(content)
			defer csp.close()
			if hi.whole != nil {
				// RFC 8551 §3.5.2: the signed content is a MIME entity,
				// here the body of the message itself.
				cbr := bufio.NewReader(csp.reader())
				h, hr, _ := mimemsg.ReadHeader(cbr, w.lim.MaxHeaderBytes)
				// Inside a part of the tree: not an entity of its own.
				inner := *hi.whole
				inner.path = ""
				w.entity(h, mimemsg.BodyReader(hr, cbr), depth+1, inner)
				return
			}
			w.embedded(csp.reader(), p.Name, depth, scope{})
			return
		}
		p.Reason = "S/MIME signed data that could not be opened"
		return
	}
	if strings.Contains(strings.ToLower(hi.params["smime-type"]), "enveloped") {
		p.Type = "application/pkcs7-mime"
		p.Encrypted = true
		p.Reason = "S/MIME enveloped data (declared): needs the recipient's key"
		return
	}

	if bytes.HasPrefix(head, tnefMagic) {
		w.guard(p, func() { w.tnef(p, sp, depth) })
		return
	}
	m := mimetype.Detect(head)
	typ := m.String()
	if i := strings.IndexByte(typ, ';'); i >= 0 {
		typ = typ[:i]
	}
	p.Type = typ
	switch {
	case isZip(m):
		w.guard(p, func() { w.zipLike(p, sp, depth) })
	case hasAncestor(m, "application/x-ole-storage"):
		encOLE := false
		w.guard(p, func() { encOLE = office.IsEncryptedOLE(sp, size) })
		if encOLE {
			p.Encrypted = true
			p.Reason = "password-protected Office document"
			return
		}
		p.Reason = "legacy binary Office or OLE file (.doc/.xls/.ppt/.msg): its text is not read"
	case typ == "application/pdf":
		w.guard(p, func() { w.pdf(p, sp) })
	case typ == "application/gzip" || typ == "application/x-gzip" || typ == "application/x-tar":
		w.guard(p, func() { w.archive(p, sp, depth, typ) })
	case typ == "message/rfc822" && looksLikeMail(sp):
		p.Inspected = true
		w.embedded(sp.reader(), p.Name, depth, scope{})
	case strings.HasPrefix(typ, "image/") && typ != "image/svg+xml",
		strings.HasPrefix(typ, "audio/"), strings.HasPrefix(typ, "video/"):
		if hasAppendedZip(sp, size) {
			// A ZIP appended to a picture (a polyglot) opens as an
			// archive in any unzip tool: it is read as one.
			p.Reason = "media file with a ZIP archive appended"
			w.guard(p, func() { w.archive(p, sp, depth, "application/zip") })
			return
		}
		p.Media = true
		p.Reason = "image, audio or video: no text layer (no OCR)"
		meta := mediaText(sp, size)
		if meta != "" {
			// its metadata text leaves with it: read
			e := w.newEmitter("attachment:"+p.Name, KindAttachment, false)
			e.WriteString(meta)
			e.close()
			p.Reason = "image, audio or video: metadata text read; no text layer (no OCR)"
		}
		if strings.HasPrefix(typ, "image/") {
			// 3.3.5: a scanned form or a photographed card is read by OCR.
			p.Reason = ""
			if meta != "" {
				p.Reason = "metadata text read"
			}
			w.guard(p, func() { w.ocrImage(p, sp, head) })
		}
	case typ == "text/rtf":
		e := w.newEmitter("attachment:"+p.Name, KindAttachment, false)
		err := rtfToText(sp.reader(), e)
		e.close()
		p.Charset = "rtf"
		switch {
		case e.truncated:
			p.Reason = joinReason(p.Reason, "text limit reached (MaxTextBytes)")
		case err != nil:
			p.Reason = joinReason(p.Reason, "RTF: "+err.Error())
		default:
			p.Inspected = true
		}
	case hasAncestor(m, "text/plain") || typ == "message/rfc822":
		table := typ == "text/csv" || typ == "text/tab-separated-values" ||
			strings.HasSuffix(lower, ".csv") || strings.HasSuffix(lower, ".tsv")
		w.text(p, sp, hi.params, typ == "text/html", "attachment:"+p.Name, KindAttachment, table)
	case unsupportedArchive[typ]:
		// archive.Open names the format and tells whether even its
		// listing is encrypted (7z -mhe, RAR -hp).
		w.guard(p, func() { w.archive(p, sp, depth, typ) })
		if p.Reason == "" {
			p.Reason = "archive format " + typ + " is not read"
		}
	case looksUTF16(head) != "":
		// UTF-16 text without a BOM (mimetype calls it binary): read as
		// the text it is rather than held unread.
		cs := looksUTF16(head)
		p.Type = "text/plain"
		params := map[string]string{"charset": cs}
		table := strings.HasSuffix(lower, ".csv") || strings.HasSuffix(lower, ".tsv")
		w.text(p, sp, params, false, "attachment:"+p.Name, KindAttachment, table)
	default:
		if strings.HasSuffix(lower, ".gpg") || strings.HasSuffix(lower, ".pgp") {
			p.Encrypted = true
			p.Reason = "OpenPGP data by its name (.gpg/.pgp)"
			return
		}
		p.Reason = "unknown binary format " + typ + ": not read"
	}
}

var unsupportedArchive = map[string]bool{
	"application/x-7z-compressed": true, "application/x-rar-compressed": true,
	"application/vnd.rar": true, "application/x-lzh-compressed": true,
	"application/vnd.ms-cab-compressed": true, "application/x-bzip2": true,
	"application/x-xz": true, "application/zstd": true, "application/x-lzip": true,
	"application/x-archive": true, "application/x-cpio": true,
}

func hasAncestor(m *mimetype.MIME, typ string) bool {
	for ; m != nil; m = m.Parent() {
		if m.Is(typ) {
			return true
		}
	}
	return false
}

func isZip(m *mimetype.MIME) bool {
	return hasAncestor(m, "application/zip")
}

// guard runs a format reader so that a bug in it on a hostile file fails
// closed for that part (not inspected, with the reason) instead of taking
// the relay down.
func (w *walker) guard(p *Part, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			p.Inspected = false
			p.Reason = joinReason(p.Reason, fmt.Sprintf("internal error while reading %s: %v", p.Type, r))
			w.log.Error("inspect: reader panicked", "part", p.Name, "type", p.Type, "panic", r)
		}
	}()
	fn()
}

// text decodes a text file or body and sends it.
func (w *walker) text(p *Part, sp *spill, params map[string]string, isHTML bool, loc string, kind Kind, table bool) {
	var sn mimemsg.Sniffer
	io.Copy(&sn, sp.reader())
	enc, name, reason := resolveCharset(params["charset"], &sn)
	p.Charset = name
	if reason != "" {
		p.Reason = joinReason(p.Reason, reason)
	}
	var r io.Reader
	if enc == unicode.UTF8BOM && sn.ValidUTF8NoBOM() {
		r = sp.reader() // already what the decoder would give
	} else {
		r = mimemsg.DecodingReader(sp.reader(), enc)
	}
	if strings.EqualFold(params["format"], "flowed") && !isHTML {
		r = newFlowed(r, strings.EqualFold(params["delsp"], "yes"))
	}
	if isHTML {
		table = table || hasTable(sp, sp.size)
	}
	e := w.newEmitter(loc, kind, table)
	var err error
	if isHTML {
		var (
			uris  []string
			held  int
			over  bool
			limit = min(w.lim.MaxPartBytes, 32<<20)
		)
		err = htmlToTextData(r, e, func(uri string) {
			// Held until the HTML text is done; bounded like a part.
			if len(uris) >= 100 || int64(held+len(uri)) > limit {
				over = true
				return
			}
			uris = append(uris, uri)
			held += len(uri)
		})
		if over {
			p.Reason = joinReason(p.Reason, "too many or too large data: URIs in the HTML")
			defer func() { p.Inspected = false }()
		}
		defer w.dataURIs(p, uris)
	} else {
		_, err = io.Copy(e, r)
	}
	e.close()
	switch {
	case e.truncated:
		p.Reason = joinReason(p.Reason, "text limit reached (MaxTextBytes)")
	case err != nil:
		p.Reason = joinReason(p.Reason, "text decoding: "+err.Error())
	default:
		p.Inspected = true
	}
	if !isHTML {
		if err == nil && !e.truncated {
			w.decodedView(p, sp, enc, loc, kind, table)
		}
		if enc := undecodedEncoding(sp); enc != "" {
			// A file encoded in the text in a way inspect does not decode
			// is noise to the detectors: fail closed.
			p.Reason = joinReason(p.Reason, enc+" data in the text is not decoded")
			p.Inspected = false
		}
		w.uuencoded(p, sp, p.Depth)
		w.pastedBase64(p, sp, p.Depth)
	}
}

// resolveCharset picks the decoder: the declared label when the text can be
// in it, else what the content says. A wrong or unknown label is reported
// but does not leave the part unread.
func resolveCharset(label string, sn *mimemsg.Sniffer) (enc encoding.Encoding, name, reason string) {
	sniffed, sure := sn.Result()
	if label == "" {
		return mimemsg.EncodingFor(sniffed), sniffed, ""
	}
	e, cname, ok := mimemsg.LookupCharset(label)
	if !ok {
		return mimemsg.EncodingFor(sniffed), sniffed, fmt.Sprintf("unknown charset %q, decoded as %s", label, sniffed)
	}
	// A 7-bit label on 8-bit text is wrong for sure; otherwise the label
	// gives way only to a charset the text is valid in (UTF-8 with one
	// bad byte stays UTF-8).
	sevenBit := cname == mimemsg.CharsetASCII || cname == mimemsg.CharsetISO2022JP
	if !mimemsg.VerifyDeclared(cname, sn) && sniffed != cname && (sure || sevenBit) {
		return mimemsg.EncodingFor(sniffed), sniffed, fmt.Sprintf("declared charset %q does not fit the text, decoded as %s", label, sniffed)
	}
	return e, cname, ""
}

// zipLike reads a ZIP container: an office document first (mimetype calls
// a DOCX whose [Content_Types].xml comes late a plain ZIP), else an archive.
func (w *walker) zipLike(p *Part, sp *spill, depth int) {
	doc, err := office.Extract(sp, sp.size, w.textRoom(), w.lim.MaxPartBytes)
	if errors.Is(err, office.ErrNotOffice) {
		w.archive(p, sp, depth, "application/zip")
		return
	}
	if doc != nil {
		if t := officeTypes[doc.Format]; t != "" {
			p.Type = t
		}
		loc := "attachment:" + p.Name
		truncated := false
		for _, s := range doc.Sections {
			e := w.newEmitter(loc, KindAttachment, s.Table)
			e.WriteString(s.Text)
			e.close()
			truncated = truncated || e.truncated
		}
		switch {
		case doc.Truncated || truncated:
			p.Reason = joinReason(p.Reason, "document text truncated (text limit)")
		case err == nil:
			p.Inspected = true
		}
	}
	switch {
	case errors.Is(err, office.ErrEncrypted):
		p.Encrypted = true
		p.Reason = joinReason(p.Reason, "password-protected document")
	case errors.Is(err, office.ErrLimit):
		p.Reason = joinReason(p.Reason, "document part over the size or ratio limit (possible bomb)")
	case errors.Is(err, office.ErrMalformed):
		// Read leniently for the detectors, but a damaged document is
		// never a pass (3.3.5).
		p.Reason = joinReason(p.Reason, "damaged document (XML not well-formed), read as far as it goes: "+err.Error())
	case err != nil:
		p.Reason = joinReason(p.Reason, "office document could not be read: "+err.Error())
	}
}

var officeTypes = map[string]string{
	"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	"odt":  "application/vnd.oasis.opendocument.text",
	"ods":  "application/vnd.oasis.opendocument.spreadsheet",
	"odp":  "application/vnd.oasis.opendocument.presentation",
}

func (w *walker) textRoom() int64 {
	room := w.lim.MaxTextBytes - w.res.TextBytes
	if room < 0 {
		return 0
	}
	return room
}

// pdf reads a PDF's text layer. One that opens without a password is read
// (for 3.3.5 it is not encrypted); one that needs a password is encrypted.
// Files attached inside the PDF leave with it, so each is inspected like an
// archive member ("x.pdf/meibo.csv").
func (w *walker) pdf(p *Part, sp *spill) {
	r, err := pdf.ExtractContext(w.ctx, sp, sp.size, w.textRoom(), w.lim.MaxPartBytes)
	if r != nil && r.NeedsPassword {
		p.Encrypted = true
		p.Reason = "PDF needs a password to open"
		return
	}
	complete := err == nil && r != nil
	if r != nil {
		e := w.newEmitter("attachment:"+p.Name, KindAttachment, false)
		e.WriteString(r.Text)
		e.close()
		if r.Encrypted {
			p.Reason = joinReason(p.Reason, "PDF encrypted with an empty user password: read")
		}
		if r.Truncated || e.truncated {
			p.Reason = joinReason(p.Reason, "PDF text truncated (text limit)")
			complete = false
		}
		if r.Incomplete {
			// Some content may not be in the text: not passed as read.
			p.Reason = joinReason(p.Reason, r.Reason())
			complete = false
		}
		// 3.3.5: scanned pages are read by OCR. A scanned document that
		// was not read (OCR off or failed) is media, as image attachments
		// are, and an unread scan for the policy.
		allRead := false
		w.guard(p, func() { allRead = w.ocrPDF(p, r) })
		if r.ImagesOnly && !allRead {
			p.Media = true
			complete = false
		} else if !allRead && w.lim.OCR != nil {
			// OCR was asked for and failed on some page: not passed as read.
			complete = false
		}
		for i, ef := range r.Embedded {
			if !w.checkCtx() || !w.countPart() {
				complete = false
				break
			}
			base := mimemsg.CleanName(ef.Name)
			if base == "" {
				base = fmt.Sprintf("embedded-%d", i+1)
			}
			name := p.Name + "/" + base
			if ef.Err != nil {
				w.res.Parts = append(w.res.Parts, Part{Name: name, Attachment: true, Depth: p.Depth + 1,
					Reason: "file embedded in the PDF could not be decoded: " + ef.Err.Error()})
				continue
			}
			w.attachmentCTE(name, base, "", nil, bytes.NewReader(ef.Data), nil, p.Depth+1, scope{})
		}
	}
	if err != nil {
		p.Reason = joinReason(p.Reason, "PDF could not be read: "+err.Error())
	}
	p.Inspected = complete
}

// archive lists an archive and inspects each member as a file of its own
// ("outer.zip/inner.csv"), nested archives included, within the limits.
func (w *walker) archive(p *Part, sp *spill, depth int, typ string) {
	a, err := archive.OpenWith(sp, sp.size, typ, archive.Options{Name: path.Base(p.Name), MaxRatio: w.lim.MaxCompressionRatio})
	var ue *archive.UnsupportedError
	switch {
	case errors.As(err, &ue):
		p.Reason = fmt.Sprintf("archive format %s is not read", ue.Format)
		if ue.HeaderEncrypted {
			p.Encrypted = true
			p.Reason = fmt.Sprintf("encrypted %s archive (its listing too): needs a password", ue.Format)
		}
		return
	case errors.Is(err, archive.ErrRatio):
		p.Reason = fmt.Sprintf("compression ratio over %d:1 (MaxCompressionRatio): possible archive bomb", w.lim.MaxCompressionRatio)
		return
	case err != nil:
		p.Reason = joinReason(p.Reason, "archive could not be opened: "+err.Error())
		return
	}
	entries, err := a.Entries(w.lim.MaxArchiveEntries)
	complete := true
	if err != nil {
		complete = false
		if errors.Is(err, archive.ErrTooManyEntries) {
			p.Reason = joinReason(p.Reason, fmt.Sprintf("more than %d entries (MaxArchiveEntries): the rest not read", w.lim.MaxArchiveEntries))
		} else {
			p.Reason = joinReason(p.Reason, "archive listing: "+err.Error())
		}
	}
	encrypted := 0
	for i, e := range entries {
		if e.Dir {
			continue
		}
		if !w.checkCtx() || !w.countPart() {
			complete = false
			break
		}
		name := p.Name + "/" + mimemsg.CleanName(e.Name)
		mp := Part{Name: name, Attachment: true, Size: e.Size, Depth: depth + 1, Encrypted: e.Encrypted}
		loc := "attachment:" + name
		w.emitString(loc, KindFileName, mimemsg.CleanName(e.Name))
		idx := len(w.res.Parts)
		w.res.Parts = append(w.res.Parts, mp)
		mp = w.member(a, i, e, mp, p.Size, depth)
		if mp.Encrypted {
			encrypted++
		}
		w.res.Parts[idx] = mp
	}
	if encrypted > 0 {
		// A ZIP with ZipCrypto/AES members is "an encrypted ZIP" (3.3.5).
		p.Encrypted = true
		p.Reason = joinReason(p.Reason, fmt.Sprintf("%d encrypted member(s)", encrypted))
		return
	}
	p.Inspected = complete
}

// member buffers and dispatches one archive member.
func (w *walker) member(a archive.Archive, i int, e archive.Entry, mp Part, archiveSize int64, depth int) Part {
	if e.Encrypted {
		mp.Reason = "encrypted archive member: needs a password"
		return mp
	}
	if depth+1 > w.lim.MaxDepth {
		w.problem("archives nested deeper than %d (MaxDepth)", w.lim.MaxDepth)
		mp.Reason = "nested too deep (MaxDepth)"
		return mp
	}
	comp := e.CompressedSize
	if comp <= 0 {
		comp = archiveSize
	}
	ratioCap := comp * w.lim.MaxCompressionRatio
	if ratioCap < ratioFloor {
		ratioCap = ratioFloor
	}
	if e.Size > ratioCap {
		mp.Reason = fmt.Sprintf("declared size %d over compression ratio %d:1 (MaxCompressionRatio): possible archive bomb", e.Size, w.lim.MaxCompressionRatio)
		return mp
	}
	rc, err := a.Open(i)
	if err != nil {
		mp.Reason = "member could not be opened: " + err.Error()
		return mp
	}
	sp, hit, rerr := w.buffer(rc, ratioCap, false)
	rc.Close()
	defer sp.close()
	mp.Size = sp.size
	if hit != "" {
		mp.Reason = string(hit)
		return mp
	}
	// A damaged member (CRC or format error): what was read is still
	// scanned, but the member counts as not inspected.
	w.dispatch(&mp, sp, depth+1, hints{})
	if rerr != nil {
		mp.Inspected = false
		mp.Reason = joinReason(mp.Reason, "read error: "+rerr.Error())
	}
	return mp
}

// --- OpenPGP and CMS (S/MIME) recognition ---

const (
	pgpNone = iota
	pgpEncrypted
	pgpSignature
)

// pgpKind recognises OpenPGP data: armored (RFC 9580 §6.2) or binary,
// starting with a PKESK (tag 1) or SKESK (tag 3) packet, or an encrypted
// data packet (tags 9, 18, 20).
func pgpKind(head []byte) int {
	t := bytes.TrimLeft(head, " \t\r\n")
	switch {
	case bytes.HasPrefix(t, []byte("-----BEGIN PGP MESSAGE-----")):
		return pgpEncrypted
	case bytes.HasPrefix(t, []byte("-----BEGIN PGP SIGNATURE-----")):
		return pgpSignature
	}
	if len(head) < 4 || head[0]&0x80 == 0 {
		return pgpNone
	}
	var tag, hlen int
	b := head[0]
	if b&0x40 != 0 {
		tag = int(b & 0x3f)
		switch l := head[1]; {
		case l < 192:
			hlen = 2
		case l < 224:
			hlen = 3
		case l == 255:
			hlen = 6
		default:
			hlen = 2 // partial length
		}
	} else {
		tag = int(b>>2) & 0x0f
		switch b & 3 {
		case 0:
			hlen = 2
		case 1:
			hlen = 3
		case 2:
			hlen = 5
		default:
			hlen = 1
		}
	}
	if hlen >= len(head) {
		return pgpNone
	}
	v := head[hlen]
	switch tag {
	case 1: // PKESK: version 3 or 6
		if v == 3 || v == 6 {
			return pgpEncrypted
		}
	case 3: // SKESK: version 4, 5 or 6
		if v == 4 || v == 5 || v == 6 {
			return pgpEncrypted
		}
	case 18: // SEIPD: version 1 or 2
		if (v == 1 || v == 2) && b&0x40 != 0 {
			return pgpEncrypted
		}
	}
	return pgpNone
}

const (
	cmsNone = iota
	cmsEnveloped
	cmsSigned
)

var (
	oidEnveloped     = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03}
	oidSigned        = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}
	oidAuthEnveloped = []byte{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17}
)

// cmsKind recognises a CMS ContentInfo (RFC 5652 §3): a DER/BER SEQUENCE
// whose first element is the content-type OID.
func cmsKind(head []byte) int {
	if len(head) < 16 || head[0] != 0x30 {
		return cmsNone
	}
	win := head
	if len(win) > 24 {
		win = win[:24]
	}
	switch {
	case bytes.Contains(win, oidEnveloped), bytes.Contains(win, oidAuthEnveloped):
		return cmsEnveloped
	case bytes.Contains(win, oidSigned):
		return cmsSigned
	}
	return cmsNone
}

// mailFields are header fields of real mail. mimetype calls any text that
// starts with "Date:" or "From:" a message; a text file such as
// "Date: …\nName: …\nMyNumber: …" must still be read as text, since a
// message's other header fields are not read as content.
var mailFields = map[string]bool{
	"Date": true, "From": true, "Sender": true, "Reply-To": true, "To": true, "Cc": true, "Bcc": true,
	"Message-Id": true, "In-Reply-To": true, "References": true, "Subject": true, "Comments": true,
	"Keywords": true, "Received": true, "Return-Path": true, "Delivered-To": true, "Mime-Version": true,
	"Organization": true, "User-Agent": true, "Importance": true, "Priority": true, "Precedence": true,
	"Received-Spf": true, "Errors-To": true, "Envelope-To": true, "Sensitivity": true,
}

func looksLikeMail(sp *spill) bool {
	h, hr, err := mimemsg.ReadHeader(bufio.NewReader(io.NewSectionReader(sp, 0, min(sp.size, 256<<10))), 256<<10)
	if err != nil || hr.Truncated || len(hr.Leftover) > 0 || len(h) < 2 {
		return false
	}
	for _, f := range h {
		k := f.Key
		if mailFields[k] {
			continue
		}
		known := false
		for _, pre := range []string{"X-", "List-", "Content-", "Arc-", "Dkim-", "Authentication-", "Thread-",
			"Resent-", "Disposition-", "Auto-", "Accept-", "Original-", "Return-", "Mail-"} {
			if strings.HasPrefix(k, pre) {
				known = true
				break
			}
		}
		if !known {
			return false
		}
	}
	return true
}

// dataURIs inspects files carried in HTML as data: URIs (RFC 2397) like
// attachments: "data:text/csv;base64,…" leaves with the message as much as
// an attached CSV does. Images among them are media, as attachments are.
func (w *walker) dataURIs(p *Part, uris []string) {
	for i, uri := range uris {
		meta, data, ok := strings.Cut(uri[len("data:"):], ",")
		if !ok {
			continue
		}
		mt := strings.ToLower(strings.TrimSpace(strings.Split(meta, ";")[0]))
		var raw []byte
		if strings.HasSuffix(strings.ToLower(meta), ";base64") {
			raw, _ = mimemsg.DecodeBase64([]byte(data))
		} else {
			raw = mimemsg.PercentDecode(data, true)
		}
		name := fmt.Sprintf("data-uri-%d.%s", i+1, extFor(orDefault(mt, "text/plain")))
		if p.Name != "" {
			name = p.Name + "/" + name
		}
		if !w.countPart() {
			return
		}
		w.attachmentCTE(name, path.Base(name), mt, nil, bytes.NewReader(raw), nil, p.Depth+1, scope{})
	}
}

// hasAppendedZip reports whether a file opens as a ZIP with at least one
// entry: its end-of-central-directory record is in the last 64 KiB and
// its directory parses (random image data does not).
func hasAppendedZip(r io.ReaderAt, size int64) bool {
	tail := make([]byte, min(size, 64<<10+22))
	if n, _ := r.ReadAt(tail, size-int64(len(tail))); n != len(tail) || !bytes.Contains(tail, []byte("PK\x05\x06")) {
		return false
	}
	zr, err := zip.NewReader(r, size)
	return err == nil && len(zr.File) > 0
}

// altName returns the Content-Type name of an entity when it differs from
// the chosen file name; "" otherwise.
func altName(h mimemsg.Header, name string) string {
	_, cp := mimemsg.ParseParams(h.Get("Content-Type"))
	alt := mimemsg.CleanName(cp["name"])
	if alt == "" || alt == name {
		return ""
	}
	return alt
}

// undecodedEncoding names a binary-to-text encoding found in a text part
// that inspect does not decode (BinHex 4.0, yEnc), or "".
func undecodedEncoding(sp *spill) string {
	switch {
	case containsAt(sp, sp.size, []byte("(this file must be converted with binhex"), true):
		return "BinHex"
	case bytes.HasPrefix(sp.head(8), []byte("=ybegin ")) || containsAt(sp, sp.size, []byte("\n=ybegin "), false):
		return "yEnc"
	}
	return ""
}

// looksUTF16 returns "utf-16le" or "utf-16be" when head reads as text in
// that byte order: no unpaired surrogate, and at least 95% of the code
// units are printable characters or white space; "" otherwise.
func looksUTF16(head []byte) string {
	n := len(head) &^ 1
	if n < 16 {
		return ""
	}
	best, bestName := 0, ""
	for _, order := range []struct {
		name string
		le   bool
	}{{mimemsg.CharsetUTF16LE, true}, {mimemsg.CharsetUTF16BE, false}} {
		good, ascii, units := 0, 0, n/2
		highPending := false
		bad := false
		for i := 0; i+1 < n; i += 2 {
			u := rune(head[i])<<8 | rune(head[i+1])
			if order.le {
				u = rune(head[i+1])<<8 | rune(head[i])
			}
			switch {
			case u >= 0xD800 && u <= 0xDBFF:
				if highPending {
					bad = true
				}
				highPending = true
				continue
			case u >= 0xDC00 && u <= 0xDFFF:
				if !highPending {
					bad = true
				}
				highPending = false
				good += 2
				continue
			}
			if highPending {
				bad = true
			}
			if u < 0x80 {
				ascii++ // the tie-breaker: ASCII in the wrong order reads as CJK
			}
			if u == '\t' || u == '\n' || u == '\r' || u >= 0x20 && u < 0x7F || u >= 0xA0 && u < 0x2000 ||
				u >= 0x2000 && u < 0x2070 || u >= 0x3000 && u < 0xA000 || u >= 0xFF00 && u < 0xFFF0 {
				good++
			}
		}
		if bad {
			continue
		}
		if good*100 >= units*95 && good+ascii > best {
			best, bestName = good+ascii, order.name
		}
	}
	return bestName
}
