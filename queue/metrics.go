package queue

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics receives the queue's counts. It is optional: New accepts nil.
// Counts are per recipient except QueueLength (messages in the queue) and
// DeliveryLatency (arrival to upstream acceptance, once per delivered
// recipient).
type Metrics interface {
	Delivered(n int)
	Deferred(n int)
	Bounced(n int)
	QueueLength(n int)
	DeliveryLatency(d time.Duration)
}

// PromMetrics adapts plain Prometheus collectors to Metrics; nil fields are
// skipped. The ops package can fill it from its own collectors.
type PromMetrics struct {
	DeliveredTotal prometheus.Counter
	DeferredTotal  prometheus.Counter
	BouncedTotal   prometheus.Counter
	Length         prometheus.Gauge
	Latency        prometheus.Observer // seconds
}

func (p *PromMetrics) Delivered(n int) {
	if p.DeliveredTotal != nil {
		p.DeliveredTotal.Add(float64(n))
	}
}

func (p *PromMetrics) Deferred(n int) {
	if p.DeferredTotal != nil {
		p.DeferredTotal.Add(float64(n))
	}
}

func (p *PromMetrics) Bounced(n int) {
	if p.BouncedTotal != nil {
		p.BouncedTotal.Add(float64(n))
	}
}

func (p *PromMetrics) QueueLength(n int) {
	if p.Length != nil {
		p.Length.Set(float64(n))
	}
}

func (p *PromMetrics) DeliveryLatency(d time.Duration) {
	if p.Latency != nil {
		p.Latency.Observe(d.Seconds())
	}
}

// nopMetrics is used when no metrics are wanted.
type nopMetrics struct{}

func (nopMetrics) Delivered(int)                 {}
func (nopMetrics) Deferred(int)                  {}
func (nopMetrics) Bounced(int)                   {}
func (nopMetrics) QueueLength(int)               {}
func (nopMetrics) DeliveryLatency(time.Duration) {}
