package smtpproxy

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the front end's counters. They are plain Prometheus
// collectors that the caller creates and registers (serve takes them from
// package ops, which embeds this struct), so that the SMTP side does not
// depend on the HTTP one. Any
// nil field counts into an unregistered collector of New's own.
type Metrics struct {
	Received prometheus.Counter // messages whose DATA completed
	Queued   prometheus.Counter // messages committed to the delivery queue
	Held     prometheus.Counter // messages committed to the hold store (3.3.5)
	Rejected prometheus.Counter // messages refused after inspection (550)

	Sessions      prometheus.Gauge   // SMTP sessions open now
	SessionsTotal prometheus.Counter // SMTP connections accepted
	Refused       prometheus.Counter // connections refused at connect (421: limits)

	AuthFailures prometheus.Counter     // AUTH attempts with a wrong user name or password
	AuthBlocks   *prometheus.CounterVec // blocks started after repeated failures, by scope (address, account)
	AuthRefused  prometheus.Counter     // AUTH attempts refused without a password check (blocked, busy)
}

// complete returns a copy of m (which may be nil) with every nil field set
// to an unregistered collector, so that the server never checks for nil.
func (m *Metrics) complete() *Metrics {
	var c Metrics
	if m != nil {
		c = *m
	}
	counter := func(p *prometheus.Counter, name string) {
		if *p == nil {
			*p = prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: name})
		}
	}
	counter(&c.Received, "received")
	counter(&c.Queued, "queued")
	counter(&c.Held, "held")
	counter(&c.Rejected, "rejected")
	counter(&c.SessionsTotal, "sessions_total")
	counter(&c.Refused, "refused")
	counter(&c.AuthFailures, "auth_failures")
	counter(&c.AuthRefused, "auth_refused")
	if c.Sessions == nil {
		c.Sessions = prometheus.NewGauge(prometheus.GaugeOpts{Name: "sessions", Help: "sessions"})
	}
	if c.AuthBlocks == nil {
		c.AuthBlocks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auth_blocks", Help: "auth_blocks"}, []string{"scope"})
	}
	return &c
}
