package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"dlpguard/directory"
	"dlpguard/internal/yamlfile"
)

// Directory is the city's directory (Active Directory or OpenLDAP): who
// is in which department, who approves for it, and the staff's console
// sign-in (issue 18). Empty URL: off (the policy's address patterns
// decide departments, the console has local accounts only).
type Directory struct {
	// URL is ldaps://host[:port], or ldap://host[:port] (with StartTLS
	// unless on loopback in tests).
	URL      string `yaml:"url"`
	StartTLS bool   `yaml:"start_tls"`
	// CAFile is a PEM bundle for the server's certificate (default: the
	// system's roots).
	CAFile string `yaml:"ca_file"`
	BindDN string `yaml:"bind_dn"`
	// PasswordFile holds the service account's password (a trailing
	// newline removed); never in this file.
	PasswordFile string `yaml:"password_file"`
	BaseDN       string `yaml:"base_dn"`
	// Schema is ad or openldap: the attribute defaults.
	Schema string `yaml:"schema"`
	// Attributes override the schema's defaults.
	Attributes directory.Attributes `yaml:"attributes"`
	// ApproverGroup's members approve for their own department (3.3.5),
	// beside each sender's manager; AdminGroup and AuditorGroup give
	// those console roles.
	ApproverGroup string `yaml:"approver_group"`
	AdminGroup    string `yaml:"admin_group"`
	AuditorGroup  string `yaml:"auditor_group"`
	// CacheTTL: how long an answer is used; StaleFor: how long past that
	// the last good answer serves while the directory is unreachable,
	// then holds go to the security team and approvals by the directory
	// are refused (fail closed).
	CacheTTL time.Duration `yaml:"cache_ttl"`
	StaleFor time.Duration `yaml:"stale_for"`
	Timeout  time.Duration `yaml:"timeout"`

	// Password is read from PasswordFile by Load.
	Password string `yaml:"-"`
}

// Enabled reports whether a directory is configured.
func (d Directory) Enabled() bool { return d.URL != "" }

// ClientConfig is the directory package's configuration.
func (d Directory) ClientConfig() directory.Config {
	return directory.Config{URL: d.URL, StartTLS: d.StartTLS, CAFile: d.CAFile, BindDN: d.BindDN, Password: d.Password,
		BaseDN: d.BaseDN, Schema: d.Schema, Attrs: d.Attributes, ApproverGroup: d.ApproverGroup,
		AdminGroup: d.AdminGroup, AuditorGroup: d.AuditorGroup, CacheTTL: d.CacheTTL, StaleFor: d.StaleFor, Timeout: d.Timeout}
}

func (d *Directory) validate() error {
	if !d.Enabled() {
		return nil
	}
	switch {
	case strings.HasPrefix(d.URL, "ldaps://"):
		if d.StartTLS {
			return yamlfile.Errorf("directory.start_tls", "is for ldap:// (ldaps:// is TLS already)")
		}
	case strings.HasPrefix(d.URL, "ldap://"):
		// Sign-in binds carry staff passwords: never in clear over the
		// network (loopback is for tests and a local proxy).
		if !d.StartTLS && !loopbackURL(d.URL) {
			return yamlfile.Errorf("directory.start_tls", "must be true with an ldap:// URL to another host (passwords would cross the network in clear); or use ldaps://")
		}
	default:
		return yamlfile.Errorf("directory.url", "%q: want ldaps://host or ldap://host", d.URL)
	}
	if d.BaseDN == "" {
		return yamlfile.Errorf("directory.base_dn", "is required with directory.url")
	}
	if _, err := directory.Defaults(d.Schema); err != nil {
		return yamlfile.Errorf("directory.schema", "must be ad or openldap, not %q", d.Schema)
	}
	for _, g := range []struct{ key, dn string }{
		{"directory.base_dn", d.BaseDN}, {"directory.bind_dn", d.BindDN}, {"directory.approver_group", d.ApproverGroup},
		{"directory.admin_group", d.AdminGroup}, {"directory.auditor_group", d.AuditorGroup},
	} {
		if g.dn == "" {
			continue
		}
		if err := directory.CheckDN(g.dn); err != nil {
			return yamlfile.Errorf(g.key, "%q is not a DN: %v", g.dn, err)
		}
	}
	if d.BindDN != "" && d.PasswordFile == "" {
		return yamlfile.Errorf("directory.password_file", "is required with directory.bind_dn")
	}
	if d.CacheTTL <= 0 {
		return yamlfile.Errorf("directory.cache_ttl", "must be positive")
	}
	if d.StaleFor < 0 {
		return yamlfile.Errorf("directory.stale_for", "must not be negative (0: no stale answers)")
	}
	if d.Timeout <= 0 {
		return yamlfile.Errorf("directory.timeout", "must be positive")
	}
	return nil
}

// loopbackURL reports whether an ldap:// URL names this machine.
func loopbackURL(u string) bool {
	host := strings.TrimSuffix(strings.TrimPrefix(u, "ldap://"), "/")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// loadDirectory makes the directory's file paths relative to base and
// reads the password file.
func (c *Config) loadDirectory(base string) error {
	d := &c.Directory
	for _, p := range []*string{&d.CAFile, &d.PasswordFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	if d.PasswordFile != "" {
		pw, err := os.ReadFile(d.PasswordFile)
		if err != nil {
			return fmt.Errorf("directory.password_file: %w", err)
		}
		d.Password = strings.TrimRight(string(pw), "\r\n")
	}
	return nil
}

// defaultDirectory: off, with AD's defaults ready when a URL is set.
func defaultDirectory() Directory {
	return Directory{Schema: directory.SchemaAD, CacheTTL: 10 * time.Minute, StaleFor: time.Hour, Timeout: 10 * time.Second}
}
