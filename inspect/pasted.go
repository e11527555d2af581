package inspect

import (
	"bufio"
	"bytes"
	"dlpguard/mimemsg"
	"strconv"
	"unicode/utf8"
)

// A file pasted into a text body as base64 (by hand, or by a mailer that
// labels a base64 body 8bit) reads as noise, and the noise hides what it
// carries. Like uuencode, each block of base64 lines is decoded; when the
// result is text or a container inspect reads (ZIP, gzip, PDF, OLE, 7z), it
// is inspected as an attachment. Other binary results (keys, hashes,
// random tokens) are left alone: holding on them would hold mail for
// nothing, and they carry no readable text.
//
// Encrypted content pasted into a body is the exception: an ASCII-armoured
// OpenPGP message (-----BEGIN PGP MESSAGE-----, quoted in a reply or not),
// a PEM-armoured CMS/PKCS #7 block, or a bare base64 block that decodes to
// OpenPGP encrypted packets or CMS EnvelopedData is content nobody here can
// read. It becomes a part of its own, which the file-type sniffing reports
// as encrypted, so the message is held like an encrypted attachment
// (3.3.5: what cannot be inspected does not leave unseen).

const (
	minPastedChars = 32      // shorter runs are tokens, not files
	maxPastedBytes = 8 << 20 // base64 characters kept for one block
)

// base64Line reports a line of the base64 alphabet only, padding at the
// end, at least 16 characters, not all hex digits (hashes and ids).
func base64Line(l []byte) bool {
	l = bytes.TrimRight(l, " \t")
	if len(l) < 16 {
		return false
	}
	pad, hex := 0, true
	for i, c := range l {
		switch {
		case c == '=':
			pad++
			if i < len(l)-2 {
				return false
			}
		case pad > 0:
			return false
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '+', c == '/':
			hex = false
		default:
			return false
		}
	}
	return !hex
}

// pastedBase64 finds the base64 blocks of a text part and inspects those
// that decode to something readable.
func (w *walker) pastedBase64(p *Part, sp *spill, depth int) {
	if depth+1 > w.lim.MaxDepth {
		return
	}
	br := bufio.NewReaderSize(sp.reader(), 16<<10)
	var (
		line  []byte
		block []byte
		armor int // inside -----BEGIN … -----: one of the armor* kinds
		n     int
	)
	emit := func(prefix string, data []byte) {
		if !w.countPart() {
			return
		}
		n++
		name := prefix + strconv.Itoa(n)
		if p.Name != "" {
			name = p.Name + "/" + name
		}
		w.attachment(name, "", bytes.NewReader(data), depth+1, scope{})
	}
	flush := func() {
		b := block
		block = block[:0]
		if len(bytes.TrimSpace(b)) < minPastedChars || w.stopped {
			return
		}
		data, _ := mimemsg.DecodeBase64(b)
		if !readableBlob(data) && !encryptedBlob(data) {
			return
		}
		emit("pasted-base64-", data)
	}
	endArmor := func() {
		switch armor {
		case armorPGP:
			// The armour header is enough for the sniffing to call it
			// OpenPGP encrypted; the rest is ciphertext.
			if !w.stopped {
				emit("pasted-pgp-", []byte("-----BEGIN PGP MESSAGE-----\n"))
			}
		case armorCMS:
			if len(bytes.TrimSpace(block)) > 0 && !w.stopped {
				data, _ := mimemsg.DecodeBase64(block)
				if cmsKind(data) != cmsNone {
					emit("pasted-pkcs7-", data)
				}
			}
		}
		armor = armorNone
		block = block[:0]
	}
	for {
		var err error
		line, err = mimemsg.ReadLine(br, line[:0], 64<<10)
		l := bytes.TrimSpace(mimemsg.TrimEOL(line))
		// A reply quotes the pasted block ("> -----BEGIN PGP MESSAGE-----").
		q := unquote(l)
		switch {
		case bytes.HasPrefix(q, []byte("-----BEGIN ")):
			if armor != armorNone {
				endArmor()
			}
			flush()
			armor = armorKind(q)
		case bytes.HasPrefix(q, []byte("-----END ")):
			endArmor()
		case armor == armorCMS:
			if base64Line(q) && len(block)+len(q) <= maxPastedBytes {
				block = append(block, q...)
			}
		case armor != armorNone:
		case base64Line(l):
			if len(block)+len(l) <= maxPastedBytes {
				block = append(block, l...)
			}
		default:
			flush()
		}
		if err != nil {
			if armor != armorNone {
				endArmor() // a block cut short is still encrypted
			}
			flush()
			return
		}
	}
}

// Kinds of armoured blocks in a text.
const (
	armorNone  = iota
	armorOther // certificates, keys, signatures: no content of their own
	armorPGP   // -----BEGIN PGP MESSAGE-----: OpenPGP encrypted
	armorCMS   // -----BEGIN PKCS7----- / CMS: S/MIME enveloped or signed
)

// armorKind names the block an armour header line opens.
func armorKind(l []byte) int {
	label := bytes.TrimSuffix(bytes.TrimPrefix(l, []byte("-----BEGIN ")), []byte("-----"))
	switch string(bytes.TrimSpace(label)) {
	case "PGP MESSAGE":
		return armorPGP
	case "PKCS7", "PKCS #7 SIGNED DATA", "CMS":
		return armorCMS
	}
	return armorOther
}

// unquote strips the "> " marks a reply puts before quoted lines.
func unquote(l []byte) []byte {
	for len(l) > 0 && l[0] == '>' {
		l = bytes.TrimLeft(l[1:], " \t")
	}
	return l
}

// encryptedBlob reports decoded bytes that are a CMS ContentInfo
// (enveloped: encrypted; signed: its content is read) or OpenPGP encrypted
// packets: pasted S/MIME or binary OpenPGP. The OpenPGP test looks at two
// or three bytes only, so a short random token (a key, a nonce) could pass
// it by chance: only a block of minPGPBlob bytes or more counts.
func encryptedBlob(b []byte) bool {
	return cmsKind(b) != cmsNone || (len(b) >= minPGPBlob && pgpKind(b) == pgpEncrypted)
}

// minPGPBlob is the least decoded size of a bare base64 block taken for
// binary OpenPGP: a session key packet and an encrypted packet are more.
const minPGPBlob = 256

// readableBlob reports decoded bytes that are text (UTF-8 without
// controls) or start like a container inspect reads.
func readableBlob(b []byte) bool {
	for _, magic := range [][]byte{{'P', 'K', 3, 4}, {0x1f, 0x8b}, []byte("%PDF-"),
		{0xD0, 0xCF, 0x11, 0xE0}, {'7', 'z', 0xBC, 0xAF}, []byte("Rar!")} {
		if bytes.HasPrefix(b, magic) {
			return true
		}
	}
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}
