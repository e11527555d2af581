// Command mixload is the load generator of bench/relay.sh's realistic load
// ("mix"): smtp-source sends one synthetic file over and over, so the mix of
// real city mail (bench/mix/gen.sh) needs its own sender.
//
//	mixload compose -files DIR -out DIR -n 300   # the .eml corpus (gen.sh runs it)
//	mixload send -addr 127.0.0.1:2525 -corpus DIR -s 20 -m 2000
//	mixload big -files DIR -out big.eml -size 25000000   # one message for bench/rss.sh
//
// send opens -s sessions in parallel; each takes the next message of the
// corpus (round robin), connects, sends it (EHLO, MAIL, RCPT, DATA, QUIT)
// and disconnects, as smtp-source does without -d (-reuse keeps the
// connection instead). Any reply but 250 is an error: the mix is made to
// pass the default policy. It prints one JSON line: messages, bytes,
// errors, wall seconds, msg/s and the submit latency (connect to 250).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mixload compose|send|big [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "compose":
		err = compose(os.Args[2:])
	case "big":
		err = big(os.Args[2:])
	case "send":
		err = send(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (compose or send)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mixload:", err)
		os.Exit(1)
	}
}

type result struct {
	Messages  int     `json:"messages"`
	Bytes     int64   `json:"bytes"`
	Errors    int64   `json:"errors"`
	Seconds   float64 `json:"seconds"`
	MsgPerSec float64 `json:"msg_per_sec"`
	P50ms     float64 `json:"submit_p50_ms"`
	P95ms     float64 `json:"submit_p95_ms"`
	FirstErr  string  `json:"first_error,omitempty"`
}

func send(args []string) error {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:2525", "relay to send to (loopback)")
	corpus := fs.String("corpus", "", "folder of .eml files")
	sessions := fs.Int("s", 20, "sessions in parallel")
	messages := fs.Int("m", 2000, "messages in all")
	from := fs.String("f", "bench@city.example.lg.jp", "MAIL FROM")
	to := fs.String("t", "user@example.com", "RCPT TO")
	helo := fs.String("M", "bench.localdomain", "EHLO name")
	reuse := fs.Bool("reuse", false, "keep each session's connection for its next message (smtp-source -d)")
	fs.Parse(args)
	names, err := filepath.Glob(filepath.Join(*corpus, "*.eml"))
	if err != nil || len(names) == 0 {
		return fmt.Errorf("send: no .eml in %q (run bench/mix/gen.sh)", *corpus)
	}
	slices.Sort(names)
	msgs := make([][]byte, len(names))
	for i, n := range names {
		if msgs[i], err = os.ReadFile(n); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}

	var next, errs, bytes atomic.Int64
	var mu sync.Mutex
	var firstErr error
	lat := make([]time.Duration, 0, *messages)
	fail := func(err error) {
		errs.Add(1)
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range *sessions {
		wg.Go(func() {
			var c *smtp.Client
			defer func() {
				if c != nil {
					c.Quit()
				}
			}()
			for {
				i := next.Add(1) - 1
				if i >= int64(*messages) {
					return
				}
				msg := msgs[i%int64(len(msgs))]
				t0 := time.Now()
				if c == nil {
					var err error
					if c, err = dial(*addr, *helo); err != nil {
						fail(err)
						continue
					}
				}
				if err := one(c, *from, *to, msg); err != nil {
					fail(fmt.Errorf("message %d: %w", i, err))
					c.Close()
					c = nil
					continue
				}
				if !*reuse {
					c.Quit()
					c = nil
				}
				d := time.Since(t0)
				bytes.Add(int64(len(msg)))
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	wall := time.Since(start).Seconds()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	r := result{Messages: len(lat), Bytes: bytes.Load(), Errors: errs.Load(), Seconds: wall,
		MsgPerSec: float64(len(lat)) / wall, P50ms: pct(0.50), P95ms: pct(0.95)}
	if firstErr != nil {
		r.FirstErr = firstErr.Error()
	}
	json.NewEncoder(os.Stdout).Encode(r)
	if r.Errors > 0 {
		return fmt.Errorf("%d of %d messages failed, first: %v", r.Errors, *messages, firstErr)
	}
	return nil
}

func dial(addr, helo string) (*smtp.Client, error) {
	c, err := smtp.Dial(addr)
	if err != nil {
		return nil, err
	}
	if err := c.Hello(helo); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// one sends msg in one transaction and wants 250 for it.
func one(c *smtp.Client, from, to string, msg []byte) error {
	if err := c.Mail(from, &smtp.MailOptions{Size: int64(len(msg))}); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// sizeSummary is "sizes min/median/max KB, N% under 100 KB".
func sizeSummary(s []int) string {
	if len(s) == 0 {
		return "no messages"
	}
	s = slices.Clone(s)
	slices.Sort(s)
	small, sum := 0, 0
	for _, v := range s {
		sum += v
		if v < 100<<10 {
			small++
		}
	}
	return fmt.Sprintf("sizes min %d KB, median %d KB, mean %d KB, max %d KB; %d%% under 100 KB",
		s[0]>>10, s[len(s)/2]>>10, sum/len(s)>>10, s[len(s)-1]>>10, 100*small/len(s))
}
