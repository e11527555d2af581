package smtpproxy

import (
	"context"
	"net/netip"
	"runtime"
	"sync"
	"time"
)

// AuthLimits are the brakes on password guessing (issue 17). Failures are
// counted per client address and per account over Window; each further
// attempt waits a delay that doubles with every failure, and an address (or,
// when AccountBlockAfter is set, an account) with too many failures is
// refused for a while without a password check. An account is only slowed
// by default, never locked, so an attacker's failures from one address do
// not lock its owner out from another.
type AuthLimits struct {
	// MaxSessions bounds the sessions inside an AUTH exchange at once, over
	// all clients (default: max_connections/5, at least 1); one address
	// may hold at most a tenth of them (at least 1), so that one address
	// waiting out its delays cannot take them all.
	MaxSessions int
	// MaxChecks bounds the password checks (bcrypt, argon2id) running at
	// once, so a flood costs a bounded share of the CPU (default: half the
	// CPUs, at least 1). Fixed at start.
	MaxChecks int
	// Window is how long a failure counts (default 15m).
	Window time.Duration

	AddressDelay      time.Duration // after the first failure (default 1s), doubling
	AddressMaxDelay   time.Duration // default 30s
	AddressBlockAfter int           // failures; default 10
	AddressBlockFor   time.Duration // default 15m

	AccountDelay      time.Duration // default 1s, doubling
	AccountMaxDelay   time.Duration // default 8s
	AccountBlockAfter int           // failures; 0 (default): an account is never blocked
	AccountBlockFor   time.Duration // default 15m
}

// Defaults of AuthLimits: the one place they are written (package
// config's Default reads them).
const (
	DefaultAuthWindow            = 15 * time.Minute
	DefaultAuthAddressDelay      = time.Second
	DefaultAuthAddressMaxDelay   = 30 * time.Second
	DefaultAuthAddressBlockAfter = 10
	DefaultAuthAddressBlockFor   = 15 * time.Minute
	DefaultAuthAccountDelay      = time.Second
	DefaultAuthAccountMaxDelay   = 8 * time.Second
	DefaultAuthAccountBlockFor   = 15 * time.Minute
)

func (l *AuthLimits) setDefaults(maxConnections int) {
	if l.MaxSessions == 0 {
		l.MaxSessions = max(1, maxConnections/5)
	}
	if l.MaxChecks == 0 {
		l.MaxChecks = max(1, runtime.NumCPU()/2)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&l.Window, DefaultAuthWindow)
	def(&l.AddressDelay, DefaultAuthAddressDelay)
	def(&l.AddressMaxDelay, DefaultAuthAddressMaxDelay)
	def(&l.AddressBlockFor, DefaultAuthAddressBlockFor)
	def(&l.AccountDelay, DefaultAuthAccountDelay)
	def(&l.AccountMaxDelay, DefaultAuthAccountMaxDelay)
	def(&l.AccountBlockFor, DefaultAuthAccountBlockFor)
	if l.AddressBlockAfter == 0 {
		l.AddressBlockAfter = DefaultAuthAddressBlockAfter
	}
}

// AuthEvent is an authentication failure or a block, for the audit log.
type AuthEvent struct {
	Kind     string    `json:"kind"`   // AuthFailure, AuthBlockAddress, AuthBlockAccount
	Client   string    `json:"client"` // the client's address
	User     string    `json:"user"`   // the user name given (printable ASCII, cut)
	Failures int       `json:"failures"`
	Until    time.Time `json:"until,omitzero"` // end of a block
}

// Kinds of AuthEvent.
const (
	AuthFailure      = "smtp-auth-failure"
	AuthBlockAddress = "smtp-auth-block-address"
	AuthBlockAccount = "smtp-auth-block-account"
)

// Auditor records security events of the SMTP front end (cmd/dlpguard
// wires it to the audit log). Record must not block for long: the session
// waits for it.
type Auditor interface {
	RecordAuth(ctx context.Context, ev AuthEvent) error
}

// maxTracked bounds the per-address table; expired entries are dropped
// first, then the table stops growing (counting continues for the rest).
const maxTracked = 100_000

// failures counts one address's or account's recent failures.
type failures struct {
	n            int
	last         time.Time
	blockedUntil time.Time
}

// authGuard holds the counters; one per Server, shared by its sessions.
type authGuard struct {
	checks chan struct{} // password check slots

	sessions connLimiter // sessions inside AUTH, in all and per address

	mu     sync.Mutex
	byAddr map[netip.Addr]*failures
	byUser map[string]*failures // configured accounts; "" for every unknown name
}

func newAuthGuard(maxChecks int) *authGuard {
	return &authGuard{
		checks: make(chan struct{}, max(1, maxChecks)),
		byAddr: map[netip.Addr]*failures{},
		byUser: map[string]*failures{},
	}
}

// authKey is the address AUTH counts by: an IPv4 address, or the /64 of
// an IPv6 address, since one holder of a /64 has all of its 2^64
// addresses to rotate through.
func authKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}

// current returns the entry with failures older than the window forgotten.
func current(f *failures, now time.Time, l *AuthLimits) *failures {
	if f != nil && now.Sub(f.last) > l.Window && now.After(f.blockedUntil) {
		f.n = 0
	}
	return f
}

// delayFor is base·2^(n-1), at most maxD; 0 without failures.
func delayFor(n int, base, maxD time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	d := base
	for i := 1; i < n && d < maxD; i++ {
		d *= 2
	}
	return min(d, maxD)
}

// admit says whether an attempt may go on to a password check: when the
// address or account is blocked, until is the end of the block; otherwise
// wait is the delay to sleep first.
func (g *authGuard) admit(ip netip.Addr, account string, l *AuthLimits, now time.Time) (wait time.Duration, until time.Time) {
	ip = authKey(ip)
	g.mu.Lock()
	defer g.mu.Unlock()
	a := current(g.byAddr[ip], now, l)
	u := current(g.byUser[account], now, l)
	if a != nil && now.Before(a.blockedUntil) {
		return 0, a.blockedUntil
	}
	if u != nil && now.Before(u.blockedUntil) {
		return 0, u.blockedUntil
	}
	if a != nil {
		wait = delayFor(a.n, l.AddressDelay, l.AddressMaxDelay)
	}
	if u != nil {
		wait = max(wait, delayFor(u.n, l.AccountDelay, l.AccountMaxDelay))
	}
	return wait, time.Time{}
}

// fail counts a failure; it returns the counts and the blocks it started.
func (g *authGuard) fail(ip netip.Addr, account string, l *AuthLimits, now time.Time) (addrN, userN int, addrBlock, userBlock time.Time) {
	ip = authKey(ip)
	g.mu.Lock()
	defer g.mu.Unlock()
	a := current(g.byAddr[ip], now, l)
	if a == nil {
		if len(g.byAddr) >= maxTracked {
			g.prune(now, l)
		}
		if len(g.byAddr) < maxTracked {
			a = &failures{}
			g.byAddr[ip] = a
		}
	}
	if a != nil {
		a.n++
		a.last = now
		addrN = a.n
		if a.n >= l.AddressBlockAfter && !now.Before(a.blockedUntil) {
			a.blockedUntil = now.Add(l.AddressBlockFor)
			addrBlock = a.blockedUntil
		}
	}
	u := current(g.byUser[account], now, l)
	if u == nil {
		u = &failures{}
		g.byUser[account] = u
	}
	u.n++
	u.last = now
	userN = u.n
	if l.AccountBlockAfter > 0 && u.n >= l.AccountBlockAfter && !now.Before(u.blockedUntil) {
		u.blockedUntil = now.Add(l.AccountBlockFor)
		userBlock = u.blockedUntil
	}
	return addrN, userN, addrBlock, userBlock
}

// succeed forgets the address's failures (the account's stay until they
// age out: they may be an attacker's from elsewhere).
func (g *authGuard) succeed(ip netip.Addr) {
	ip = authKey(ip)
	g.mu.Lock()
	delete(g.byAddr, ip)
	g.mu.Unlock()
}

// prune drops entries that no longer count; g.mu is held.
func (g *authGuard) prune(now time.Time, l *AuthLimits) {
	for ip, f := range g.byAddr {
		if now.Sub(f.last) > l.Window && now.After(f.blockedUntil) {
			delete(g.byAddr, ip)
		}
	}
}

// enter takes a slot for a session in AUTH; false when all are taken or
// the address holds its share.
func (g *authGuard) enter(ip netip.Addr, maxSessions int) bool {
	return g.sessions.acquire(authKey(ip), maxSessions, max(1, maxSessions/10))
}

func (g *authGuard) leave(ip netip.Addr) { g.sessions.release(authKey(ip)) }
