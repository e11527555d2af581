package office

import (
	"encoding/xml"
	"io"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
)

// newDecoder returns the token source for an XML part: the lenient, fast
// tokenizer of xmltok.go (office files from odd writers are read as far as
// they go rather than refused).
func newDecoder(r io.Reader) *tokenizer {
	size := 64 << 10
	lp, ok := r.(*limitedPart)
	if ok && lp.size < int64(size) {
		size = max(int(lp.size)+1, 4096) // small parts: small buffers
	}
	z := newTokenizerSize(r, size)
	if ok && lp.damaged != nil {
		z.report = func(why string) { lp.damaged(lp.name, why) }
	}
	return z
}

// skip consumes the rest of the element whose start was just read. It
// counts depth itself: RawToken does not match start and end tags.
func skip(d *tokenizer) error {
	depth := 1
	for depth > 0 {
		k, err := d.next()
		if err != nil {
			return err
		}
		switch k {
		case kStart:
			depth++
		case kEnd:
			depth--
		}
	}
	return nil
}

// attr returns the value of the attribute with the given local name.
func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// attrNS returns the value of the attribute prefix:local (RawToken keeps
// prefixes in Name.Space).
func attrNS(se xml.StartElement, prefix, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local && a.Name.Space == prefix {
			return a.Value
		}
	}
	return ""
}

// partLess orders part names naturally: sheet2 before sheet10.
func partLess(a, b string) bool {
	pa, na := splitNum(a)
	pb, nb := splitNum(b)
	if pa != pb {
		return pa < pb
	}
	if na != nb {
		return na < nb
	}
	return a < b
}

// splitNum splits "ppt/slides/slide12.xml" into "ppt/slides/slide" and 12.
func splitNum(s string) (string, int) {
	base := strings.TrimSuffix(s, path.Ext(s))
	i := len(base)
	for i > 0 && base[i-1] >= '0' && base[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(base[i:])
	if err != nil || i == len(base) {
		return base, -1
	}
	return base[:i], n
}

func sortParts(p []string) { sort.SliceStable(p, func(i, j int) bool { return partLess(p[i], p[j]) }) }

// resolve turns a relationship target into a part name (OPC, ECMA-376
// Part 2 9.3): relative to the source part's folder, or absolute from the
// package root; percent-escapes decoded.
func resolve(source, target string) string {
	if u, err := url.PathUnescape(target); err == nil {
		target = u
	}
	if strings.HasPrefix(target, "/") {
		return strings.TrimPrefix(path.Clean(target), "/")
	}
	return strings.TrimPrefix(path.Join(path.Dir(source), target), "/")
}

// collapseSpace turns XML layout whitespace inside ODF paragraphs into
// single spaces (ODF 1.2 Part 1 6.1.2: white space is collapsed; text:s,
// text:tab and text:line-break carry the real ones).
func collapseSpace(s string) string {
	if !strings.ContainsAny(s, "\n\r\t") && !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}
