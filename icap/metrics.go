package icap

import "github.com/prometheus/client_golang/prometheus"

// metrics of the ICAP service; registered with the Registerer given to New.
type metrics struct {
	requests *prometheus.CounterVec // by ICAP method and status
	uploads  *prometheus.CounterVec // blocked uploads and allowed uploads with findings, by action and rule
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dlpguard", Subsystem: "icap", Name: "requests_total",
			Help: "ICAP requests by method and status."}, []string{"method", "status"}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dlpguard", Subsystem: "icap", Name: "uploads_total",
			Help: "Blocked uploads and allowed uploads with findings, by action (allow, block) and rule (or size-limit, internal-error, none)."}, []string{"action", "rule"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.uploads)
	}
	return m
}
