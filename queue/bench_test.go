package queue

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkDeliver measures the queue alone: b.N messages of 20 KB are
// committed and announced first, then the workers deliver them all (to an
// in-process go-smtp server, or to Postfix's smtp-sink when installed).
//
//	go test -run '^$' -bench Deliver -benchtime 2000x ./queue/
func BenchmarkDeliver(b *testing.B) {
	body := msgText("bench", strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz 0123456789abcdefghijklmnopqrstuvwxyz\r\n", 20480/76))
	run := func(b *testing.B, addr string, workers int) {
		cfg := testConfig(addr)
		cfg.Workers = workers
		e := newEnv(b, cfg, "")
		for range b.N {
			e.commit("yamada@city.example.lg.jp", []string{"a@example.com"}, body, true)
		}
		b.SetBytes(int64(len(body)))
		b.ResetTimer()
		start := time.Now()
		e.start()
		e.waitEmpty()
		el := time.Since(start)
		b.StopTimer()
		e.stop()
		b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
		if got := e.m.delivered.Load(); got != int64(b.N) {
			b.Fatalf("delivered %d of %d", got, b.N)
		}
	}
	for _, w := range []int{1, 8} {
		b.Run(fmt.Sprintf("gosmtp/workers=%d", w), func(b *testing.B) {
			u := startUpstream(b, upstreamOpts{})
			run(b, u.addr, w)
		})
	}
	b.Run("smtp-sink/workers=8", func(b *testing.B) {
		addr, _ := startSmtpSink(b, false)
		run(b, addr, 8)
	})
}
