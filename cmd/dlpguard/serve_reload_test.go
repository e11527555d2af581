package main

import (
	"slices"
	"testing"
	"time"

	"dlpguard/config"
)

// TestReloadUpstreamNeedsRestart checks that every upstream setting a
// reload cannot apply is named, including the three the hand-written list
// once missed (connect_timeout, command_timeout, password_file).
func TestReloadUpstreamNeedsRestart(t *testing.T) {
	base := config.Default().Upstream
	tests := []struct {
		name   string
		change func(u *config.Upstream)
		want   []string
	}{
		{"nothing", func(u *config.Upstream) {}, nil},
		{"connect_timeout", func(u *config.Upstream) { u.ConnectTimeout = time.Second }, []string{"upstream.connect_timeout"}},
		{"command_timeout", func(u *config.Upstream) { u.CommandTimeout = time.Second }, []string{"upstream.command_timeout"}},
		{"password_file", func(u *config.Upstream) { u.PasswordFile, u.Password = "/etc/pw", "x" },
			[]string{"upstream.password", "upstream.password_file"}},
		{"retry", func(u *config.Upstream) { u.Retry = []time.Duration{time.Minute} }, []string{"upstream.retry"}},
		{"address and workers", func(u *config.Upstream) { u.Address, u.Workers = "mx:25", 2 },
			[]string{"upstream.address", "upstream.workers"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur := base
			cur.Retry = slices.Clone(base.Retry)
			tc.change(&cur)
			if got := changedSettings("upstream", base, cur); !slices.Equal(got, tc.want) {
				t.Errorf("changedSettings = %v, want %v", got, tc.want)
			}
		})
	}
}
