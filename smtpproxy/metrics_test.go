package smtpproxy

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// The counters the caller passes (serve: the ops registry's) are the ones
// counted, over a real session; the fields it leaves nil still count, in
// New's own collectors, instead of panicking.
func TestCallerMetricsCounted(t *testing.T) {
	mine := &Metrics{
		Received:      prometheus.NewCounter(prometheus.CounterOpts{Name: "r", Help: "r"}),
		SessionsTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "s", Help: "s"}),
	}
	h := newHarness(t, harnessOpt{metrics: mine})
	c := h.client("127.0.0.1")
	if _, err := send(c, "a@city.example.lg.jp", []string{"b@example.jp"}, message("hello", "本文です。\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	tests := []struct {
		name string
		c    prometheus.Metric
		want float64
	}{
		{"caller's received", mine.Received, 1},
		{"caller's sessions total", mine.SessionsTotal, 1},
		{"server's received is the caller's", h.metrics.Received, 1},
		{"default queued", h.metrics.Queued, 1},
		{"default rejected", h.metrics.Rejected, 0},
	}
	for _, tt := range tests {
		if got := metricValue(tt.c); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
	if mine.Queued != nil {
		t.Error("New changed the caller's Metrics")
	}
}
