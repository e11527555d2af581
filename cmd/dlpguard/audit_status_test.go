package main

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"dlpguard/audit"
	"dlpguard/config"
	"dlpguard/review"
)

// TestServeAuditCheckAtStart: the relay verifies the audit log (chain and
// signed head checkpoint) at start; an intact log says so on /healthz, a
// log whose end was cut with SQL is logged as an error and shown there.
func TestServeAuditCheckAtStart(t *testing.T) {
	for _, tc := range []struct {
		name, tamper, health, log string
	}{
		{"intact", "", "audit: chain verified at start, signed checkpoint at entry 3", "audit log verified"},
		{"end cut", "DELETE FROM audit WHERE seq > 1", "audit: chain BROKEN at entry 2: entries 2 to 3 were removed from the end", "chain broken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			al, err := audit.Open(ctx, review.PathsIn(dir).Audit)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range []string{audit.Hold, audit.Release, audit.Reject} {
				if _, err := al.Append(ctx, "kacho@city.example.lg.jp", a, "H1", nil); err != nil {
					t.Fatal(err)
				}
			}
			al.Close()
			if tc.tamper != "" {
				db, err := sql.Open("sqlite", "file:"+review.PathsIn(dir).Audit)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec(tc.tamper); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			r, _, logBuf := testRelay(t, func(cfg *config.Config) { cfg.DataDir = dir })
			// The check runs in the background; wait for its line.
			var body string
			for range 250 {
				resp, err := http.Get("http://" + r.ops.Addr().String() + "/healthz")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = string(b)
				if !strings.Contains(body, "verifying") {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(body, tc.health) {
				t.Errorf("/healthz %q, want %q", body, tc.health)
			}
			if !strings.Contains(logBuf.String(), tc.log) {
				t.Errorf("log does not say %q:\n%s", tc.log, logBuf.String())
			}
		})
	}
}
