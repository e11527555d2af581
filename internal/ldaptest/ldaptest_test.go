package ldaptest

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// TestStartCity: the city loads, the service account binds and finds a
// user by its AD and OpenLDAP attributes, anonymous search is refused,
// and a change is seen by the next search.
func TestStartCity(t *testing.T) {
	s := Start(t, City)
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	anon, err := c.Search(ldap.NewSearchRequest(Suffix, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(mail=taro.yamada@city.example.lg.jp)", []string{"cn"}, nil))
	if err == nil && len(anon.Entries) > 0 {
		t.Fatalf("anonymous search found %d entries", len(anon.Entries))
	}
	if err := c.Bind(ServiceDN, ServicePW); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ base, filter, attr, want string }{
		{ADBase, "(sAMAccountName=taro.yamada)", "department", "市民課"},
		{ADBase, "(proxyAddresses=smtp:t-yamada@city.example.lg.jp)", "mail", "taro.yamada@city.example.lg.jp"},
		{OpenLDAPBase, "(uid=saburo.ito)", "departmentNumber", "福祉課"},
	} {
		res, err := c.Search(ldap.NewSearchRequest(tc.base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			tc.filter, []string{tc.attr}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("%s: %v %v", tc.filter, err, res)
		}
		if got := res.Entries[0].GetAttributeValue(tc.attr); got != tc.want {
			t.Errorf("%s: %s = %q, want %q", tc.filter, tc.attr, got, tc.want)
		}
	}
	s.Replace("cn=taro.yamada,ou=Users,ou=ad,dc=city,dc=example", "department", "税務課")
	res, err := c.Search(ldap.NewSearchRequest(ADBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(sAMAccountName=taro.yamada)", []string{"department"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("department") != "税務課" {
		t.Fatalf("after the change: %v %v", err, res)
	}
}
