package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// retryDown is how long Resolve waits before asking an unreachable
// directory again (at most the TTL).
const retryDown = 15 * time.Second

// Resolve says who the sender addr is: department, manager and approvers
// (3.3.5). A fresh answer is cached for CacheTTL; past that the directory
// is asked again, and when it cannot be reached the last good answer
// serves for StaleFor more (Source FromStale), then ErrUnavailable. A
// sender the directory does not know is ErrNotFound (cached like an
// answer).
func (c *Client) Resolve(ctx context.Context, addr string) (Resolution, error) {
	key := strings.ToLower(strings.TrimSpace(addr))
	if key == "" {
		return Resolution{}, fmt.Errorf("%w: empty address", ErrNotFound)
	}
	now := c.now()
	old, had := c.cache.Get(key)
	if had && now.Sub(old.fetched) < c.cfg.CacheTTL {
		r := old.res
		r.Source = FromCache
		return r, old.err
	}
	var fresh cached
	c.mu.Lock()
	down, downErr := now.Before(c.downUntil), c.downErr
	c.mu.Unlock()
	if down {
		fresh.err = downErr
	} else {
		fresh = c.fetch(ctx, key)
		if fresh.err == nil || errors.Is(fresh.err, ErrNotFound) {
			return fresh.res, fresh.err
		}
		if ctx.Err() == nil {
			// The directory failed, not this caller's deadline.
			c.mu.Lock()
			c.downUntil, c.downErr = now.Add(min(retryDown, c.cfg.CacheTTL)), fresh.err
			c.mu.Unlock()
		}
	}
	if had && now.Sub(old.fetched) < c.cfg.CacheTTL+c.cfg.StaleFor {
		c.log.Warn("directory: unreachable, serving the last good answer", "address", key,
			"fetched", old.fetched, "err", fresh.err)
		r := old.res
		r.Source = FromStale
		return r, old.err
	}
	return Resolution{}, fmt.Errorf("%w: %s: %v", ErrUnavailable, key, fresh.err)
}

// fetch asks the directory once for key, sharing one request among
// concurrent callers, and caches a good answer.
func (c *Client) fetch(ctx context.Context, key string) cached {
	c.mu.Lock()
	if cl, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-cl.done:
			return cl.c
		case <-ctx.Done():
			return cached{err: ctx.Err()}
		}
	}
	cl := &call{done: make(chan struct{})}
	c.inflight[key] = cl
	c.mu.Unlock()

	res, err := c.resolveNow(ctx, key)
	cl.c = cached{res: res, err: err, fetched: c.now()}
	if err == nil || errors.Is(err, ErrNotFound) {
		c.cache.Add(key, cl.c)
	}
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	close(cl.done)
	return cl.c
}

func (c *Client) resolveNow(ctx context.Context, addr string) (Resolution, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return Resolution{}, err
	}
	defer conn.Close()
	p, err := c.byAddress(conn, addr)
	if err != nil {
		return Resolution{}, err
	}
	if p.Disabled {
		// A disabled account's mail names no department: the security
		// team decides (3.3.5).
		return Resolution{}, fmt.Errorf("%w: %s is disabled", ErrNotFound, addr)
	}
	r := Resolution{Sender: p, Department: p.Department, Source: FromDirectory, Fetched: c.now()}
	add := func(q Person) {
		if q.Disabled || q.Mail == "" || slices.Contains(p.Addresses, q.Mail) || slices.Contains(r.Approvers, q.Mail) {
			return
		}
		r.Approvers = append(r.Approvers, q.Mail)
	}
	if p.ManagerDN != "" {
		m, err := c.byDN(conn, p.ManagerDN)
		switch {
		case err == nil:
			if !m.Disabled && !slices.Contains(p.Addresses, m.Mail) {
				r.Manager = m.Mail
			}
			add(m)
		case !errors.Is(err, ErrNotFound):
			return Resolution{}, err
		}
	}
	if c.cfg.ApproverGroup != "" && p.Department != "" {
		// 3.3.5: the approver group approves for its members' own
		// department only. Two requests whatever the group's size: the
		// group's member list, and the people of the department.
		members, err := c.groupMembers(conn, c.cfg.ApproverGroup)
		if err != nil {
			return Resolution{}, err
		}
		inGroup := make(map[string]bool, len(members))
		for _, dn := range members {
			inGroup[normDN(dn)] = true
		}
		staff, err := c.search(conn, c.cfg.BaseDN, ldap.ScopeWholeSubtree,
			"("+ldap.EscapeFilter(c.attrs.Department)+"="+ldap.EscapeFilter(p.Department)+")", 0)
		if err != nil {
			return Resolution{}, err
		}
		for _, e := range staff {
			if q := c.person(e); inGroup[normDN(q.DN)] && q.Department == p.Department {
				add(q)
			}
		}
	}
	return r, nil
}

// groupMembers lists the member DNs of group.
func (c *Client) groupMembers(conn *ldap.Conn, group string) ([]string, error) {
	req := ldap.NewSearchRequest(group, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, int(c.cfg.Timeout/time.Second), false,
		"(objectClass=*)", []string{c.attrs.Member}, nil)
	res, err := conn.Search(req)
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			// A configured group that does not exist is a
			// misconfiguration: say so, and let the caller fail closed.
			return nil, fmt.Errorf("directory: approver_group %s does not exist", group)
		}
		return nil, fmt.Errorf("directory: group %s: %w", group, err)
	}
	if len(res.Entries) != 1 {
		return nil, fmt.Errorf("directory: group %s: %d entries", group, len(res.Entries))
	}
	return res.Entries[0].GetAttributeValues(c.attrs.Member), nil
}

// Refresh asks the directory again for every cached address older than
// half the TTL, so that senders are rarely waited on and a personnel
// change arrives within the TTL. Errors leave the cache as it is.
func (c *Client) Refresh(ctx context.Context) {
	now := c.now()
	for _, key := range c.cache.Keys() {
		if ctx.Err() != nil {
			return
		}
		e, ok := c.cache.Peek(key)
		if !ok || now.Sub(e.fetched) < c.cfg.CacheTTL/2 {
			continue
		}
		if f := c.fetch(ctx, key); f.err != nil && !errors.Is(f.err, ErrNotFound) {
			c.log.Warn("directory: refresh", "address", key, "err", f.err)
			return // unreachable: the next round tries again
		}
	}
}

// Run refreshes the cache in the background every quarter TTL until ctx
// ends.
func (c *Client) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.CacheTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Refresh(ctx)
		}
	}
}

// normDN is a DN in one spelling (case and spaces), for comparing the
// group's member values with entries' DNs; an unparsable DN stays as it
// is, lower case.
func normDN(dn string) string {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	parts := make([]string, 0, len(d.RDNs))
	for _, rdn := range d.RDNs {
		var as []string
		for _, a := range rdn.Attributes {
			as = append(as, strings.ToLower(a.Type)+"="+strings.ToLower(a.Value))
		}
		parts = append(parts, strings.Join(as, "+"))
	}
	return strings.Join(parts, ",")
}
