package policy

import "github.com/prometheus/client_golang/prometheus"

// Metrics count verdicts and rule hits, so that tuning can be judged by
// numbers: a rule that fires on half the mail is a rule to look at.
type Metrics struct {
	RuleHits   *prometheus.CounterVec // by rule and final action of the hit (after exceptions and permits)
	Verdicts   *prometheus.CounterVec // by action
	Exceptions *prometheus.CounterVec // by exception ID (8.4)
	Permits    *prometheus.CounterVec // by permit ID (3.3.5)
}

// NewMetrics creates the counters and registers them with reg (nil: not
// registered, e.g. in tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	vec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dlpguard", Subsystem: "policy", Name: name, Help: help}, labels)
	}
	m := &Metrics{
		RuleHits:   vec("rule_hits_total", "Messages on which a policy rule fired.", "rule", "action"),
		Verdicts:   vec("verdicts_total", "Verdicts by action.", "action"),
		Exceptions: vec("exceptions_used_total", "Verdicts relaxed by an exception (clause 8.4).", "exception"),
		Permits:    vec("permits_used_total", "Verdicts covered by a standing permit (clause 3.3.5).", "permit"),
	}
	if reg != nil {
		reg.MustRegister(m.RuleHits, m.Verdicts, m.Exceptions, m.Permits)
	}
	return m
}

// Observe counts one verdict. Safe for concurrent use; nil m does nothing.
func (m *Metrics) Observe(v *Verdict) {
	if m == nil || v == nil {
		return
	}
	m.Verdicts.WithLabelValues(string(v.Action)).Inc()
	for _, h := range v.Rules {
		m.RuleHits.WithLabelValues(h.ID, string(h.Action)).Inc()
	}
	for _, x := range v.Exceptions {
		m.Exceptions.WithLabelValues(x).Inc()
	}
	if v.Permit != "" {
		m.Permits.WithLabelValues(v.Permit).Inc()
	}
}
