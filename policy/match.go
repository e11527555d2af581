package policy

import (
	"strings"
)

// glob matches s against pattern, case-insensitively; '*' matches any run
// of characters (including none) and '?' one character. Patterns are kept
// this simple on purpose: administrators write them, and a regexp mistake in
// a sender pattern would silently widen an exception.
func glob(pattern, s string) bool {
	p, str := []rune(strings.ToLower(pattern)), []rune(strings.ToLower(s))
	// Iterative matcher with one backtrack point: linear for the patterns we allow.
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(str) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == str[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// domainOf returns the lower-case domain of an address ("" when it has none).
func domainOf(addr string) string {
	addr = strings.TrimSpace(addr)
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "<"), ">")
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(addr[i+1:]), ".")
}

// normAddr lower-cases an address and strips angle brackets.
func normAddr(addr string) string {
	addr = strings.TrimSpace(addr)
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "<"), ">")
	return strings.ToLower(addr)
}

// matchAddr matches an address against a pattern: a pattern with '@' is an
// address glob ("*@city.example.lg.jp", "kokuho-*@…"); one without is a
// domain pattern (see matchDomain).
func matchAddr(pattern, addr string) bool {
	if strings.Contains(pattern, "@") {
		return glob(pattern, normAddr(addr))
	}
	return matchDomain(pattern, domainOf(addr))
}

// matchDomain matches a domain exactly ("example.com"), or a subdomain when
// written "*.example.com" or ".example.com" (which do not match example.com
// itself). Look-alikes such as "example.com.evil.test" never match.
func matchDomain(pattern, domain string) bool {
	pattern = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(pattern)), ".")
	if domain == "" || pattern == "" {
		return false
	}
	switch {
	case strings.HasPrefix(pattern, "*."):
		return strings.HasSuffix(domain, pattern[1:])
	case strings.HasPrefix(pattern, "."):
		return strings.HasSuffix(domain, pattern)
	case strings.ContainsAny(pattern, "*?"):
		return glob(pattern, domain)
	}
	return domain == pattern
}

func anyAddr(patterns []string, addr string) bool {
	for _, p := range patterns {
		if matchAddr(p, addr) {
			return true
		}
	}
	return false
}

func anyDomain(patterns []string, domain string) bool {
	for _, p := range patterns {
		if matchDomain(p, domain) {
			return true
		}
	}
	return false
}
