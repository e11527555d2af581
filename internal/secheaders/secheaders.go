// Package secheaders sets the browser security headers shared by
// dlpguard's HTML pages (console, download page, sender link pages).
package secheaders

import "net/http"

// CSP allows no external resource and nothing inline.
const CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// Set sets the CSP, no framing, no referrer (the URLs carry tokens and
// hold IDs) and no MIME sniffing. Caching is left to the caller.
func Set(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}
