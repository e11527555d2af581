package ops

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

func TestEndpoints(t *testing.T) {
	reg, m := NewRegistry()
	m.Received.Inc()
	m.Queued.Add(2)
	m.QueueLength.Set(7)
	m.DeliveryLatency.Observe(0.2)
	var notReady atomic.Bool
	notReady.Store(true)
	srv, err := Listen("127.0.0.1:0", Handler(reg, func() error {
		if notReady.Load() {
			return errors.New("starting")
		}
		return nil
	}, func() string { return "policy: version abc" }), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	base := "http://" + srv.Addr().String()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name, path string
		before     func()
		code       int
		contains   []string
	}{
		{"healthz", "/healthz", nil, 200, []string{"ok", "policy: version abc"}},
		{"readyz not ready", "/readyz", nil, 503, []string{"starting"}},
		{"readyz ready", "/readyz", func() { notReady.Store(false) }, 200, []string{"ready"}},
		{"metrics", "/metrics", nil, 200, []string{
			"dlpguard_messages_received_total 1",
			"dlpguard_messages_queued_total 2",
			"dlpguard_queue_length 7",
			"dlpguard_delivery_latency_seconds_count 1",
			"dlpguard_recipients_bounced_total 0",
			"dlpguard_smtp_sessions 0",
			"go_goroutines",
		}},
		{"unknown", "/nope", nil, 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			code, body := get(tc.path)
			if code != tc.code {
				t.Fatalf("%s: status %d, want %d (%s)", tc.path, code, tc.code, body)
			}
			for _, s := range tc.contains {
				if !strings.Contains(body, s) {
					t.Errorf("%s: missing %q", tc.path, s)
				}
			}
		})
	}
}

func TestNewMetricsUnregistered(t *testing.T) {
	m := NewMetrics(nil)
	m.Delivered.Inc() // usable without a registry
	if m.Bounced == nil || m.Sessions == nil || m.DeliveryLatency == nil {
		t.Fatal("field left nil")
	}
}
