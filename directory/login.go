package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Roles an account gets from its groups (the console's and the API's
// words).
const (
	RoleAdmin    = "admin"
	RoleApprover = "approver"
	RoleAuditor  = "auditor"
)

// Account is a directory user who signed in.
type Account struct {
	Person
	// Roles from the configured groups, strongest first.
	Roles []string
	// Departments the account approves for: its own when it is in the
	// approver group, and those of the people it manages.
	Departments []string
}

// ErrDisabled: the account is disabled in the directory.
var ErrDisabled = errors.New("directory: account disabled")

// Authenticate checks username (uid / sAMAccountName / UPN / mail) and
// password by a bind as the user, and gives the roles of the configured
// groups. An empty password is refused before any bind (an LDAP simple
// bind with an empty password is an anonymous bind and would "succeed").
func (c *Client) Authenticate(ctx context.Context, username, password string) (Account, error) {
	username = strings.TrimSpace(username)
	if username == "" || password == "" {
		return Account{}, ErrBadLogin
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return Account{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer conn.Close()
	var or strings.Builder
	for _, a := range append(slices.Clone(c.attrs.Login), c.attrs.Mail) {
		or.WriteString("(" + ldap.EscapeFilter(a) + "=" + ldap.EscapeFilter(username) + ")")
	}
	entries, err := c.search(conn, c.cfg.BaseDN, ldap.ScopeWholeSubtree, "(|"+or.String()+")", 2)
	if err != nil {
		return Account{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if len(entries) != 1 {
		return Account{}, ErrBadLogin
	}
	p := c.person(entries[0])
	if p.Disabled {
		return Account{Person: p}, ErrDisabled
	}
	if err := conn.Bind(p.DN, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return Account{Person: p}, ErrBadLogin
		}
		return Account{}, fmt.Errorf("%w: bind %s: %v", ErrUnavailable, p.DN, err)
	}
	// Back to the service account to read the groups and the managed
	// people (the user may not read them).
	if c.cfg.BindDN != "" {
		if err := conn.Bind(c.cfg.BindDN, c.cfg.Password); err != nil {
			return Account{}, fmt.Errorf("%w: bind %s: %v", ErrUnavailable, c.cfg.BindDN, err)
		}
	}
	if err := c.groupsOf(conn, &p); err != nil {
		return Account{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	a := Account{Person: p}
	if p.InGroup(c.cfg.AdminGroup) {
		a.Roles = append(a.Roles, RoleAdmin)
	}
	if p.InGroup(c.cfg.ApproverGroup) {
		a.Roles = append(a.Roles, RoleApprover)
		if p.Department != "" {
			a.Departments = append(a.Departments, p.Department)
		}
	}
	if p.InGroup(c.cfg.AuditorGroup) {
		a.Roles = append(a.Roles, RoleAuditor)
	}
	if len(a.Roles) == 0 {
		return a, ErrNoRole
	}
	managed, err := c.search(conn, c.cfg.BaseDN, ldap.ScopeWholeSubtree,
		"("+ldap.EscapeFilter(c.attrs.Manager)+"="+ldap.EscapeFilter(p.DN)+")", 0)
	if err != nil {
		return Account{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	for _, e := range managed {
		if d := c.person(e).Department; d != "" && !slices.Contains(a.Departments, d) {
			a.Departments = append(a.Departments, d)
		}
	}
	return a, nil
}
