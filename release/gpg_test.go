package release

import (
	"dlpguard/internal/mailtest"
	"strings"
	"testing"
)

// gpgHome is a throw-away GnuPG home (Debian package gnupg) holding one
// recipient's secret key.
type gpgHome = mailtest.GPG

func newGPG(t *testing.T) *gpgHome { return mailtest.NewGPG(t) }

func hasLine(out []byte, s string) bool { return strings.Contains(string(out), s) }
