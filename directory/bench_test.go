package directory

import (
	"context"
	"testing"

	"dlpguard/internal/ldaptest"
)

// BenchmarkResolve: a sender's department and approvers from slapd (a
// new connection, bind and the searches) against the cached answer.
func BenchmarkResolve(b *testing.B) {
	s := ldaptest.Start(b, ldaptest.City)
	ctx := context.Background()
	b.Run("directory", func(b *testing.B) {
		cfg := adConfig(s.URL)
		cfg.CacheTTL = 1 // every call asks slapd
		c, err := New(cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := c.Resolve(ctx, taro); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cache", func(b *testing.B) {
		c, err := New(adConfig(s.URL), nil)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := c.Resolve(ctx, taro); err != nil {
				b.Fatal(err)
			}
		}
	})
}
