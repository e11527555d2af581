package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"dlpguard/policy"
)

// BenchmarkEvaluate is the inspection cost of one message of each kind of
// the mix (the default policy, as the relay runs it): a reply without
// attachment and one message per attachment file that bench/mix/gen.sh
// made. MIX_DIR names gen.sh's output (default bench/out/mix-300); without
// it the benchmark is skipped.
//
//	MIX_DIR=bench/out/mix-300 go test -run '^$' -bench Evaluate -benchmem ./bench/mixload
func BenchmarkEvaluate(b *testing.B) {
	dir := os.Getenv("MIX_DIR")
	if dir == "" {
		dir = "../out/mix-300"
	}
	if _, err := os.Stat(filepath.Join(dir, "files")); err != nil {
		b.Skipf("no mix corpus in %s (run bench/mix/gen.sh): %v", dir, err)
	}
	eng, err := policy.Default()
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct{ name, file string }{{"reply", ""}}
	for _, f := range []string{"notice.pdf", "minutes-short.pdf", "minutes-long.pdf", "minutes-book.pdf", "notice.docx",
		"minutes-long.docx", "budget-small.xlsx", "budget-large.xlsx", "budget-small.csv", "資料一式.zip"} {
		cases = append(cases, struct{ name, file string }{f, f})
	}
	for _, c := range cases {
		var att []attachment
		if c.file != "" {
			data, err := os.ReadFile(filepath.Join(dir, "files", c.file))
			if err != nil {
				b.Fatal(err)
			}
			att = []attachment{{c.file, data}}
		}
		msg := message(rand.New(rand.NewPCG(1, 15)), 0, "bench@city.example.lg.jp", "user@example.com", att)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				v, err := eng.Evaluate(context.Background(), bytes.NewReader(msg), policy.Input{Sender: "bench@city.example.lg.jp",
					Recipients: []string{"user@example.com"}, Size: int64(len(msg))})
				if err != nil {
					b.Fatal(err)
				}
				if v.Action != policy.Pass {
					b.Fatalf("%s: verdict %s, want pass (the mix must pass the default policy)", c.name, v.Action)
				}
			}
		})
	}
}
