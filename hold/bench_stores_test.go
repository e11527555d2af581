package hold

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"dlpguard/internal/pgtest"
	"dlpguard/pgdb"
)

// BenchmarkHoldPut measures held messages stored per second (20 KB each,
// eight writers at once as relay sessions are) on SQLite and on
// PostgreSQL, in the same run: bench/holds.sh.
func BenchmarkHoldPut(b *testing.B) {
	ctx := context.Background()
	msg := content(20 << 10)
	key := bytes.Repeat([]byte{9}, 32)
	stores := []struct {
		name string
		open func(b *testing.B) Store
	}{
		{"sqlite", func(b *testing.B) Store {
			s, err := OpenSQLite(ctx, Options{Dir: b.TempDir(), Key: key, Logger: quiet()})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"postgres", func(b *testing.B) Store {
			pool, err := pgdb.Open(ctx, pgtest.NewDatabase(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(pool.Close)
			s, err := OpenPostgres(ctx, pool, Options{Key: key, Logger: quiet()})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := st.open(b)
			defer s.Close()
			var seq atomic.Int64
			b.SetBytes(int64(len(msg)))
			b.SetParallelism(4) // × GOMAXPROCS writers
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := fmt.Sprintf("b%d", seq.Add(1))
					if _, err := s.Put(ctx, sample(id, "総務課", "I", "r"), bytes.NewReader(msg)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "holds/s")
		})
	}
}
