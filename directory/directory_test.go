package directory

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"dlpguard/internal/ldaptest"
)

const (
	olApprovers   = "cn=approvers,ou=groups,ou=ol,dc=city,dc=example"
	shiminKachoDN = "cn=shimin.kacho,ou=Users,ou=ad,dc=city,dc=example"
	taroDN        = "cn=taro.yamada,ou=Users,ou=ad,dc=city,dc=example"
	shinKachoDN   = "cn=shin.kacho,ou=Users,ou=ad,dc=city,dc=example"
	shiminKacho   = "shimin.kacho@city.example.lg.jp"
	hanako        = "hanako.suzuki@city.example.lg.jp"
	taro          = "taro.yamada@city.example.lg.jp"
)

// clock is a settable time for the TTL tests (nanoseconds since 1970).
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

// wantErr fails t unless err is want (nil: no error); it reports
// whether an error was expected, so the caller stops there.
func wantErr(t *testing.T, err, want error) bool {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	return true
}

func adConfig(url string) Config {
	return Config{URL: url, BindDN: ldaptest.ServiceDN, Password: ldaptest.ServicePW, BaseDN: ldaptest.ADBase,
		Schema: SchemaAD, ApproverGroup: ldaptest.ApproverGroup, AdminGroup: ldaptest.AdminGroup, AuditorGroup: ldaptest.AuditorGroup,
		CacheTTL: 10 * time.Minute, StaleFor: 30 * time.Minute}
}

func newClient(t *testing.T, cfg Config) (*Client, *clock) {
	t.Helper()
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	clk.ns.Store(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	c.now = clk.now
	return c, clk
}

// TestResolve: senders of the AD-like and the OpenLDAP-style trees get
// their department, their manager and the approver group's members of
// their own department; nobody is their own approver; disabled people
// approve nothing and are nobody's department; unknown senders are
// ErrNotFound.
func TestResolve(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.City)
	ad, _ := newClient(t, adConfig(s.URL))
	olCfg := Config{URL: s.URL, BindDN: ldaptest.ServiceDN, Password: ldaptest.ServicePW, BaseDN: ldaptest.OpenLDAPBase,
		Schema: SchemaOpenLDAP, ApproverGroup: olApprovers}
	ol, _ := newClient(t, olCfg)
	for _, tc := range []struct {
		name      string
		c         *Client
		addr      string
		dept      string
		manager   string
		approvers []string
		err       error
	}{
		{"staff", ad, taro, "市民課", shiminKacho, []string{shiminKacho, hanako}, nil},
		{"alias from proxyAddresses", ad, "T-Yamada@City.Example.LG.JP", "市民課", shiminKacho, []string{shiminKacho, hanako}, nil},
		{"approver is not her own", ad, hanako, "市民課", shiminKacho, []string{shiminKacho}, nil},
		{"manager", ad, shiminKacho, "市民課", "", []string{hanako}, nil},
		{"other department", ad, "jiro.sato@city.example.lg.jp", "税務課", "zeimu.kacho@city.example.lg.jp",
			[]string{"zeimu.kacho@city.example.lg.jp", "shin.kacho@city.example.lg.jp"}, nil},
		{"disabled sender", ad, "ex.staff@city.example.lg.jp", "", "", nil, ErrNotFound},
		{"unknown sender", ad, "nobody@city.example.lg.jp", "", "", nil, ErrNotFound},
		{"openldap schema", ol, "saburo.ito@city.example.lg.jp", "福祉課", "fukushi.kacho@city.example.lg.jp",
			[]string{"fukushi.kacho@city.example.lg.jp"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.c.Resolve(context.Background(), tc.addr)
			if wantErr(t, err, tc.err) {
				return
			}
			if r.Department != tc.dept || r.Manager != tc.manager || !slices.Equal(r.Approvers, tc.approvers) || r.Source != FromDirectory {
				t.Errorf("got dept %q manager %q approvers %q source %s; want %q %q %q directory",
					r.Department, r.Manager, r.Approvers, r.Source, tc.dept, tc.manager, tc.approvers)
			}
			if slices.Contains(r.Approvers, "ex.staff@city.example.lg.jp") {
				t.Errorf("a disabled account approves: %q", r.Approvers)
			}
		})
	}
}

// TestCacheStaleFailClosed: with slapd stopped, the cache serves within
// the TTL, the last good answer within StaleFor (source stale), and then
// ErrUnavailable — never an answer made up.
func TestCacheStaleFailClosed(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.City)
	c, clk := newClient(t, adConfig(s.URL))
	ctx := context.Background()
	if r, err := c.Resolve(ctx, taro); err != nil || r.Source != FromDirectory {
		t.Fatalf("first: %v %+v", err, r)
	}
	s.Stop()
	steps := []struct {
		advance time.Duration
		source  Source
		err     error
	}{
		{time.Minute, FromCache, nil},
		{10 * time.Minute, FromStale, nil},    // 11m: past the TTL, within StaleFor
		{28 * time.Minute, FromStale, nil},    // 39m
		{2 * time.Minute, "", ErrUnavailable}, // 41m: past TTL+StaleFor
	}
	for _, st := range steps {
		clk.add(st.advance)
		r, err := c.Resolve(ctx, taro)
		if st.err != nil {
			if !errors.Is(err, st.err) || r.Department != "" || len(r.Approvers) != 0 {
				t.Fatalf("after %v: %v %+v, want %v and nothing", st.advance, err, r, st.err)
			}
			continue
		}
		if err != nil || r.Source != st.source || r.Department != "市民課" || !slices.Contains(r.Approvers, shiminKacho) {
			t.Fatalf("after %v: %v %+v, want source %s", st.advance, err, r, st.source)
		}
	}
	// An address never asked: unavailable at once.
	if _, err := c.Resolve(ctx, hanako); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("uncached while down: %v", err)
	}
	// Back up: asked again once the retry pause has passed (not before:
	// a black-holed server must not make every check wait).
	s.Restart()
	if _, err := c.Resolve(ctx, taro); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("within the retry pause: %v", err)
	}
	clk.add(retryDown)
	if r, err := c.Resolve(ctx, taro); err != nil || r.Source != FromDirectory {
		t.Fatalf("after restart: %v %+v", err, r)
	}
}

// TestNewManagerAfterTTL: a personnel change (a new manager) is used once
// the TTL has passed, and by the background refresh.
func TestNewManagerAfterTTL(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.City)
	c, clk := newClient(t, adConfig(s.URL))
	ctx := context.Background()
	if r, _ := c.Resolve(ctx, taro); r.Manager != shiminKacho {
		t.Fatalf("manager %q", r.Manager)
	}
	s.Replace(taroDN, "manager", shinKachoDN)
	clk.add(5 * time.Minute)
	if r, _ := c.Resolve(ctx, taro); r.Manager != shiminKacho || r.Source != FromCache {
		t.Fatalf("within the TTL: %+v", r)
	}
	clk.add(5 * time.Minute)
	r, err := c.Resolve(ctx, taro)
	if err != nil || r.Manager != "shin.kacho@city.example.lg.jp" || r.Source != FromDirectory {
		t.Fatalf("after the TTL: %v %+v", err, r)
	}
	// The new manager belongs to 税務課: a manager approves whatever
	// their department; the group's members approve only for their own
	// (the old manager stays one of them).
	if !slices.Equal(r.Approvers, []string{"shin.kacho@city.example.lg.jp", shiminKacho, hanako}) {
		t.Errorf("approvers %q", r.Approvers)
	}
	// Background refresh: back to the old manager; Refresh past half the
	// TTL picks it up without a caller waiting.
	s.Replace(taroDN, "manager", shiminKachoDN)
	clk.add(6 * time.Minute)
	c.Refresh(ctx)
	if r, _ := c.Resolve(ctx, taro); r.Manager != shiminKacho || r.Source != FromCache {
		t.Fatalf("after Refresh: %+v", r)
	}
}

// TestAuthenticate: sign-in by sAMAccountName, UPN or mail; roles from the
// groups; refused: wrong password, empty password, no group, disabled.
func TestAuthenticate(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.City)
	c, _ := newClient(t, adConfig(s.URL))
	ctx := context.Background()
	for _, tc := range []struct {
		name, user, pw string
		roles          []string
		depts          []string
		err            error
	}{
		{"approver by sAMAccountName", "shimin.kacho", "pw-shimin.kacho", []string{RoleApprover}, []string{"市民課"}, nil},
		{"approver by UPN", "hanako.suzuki@city.example", "pw-hanako.suzuki", []string{RoleApprover}, []string{"市民課"}, nil},
		{"admin by mail", "joho.admin@city.example.lg.jp", "pw-joho.admin", []string{RoleAdmin}, nil, nil},
		{"auditor", "kansa.taro", "pw-kansa.taro", []string{RoleAuditor}, nil, nil},
		{"wrong password", "shimin.kacho", "nope", nil, nil, ErrBadLogin},
		{"empty password", "shimin.kacho", "", nil, nil, ErrBadLogin},
		{"unknown user", "nobody", "x", nil, nil, ErrBadLogin},
		{"outside the groups", "taro.yamada", "pw-taro.yamada", nil, nil, ErrNoRole},
		{"disabled", "ex.staff", "pw-ex.staff", nil, nil, ErrDisabled},
		{"filter injection", "*", "x", nil, nil, ErrBadLogin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := c.Authenticate(ctx, tc.user, tc.pw)
			if wantErr(t, err, tc.err) {
				return
			}
			if !slices.Equal(a.Roles, tc.roles) || !slices.Equal(a.Departments, tc.depts) {
				t.Errorf("roles %q departments %q, want %q %q", a.Roles, a.Departments, tc.roles, tc.depts)
			}
		})
	}
	s.Stop()
	if _, err := c.Authenticate(ctx, "shimin.kacho", "pw-shimin.kacho"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("directory down: %v", err)
	}
}

// TestNewRefusesBadConfig: the config is checked before any connection.
func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{URL: "http://dc1", BaseDN: "dc=x"},
		{URL: "ldap://dc1", BaseDN: "dc=x", Schema: "novell"},
		{URL: "ldaps://dc1", BaseDN: "dc=x", CAFile: "/nonexistent/ca.pem"},
	} {
		if _, err := New(cfg, nil); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
}

// TestTLS: ldaps:// and ldap:// with StartTLS verify the server's
// certificate against ca_file; a certificate the client does not trust
// is no answer (ErrUnavailable: fail closed), never a fallback to clear
// text.
func TestTLS(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.City)
	for _, tc := range []struct {
		name     string
		url      string
		startTLS bool
		caFile   string
		ok       bool
	}{
		{"ldaps with ca_file", s.LDAPSURL, false, s.CAFile, true},
		{"starttls with ca_file", s.URL, true, s.CAFile, true},
		{"ldaps, untrusted certificate", s.LDAPSURL, false, "", false},
		{"starttls, untrusted certificate", s.URL, true, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := adConfig(tc.url)
			cfg.StartTLS, cfg.CAFile = tc.startTLS, tc.caFile
			c, _ := newClient(t, cfg)
			r, err := c.Resolve(context.Background(), taro)
			if tc.ok {
				if err != nil || r.Department != "市民課" {
					t.Fatalf("%v %+v", err, r)
				}
				if _, err := c.Authenticate(context.Background(), "shimin.kacho", "pw-shimin.kacho"); err != nil {
					t.Fatalf("sign-in over TLS: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrUnavailable) || r.Department != "" {
				t.Fatalf("untrusted: %v %+v, want ErrUnavailable", err, r)
			}
		})
	}
}

// TestCancelledCallerIsNotAnOutage: a caller whose context has ended gets
// an error, and the next caller still asks the directory (one aborted
// request does not pause the directory for everyone).
func TestCancelledCallerIsNotAnOutage(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.City)
	c, _ := newClient(t, adConfig(s.URL))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Resolve(ctx, hanako); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("cancelled caller: %v", err)
	}
	if r, err := c.Resolve(context.Background(), taro); err != nil || r.Source != FromDirectory {
		t.Fatalf("next caller: %v %+v", err, r)
	}
}
