package mimemsg

import "strings"

// Filename returns the decoded file name of an entity and its disposition.
// Content-Disposition's filename (RFC 2183) wins over Content-Type's name.
func Filename(h Header) (string, string) {
	disp, dp := ParseParams(h.Get("Content-Disposition"))
	name := dp["filename"]
	if name == "" {
		_, cp := ParseParams(h.Get("Content-Type"))
		name = cp["name"]
	}
	return CleanName(name), disp
}

// CleanName keeps a file name printable and on one line; a path in it is
// kept (archive-style) but control characters go.
func CleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}
