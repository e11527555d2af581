package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dlpguard/icap"
	"dlpguard/queue"
)

func TestExampleParses(t *testing.T) {
	b, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(b, Default())
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	if c.Hostname != "relay.city.example.lg.jp" || c.SMTP.Limits.MaxMessageSize != 25<<20 ||
		c.SMTP.Limits.MaxHeaderSize != 1<<20 || c.Upstream.MaxAge != 120*time.Hour ||
		len(c.SMTP.Networks) != 2 || len(c.SMTP.Accounts) != 1 || c.Upstream.StartTLS != "required" ||
		len(c.Upstream.Retry) != 5 || c.Upstream.Retry[4] != time.Hour {
		t.Fatalf("example decoded wrongly: %+v", c)
	}
	if ps := c.Networks(); len(ps) != 2 || ps[1].String() != "127.0.0.1/32" {
		t.Fatalf("networks = %v", ps)
	}
}

func TestDefaultsValid(t *testing.T) {
	for name, c := range map[string]*Config{"default": Default(), "demo": Demo()} {
		if err := c.validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	c, err := Parse(nil, Default())
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTP.Limits.MaxMessageSize != 25<<20 || c.Upstream.MaxAge != 5*24*time.Hour || len(c.SMTP.Listen) != 1 {
		t.Fatalf("empty file lost defaults: %+v", c)
	}
}

func TestPartialKeepsDefaults(t *testing.T) {
	c, err := Parse([]byte("smtp:\n  limits:\n    max_recipients: 7\n"), Default())
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTP.Limits.MaxRecipients != 7 || c.SMTP.Limits.MaxMessageSize != 25<<20 ||
		len(c.SMTP.Networks) != 2 || c.Upstream.Workers != 8 {
		t.Fatalf("got %+v", c.SMTP)
	}
	// A list in the file replaces the default list.
	c, err = Parse([]byte("smtp:\n  networks: [192.0.2.0/24]\n"), Default())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SMTP.Networks) != 1 {
		t.Fatalf("networks = %v", c.SMTP.Networks)
	}
}

// TestErrors: every invalid setting names its line and the setting.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown top", "hostname: a\nbogus: 1\n", []string{"line 2", "bogus"}},
		{"unknown nested", "smtp:\n  limits:\n    max_recipents: 5\n", []string{"line 3", "max_recipents"}},
		{"bad type", "smtp:\n  limits:\n    max_recipients: many\n", []string{"line 3", "many"}},
		{"bad duration", "smtp:\n  limits:\n    data_timeout: 10 minutes\n", []string{"line 3"}},
		{"bad size", "smtp:\n  limits:\n    max_message_size: 25 furlongs\n", []string{"line 3", "25 furlongs"}},
		{"bad cidr", "smtp:\n  networks:\n    - 10.0.0.0/8\n    - 10.0.0.0/99\n", []string{"line 4", "smtp.networks[1]"}},
		{"accounts without tls", "smtp:\n  accounts:\n    - username: a\n      password_hash: $2a$x\n", []string{"line 2", "smtp.accounts"}},
		{"bad hash", "smtp:\n  tls:\n    self_signed: true\n  accounts:\n    - username: a\n      password_hash: secret\n", []string{"line 6", "smtp.accounts[0].password_hash"}},
		{"dup account", "smtp:\n  tls: {self_signed: true}\n  accounts:\n    - username: a\n      password_hash: $2a$x\n    - username: a\n      password_hash: $2a$x\n", []string{"line 6", "duplicate"}},
		{"bad starttls", "upstream:\n  starttls: maybe\n", []string{"line 2", "upstream.starttls"}},
		{"auth without tls", "upstream:\n  address: a:25\n  username: u\n  starttls: opportunistic\n", []string{"line 3", "upstream.username"}},
		{"bad listen", "smtp:\n  listen: [\"2525\"]\n", []string{"line 2", "smtp.listen[0]"}},
		{"tls listen without cert", "smtp:\n  tls_listen: [\"127.0.0.1:465\"]\n", []string{"line 2", "smtp.tls_listen"}},
		{"log level", "log_level: loud\n", []string{"line 1", "log_level"}},
		{"workers", "upstream:\n  workers: 0\n", []string{"line 2", "upstream.workers"}},
		{"line length", "smtp:\n  limits:\n    max_line_length: 80\n", []string{"line 3", "RFC 5321"}},
		{"not yaml", "smtp: [\n", []string{"line"}},
		{"ocr enabled", "inspect:\n  ocr:\n    enabled: maybe\n", []string{"line 3", "inspect.ocr.enabled"}},
		{"ocr pages", "inspect:\n  ocr:\n    max_pages: 0\n", []string{"line 3", "inspect.ocr.max_pages"}},
		{"ocr timeout", "inspect:\n  ocr:\n    timeout: 10ms\n", []string{"line 3", "inspect.ocr.timeout"}},
		{"ocr languages", "inspect:\n  ocr:\n    languages: jpn eng\n", []string{"line 3", "inspect.ocr.languages"}},
		{"ocr memory", "inspect:\n  ocr:\n    max_memory: 1MiB\n", []string{"line 3", "inspect.ocr.max_memory"}},
		{"ocr unknown", "inspect:\n  ocr:\n    dpi: 300\n", []string{"line 3", "dpi"}},
		{"inspect concurrency", "inspect:\n  concurrency: -1\n", []string{"line 2", "inspect.concurrency"}},
		{"per-ip above total", "smtp:\n  limits:\n    max_connections: 10\n    max_connections_per_ip: 20\n", []string{"line 4", "smtp.limits.max_connections_per_ip"}},
		{"auth block after", "smtp:\n  auth_limits:\n    address_block_after: 0\n", []string{"line 3", "smtp.auth_limits.address_block_after"}},
		{"auth max delay", "smtp:\n  auth_limits:\n    account_delay: 5s\n    account_max_delay: 1s\n", []string{"line 4", "smtp.auth_limits.account_max_delay"}},
		{"auth delay", "smtp:\n  auth_limits:\n    address_delay: 0s\n", []string{"line 3", "smtp.auth_limits.address_delay"}},
		{"auth unknown", "smtp:\n  auth_limits:\n    lockout: true\n", []string{"line 3", "lockout"}},
		{"auth window", "smtp:\n  auth_limits:\n    window: 0s\n", []string{"line 3", "smtp.auth_limits.window"}},
		{"local retry", "upstream:\n  local_retry: 0s\n", []string{"line 2", "upstream.local_retry"}},
		{"release subject two lines", "review:\n  release_subject: \"a\\nb\"\n", []string{"line 2", "review.release_subject"}},
		{"storage driver", "storage:\n  driver: mysql\n", []string{"line 2", "storage.driver"}},
		{"storage dsn twice", "storage:\n  driver: postgres\n  dsn: postgres://x\n  dsn_file: f\n", []string{"line 3", "storage.dsn"}},
		{"storage sqlite dsn", "storage:\n  dsn_file: f\n", []string{"storage.driver"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), Default())
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestConnectionsPerIPDefault: without max_connections_per_ip, one
// address gets a quarter of max_connections (at most 50, at least 1), so
// slow clients from one address cannot take every connection (issue 17).
func TestConnectionsPerIPDefault(t *testing.T) {
	tests := []struct {
		yaml string
		want int
	}{
		{"", 50},
		{"smtp:\n  limits:\n    max_connections: 6\n", 1},
		{"smtp:\n  limits:\n    max_connections: 100\n", 25},
		{"smtp:\n  limits:\n    max_connections: 1000\n", 50},
		{"smtp:\n  limits:\n    max_connections: 6\n    max_connections_per_ip: 6\n", 6},
	}
	for _, tc := range tests {
		c, err := Parse([]byte(tc.yaml), Default())
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if got := c.SMTP.Limits.MaxConnectionsPer; got != tc.want {
			t.Errorf("%q: max_connections_per_ip %d, want %d", tc.yaml, got, tc.want)
		}
	}
	c, err := Parse([]byte("smtp:\n  auth_limits:\n    account_block_after: 5\nupstream:\n  local_retry: 30s\n"), Default())
	if err != nil {
		t.Fatal(err)
	}
	if a := c.SMTP.AuthLimits; a.AccountBlockAfter != 5 || a.AddressBlockAfter != 10 || a.AccountMaxDelay != 8*time.Second || c.Upstream.LocalRetry != 30*time.Second {
		t.Fatalf("auth limits %+v, local retry %v", a, c.Upstream.LocalRetry)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		ok   bool
	}{
		{"1024", 1024, true}, {"25MB", 25_000_000, true}, {"25MiB", 25 << 20, true}, {"25M", 25 << 20, true},
		{"512 KiB", 512 << 10, true}, {"1GB", 1_000_000_000, true}, {"", 0, false}, {"-1", 0, false},
		{"5XB", 0, false}, {"99999999999999999999", 0, false}, {"9999999999G", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestLoadRelativePaths(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cret\n"), 0o600)
	p := filepath.Join(dir, "dlpguard.yaml")
	os.WriteFile(p, []byte("data_dir: data\nupstream:\n  address: up:25\n  starttls: required\n  username: u\n  password_file: pw\n"), 0o600)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != filepath.Join(dir, "data") || c.Upstream.Password != "s3cret" {
		t.Fatalf("data_dir %q password %q", c.DataDir, c.Upstream.Password)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
}

// TestStorageDSN: the DSN comes from dsn_file (relative to the file),
// else the environment; never shown when the configuration is printed.
func TestStorageDSN(t *testing.T) {
	dir := t.TempDir()
	const dsn = "postgres://dlpguard:pw-s3cret@db.example.lg.jp/dlpguard"
	os.WriteFile(filepath.Join(dir, "dsn"), []byte(dsn+"\n"), 0o600)
	write := func(yaml string) string {
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, []byte(yaml), 0o600)
		return p
	}
	t.Setenv(StorageDSNEnv, "")
	c, err := Load(write("storage:\n  driver: postgres\n  dsn_file: dsn\n"))
	if err != nil || c.Storage.DSN != dsn || c.Storage.DSNFile != filepath.Join(dir, "dsn") {
		t.Fatalf("dsn_file: %+v %v", c, err)
	}
	if out := fmt.Sprintf("%v %+v", c, *c); strings.Contains(out, "pw-s3cret") {
		t.Fatalf("printed configuration shows the DSN: %s", out)
	}
	if _, err := Load(write("storage:\n  driver: postgres\n")); err == nil || !strings.Contains(err.Error(), StorageDSNEnv) {
		t.Fatalf("postgres without a DSN: %v", err)
	}
	t.Setenv(StorageDSNEnv, dsn)
	if c, err := Load(write("storage:\n  driver: postgres\n")); err != nil || c.Storage.DSN != dsn {
		t.Fatalf("env DSN: %v", err)
	}
	if _, err := Load(write("storage:\n  driver: postgres\n  dsn_file: missing\n")); err == nil || strings.Contains(err.Error(), "pw-s3cret") {
		t.Fatalf("missing dsn_file: %v", err)
	}
	if c, err := Load(write("")); err != nil || c.Storage.Driver != "sqlite" || c.Storage.DSN != "" {
		t.Fatalf("default storage: %+v %v", c.Storage, err)
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("example.yaml")
	f.Add(b)
	f.Add([]byte("smtp:\n  networks: [1.2.3.4/33]\n"))
	f.Add([]byte("smtp:\n  limits:\n    max_message_size: 1KB\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := Parse(in, Default())
		if err == nil && c.validate() != nil {
			t.Fatal("Parse returned an invalid configuration")
		}
	})
}

func TestDownloadConfig(t *testing.T) {
	for _, c := range []struct {
		yaml, err string
	}{
		{"review:\n  no_key: link\n", "link needs download.listen"},
		{"review:\n  no_key: link\ndownload:\n  listen: 127.0.0.1:8443\n  base_url: https://dl.example\n", ""},
		{"download:\n  listen: nohostport\n", "download.listen"},
		{"download:\n  listen: 127.0.0.1:8443\n", "download.base_url"},
		{"download:\n  base_url: ftp://x\n", "download.base_url"},
		{"download:\n  tls:\n    cert_file: a.pem\n", "download.tls"},
		{"download:\n  trusted_proxies: [10.0.0.0/99]\n", "download.trusted_proxies[0]"},
		{"download:\n  expiry: 0s\n", "download.expiry"},
		{"download:\n  max_downloads: -1\n", "download.max_downloads"},
	} {
		cfg, err := Parse([]byte(c.yaml), Default())
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.yaml, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want %q", c.yaml, err, c.err)
		case c.err == "" && (cfg.Download.Expiry != 7*24*time.Hour || cfg.Download.MaxDownloads != 20 || !cfg.Download.NotifySender):
			t.Errorf("defaults: %+v", cfg.Download)
		}
	}
}

// TestDefaultsFromPackages checks that the defaults the file documents are
// the ones the listener, the delivery queue and the ICAP service apply to
// a zero setting: written once, in those packages.
func TestDefaultsFromPackages(t *testing.T) {
	d := Default()
	l := d.SMTP.Limits
	q := queue.Config{}.Defaults()
	ic := icap.DefaultConfig()
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"smtp.limits.max_message_size", int64(l.MaxMessageSize), int64(25 << 20)},
		{"smtp.limits.max_recipients", l.MaxRecipients, 100},
		{"smtp.limits.max_connections", l.MaxConnections, 500},
		{"smtp.limits.max_connections_per_ip", l.MaxConnectionsPer, 50},
		{"smtp.limits.command_timeout", l.CommandTimeout, 5 * time.Minute},
		{"smtp.limits.inspect_timeout", l.InspectTimeout, 2 * time.Minute},
		{"smtp.auth_limits.window", d.SMTP.AuthLimits.Window, 15 * time.Minute},
		{"smtp.auth_limits.address_block_after", d.SMTP.AuthLimits.AddressBlockAfter, 10},
		{"smtp.auth_limits.account_max_delay", d.SMTP.AuthLimits.AccountMaxDelay, 8 * time.Second},
		{"upstream.workers", d.Upstream.Workers, q.Workers},
		{"upstream.max_age", d.Upstream.MaxAge, q.MaxAge},
		{"upstream.connect_timeout", d.Upstream.ConnectTimeout, q.DialTimeout},
		{"upstream.command_timeout", d.Upstream.CommandTimeout, q.CommandTimeout},
		{"upstream.local_retry", d.Upstream.LocalRetry, q.LocalRetry},
		{"icap.max_connections", d.ICAP.MaxConnections, ic.MaxConnections},
		{"icap.max_body_size", int64(d.ICAP.MaxBodySize), int64(ic.MaxBodyBytes)},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: default %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
