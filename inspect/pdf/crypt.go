package pdf

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rc4"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// The standard security handler (ISO 32000-1 §7.6.3, ISO 32000-2 §7.6.4).
// We only ever try the empty user password: a file that opens with it is
// readable by anyone, so for a DLP guard it is not encrypted and is read.

// cipherKind is how strings or streams are encrypted.
type cipherKind int

const (
	cipherNone cipherKind = iota // Identity
	cipherRC4
	cipherAESV2
	cipherAESV3
)

type decrypter struct {
	key      []byte
	stm, str cipherKind
	// encryptMetadata false leaves /Metadata streams in clear (§7.6.3.2).
	encryptMetadata bool
	encryptRef      objRef // the /Encrypt dictionary itself is never encrypted
}

var errNeedsPassword = errors.New("pdf: needs a password")

// padding is the 32-byte password padding string (§7.6.3.3, Algorithm 2).
var padding = []byte{
	0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA, 0x01, 0x08,
	0x2E, 0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE, 0x64, 0x53, 0x69, 0x7A,
}

// setupCrypt reads the /Encrypt dictionary and tries the empty user
// password. It returns errNeedsPassword when that does not open the file.
func (d *document) setupCrypt() error {
	encRef, _ := d.trailer["Encrypt"].(objRef)
	enc, ok := d.resolve(d.trailer["Encrypt"]).(dict)
	if !ok {
		return errors.New("pdf: /Encrypt is not a dictionary")
	}
	filter, _ := d.resolve(enc["Filter"]).(name)
	if filter != "Standard" {
		// Public-key (/Adobe.PubSec) and other handlers need a key we do
		// not have.
		return fmt.Errorf("%w: security handler /%s", errNeedsPassword, filter)
	}
	v, _ := d.resolve(enc["V"]).(int64)
	r, _ := d.resolve(enc["R"]).(int64)
	o := bytesOf(d.resolve(enc["O"]))
	u := bytesOf(d.resolve(enc["U"]))
	p, _ := d.resolve(enc["P"]).(int64)
	length := int64(40)
	if l, ok := d.resolve(enc["Length"]).(int64); ok {
		length = l
	}
	encMeta := true
	if b, ok := d.resolve(enc["EncryptMetadata"]).(bool); ok {
		encMeta = b
	}
	var id0 []byte
	if ids, ok := d.resolve(d.trailer["ID"]).(array); ok && len(ids) > 0 {
		id0 = bytesOf(d.resolve(ids[0]))
	}
	c := &decrypter{encryptMetadata: encMeta, encryptRef: encRef}
	switch {
	case v == 1 || v == 2:
		c.stm, c.str = cipherRC4, cipherRC4
	case v == 4 || v == 5:
		c.stm = d.cryptFilter(enc, "StmF")
		c.str = d.cryptFilter(enc, "StrF")
	default:
		return fmt.Errorf("%w: unsupported /V %d", errNeedsPassword, v)
	}
	switch {
	case r >= 2 && r <= 4:
		if v == 1 || r == 2 {
			length = 40
		}
		if length < 40 || length > 128 || length%8 != 0 {
			length = 128
		}
		if len(o) < 32 || len(u) < 32 {
			return fmt.Errorf("%w: bad /O or /U", errNeedsPassword)
		}
		key := keyR4(nil, o[:32], uint32(p), id0, int(r), int(length/8), encMeta)
		if !checkUserR4(key, u, id0, int(r)) {
			return errNeedsPassword
		}
		c.key = key
	case r == 5 || r == 6:
		ue := bytesOf(d.resolve(enc["UE"]))
		if len(u) < 48 || len(ue) < 32 {
			return fmt.Errorf("%w: bad /U or /UE", errNeedsPassword)
		}
		key, ok := keyR6(nil, u[:48], ue[:32], int(r))
		if !ok {
			return errNeedsPassword
		}
		c.key = key
	default:
		return fmt.Errorf("%w: unsupported /R %d", errNeedsPassword, r)
	}
	d.crypt = c
	// Objects read before the key was known hold encrypted strings.
	d.objs = map[int]any{}
	d.stmNum = -1
	return nil
}

// cryptFilter maps /StmF or /StrF to a cipher through /CF (§7.6.5).
func (d *document) cryptFilter(enc dict, key name) cipherKind {
	fname, _ := d.resolve(enc[key]).(name)
	if fname == "" || fname == "Identity" {
		return cipherNone
	}
	cf, _ := d.resolve(enc["CF"]).(dict)
	f, _ := d.resolve(cf[fname]).(dict)
	switch m, _ := d.resolve(f["CFM"]).(name); m {
	case "V2":
		return cipherRC4
	case "AESV2":
		return cipherAESV2
	case "AESV3":
		return cipherAESV3
	case "None":
		return cipherNone
	}
	return cipherRC4
}

func bytesOf(v any) []byte {
	s, _ := v.(pdfString)
	return []byte(s)
}

// keyR4 computes the file key from a user password (Algorithm 2).
func keyR4(pw, o []byte, p uint32, id0 []byte, r, n int, encMeta bool) []byte {
	h := md5.New()
	h.Write(padPassword(pw))
	h.Write(o)
	var pb [4]byte
	binary.LittleEndian.PutUint32(pb[:], p)
	h.Write(pb[:])
	h.Write(id0)
	if r >= 4 && !encMeta {
		h.Write([]byte{0xff, 0xff, 0xff, 0xff})
	}
	sum := h.Sum(nil)
	if r >= 3 {
		for i := 0; i < 50; i++ {
			s := md5.Sum(sum[:n])
			sum = s[:]
		}
	}
	if n > len(sum) {
		n = len(sum)
	}
	return sum[:n]
}

func padPassword(pw []byte) []byte {
	b := make([]byte, 32)
	n := copy(b, pw)
	copy(b[n:], padding)
	return b
}

// checkUserR4 checks the key against /U (Algorithms 4, 5 and 6).
func checkUserR4(key, u, id0 []byte, r int) bool {
	if r == 2 {
		c, err := rc4.NewCipher(key)
		if err != nil {
			return false
		}
		out := make([]byte, 32)
		c.XORKeyStream(out, padding)
		return bytes.Equal(out, u[:32])
	}
	h := md5.New()
	h.Write(padding)
	h.Write(id0)
	out := h.Sum(nil)
	k := make([]byte, len(key))
	for i := 0; i < 20; i++ {
		for j := range key {
			k[j] = key[j] ^ byte(i)
		}
		c, err := rc4.NewCipher(k)
		if err != nil {
			return false
		}
		c.XORKeyStream(out, out)
	}
	return bytes.Equal(out[:16], u[:16])
}

// keyR6 validates a user password against /U and unwraps the file key from
// /UE (ISO 32000-2 Algorithms 2.A and 11).
func keyR6(pw, u, ue []byte, r int) ([]byte, bool) {
	if len(pw) > 127 {
		pw = pw[:127]
	}
	hash := hashR6(pw, u[32:40], nil, r)
	if !bytes.Equal(hash, u[:32]) {
		return nil, false
	}
	ik := hashR6(pw, u[40:48], nil, r)
	block, err := aes.NewCipher(ik)
	if err != nil {
		return nil, false
	}
	key := make([]byte, 32)
	cipher.NewCBCDecrypter(block, make([]byte, 16)).CryptBlocks(key, ue[:32])
	return key, true
}

// hashR6 is Algorithm 2.B (R6); R5 (an Adobe extension level 3 draft) used
// the plain SHA-256.
func hashR6(pw, salt, udata []byte, r int) []byte {
	h := sha256.New()
	h.Write(pw)
	h.Write(salt)
	h.Write(udata)
	k := h.Sum(nil)
	if r == 5 {
		return k
	}
	for i := 0; ; i++ {
		k1 := make([]byte, 0, 64*(len(pw)+len(k)+len(udata)))
		for j := 0; j < 64; j++ {
			k1 = append(k1, pw...)
			k1 = append(k1, k...)
			k1 = append(k1, udata...)
		}
		block, err := aes.NewCipher(k[:16])
		if err != nil {
			return nil
		}
		e := make([]byte, len(k1))
		cipher.NewCBCEncrypter(block, k[16:32]).CryptBlocks(e, k1)
		sum := 0
		for _, b := range e[:16] {
			sum += int(b)
		}
		var hh hash.Hash
		switch sum % 3 {
		case 0:
			hh = sha256.New()
		case 1:
			hh = sha512.New384()
		default:
			hh = sha512.New()
		}
		hh.Write(e)
		k = hh.Sum(nil)
		if i >= 63 && int(e[len(e)-1]) <= i-31 {
			break
		}
	}
	return k[:32]
}

// objectKey derives the key for one object (Algorithm 1).
func (c *decrypter) objectKey(ref objRef, kind cipherKind) []byte {
	if kind == cipherAESV3 {
		return c.key
	}
	h := md5.New()
	h.Write(c.key)
	h.Write([]byte{byte(ref.num), byte(ref.num >> 8), byte(ref.num >> 16), byte(ref.gen), byte(ref.gen >> 8)})
	if kind == cipherAESV2 {
		h.Write([]byte("sAlT"))
	}
	k := h.Sum(nil)
	return k[:min(len(c.key)+5, 16)]
}

func (c *decrypter) decrypt(data []byte, ref objRef, kind cipherKind) ([]byte, error) {
	switch kind {
	case cipherNone:
		return data, nil
	case cipherRC4:
		rc, err := rc4.NewCipher(c.objectKey(ref, kind))
		if err != nil {
			return nil, err
		}
		out := make([]byte, len(data))
		rc.XORKeyStream(out, data)
		return out, nil
	}
	// AES-CBC with the IV in the first 16 bytes and PKCS#5 padding
	// (§7.6.2).
	if len(data) < 16 {
		return nil, errors.New("pdf: AES data shorter than its IV")
	}
	block, err := aes.NewCipher(c.objectKey(ref, kind))
	if err != nil {
		return nil, err
	}
	iv, body := data[:16], data[16:]
	body = body[:len(body)-len(body)%16]
	out := make([]byte, len(body))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, body)
	if n := len(out); n > 0 {
		if p := int(out[n-1]); p >= 1 && p <= 16 && p <= n {
			out = out[:n-p]
		}
	}
	return out, nil
}

// decryptStream decrypts a stream's raw data.
func (c *decrypter) decryptStream(s *stream) ([]byte, error) {
	if !c.encryptMetadata && s.dict["Type"] == name("Metadata") {
		return s.raw, nil
	}
	return c.decrypt(s.raw, s.ref, c.stm)
}

// decryptObject decrypts every string of an object read directly from the
// file (§7.6.2: strings in object streams are covered by the stream).
func (d *document) decryptObject(o any, ref objRef) any {
	c := d.crypt
	if c == nil || c.str == cipherNone || ref == c.encryptRef {
		return o
	}
	var walk func(v any, depth int) any
	walk = func(v any, depth int) any {
		if depth > maxNesting {
			return v
		}
		switch x := v.(type) {
		case pdfString:
			b, err := c.decrypt([]byte(x), ref, c.str)
			if err != nil {
				return pdfString("")
			}
			return pdfString(b)
		case array:
			for i := range x {
				x[i] = walk(x[i], depth+1)
			}
		case dict:
			for k, e := range x {
				x[k] = walk(e, depth+1)
			}
		case *stream:
			if x.dict["Type"] != name("XRef") {
				walk(x.dict, depth+1)
			}
		}
		return v
	}
	return walk(o, 0)
}
