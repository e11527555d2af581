package mimemsg

import "strings"

// Address is a decoded mailbox from a header field.
type Address struct {
	Name    string // display name, decoded
	Address string // addr-spec as written
}

// ParseAddressList reads mailboxes tolerantly: what can be read is kept, a
// bad address does not lose the others.
func ParseAddressList(values []string) []Address {
	var out []Address
	for _, v := range values {
		for _, item := range SplitAddresses(v) {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			// Group syntax "name: a, b;" (RFC 5322 §3.4).
			if c := strings.IndexByte(item, ':'); c >= 0 && !strings.ContainsAny(item[:c], "<\"@") {
				item = strings.TrimSpace(item[c+1:])
			}
			item = strings.TrimSuffix(item, ";")
			if item == "" {
				continue
			}
			var a Address
			lt := strings.LastIndexByte(item, '<')
			gt := -1
			if lt >= 0 {
				gt = strings.IndexByte(item[lt:], '>')
			}
			if gt >= 0 {
				a.Address = strings.TrimSpace(item[lt+1 : lt+gt])
				a.Name = cleanDisplayName(item[:lt])
			} else {
				addr := item
				if op := strings.IndexByte(addr, '('); op >= 0 {
					// "addr (Name)": the comment is the name (RFC 5322 §3.2.2).
					cp := strings.LastIndexByte(addr, ')')
					if cp > op {
						a.Name = cleanDisplayName(addr[op+1 : cp])
					}
					addr = addr[:op]
				}
				a.Address = strings.TrimSpace(addr)
			}
			if a.Address == "" && a.Name == "" {
				continue
			}
			a.Address = decodeUnknownIfNeeded(a.Address)
			out = append(out, a)
		}
	}
	return out
}

func decodeUnknownIfNeeded(s string) string {
	if IsASCII(s) {
		return s
	}
	return DecodeUnknown([]byte(s))
}

func cleanDisplayName(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s, _ = Unquote(s[1:])
	}
	return strings.TrimSpace(DecodeHeader(s))
}

// SplitAddresses splits an address list field on commas outside quotes, angle brackets and
// comments.
func SplitAddresses(v string) []string {
	var out []string
	depth, inQ, inA := 0, false, false
	start := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && inQ:
			i++
		case c == '"' && depth == 0:
			inQ = !inQ
		case inQ:
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '<' && depth == 0:
			// Only a bracket closed before the next comma opens an
			// address: "broken<<@@, b@x" must not swallow b@x.
			rest := v[i+1 : min(len(v), i+1+1024)] // bounded: stays linear
			gt, comma := strings.IndexByte(rest, '>'), strings.IndexByte(rest, ',')
			inA = gt >= 0 && (comma < 0 || gt < comma)
		case c == '>' && depth == 0:
			inA = false
		case c == ',' && depth == 0 && !inA:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}
