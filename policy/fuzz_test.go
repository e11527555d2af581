package policy

import (
	"testing"
	"time"

	"dlpguard/classify"
)

// FuzzParse: no policy file, however broken, makes Parse or Check panic,
// and every error names the file.
func FuzzParse(f *testing.F) {
	f.Add(defaultYAML)
	f.Add([]byte(customPolicy))
	f.Add([]byte(goodV1))
	f.Add([]byte("rules: [{id: a, action: hold, clause: 3.3.5, when: {detector: [my_number], min_count: -1}}]"))
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range Check(data, "f.yaml", now) {
			if p.File != "f.yaml" {
				t.Fatalf("problem without file: %+v", p)
			}
		}
		e, err := Parse(data, "f.yaml")
		if err != nil {
			return
		}
		// A policy that loads decides without panicking, even on odd input.
		v := e.Decide(msg("a@example.com", "@", ""), report(classify.LevelI, find(classify.MyNumber, 1, classify.High)), Input{})
		if !v.Action.Valid() {
			t.Fatalf("invalid action %q", v.Action)
		}
	})
}

// BenchmarkDecide measures the pure decision of the default policy on a
// message with findings and 12 recipients (the relay pays this per message
// on top of inspection).
func BenchmarkDecide(b *testing.B) {
	e, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	res := msg(addrs(12, "example.com")...)
	rep := report(classify.LevelI, find(classify.MyNumber, 2, classify.High), marking(classify.LevelII), find(classify.PhoneNumber, 3, classify.High))
	b.ReportAllocs()
	for b.Loop() {
		e.Decide(res, rep, Input{})
	}
}

// BenchmarkParseDefault measures compiling the default policy (each reload).
func BenchmarkParseDefault(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(defaultYAML, "default.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}
