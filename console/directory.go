package console

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"dlpguard/directory"
)

// DirectoryAuth signs staff in against the city's directory
// (*directory.Client): a bind as the user, roles from the configured
// groups.
type DirectoryAuth interface {
	Authenticate(ctx context.Context, username, password string) (directory.Account, error)
	// Resolve is asked (through its cache) on every request of a
	// directory session: an account disabled or removed since ends it.
	Resolve(ctx context.Context, addr string) (directory.Resolution, error)
}

// Errors of a directory sign-in.
var (
	ErrNoRole        = errors.New("console: the directory account is in no group that may use the console")
	ErrDirectoryDown = errors.New("console: the directory cannot be reached")
)

// dirFailures counts wrong passwords of directory sign-ins per user name,
// so that the console's lockout (6.6) holds for them as for local
// accounts. It lives in the Console (memory): the directory keeps its own
// lockout as well.
type dirFailures struct {
	mu sync.Mutex
	m  map[string]dirFailure
}

type dirFailure struct {
	n      int
	last   time.Time
	locked time.Time
}

// authenticate signs username in: a local account of that name first
// (kept for break-glass when the directory is down), else the directory.
func (c *Console) authenticate(ctx context.Context, username, pw string) (User, error) {
	if c.d.Directory == nil {
		return c.users.Authenticate(ctx, username, pw, c.now())
	}
	if _, err := c.users.Get(ctx, username); !errors.Is(err, ErrNoUser) {
		return c.users.Authenticate(ctx, username, pw, c.now())
	}
	now := c.now()
	c.dirFail.mu.Lock()
	f := c.dirFail.m[username]
	c.dirFail.mu.Unlock()
	if now.Before(f.locked) {
		return User{}, ErrLocked
	}
	a, err := c.d.Directory.Authenticate(ctx, username, pw)
	switch {
	case err == nil:
	case errors.Is(err, directory.ErrBadLogin):
		return User{}, c.dirFailed(username, now)
	case errors.Is(err, directory.ErrDisabled):
		return User{}, fmt.Errorf("%w (directory)", ErrDisabled)
	case errors.Is(err, directory.ErrNoRole):
		return User{}, ErrNoRole
	default:
		return User{}, fmt.Errorf("%w: %v", ErrDirectoryDown, err)
	}
	u := User{Username: username, DisplayName: a.DisplayName, Email: a.Mail, Departments: a.Departments,
		Source: "directory", LastLogin: now.UTC()}
	switch {
	case hasRole(a.Roles, directory.RoleAdmin):
		u.Role = RoleAdmin
	case hasRole(a.Roles, directory.RoleApprover):
		u.Role = RoleApprover
	default:
		// Auditors have no console role yet: refused like anyone outside
		// the groups.
		return User{}, ErrNoRole
	}
	if u.Email == "" {
		// Who acts must be known: nobody approves their own (3.3.5).
		return User{}, fmt.Errorf("%w: %s has no mail address in the directory", ErrNoRole, username)
	}
	c.dirFail.mu.Lock()
	delete(c.dirFail.m, username)
	c.dirFail.mu.Unlock()
	return u, nil
}

// dirFailed counts a wrong password: MaxFailures in a row within Lockout
// lock the name for Lockout, as for local accounts.
func (c *Console) dirFailed(username string, now time.Time) error {
	c.dirFail.mu.Lock()
	defer c.dirFail.mu.Unlock()
	if c.dirFail.m == nil {
		c.dirFail.m = map[string]dirFailure{}
	}
	f := c.dirFail.m[username]
	if now.Sub(f.last) > c.users.Lockout {
		f.n = 0
	}
	f.n++
	f.last = now
	if f.n >= c.users.MaxFailures {
		f.locked = now.Add(c.users.Lockout)
		c.dirFail.m[username] = f
		return ErrLocked
	}
	c.dirFail.m[username] = f
	return ErrBadLogin
}

func hasRole(roles []string, r string) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

// dirSessionGone reports whether the directory account of a session has
// been disabled or removed since it signed in (known within the cache's
// TTL). An unreachable directory does not end sessions: every decision
// is checked against the directory again (review.Service.Authorize).
func (c *Console) dirSessionGone(ctx context.Context, u *User) bool {
	if c.d.Directory == nil {
		return true
	}
	_, err := c.d.Directory.Resolve(ctx, u.Email)
	return errors.Is(err, directory.ErrNotFound)
}
