package smtpproxy

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// BenchmarkRelay20Sessions measures the front end alone: 20 concurrent
// sessions sending 20 KB messages over loopback into the spool, each 250
// after fsync (no delivery, no Disposer: queued as received). Reports messages/s.
func BenchmarkRelay20Sessions(b *testing.B) {
	h := newBenchHarness(b)
	body := message("bench", strings.Repeat(strings.Repeat("x", 78)+"\r\n", 256))
	const sessions = 20
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(h)
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			if err := c.Hello("bench.test"); err != nil {
				b.Error(err)
				return
			}
			for range work {
				if _, err := send(c, "a@x.jp", []string{"b@y.jp"}, body); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
