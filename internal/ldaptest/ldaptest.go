// Package ldaptest starts a real OpenLDAP slapd (Debian's package) for
// tests: unprivileged on a loopback port, with a generated slapd.conf, the
// mdb backend and an LDIF loaded by slapadd. Every directory test of the
// project starts its server here, so there is one way to do it.
//
// Without slapd the tests are skipped, except in CI (CI=true), where a
// missing slapd is a failure: the directory must be tested against a
// real server, never a mock.
package ldaptest

import (
	"bytes"
	_ "embed"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// City is the LDIF of a small city hall: an AD-like tree under
// ou=ad,dc=city,dc=example and an OpenLDAP-style one under
// ou=ol,dc=city,dc=example (see testdata/city.ldif).
//
//go:embed testdata/city.ldif
var City string

//go:embed testdata/ad.schema
var adSchema string

// Suffix, the root and the service account of the test server.
const (
	Suffix       = "dc=city,dc=example"
	RootDN       = "cn=root,dc=city,dc=example"
	RootPW       = "root-secret"
	ServiceDN    = "cn=dlpguard,ou=Services,dc=city,dc=example"
	ServicePW    = "service-secret"
	ADBase       = "ou=ad,dc=city,dc=example"
	OpenLDAPBase = "ou=ol,dc=city,dc=example"
	// Groups of the AD-like tree.
	ApproverGroup = "cn=承認者,ou=Groups,ou=ad,dc=city,dc=example"
	AdminGroup    = "cn=情報政策課,ou=Groups,ou=ad,dc=city,dc=example"
	AuditorGroup  = "cn=監査,ou=Groups,ou=ad,dc=city,dc=example"
)

// Binaries of Debian's slapd package.
const (
	slapdPath   = "/usr/sbin/slapd"
	slapaddPath = "/usr/sbin/slapadd"
)

// Server is one running slapd.
type Server struct {
	// URL is ldap://127.0.0.1:PORT (StartTLS offered), LDAPSURL
	// ldaps://127.0.0.1:PORT; CAFile the PEM CA of the server's
	// certificate (for 127.0.0.1).
	URL      string
	Addr     string
	LDAPSURL string
	CAFile   string
	dir      string
	cmd      *exec.Cmd
	done     chan error
	t        testing.TB
}

// Need skips t when slapd is not installed, or fails it under CI.
func Need(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(slapdPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ldaptest: slapd is required in CI (apt-get install slapd ldap-utils): %v", err)
		}
		t.Skipf("ldaptest: slapd not installed: %v", err)
	}
}

// Start loads ldif into a new database and starts slapd on a free
// loopback port; it is stopped when the test ends.
func Start(t testing.TB, ldif string) *Server {
	t.Helper()
	Need(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ad.schema"), []byte(adSchema), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeCerts(dir); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(slapdConf(dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	ldifPath := filepath.Join(dir, "data.ldif")
	if err := os.WriteFile(ldifPath, []byte(ldif), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(slapaddPath, "-f", conf, "-l", ldifPath).CombinedOutput(); err != nil {
		t.Fatalf("ldaptest: slapadd: %v\n%s", err, out)
	}
	s := &Server{dir: dir, t: t, CAFile: filepath.Join(dir, "ca.pem")}
	var lastErr error
	for range 5 {
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("ldaptest: start slapd: %v", lastErr)
	return nil
}

func slapdConf(dir string) string {
	return fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include %[1]s/ad.schema
TLSCertificateFile %[1]s/server.pem
TLSCertificateKeyFile %[1]s/server.key
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %[1]s/slapd.pid
database mdb
maxsize 16777216
suffix %[2]q
rootdn %[3]q
rootpw %[4]s
directory %[1]s/db
index objectClass eq
index mail,uid,sAMAccountName,userPrincipalName eq
access to attrs=userPassword
	by self read
	by anonymous auth
	by * none
access to *
	by users read
	by * none
`, dir, Suffix, RootDN, RootPW)
}

// start runs slapd on a port just found free (another process may take
// it in between: Start retries).
func (s *Server) start() error {
	// Both held open at once, so that they differ; closed before slapd
	// binds them.
	var addrs [2]string
	var lns []net.Listener
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return err
		}
		lns = append(lns, l)
		addrs[i] = l.Addr().String()
	}
	for _, l := range lns {
		l.Close()
	}
	return s.run(addrs[0], addrs[1])
}

// run starts slapd on addr (ldap://) and tlsAddr (ldaps://) and waits
// until it accepts connections.
func (s *Server) run(addr, tlsAddr string) error {
	url, tlsURL := "ldap://"+addr, "ldaps://"+tlsAddr
	var stderr bytes.Buffer
	// -d 0: stay in the foreground, so that the test owns the process.
	cmd := exec.Command(slapdPath, "-f", filepath.Join(s.dir, "slapd.conf"), "-h", url+"/ "+tlsURL+"/", "-d", "0")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("slapd: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-done:
			return fmt.Errorf("slapd exited: %v: %s", err, stderr.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			s.URL, s.Addr, s.LDAPSURL, s.cmd, s.done = url, addr, tlsURL, cmd, done
			return nil
		}
	}
	cmd.Process.Kill()
	<-done
	return fmt.Errorf("slapd did not listen on %s: %s", addr, stderr.String())
}

// Stop ends slapd (a second call does nothing).
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts slapd again on the same address, with the same data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.run(s.Addr, strings.TrimPrefix(s.LDAPSURL, "ldaps://")); err != nil {
		s.t.Fatalf("ldaptest: restart: %v", err)
	}
}

// Replace sets attr of dn to values, as the directory's administrators
// would (a personnel change).
func (s *Server) Replace(dn, attr string, values ...string) {
	s.t.Helper()
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		s.t.Fatalf("ldaptest: dial: %v", err)
	}
	defer c.Close()
	if err := c.Bind(RootDN, RootPW); err != nil {
		s.t.Fatalf("ldaptest: bind: %v", err)
	}
	m := ldap.NewModifyRequest(dn, nil)
	m.Replace(attr, values)
	if err := c.Modify(m); err != nil {
		s.t.Fatalf("ldaptest: modify %s %s: %v", dn, attr, err)
	}
}
