// Package directory reads who is who from the city's directory (Active
// Directory or OpenLDAP): a sender's department, the department's
// approvers (the sender's manager and the members of the approver group
// in the same department), and the staff's console sign-in by bind.
//
// The policy file still decides which rules apply; the directory only
// says who is who (3.3.5: the permission is the department's information
// security manager's, and the directory names that person). Answers are
// cached for Config.CacheTTL; when the directory cannot be reached, the
// last good answer keeps serving for Config.StaleFor more, and after that
// Resolve fails: the callers fail closed (a hold goes to the security
// team, an approval is refused), never pass.
package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
	lru "github.com/hashicorp/golang-lru/v2"
)

// Schemas: the attribute defaults.
const (
	SchemaAD       = "ad"
	SchemaOpenLDAP = "openldap"
)

// Attributes names the directory attributes dlpguard reads.
type Attributes struct {
	// Mail is the primary address; AltMail more addresses (AD's
	// proxyAddresses, "smtp:" prefixes removed).
	Mail    string `yaml:"mail"`
	AltMail string `yaml:"alt_mail"`
	// Department is the department's name (AD department, OpenLDAP
	// departmentNumber); the policy's departments name the same values.
	Department string `yaml:"department"`
	// Manager is the DN of the person's manager (the 課長).
	Manager     string `yaml:"manager"`
	DisplayName string `yaml:"display_name"`
	// Disabled: AD's userAccountControl (bit 0x2 ACCOUNTDISABLE), or any
	// attribute whose presence (other than FALSE or 0) disables.
	Disabled string `yaml:"disabled"`
	// MemberOf lists the person's groups (AD memberOf). Empty: groups are
	// found by their Member attribute.
	MemberOf string `yaml:"member_of"`
	// Member is the group attribute that lists members (member).
	Member string `yaml:"member"`
	// Login are the attributes a sign-in name may match (AD
	// sAMAccountName and userPrincipalName, OpenLDAP uid); mail always.
	Login []string `yaml:"login"`
}

// Defaults returns the attribute defaults of schema ("ad" or
// "openldap").
func Defaults(schema string) (Attributes, error) {
	switch schema {
	case SchemaAD, "":
		return Attributes{Mail: "mail", AltMail: "proxyAddresses", Department: "department", Manager: "manager",
			DisplayName: "displayName", Disabled: "userAccountControl", MemberOf: "memberOf", Member: "member",
			Login: []string{"sAMAccountName", "userPrincipalName"}}, nil
	case SchemaOpenLDAP:
		return Attributes{Mail: "mail", Department: "departmentNumber", Manager: "manager",
			DisplayName: "displayName", Disabled: "pwdAccountLockedTime", Member: "member",
			Login: []string{"uid"}}, nil
	}
	return Attributes{}, fmt.Errorf("directory: schema %q: want ad or openldap", schema)
}

// merge overrides the defaults with the fields set in o.
func (a Attributes) merge(o Attributes) Attributes {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&a.Mail, o.Mail)
	set(&a.AltMail, o.AltMail)
	set(&a.Department, o.Department)
	set(&a.Manager, o.Manager)
	set(&a.DisplayName, o.DisplayName)
	set(&a.Disabled, o.Disabled)
	set(&a.MemberOf, o.MemberOf)
	set(&a.Member, o.Member)
	if len(o.Login) > 0 {
		a.Login = o.Login
	}
	return a
}

// Config of the directory client (the config file's directory section).
type Config struct {
	URL      string // ldaps://host or ldap://host (with StartTLS)
	StartTLS bool
	CAFile   string // PEM CA bundle for the server's certificate; empty: the system's
	BindDN   string
	Password string
	BaseDN   string
	Schema   string     // ad | openldap
	Attrs    Attributes // overrides of the schema's defaults
	// ApproverGroup: its members may approve for their own department
	// (beside each sender's manager).
	ApproverGroup string
	// AdminGroup and AuditorGroup give those console roles.
	AdminGroup   string
	AuditorGroup string
	// CacheTTL is how long an answer is used before it is asked again
	// (default 10m); StaleFor how long past that the last good answer
	// keeps serving while the directory cannot be reached (default 1h; 0
	// after parsing means the default, negative none).
	CacheTTL time.Duration
	StaleFor time.Duration
	// Timeout of one connection and its requests (default 10s).
	Timeout time.Duration
	// CacheSize is the number of entries kept (default 10000).
	CacheSize int
	// Now is the clock of the cache (default time.Now; tests).
	Now func() time.Time
}

// Source says where an answer came from.
type Source string

// Sources of an answer.
const (
	FromDirectory Source = "directory" // asked now
	FromCache     Source = "cache"     // within the TTL
	FromStale     Source = "stale"     // past the TTL, the directory unreachable
)

// Person is one directory entry as dlpguard sees it.
type Person struct {
	DN          string   `json:"dn"`
	Mail        string   `json:"mail"`
	Addresses   []string `json:"addresses,omitempty"` // Mail and the alternative addresses, lower case
	DisplayName string   `json:"display_name,omitempty"`
	Department  string   `json:"department,omitempty"`
	ManagerDN   string   `json:"manager_dn,omitempty"`
	Disabled    bool     `json:"disabled,omitempty"`
	Groups      []string `json:"groups,omitempty"` // DNs
}

// Resolution is what the relay uses for a sender.
type Resolution struct {
	Sender     Person `json:"sender"`
	Department string `json:"department"`
	// Manager is the sender's manager's address ("" when none or
	// disabled); Approvers the manager and the approver group's enabled
	// members of the same department, the sender excluded (nobody
	// approves their own, 3.3.5).
	Manager   string    `json:"manager,omitempty"`
	Approvers []string  `json:"approvers"`
	Source    Source    `json:"source"`
	Fetched   time.Time `json:"fetched"`
}

// Errors.
var (
	// ErrNotFound: no enabled entry has the address or name.
	ErrNotFound = errors.New("directory: not found")
	// ErrUnavailable: the directory could not be asked and no cached
	// answer is recent enough.
	ErrUnavailable = errors.New("directory: unavailable")
	// ErrBadLogin: wrong name or password, a disabled account, or a
	// name that is not exactly one entry.
	ErrBadLogin = errors.New("directory: wrong user name or password")
	// ErrNoRole: the account is in none of the configured groups.
	ErrNoRole = errors.New("directory: account in no configured group")
)

type cached struct {
	res     Resolution
	err     error // ErrNotFound is cached too: a sender not in the directory
	fetched time.Time
}

// Client asks the directory. It is safe for concurrent use.
type Client struct {
	cfg   Config
	attrs Attributes
	tls   *tls.Config
	log   *slog.Logger
	now   func() time.Time
	cache *lru.Cache[string, cached]

	mu       sync.Mutex
	inflight map[string]*call
	// downUntil: the directory failed to answer; until then Resolve does
	// not dial again (a black-holed server would make every permission
	// check wait for the timeout).
	downUntil time.Time
	downErr   error
}

type call struct {
	done chan struct{}
	c    cached
}

// New checks cfg and returns a Client; it does not connect.
func New(cfg Config, log *slog.Logger) (*Client, error) {
	if cfg.URL == "" || cfg.BaseDN == "" {
		return nil, errors.New("directory: url and base_dn are required")
	}
	if !strings.HasPrefix(cfg.URL, "ldap://") && !strings.HasPrefix(cfg.URL, "ldaps://") {
		return nil, fmt.Errorf("directory: url %q: want ldap:// or ldaps://", cfg.URL)
	}
	def, err := Defaults(cfg.Schema)
	if err != nil {
		return nil, err
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 10 * time.Minute
	}
	if cfg.StaleFor == 0 {
		cfg.StaleFor = time.Hour
	}
	if cfg.StaleFor < 0 {
		cfg.StaleFor = 0
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10000
	}
	if log == nil {
		log = slog.Default()
	}
	c := &Client{cfg: cfg, attrs: def.merge(cfg.Attrs), log: log, now: cfg.Now, inflight: map[string]*call{}}
	if c.now == nil {
		c.now = time.Now
	}
	c.cache, err = lru.New[string, cached](cfg.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("directory: cache: %w", err)
	}
	host := cfg.URL[strings.Index(cfg.URL, "://")+3:]
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	c.tls = &tls.Config{ServerName: strings.TrimSuffix(host, "/"), MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("directory: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("directory: ca_file %s: no PEM certificate", cfg.CAFile)
		}
		c.tls.RootCAs = pool
	}
	return c, nil
}

// Attributes is the attribute mapping in use (the schema's defaults with
// the overrides).
func (c *Client) Attributes() Attributes { return c.attrs }

// dial connects (TLS as configured) and binds as the service account.
func (c *Client) dial(ctx context.Context) (*ldap.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("directory %s: %w", c.cfg.URL, err)
	}
	d := &net.Dialer{Timeout: c.cfg.Timeout}
	conn, err := ldap.DialURL(c.cfg.URL, ldap.DialWithDialer(d), ldap.DialWithTLSConfig(c.tls))
	if err != nil {
		return nil, fmt.Errorf("directory %s: %w", c.cfg.URL, err)
	}
	conn.SetTimeout(c.cfg.Timeout)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < c.cfg.Timeout {
		conn.SetTimeout(max(time.Until(dl), time.Millisecond))
	}
	if c.cfg.StartTLS {
		if err := conn.StartTLS(c.tls); err != nil {
			conn.Close()
			return nil, fmt.Errorf("directory %s: starttls: %w", c.cfg.URL, err)
		}
	}
	if c.cfg.BindDN != "" {
		if err := conn.Bind(c.cfg.BindDN, c.cfg.Password); err != nil {
			conn.Close()
			return nil, fmt.Errorf("directory %s: bind %s: %w", c.cfg.URL, c.cfg.BindDN, err)
		}
	}
	return conn, nil
}

func (c *Client) personAttrs() []string {
	a := c.attrs
	out := []string{a.Mail, a.Department, a.Manager, a.DisplayName}
	for _, s := range []string{a.AltMail, a.Disabled, a.MemberOf} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// search returns the entries of filter under the base DN.
// limit is the size limit (0: the server's); a search cut by it returns
// what came.
func (c *Client) search(conn *ldap.Conn, base string, scope int, filter string, limit int) ([]*ldap.Entry, error) {
	req := ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, limit, int(c.cfg.Timeout/time.Second), false,
		filter, c.personAttrs(), nil)
	res, err := conn.Search(req)
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil, nil
		}
		if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) && res != nil {
			return res.Entries, nil
		}
		return nil, fmt.Errorf("directory search %s: %w", filter, err)
	}
	return res.Entries, nil
}

func (c *Client) person(e *ldap.Entry) Person {
	a := c.attrs
	p := Person{DN: e.DN, Mail: strings.ToLower(e.GetAttributeValue(a.Mail)), DisplayName: e.GetAttributeValue(a.DisplayName),
		Department: strings.TrimSpace(e.GetAttributeValue(a.Department)), ManagerDN: e.GetAttributeValue(a.Manager)}
	add := func(s string) {
		s = strings.ToLower(strings.TrimSpace(s))
		if s != "" && !containsFold(p.Addresses, s) {
			p.Addresses = append(p.Addresses, s)
		}
	}
	add(p.Mail)
	if a.AltMail != "" {
		for _, v := range e.GetAttributeValues(a.AltMail) {
			// AD proxyAddresses: "SMTP:primary", "smtp:alias", "X500:…".
			if i := strings.IndexByte(v, ':'); i >= 0 {
				if !strings.EqualFold(v[:i], "smtp") {
					continue
				}
				v = v[i+1:]
			}
			add(v)
		}
	}
	if a.Disabled != "" {
		vals := e.GetAttributeValues(a.Disabled)
		if strings.EqualFold(a.Disabled, "userAccountControl") {
			for _, v := range vals {
				n, err := strconv.ParseInt(v, 10, 64)
				// An unreadable value disables: fail closed.
				p.Disabled = p.Disabled || err != nil || n&0x2 != 0
			}
		} else {
			for _, v := range vals {
				p.Disabled = p.Disabled || !(strings.EqualFold(v, "FALSE") || v == "0" || v == "")
			}
		}
	}
	if a.MemberOf != "" {
		p.Groups = e.GetAttributeValues(a.MemberOf)
	}
	return p
}

// groupsOf fills p.Groups from the groups' member attribute, when the
// schema has no memberOf.
func (c *Client) groupsOf(conn *ldap.Conn, p *Person) error {
	if c.attrs.MemberOf != "" {
		return nil
	}
	filter := "(" + ldap.EscapeFilter(c.attrs.Member) + "=" + ldap.EscapeFilter(p.DN) + ")"
	req := ldap.NewSearchRequest(c.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, int(c.cfg.Timeout/time.Second), false,
		filter, []string{"dn"}, nil)
	res, err := conn.Search(req)
	if err != nil {
		return fmt.Errorf("directory groups of %s: %w", p.DN, err)
	}
	p.Groups = nil
	for _, e := range res.Entries {
		p.Groups = append(p.Groups, e.DN)
	}
	return nil
}

// InGroup reports whether p is a member of the group DN (compared as
// DNs, case-insensitively).
func (p Person) InGroup(group string) bool {
	if group == "" {
		return false
	}
	want, err := ldap.ParseDN(group)
	if err != nil {
		return false
	}
	for _, g := range p.Groups {
		if d, err := ldap.ParseDN(g); err == nil && d.EqualFold(want) {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// byAddress finds the one entry with address addr (mail or an
// alternative address).
func (c *Client) byAddress(conn *ldap.Conn, addr string) (Person, error) {
	f := "(" + ldap.EscapeFilter(c.attrs.Mail) + "=" + ldap.EscapeFilter(addr) + ")"
	if c.attrs.AltMail != "" {
		f = "(|" + f + "(" + ldap.EscapeFilter(c.attrs.AltMail) + "=smtp:" + ldap.EscapeFilter(addr) + ")" +
			"(" + ldap.EscapeFilter(c.attrs.AltMail) + "=" + ldap.EscapeFilter(addr) + "))"
	}
	entries, err := c.search(conn, c.cfg.BaseDN, ldap.ScopeWholeSubtree, f, 2)
	if err != nil {
		return Person{}, err
	}
	if len(entries) != 1 {
		// None, or an address two entries claim: who is who is unclear,
		// so nobody (the security team decides, 3.3.5).
		return Person{}, fmt.Errorf("%w: %s (%d entries)", ErrNotFound, addr, len(entries))
	}
	p := c.person(entries[0])
	return p, c.groupsOf(conn, &p)
}

// byDN reads one entry.
func (c *Client) byDN(conn *ldap.Conn, dn string) (Person, error) {
	entries, err := c.search(conn, dn, ldap.ScopeBaseObject, "(objectClass=*)", 1)
	if err != nil {
		return Person{}, err
	}
	if len(entries) != 1 {
		return Person{}, fmt.Errorf("%w: %s", ErrNotFound, dn)
	}
	p := c.person(entries[0])
	return p, c.groupsOf(conn, &p)
}

// CheckDN reports whether s is a distinguished name (for the config's
// group settings).
func CheckDN(s string) error {
	_, err := ldap.ParseDN(s)
	return err
}
