package inspect

import "bytes"

// berTLV is one BER element (X.690 §8.1): definite or indefinite length.
type berTLV struct {
	tag         byte // first identifier octet
	constructed bool
	content     []byte // for indefinite length: up to the end-of-contents octets
	next        []byte // what follows the element
}

// readBER parses one element; ok=false on anything it cannot follow. Tags
// above 30 (multi-octet) are not used by the CMS structures read here.
func readBER(b []byte, depth int) (berTLV, bool) {
	if len(b) < 2 || depth > 32 || b[0]&0x1f == 0x1f {
		return berTLV{}, false
	}
	t := berTLV{tag: b[0], constructed: b[0]&0x20 != 0}
	l := int(b[1])
	rest := b[2:]
	switch {
	case l < 0x80:
		if l > len(rest) {
			return berTLV{}, false
		}
		t.content, t.next = rest[:l], rest[l:]
	case l == 0x80:
		// Indefinite: walk the elements up to the 00 00 end-of-contents.
		if !t.constructed {
			return berTLV{}, false
		}
		p := rest
		for {
			if len(p) >= 2 && p[0] == 0 && p[1] == 0 {
				t.content = rest[:len(rest)-len(p)]
				t.next = p[2:]
				return t, true
			}
			e, ok := readBER(p, depth+1)
			if !ok {
				return berTLV{}, false
			}
			p = e.next
		}
	default:
		n := l & 0x7f
		if n > 4 || n > len(rest) {
			return berTLV{}, false
		}
		l = 0
		for _, c := range rest[:n] {
			l = l<<8 | int(c)
		}
		rest = rest[n:]
		if l < 0 || l > len(rest) {
			return berTLV{}, false
		}
		t.content, t.next = rest[:l], rest[l:]
	}
	return t, true
}

// octets returns the bytes of an OCTET STRING, primitive or constructed.
func octets(t berTLV, depth int) ([]byte, bool) {
	if !t.constructed {
		return t.content, true
	}
	var out []byte
	p := t.content
	for len(p) > 0 {
		e, ok := readBER(p, depth+1)
		if !ok {
			return nil, false
		}
		b, ok := octets(e, depth+1)
		if !ok {
			return nil, false
		}
		out = append(out, b...)
		p = e.next
	}
	return out, true
}

// cmsSignedContent returns the signed content of an opaque-signed S/MIME
// message (RFC 5652 §5.1/§5.2: ContentInfo → SignedData →
// encapContentInfo → eContent): it is a MIME entity to read.
func cmsSignedContent(sp *spill) ([]byte, bool) {
	if sp.size > 32<<20 {
		return nil, false
	}
	b := sp.head(int(sp.size))
	ci, ok := readBER(b, 0) // ContentInfo SEQUENCE
	if !ok || ci.tag != 0x30 {
		return nil, false
	}
	oid, ok := readBER(ci.content, 1)
	if !ok || !bytes.Equal(b2(oid), oidSigned) {
		return nil, false
	}
	wrap, ok := readBER(oid.next, 1) // [0] EXPLICIT
	if !ok || wrap.tag != 0xa0 {
		return nil, false
	}
	sd, ok := readBER(wrap.content, 2) // SignedData SEQUENCE
	if !ok || sd.tag != 0x30 {
		return nil, false
	}
	ver, ok := readBER(sd.content, 3)
	if !ok {
		return nil, false
	}
	algs, ok := readBER(ver.next, 3)
	if !ok {
		return nil, false
	}
	encap, ok := readBER(algs.next, 3) // EncapsulatedContentInfo
	if !ok || encap.tag != 0x30 {
		return nil, false
	}
	eoid, ok := readBER(encap.content, 4)
	if !ok {
		return nil, false
	}
	if len(eoid.next) == 0 {
		return nil, false // detached: no content here
	}
	ew, ok := readBER(eoid.next, 4) // [0] EXPLICIT
	if !ok || ew.tag != 0xa0 {
		return nil, false
	}
	os, ok := readBER(ew.content, 5)
	if !ok || os.tag&0x1f != 0x04 {
		return nil, false
	}
	return octets(os, 6)
}

// b2 re-encodes a short primitive element's tag and length with its content
// for comparison with a DER OID constant.
func b2(t berTLV) []byte {
	if len(t.content) > 127 {
		return nil
	}
	return append([]byte{t.tag, byte(len(t.content))}, t.content...)
}
