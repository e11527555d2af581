package directory

import (
	"strconv"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// FuzzPerson: whatever a directory entry holds, reading it does not
// panic, keeps only SMTP addresses (lower case) of proxyAddresses, and
// an account whose userAccountControl is unreadable or has the disabled
// bit is disabled (fail closed).
func FuzzPerson(f *testing.F) {
	f.Add("SMTP:Taro@City.example", "512", "市民課")
	f.Add("X500:/o=city/cn=taro", "514", "")
	f.Add("smtp:", "not-a-number", "税務課")
	f.Add(":::", "-2", " ")
	c, err := New(Config{URL: "ldap://127.0.0.1", BaseDN: "dc=x"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, proxy, uac, dept string) {
		e := ldap.NewEntry("cn=x,dc=x", map[string][]string{
			"mail": {"Main@City.Example"}, "proxyAddresses": {proxy}, "userAccountControl": {uac}, "department": {dept},
		})
		p := c.person(e)
		for _, a := range p.Addresses {
			if a != strings.ToLower(a) || a == "" {
				t.Fatalf("address %q", a)
			}
		}
		if i := strings.IndexByte(proxy, ':'); i >= 0 && !strings.EqualFold(proxy[:i], "smtp") && len(p.Addresses) > 1 {
			t.Fatalf("non-SMTP proxy address kept: %q", p.Addresses)
		}
		n, err := strconv.ParseInt(uac, 10, 64)
		if want := err != nil || n&2 != 0; p.Disabled != want {
			t.Fatalf("uac %q: disabled %v, want %v", uac, p.Disabled, want)
		}
	})
}
