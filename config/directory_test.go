package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDirectorySettings: the directory section defaults to off, decodes,
// reads its password file relative to the config file, and refuses bad
// values naming the setting.
func TestDirectorySettings(t *testing.T) {
	c, err := Parse(nil, Default())
	if err != nil {
		t.Fatal(err)
	}
	if c.Directory.Enabled() || c.Directory.CacheTTL != 10*time.Minute || c.Directory.Schema != "ad" {
		t.Fatalf("defaults: %+v", c.Directory)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ldap.pw"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "dlpguard.yaml")
	yaml := "directory:\n  url: ldap://127.0.0.1:3389\n  base_dn: ou=ol,dc=city,dc=example\n  schema: openldap\n" +
		"  bind_dn: cn=dlpguard,dc=city,dc=example\n  password_file: ldap.pw\n  approver_group: cn=承認者,dc=city,dc=example\n" +
		"  attributes: {department: ou, login: [uid, employeeNumber]}\n  cache_ttl: 1m\n  stale_for: 0s\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(file)
	if err != nil {
		t.Fatal(err)
	}
	d := c.Directory
	if !d.Enabled() || d.Password != "s3cret" || d.Schema != "openldap" || d.Attributes.Department != "ou" ||
		len(d.Attributes.Login) != 2 || d.CacheTTL != time.Minute || d.StaleFor != 0 {
		t.Fatalf("loaded: %+v", d)
	}
	if cc := d.ClientConfig(); cc.Password != "s3cret" || cc.ApproverGroup != d.ApproverGroup {
		t.Fatalf("client config: %+v", cc)
	}
	for _, bad := range []struct{ yaml, want string }{
		{"directory:\n  url: http://dc1\n  base_dn: dc=x\n", "directory.url"},
		{"directory:\n  url: ldap://dc1\n  start_tls: true\n", "directory.base_dn"},
		{"directory:\n  url: ldap://dc1.city.example\n  base_dn: dc=x\n", "directory.start_tls"},
		{"directory:\n  url: ldap://127.0.0.1\n  base_dn: dc=x\n  schema: novell\n", "directory.schema"},
		{"directory:\n  url: ldap://127.0.0.1\n  base_dn: dc=x\n  approver_group: not a dn\n", "directory.approver_group"},
		{"directory:\n  url: ldap://127.0.0.1\n  base_dn: dc=x\n  bind_dn: cn=a,dc=x\n", "directory.password_file"},
		{"directory:\n  url: ldaps://dc1\n  base_dn: dc=x\n  start_tls: true\n", "directory.start_tls"},
		{"directory:\n  url: ldap://127.0.0.1\n  base_dn: dc=x\n  cache_ttl: 0s\n", "directory.cache_ttl"},
		{"directory:\n  url: ldap://127.0.0.1\n  base_dn: dc=x\n  stale_for: -1m\n", "directory.stale_for"},
		{"directory:\n  url: ldap://127.0.0.1\n  base_dn: dc=x\n  attributes: {colour: red}\n", "colour"},
	} {
		if _, err := Parse([]byte(bad.yaml), Default()); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want an error naming %s", bad.yaml, err, bad.want)
		}
	}
}
