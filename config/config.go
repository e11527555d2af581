// Package config reads dlpguard's one YAML configuration file. Every
// setting has an embedded default (Default), so an empty file is a valid
// configuration; an unknown or invalid setting is an error that names the
// line and the setting.
package config

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"dlpguard/icap"
	"dlpguard/inspect/ocr"
	"dlpguard/internal/yamlfile"
	"dlpguard/queue"
	"dlpguard/smtpproxy"
)

// Config is the whole configuration.
type Config struct {
	// Hostname is the relay's name in the SMTP greeting, EHLO to the
	// upstream, Received headers and DSNs.
	Hostname string `yaml:"hostname"`
	// DataDir holds the spool, the demo mailbox and generated certificates.
	DataDir string `yaml:"data_dir"`
	// LogLevel is debug, info, warn or error.
	LogLevel string    `yaml:"log_level"`
	SMTP     SMTP      `yaml:"smtp"`
	Upstream Upstream  `yaml:"upstream"`
	HTTP     HTTP      `yaml:"http"`
	Policy   PolicyRef `yaml:"policy"`
	Review   Review    `yaml:"review"`
	ICAP     ICAP      `yaml:"icap"`
	Inspect  Inspect   `yaml:"inspect"`
	// Download is the recipients' listener of releases by link.
	Download Download `yaml:"download"`
	// Directory is the city's AD/LDAP (departments, approvers, sign-in).
	Directory Directory `yaml:"directory"`
	Storage   Storage   `yaml:"storage"`
}

// Inspect are settings of the inspection that are the server's, not the
// policy's (the policy file has its own limits).
type Inspect struct {
	// Concurrency is how many messages the relay inspects at once; 0:
	// the number of CPUs (GOMAXPROCS). It bounds memory: each inspection
	// holds its extraction buffers until it ends.
	Concurrency int `yaml:"concurrency"`
	OCR         OCR `yaml:"ocr"`
}

// OCR reads the text of images and scanned PDF pages with Tesseract
// (3.3.5: a scanned form is not a blind spot). See inspect/ocr.
type OCR struct {
	// Enabled is auto (on when Command and the languages are installed),
	// true (on; missing Tesseract stops the start) or false.
	Enabled     string        `yaml:"enabled"`
	Command     string        `yaml:"command"`
	Languages   string        `yaml:"languages"`
	MaxPages    int           `yaml:"max_pages"`
	MaxPixels   int64         `yaml:"max_pixels"`
	Timeout     time.Duration `yaml:"timeout"`
	Concurrency int           `yaml:"concurrency"`
	MaxMemory   Size          `yaml:"max_memory"`
}

// Options are the OCR settings for ocr.New.
func (o OCR) Options() ocr.Config {
	return ocr.Config{Enabled: o.Enabled, Command: o.Command, Languages: o.Languages, MaxPages: o.MaxPages,
		MaxPixels: o.MaxPixels, Timeout: o.Timeout, Concurrency: o.Concurrency, MaxMemory: int64(o.MaxMemory)}
}

// StorageDSNEnv is the environment variable that gives the PostgreSQL DSN
// when neither storage.dsn nor storage.dsn_file does.
const StorageDSNEnv = "DLPGUARD_STORAGE_DSN"

// Storage is where the state security staff work on lives: held messages
// first (more will follow). "sqlite" keeps it in data_dir on this node;
// "postgres" in one database that several relay nodes share.
type Storage struct {
	Driver string `yaml:"driver"` // sqlite (default) or postgres
	// DSN is the PostgreSQL connection string. It carries a password:
	// prefer DSNFile or $DLPGUARD_STORAGE_DSN. Never logged.
	DSN     string `yaml:"dsn"`
	DSNFile string `yaml:"dsn_file"` // read for the DSN (trailing newline removed)
}

// String hides the DSN, so that printing a configuration never shows
// the database password.
func (s Storage) String() string {
	dsn := ""
	if s.DSN != "" {
		dsn = "(hidden)"
	}
	return fmt.Sprintf("{Driver:%s DSN:%s DSNFile:%s}", s.Driver, dsn, s.DSNFile)
}

// SMTP is the receiving side.
type SMTP struct {
	// Listen are addresses for submission (plain, STARTTLS offered when a
	// certificate is configured).
	Listen []string `yaml:"listen"`
	// TLSListen are addresses for implicit TLS (RFC 8314); needs TLS.
	TLSListen []string `yaml:"tls_listen"`
	// Networks are the client networks allowed to relay without AUTH.
	Networks []string `yaml:"networks"`
	// Accounts may relay from anywhere after AUTH (only over TLS).
	Accounts []Account `yaml:"accounts"`
	TLS      TLS       `yaml:"tls"`
	Limits   Limits    `yaml:"limits"`
	// AuthLimits are the brakes on password guessing.
	AuthLimits AuthLimits `yaml:"auth_limits"`
}

// AuthLimits slow and block password guessing (issue 17): failures are
// counted per client address and per account; each further attempt waits
// a delay that doubles per failure; an address is blocked after
// AddressBlockAfter failures, an account only when AccountBlockAfter is
// set (by default it is slowed, never locked, so an attacker cannot lock
// its owner out).
type AuthLimits struct {
	// MaxSessions caps the sessions inside an AUTH exchange at once;
	// 0: max_connections/5.
	MaxSessions int `yaml:"max_sessions"`
	// MaxChecks caps the password checks running at once; 0: half the
	// CPUs.
	MaxChecks         int           `yaml:"max_checks"`
	Window            time.Duration `yaml:"window"`
	AddressDelay      time.Duration `yaml:"address_delay"`
	AddressMaxDelay   time.Duration `yaml:"address_max_delay"`
	AddressBlockAfter int           `yaml:"address_block_after"`
	AddressBlockFor   time.Duration `yaml:"address_block_for"`
	AccountDelay      time.Duration `yaml:"account_delay"`
	AccountMaxDelay   time.Duration `yaml:"account_max_delay"`
	// AccountBlockAfter: 0 never blocks an account.
	AccountBlockAfter int           `yaml:"account_block_after"`
	AccountBlockFor   time.Duration `yaml:"account_block_for"`
}

// Account is one SMTP AUTH identity.
type Account struct {
	Username string `yaml:"username"`
	// PasswordHash is a bcrypt ($2a$/$2b$/$2y$) or argon2id
	// ($argon2id$v=19$m=…,t=…,p=…$salt$hash) hash; never a clear password.
	PasswordHash string `yaml:"password_hash"`
}

// TLS is the server certificate.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// SelfSigned generates a self-signed certificate into DataDir/tls when
	// no certificate files are named (demo and tests).
	SelfSigned bool `yaml:"self_signed"`
}

// Limits bound what one client can make the relay do.
type Limits struct {
	MaxMessageSize Size          `yaml:"max_message_size"`
	MaxRecipients  int           `yaml:"max_recipients"`
	MaxLineLength  int           `yaml:"max_line_length"`
	MaxHeaderSize  Size          `yaml:"max_header_size"`
	CommandTimeout time.Duration `yaml:"command_timeout"`
	DataTimeout    time.Duration `yaml:"data_timeout"`
	MaxConnections int           `yaml:"max_connections"`
	// MaxConnectionsPer caps one client address's sessions; when it is
	// not set, a quarter of MaxConnections (at most 50, at least 1), so
	// that slow clients from one address cannot take them all.
	MaxConnectionsPer int `yaml:"max_connections_per_ip"`
	// InspectTimeout bounds the inspection of one message; when it runs
	// out, the message is held (fail closed).
	InspectTimeout time.Duration `yaml:"inspect_timeout"`
}

// Upstream is where accepted mail goes (engineer B's queue.Config takes
// these).
type Upstream struct {
	// Address is host:port of the smarthost; empty delivers to the local
	// demo mailbox (DataDir/mailbox).
	Address string `yaml:"address"`
	// StartTLS is none, opportunistic or required.
	StartTLS string `yaml:"starttls"`
	// TLSSkipVerify disables certificate verification (test upstreams only).
	TLSSkipVerify bool   `yaml:"tls_skip_verify"`
	Username      string `yaml:"username"`
	Password      string `yaml:"password"`
	// PasswordFile is read for the password when Password is empty.
	PasswordFile string `yaml:"password_file"`
	Workers      int    `yaml:"workers"`
	// Retry lists the delays between attempts; the last repeats.
	Retry []time.Duration `yaml:"retry"`
	// MaxAge gives up on a recipient (and bounces) after this long.
	MaxAge         time.Duration `yaml:"max_age"`
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	CommandTimeout time.Duration `yaml:"command_timeout"`
	// LocalRetry is the wait before another attempt after a local problem
	// (the spool could not be read or written, e.g. a full disk), which is
	// not the upstream's fault and is not counted as an attempt.
	LocalRetry time.Duration `yaml:"local_retry"`
}

// HTTP is the operations listener (health, readiness, metrics).
type HTTP struct {
	Listen string `yaml:"listen"` // empty: off
	// SecureCookies marks the console's cookies Secure: set it when a
	// TLS-terminating proxy is in front of the HTTP listener.
	SecureCookies bool `yaml:"secure_cookies"`
}

// Review configures the hold-and-release workflow (3.3.5): notices,
// approvals and the encryption a release enforces.
type Review struct {
	// NoticeFrom is the sender of notices; empty: dlpguard@hostname.
	NoticeFrom string `yaml:"notice_from"`
	// BaseURL is where staff reach the console and the API, for links in
	// notices; empty: http://<http.listen>.
	BaseURL string `yaml:"base_url"`
	// HoldFor is how long a held message waits before it expires
	// (rejected, the sender told).
	HoldFor time.Duration `yaml:"hold_for"`
	// Retention is how long the content of decided messages is kept.
	Retention time.Duration `yaml:"retention"`
	// FourEyesLevelI requires two different approvers to release class I.
	FourEyesLevelI bool `yaml:"four_eyes_level_i"`
	// NoKey is what a release does when a recipient has no public key:
	// "refuse" or "passphrase" (a one-time passphrase shown to the
	// releasing officer, never mailed).
	NoKey string `yaml:"no_key"`
	// SecurityTeam are told of holds from senders of no department, and
	// approve them (3.3.5).
	SecurityTeam []string `yaml:"security_team"`
	// AdminsApprove lets administrators release and reject for every
	// department; otherwise only the department's manager and deputies
	// of the policy in force (or the security team) decide.
	AdminsApprove bool `yaml:"admins_approve"`
	// TimeZone is the IANA zone of times shown to people (notices, CLI,
	// console data), e.g. Asia/Tokyo.
	TimeZone string `yaml:"time_zone"`
	// RemindBefore is how long before a hold expires its approvers are
	// reminded, once; 0: no reminder.
	RemindBefore time.Duration `yaml:"remind_before"`
	// PassphraseChannel is the channel named to the releasing officer for
	// handing a release passphrase to the recipients (never mail).
	PassphraseChannel string `yaml:"passphrase_channel"`
	// ReleaseSubject replaces, on release, a Subject that carried
	// findings (the original goes inside the encryption, 3.3.5); empty:
	// "[dlpguard] 暗号化されたメッセージ".
	ReleaseSubject string `yaml:"release_subject"`
}

// Download configures the release by download link (review.no_key:
// link, issue 13): the listener recipients reach, apart from the console.
type Download struct {
	// Listen is host:port of the download listener; empty: off.
	Listen string `yaml:"listen"`
	// BaseURL is how recipients reach it (https://dl.city.example.lg.jp),
	// for the links in their mails.
	BaseURL string `yaml:"base_url"`
	// TLS: certificate and key files; none: plain HTTP behind a
	// TLS-terminating reverse proxy.
	TLS struct {
		CertFile string `yaml:"cert_file"`
		KeyFile  string `yaml:"key_file"`
	} `yaml:"tls"`
	// Expiry of a link; MaxDownloads per link (0: no limit).
	Expiry       time.Duration `yaml:"expiry"`
	MaxDownloads int           `yaml:"max_downloads"`
	// NotifySender: the sender is told at each recipient's first download.
	NotifySender bool `yaml:"notify_sender"`
	// TrustedProxies name the client in X-Forwarded-For.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// SecureCookies marks the session cookie Secure (set behind a
	// TLS-terminating proxy; with TLS files it always is).
	SecureCookies bool `yaml:"secure_cookies"`
}

// ICAP configures the file-transfer guard: the ICAP (RFC 3507) service
// the web proxy hands uploads to.
type ICAP struct {
	Listen         string `yaml:"listen"` // empty: off
	MaxConnections int    `yaml:"max_connections"`
	MaxBodySize    Size   `yaml:"max_body_size"` // larger uploads are blocked
	// Contact and ApprovedRoute are shown on the block page.
	Contact       string `yaml:"contact"`
	ApprovedRoute string `yaml:"approved_route"`
}

// PolicyRef names the policy file (read by package policy).
type PolicyRef struct {
	File string `yaml:"file"` // empty: the built-in default policy
}

// Size is a byte count; YAML accepts 26214400, "25MB", "25MiB", "512KB".
type Size int64

// UnmarshalYAML parses a byte count with an optional unit.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a size such as 25MB", n.Line)
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = v
	return nil
}

// ParseSize parses "1024", "25MB" (10^6), "25MiB" (2^20), "25M" (2^20),
// as the policy file does (yamlfile.ParseSize).
func ParseSize(v string) (Size, error) {
	n, err := yamlfile.ParseSize(v)
	return Size(n), err
}

// Default returns the embedded defaults.
func Default() *Config {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	return &Config{
		Hostname: host,
		DataDir:  "/var/lib/dlpguard",
		LogLevel: "info",
		Storage:  Storage{Driver: "sqlite"},
		SMTP: SMTP{
			Listen:   []string{"127.0.0.1:2525"},
			Networks: []string{"127.0.0.0/8", "::1/128"},
			Limits: Limits{
				MaxMessageSize:    smtpproxy.DefaultMaxMessageSize,
				MaxRecipients:     smtpproxy.DefaultMaxRecipients,
				MaxLineLength:     smtpproxy.DefaultMaxLineLength,
				MaxHeaderSize:     smtpproxy.DefaultMaxHeaderSize,
				CommandTimeout:    smtpproxy.DefaultCommandTimeout,
				DataTimeout:       smtpproxy.DefaultDataTimeout,
				MaxConnections:    smtpproxy.DefaultMaxConnections,
				MaxConnectionsPer: smtpproxy.DefaultConnectionsPerIP(smtpproxy.DefaultMaxConnections),
				InspectTimeout:    smtpproxy.DefaultInspectTimeout,
			},
			AuthLimits: AuthLimits{
				Window:            smtpproxy.DefaultAuthWindow,
				AddressDelay:      smtpproxy.DefaultAuthAddressDelay,
				AddressMaxDelay:   smtpproxy.DefaultAuthAddressMaxDelay,
				AddressBlockAfter: smtpproxy.DefaultAuthAddressBlockAfter,
				AddressBlockFor:   smtpproxy.DefaultAuthAddressBlockFor,
				AccountDelay:      smtpproxy.DefaultAuthAccountDelay,
				AccountMaxDelay:   smtpproxy.DefaultAuthAccountMaxDelay,
				AccountBlockFor:   smtpproxy.DefaultAuthAccountBlockFor,
			},
		},
		Upstream: Upstream{
			StartTLS:       "opportunistic",
			Workers:        queue.DefaultWorkers,
			Retry:          []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, time.Hour},
			MaxAge:         queue.DefaultMaxAge,
			ConnectTimeout: queue.DefaultDialTimeout,
			CommandTimeout: queue.DefaultCommandTimeout,
			LocalRetry:     queue.DefaultLocalRetry,
		},
		Review: Review{HoldFor: 7 * 24 * time.Hour, Retention: 30 * 24 * time.Hour, NoKey: "refuse", TimeZone: "Asia/Tokyo", RemindBefore: 24 * time.Hour, PassphraseChannel: "電話または手渡し"},
		ICAP:   ICAP{MaxConnections: icap.DefaultConfig().MaxConnections, MaxBodySize: Size(icap.DefaultConfig().MaxBodyBytes)},
		HTTP:   HTTP{Listen: "127.0.0.1:8025"},
		Inspect: Inspect{OCR: func() OCR {
			d := ocr.DefaultConfig()
			return OCR{Enabled: d.Enabled, Command: d.Command, Languages: d.Languages, MaxPages: d.MaxPages,
				MaxPixels: d.MaxPixels, Timeout: d.Timeout, Concurrency: d.Concurrency, MaxMemory: Size(d.MaxMemory)}
		}()},

		// Download: 7 days, 20 downloads, the sender told (issue 13).
		Download:  Download{Expiry: 7 * 24 * time.Hour, MaxDownloads: 20, NotifySender: true},
		Directory: defaultDirectory(),
	}
}

// Demo returns the configuration of `serve --demo`: loopback listeners,
// data in ./demo-data, a self-signed certificate, 127.0.0.0/8 trusted, and
// no upstream (the local mailbox).
func Demo() *Config {
	c := Default()
	c.Hostname = "localhost"
	c.DataDir = "demo-data"
	c.SMTP.Listen = []string{"127.0.0.1:2525"}
	c.SMTP.Networks = []string{"127.0.0.0/8", "::1/128"}
	c.SMTP.TLS.SelfSigned = true
	c.HTTP.Listen = "127.0.0.1:8025"
	c.ICAP.Listen = "127.0.0.1:1344"
	return c
}

// Load reads the file at path over the defaults.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b, Default())
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	// Relative paths in the file are relative to the file's folder.
	base := filepath.Dir(path)
	for _, p := range []*string{&c.DataDir, &c.SMTP.TLS.CertFile, &c.SMTP.TLS.KeyFile, &c.Policy.File, &c.Upstream.PasswordFile,
		&c.Download.TLS.CertFile, &c.Download.TLS.KeyFile, &c.Storage.DSNFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	if c.Upstream.Password == "" && c.Upstream.PasswordFile != "" {
		pw, err := os.ReadFile(c.Upstream.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("config %s: upstream.password_file: %w", path, err)
		}
		c.Upstream.Password = strings.TrimRight(string(pw), "\r\n")
	}
	if err := c.loadDirectory(base); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.Storage.resolve(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// resolve fills in the DSN from storage.dsn_file or the environment. The
// errors never quote the DSN.
func (s *Storage) resolve() error {
	if s.Driver != "postgres" {
		return nil
	}
	if s.DSN == "" && s.DSNFile != "" {
		b, err := os.ReadFile(s.DSNFile)
		if err != nil {
			return fmt.Errorf("storage.dsn_file: %w", err)
		}
		s.DSN = strings.TrimRight(string(b), "\r\n")
	}
	if s.DSN == "" {
		s.DSN = os.Getenv(StorageDSNEnv)
	}
	if s.DSN == "" {
		return fmt.Errorf("storage: driver postgres needs storage.dsn_file, storage.dsn or $%s", StorageDSNEnv)
	}
	return nil
}

// Parse decodes YAML over base (normally Default()) and validates the
// result. Errors name the line and the setting.
func Parse(b []byte, base *Config) (*Config, error) {
	c := *base
	// Slices in the defaults are replaced, not merged, by the file.
	c.SMTP.Listen, c.SMTP.Networks, c.Upstream.Retry = nil, nil, nil
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return nil, yamlfile.CleanError(err)
		}
	}
	if !present(&root, "smtp", "listen") {
		c.SMTP.Listen = base.SMTP.Listen
	}
	if !present(&root, "smtp", "networks") {
		c.SMTP.Networks = base.SMTP.Networks
	}
	if !present(&root, "upstream", "retry") {
		c.Upstream.Retry = base.Upstream.Retry
	}
	if !present(&root, "smtp", "limits", "max_connections_per_ip") && present(&root, "smtp", "limits", "max_connections") {
		// One address's share follows the total it is a share of.
		c.SMTP.Limits.MaxConnectionsPer = DefaultConnectionsPerIP(c.SMTP.Limits.MaxConnections)
	}
	if err := c.validate(); err != nil {
		return nil, yamlfile.Locate(&root, err)
	}
	return &c, nil
}

func (c *Config) validate() error {
	if c.Inspect.Concurrency < 0 {
		return yamlfile.Errorf("inspect.concurrency", "must be 0 (the number of CPUs) or more")
	}
	if err := c.Inspect.OCR.validate(); err != nil {
		return err
	}
	if c.Hostname == "" || strings.ContainsAny(c.Hostname, " \t\r\n") {
		return yamlfile.Errorf("hostname", "must be a host name")
	}
	if c.DataDir == "" {
		return yamlfile.Errorf("data_dir", "must not be empty")
	}
	switch c.Storage.Driver {
	case "sqlite", "postgres":
	default:
		return yamlfile.Errorf("storage.driver", "must be sqlite or postgres, not %q", c.Storage.Driver)
	}
	if c.Storage.DSN != "" && c.Storage.DSNFile != "" {
		return yamlfile.Errorf("storage.dsn", "give storage.dsn or storage.dsn_file, not both")
	}
	if c.Storage.Driver == "sqlite" && (c.Storage.DSN != "" || c.Storage.DSNFile != "") {
		return yamlfile.Errorf("storage.driver", "a DSN is for driver postgres; sqlite keeps its files in data_dir")
	}
	if c.ICAP.Listen != "" {
		if _, _, err := net.SplitHostPort(c.ICAP.Listen); err != nil {
			return yamlfile.Errorf("icap.listen", "%q is not host:port", c.ICAP.Listen)
		}
	}
	if err := c.Directory.validate(); err != nil {
		return err
	}
	if c.ICAP.MaxConnections <= 0 {
		return yamlfile.Errorf("icap.max_connections", "must be positive")
	}
	if c.ICAP.MaxBodySize <= 0 {
		return yamlfile.Errorf("icap.max_body_size", "must be positive")
	}
	switch c.Review.NoKey {
	case "refuse", "passphrase":
	case "link":
		if c.Download.Listen == "" || c.Download.BaseURL == "" {
			return yamlfile.Errorf("review.no_key", "link needs download.listen and download.base_url")
		}
	default:
		return yamlfile.Errorf("review.no_key", "must be refuse, passphrase or link, not %q", c.Review.NoKey)
	}
	if err := c.Download.validate(); err != nil {
		return err
	}
	if c.Review.HoldFor <= 0 {
		return yamlfile.Errorf("review.hold_for", "must be positive")
	}
	if s := c.Review.ReleaseSubject; len(s) > 200 || strings.ContainsAny(s, "\r\n") || !utf8.ValidString(s) {
		return yamlfile.Errorf("review.release_subject", "must be one line of UTF-8 text of at most 200 bytes")
	}
	if c.Review.Retention <= 0 {
		return yamlfile.Errorf("review.retention", "must be positive")
	}
	if _, err := time.LoadLocation(c.Review.TimeZone); err != nil || c.Review.TimeZone == "" {
		return yamlfile.Errorf("review.time_zone", "%q is not a time zone (e.g. Asia/Tokyo)", c.Review.TimeZone)
	}
	if c.Review.RemindBefore < 0 {
		return yamlfile.Errorf("review.remind_before", "must not be negative (0: no reminder)")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return yamlfile.Errorf("log_level", "must be debug, info, warn or error, not %q", c.LogLevel)
	}
	if len(c.SMTP.Listen) == 0 && len(c.SMTP.TLSListen) == 0 {
		return yamlfile.Errorf("smtp.listen", "at least one SMTP listener is needed")
	}
	for i, a := range c.SMTP.Listen {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return yamlfile.Errorf(fmt.Sprintf("smtp.listen[%d]", i), "%q is not host:port", a)
		}
	}
	for i, a := range c.SMTP.TLSListen {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return yamlfile.Errorf(fmt.Sprintf("smtp.tls_listen[%d]", i), "%q is not host:port", a)
		}
	}
	if len(c.SMTP.TLSListen) > 0 && !c.HasTLS() {
		return yamlfile.Errorf("smtp.tls_listen", "needs smtp.tls.cert_file and key_file, or self_signed")
	}
	if len(c.SMTP.Accounts) > 0 && !c.HasTLS() {
		// AUTH is offered only over TLS (RFC 4954 4): accounts without a
		// certificate could never log in.
		return yamlfile.Errorf("smtp.accounts", "need smtp.tls (cert_file and key_file, or self_signed)")
	}
	if (c.SMTP.TLS.CertFile == "") != (c.SMTP.TLS.KeyFile == "") {
		return yamlfile.Errorf("smtp.tls", "cert_file and key_file go together")
	}
	for i, n := range c.SMTP.Networks {
		if _, err := ParseNetwork(n); err != nil {
			return yamlfile.Errorf(fmt.Sprintf("smtp.networks[%d]", i), "%v", err)
		}
	}
	seen := map[string]bool{}
	for i, a := range c.SMTP.Accounts {
		p := fmt.Sprintf("smtp.accounts[%d]", i)
		if a.Username == "" {
			return yamlfile.Errorf(p+".username", "must not be empty")
		}
		if seen[a.Username] {
			return yamlfile.Errorf(p+".username", "duplicate account %q", a.Username)
		}
		seen[a.Username] = true
		if !strings.HasPrefix(a.PasswordHash, "$2a$") && !strings.HasPrefix(a.PasswordHash, "$2b$") &&
			!strings.HasPrefix(a.PasswordHash, "$2y$") && !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
			return yamlfile.Errorf(p+".password_hash", "must be a bcrypt or argon2id hash (see `dlpguard hash-password`)")
		}
	}
	l := c.SMTP.Limits
	switch {
	case l.MaxMessageSize < 1024:
		return yamlfile.Errorf("smtp.limits.max_message_size", "must be at least 1KiB")
	case l.MaxRecipients < 1:
		return yamlfile.Errorf("smtp.limits.max_recipients", "must be at least 1")
	case l.MaxLineLength < 1000:
		// RFC 5321 4.5.3.1.6: a text line may be 1000 octets with CRLF.
		return yamlfile.Errorf("smtp.limits.max_line_length", "must be at least 1000 (RFC 5321 4.5.3.1.6)")
	case l.MaxHeaderSize < 1024 || l.MaxHeaderSize > l.MaxMessageSize:
		return yamlfile.Errorf("smtp.limits.max_header_size", "must be between 1KiB and max_message_size")
	case l.CommandTimeout < time.Second:
		return yamlfile.Errorf("smtp.limits.command_timeout", "must be at least 1s")
	case l.DataTimeout < time.Second:
		return yamlfile.Errorf("smtp.limits.data_timeout", "must be at least 1s")
	case l.MaxConnections < 1:
		return yamlfile.Errorf("smtp.limits.max_connections", "must be at least 1")
	case l.MaxConnectionsPer < 1:
		return yamlfile.Errorf("smtp.limits.max_connections_per_ip", "must be at least 1")
	case l.InspectTimeout < time.Second:
		return yamlfile.Errorf("smtp.limits.inspect_timeout", "must be at least 1s")
	case l.MaxConnectionsPer > l.MaxConnections:
		return yamlfile.Errorf("smtp.limits.max_connections_per_ip", "must not be more than max_connections (%d)", l.MaxConnections)
	}
	if err := c.SMTP.AuthLimits.validate(); err != nil {
		return err
	}
	u := c.Upstream
	if u.Address != "" {
		if _, _, err := net.SplitHostPort(u.Address); err != nil {
			return yamlfile.Errorf("upstream.address", "%q is not host:port", u.Address)
		}
	}
	switch u.StartTLS {
	case "none", "opportunistic", "required":
	default:
		return yamlfile.Errorf("upstream.starttls", "must be none, opportunistic or required, not %q", u.StartTLS)
	}
	if u.Username != "" && u.StartTLS != "required" {
		// The password must never cross the network in clear.
		return yamlfile.Errorf("upstream.username", "AUTH to the upstream needs starttls: required")
	}
	if u.Workers < 1 || u.Workers > 1000 {
		return yamlfile.Errorf("upstream.workers", "must be between 1 and 1000")
	}
	if len(u.Retry) == 0 {
		return yamlfile.Errorf("upstream.retry", "needs at least one delay")
	}
	for i, d := range u.Retry {
		if d <= 0 {
			return yamlfile.Errorf(fmt.Sprintf("upstream.retry[%d]", i), "must be positive")
		}
	}
	if u.MaxAge < time.Minute {
		return yamlfile.Errorf("upstream.max_age", "must be at least 1m")
	}
	if u.ConnectTimeout < time.Second || u.CommandTimeout < time.Second {
		return yamlfile.Errorf("upstream.connect_timeout", "timeouts must be at least 1s")
	}
	if u.LocalRetry < time.Second || u.LocalRetry > 24*time.Hour {
		return yamlfile.Errorf("upstream.local_retry", "must be between 1s and 24h")
	}
	if c.HTTP.Listen != "" {
		if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
			return yamlfile.Errorf("http.listen", "%q is not host:port", c.HTTP.Listen)
		}
	}
	return nil
}

// DefaultConnectionsPerIP is max_connections_per_ip when the file sets
// max_connections but not it: a quarter, at most 50, at least 1 (the
// listener's own rule, smtpproxy.DefaultConnectionsPerIP).
func DefaultConnectionsPerIP(maxConnections int) int {
	return smtpproxy.DefaultConnectionsPerIP(maxConnections)
}

func (a *AuthLimits) validate() error {
	const p = "smtp.auth_limits."
	switch {
	case a.MaxSessions < 0:
		return yamlfile.Errorf(p+"max_sessions", "must not be negative (0: max_connections/5)")
	case a.MaxChecks < 0:
		return yamlfile.Errorf(p+"max_checks", "must not be negative (0: half the CPUs)")
	case a.Window < time.Second:
		return yamlfile.Errorf(p+"window", "must be at least 1s")
	case a.AddressDelay <= 0:
		return yamlfile.Errorf(p+"address_delay", "must be positive")
	case a.AccountDelay <= 0:
		return yamlfile.Errorf(p+"account_delay", "must be positive")
	case a.AddressMaxDelay < a.AddressDelay:
		return yamlfile.Errorf(p+"address_max_delay", "must be at least address_delay")
	case a.AccountMaxDelay < a.AccountDelay:
		return yamlfile.Errorf(p+"account_max_delay", "must be at least account_delay")
	case a.AddressMaxDelay > 10*time.Minute:
		return yamlfile.Errorf(p+"address_max_delay", "must be at most 10m (a session waits it out)")
	case a.AccountMaxDelay > 10*time.Minute:
		return yamlfile.Errorf(p+"account_max_delay", "must be at most 10m (a session waits it out)")
	case a.AddressBlockAfter < 1:
		return yamlfile.Errorf(p+"address_block_after", "must be at least 1")
	case a.AddressBlockFor < time.Second:
		return yamlfile.Errorf(p+"address_block_for", "must be at least 1s")
	case a.AccountBlockAfter < 0:
		return yamlfile.Errorf(p+"account_block_after", "must not be negative (0: an account is never blocked)")
	case a.AccountBlockAfter > 0 && a.AccountBlockFor < time.Second:
		return yamlfile.Errorf(p+"account_block_for", "must be at least 1s")
	}
	return nil
}

// HasTLS reports whether a server certificate is configured or generated.
func (c *Config) HasTLS() bool {
	return c.SMTP.TLS.CertFile != "" || c.SMTP.TLS.SelfSigned
}

// ParseNetwork parses a CIDR ("10.0.0.0/8") or a single address.
func ParseNetwork(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a network (CIDR) or address", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Networks returns the parsed client networks (validated by Parse).
func (c *Config) Networks() []netip.Prefix {
	var ps []netip.Prefix
	for _, n := range c.SMTP.Networks {
		if p, err := ParseNetwork(n); err == nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// present reports whether the mapping path exists in the document.
func present(root *yaml.Node, keys ...string) bool {
	return find(root, keys) != nil
}

func find(root *yaml.Node, keys []string) *yaml.Node {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, k := range keys {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

func (o OCR) validate() error {
	switch {
	case o.Enabled != "auto" && o.Enabled != "true" && o.Enabled != "false":
		return yamlfile.Errorf("inspect.ocr.enabled", "%q is not auto, true or false", o.Enabled)
	case strings.TrimSpace(o.Command) == "":
		return yamlfile.Errorf("inspect.ocr.command", "must not be empty")
	case o.Languages == "" || strings.ContainsAny(o.Languages, " /\t"):
		return yamlfile.Errorf("inspect.ocr.languages", "%q is not a Tesseract language list (e.g. jpn+eng)", o.Languages)
	case o.MaxPages < 1:
		return yamlfile.Errorf("inspect.ocr.max_pages", "must be at least 1")
	case o.MaxPixels < 10000:
		return yamlfile.Errorf("inspect.ocr.max_pixels", "must be at least 10000")
	case o.Timeout < time.Second:
		return yamlfile.Errorf("inspect.ocr.timeout", "must be at least 1s")
	case o.Concurrency < 1:
		return yamlfile.Errorf("inspect.ocr.concurrency", "must be at least 1")
	case o.MaxMemory != 0 && o.MaxMemory < 64<<20:
		return yamlfile.Errorf("inspect.ocr.max_memory", "must be 0 (no limit) or at least 64MiB")
	}
	return nil
}

func (d *Download) validate() error {
	if d.Listen != "" {
		if _, _, err := net.SplitHostPort(d.Listen); err != nil {
			return yamlfile.Errorf("download.listen", "%q is not host:port", d.Listen)
		}
		if d.BaseURL == "" {
			return yamlfile.Errorf("download.base_url", "needed with download.listen: the links in the recipients' mails")
		}
	}
	if d.BaseURL != "" {
		u, err := url.Parse(d.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
			return yamlfile.Errorf("download.base_url", "%q is not an http(s) URL", d.BaseURL)
		}
	}
	if (d.TLS.CertFile == "") != (d.TLS.KeyFile == "") {
		return yamlfile.Errorf("download.tls", "cert_file and key_file go together")
	}
	if d.Expiry <= 0 {
		return yamlfile.Errorf("download.expiry", "must be positive")
	}
	if d.MaxDownloads < 0 {
		return yamlfile.Errorf("download.max_downloads", "must not be negative")
	}
	for i, p := range d.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				return yamlfile.Errorf(fmt.Sprintf("download.trusted_proxies[%d]", i), "%q is not a network (CIDR) or address", p)
			}
		}
	}
	return nil
}
