// Package ops serves the operations endpoints on the HTTP listener:
// /healthz (the process is alive), /readyz (it accepts mail) and /metrics
// (Prometheus text format from the relay's own registry; no globals).
package ops

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"dlpguard/smtpproxy"
)

// Metrics are the relay's counters. The SMTP front end's (received,
// queued, held and rejected messages, sessions, AUTH) are its own
// smtpproxy.Metrics, embedded so that serve hands them over as they are;
// the delivery queue counts delivered, deferred and bounced recipients, the
// queue length and the delivery latency. Every field is set by NewMetrics.
type Metrics struct {
	smtpproxy.Metrics

	Delivered prometheus.Counter // recipients the upstream accepted
	Deferred  prometheus.Counter // recipient attempts that failed temporarily
	Bounced   prometheus.Counter // recipients failed permanently or expired (DSN due)

	QueueLength     prometheus.Gauge     // messages in the delivery queue
	DeliveryLatency prometheus.Histogram // seconds from receipt to the upstream's 250, per message
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, e.g. in tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "dlpguard", Name: name, Help: help})
	}
	m := &Metrics{
		Metrics: smtpproxy.Metrics{
			Received: c("messages_received_total", "Messages whose DATA was received completely."),
			Queued:   c("messages_queued_total", "Messages committed to the delivery queue."),
			Held:     c("messages_held_total", "Messages committed to the hold store."),
			Rejected: c("messages_rejected_total", "Messages rejected after inspection."),
			Sessions: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dlpguard", Name: "smtp_sessions",
				Help: "SMTP sessions open now."}),
			SessionsTotal: c("smtp_connections_total", "SMTP connections accepted."),
			Refused:       c("smtp_connections_refused_total", "SMTP connections refused at connect by a limit."),
			AuthFailures:  c("smtp_auth_failures_total", "SMTP AUTH attempts with a wrong user name or password."),
			AuthBlocks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dlpguard", Name: "smtp_auth_blocks_total",
				Help: "Temporary AUTH blocks started after repeated failures, by scope."}, []string{"scope"}),
			AuthRefused: c("smtp_auth_refused_total", "SMTP AUTH attempts refused without a password check (blocked or too busy)."),
		},
		Delivered: c("recipients_delivered_total", "Recipients accepted by the upstream."),
		Deferred:  c("recipients_deferred_total", "Recipient delivery attempts that failed temporarily."),
		Bounced:   c("recipients_bounced_total", "Recipients failed permanently or expired."),
		QueueLength: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dlpguard", Name: "queue_length",
			Help: "Messages in the delivery queue."}),
		DeliveryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "dlpguard",
			Name: "delivery_latency_seconds", Help: "Time from receipt to the upstream's acceptance.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 12)}),
	}
	if reg != nil {
		reg.MustRegister(m.Received, m.Queued, m.Held, m.Rejected, m.Delivered, m.Deferred, m.Bounced,
			m.QueueLength, m.DeliveryLatency, m.Sessions, m.SessionsTotal, m.Refused,
			m.AuthFailures, m.AuthBlocks, m.AuthRefused)
	}
	return m
}

// NewRegistry returns a registry with the Go runtime and process
// collectors and the relay's metrics.
func NewRegistry() (*prometheus.Registry, *Metrics) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, NewMetrics(reg)
}

// Handler serves /healthz, /readyz and /metrics. ready reports why the
// relay is not ready (nil: ready); it may be nil. Each status function adds
// a line to /healthz (e.g. the policy version and a failed reload), which
// informs without failing the check: the relay still works.
func Handler(reg *prometheus.Registry, ready func() error, status ...func() string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
		for _, st := range status {
			if line := st(); line != "" {
				w.Write([]byte(line + "\n"))
			}
		}
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if ready != nil {
			if err := ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("not ready: " + err.Error() + "\n"))
				return
			}
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

// Server is the HTTP listener for the endpoints.
type Server struct {
	srv *http.Server
	ln  net.Listener
	log *slog.Logger
}

// Listen binds addr and starts serving h in the background.
func Listen(addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		ln:  ln,
		log: log,
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("ops http server", "err", err)
		}
	}()
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops the listener, waiting for requests in progress.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
