package ocr

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics count OCR work for operations: pages read or not (and why), and
// how long Tesseract took.
type metrics struct {
	pages   *prometheus.CounterVec
	seconds prometheus.Histogram
}

// Register adds dlpguard_ocr_pages_total{outcome} (read, too_large,
// unsupported, too_many_pages, timeout, failed) and dlpguard_ocr_seconds
// (one Tesseract job) to reg. Call it once, before the engine is used.
func (e *Engine) Register(reg prometheus.Registerer) error {
	m := &metrics{
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dlpguard", Subsystem: "ocr", Name: "pages_total",
			Help: "Image files and scanned PDF pages given to OCR, by outcome."}, []string{"outcome"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "dlpguard", Subsystem: "ocr", Name: "seconds",
			Help: "Time of one Tesseract job (one page).", Buckets: []float64{.25, .5, 1, 2, 4, 8, 15, 30, 60}}),
	}
	if err := reg.Register(m.pages); err != nil {
		return err
	}
	if err := reg.Register(m.seconds); err != nil {
		return err
	}
	e.metrics = m
	return nil
}

// observe counts one page's outcome; nil metrics do nothing.
func (m *metrics) observe(err error) {
	if m == nil {
		return
	}
	outcome := "read"
	switch {
	case err == nil:
	case errors.Is(err, ErrTooLarge):
		outcome = "too_large"
	case errors.Is(err, ErrUnsupported):
		outcome = "unsupported"
	case errors.Is(err, ErrTooManyPage):
		outcome = "too_many_pages"
	case errors.Is(err, ErrTimeout):
		outcome = "timeout"
	default:
		outcome = "failed"
	}
	m.pages.WithLabelValues(outcome).Inc()
}

func (m *metrics) job(d time.Duration) {
	if m != nil {
		m.seconds.Observe(d.Seconds())
	}
}
