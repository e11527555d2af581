package policy

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"dlpguard/classify"
)

func TestMetricsObserve(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	e := mustDefault(t)
	for i := 0; i < 3; i++ {
		m.Observe(e.Decide(msg("a@example.com"), report(classify.LevelI, find(classify.MyNumber, 1, classify.High)), Input{}))
	}
	m.Observe(e.Decide(msg("a@example.com"), report(classify.LevelIII), Input{}))
	if got := value(t, m.RuleHits.WithLabelValues("mynumber-reject", "reject")); got != 3 {
		t.Errorf("mynumber-reject hits = %v, want 3", got)
	}
	if got := value(t, m.Verdicts.WithLabelValues("pass")); got != 1 {
		t.Errorf("pass verdicts = %v, want 1", got)
	}
	var nilM *Metrics
	nilM.Observe(&Verdict{}) // must not panic
}

func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
