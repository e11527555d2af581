// Command icapload measures the file-transfer guard: uploads per second and
// latency of 1 MB multipart uploads through a private Squid on loopback,
// once without adaptation and once with dlpguard's ICAP service
// (icap_service … bypass=0), in the same run. It starts and stops
// everything it uses: the ICAP service (in this process), a sink HTTP
// server, and the two Squids.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"dlpguard/icap"
	"dlpguard/icap/squidtest"
	"dlpguard/policy"
)

type result struct {
	Mode          string  `json:"mode"`
	Uploads       int     `json:"uploads"`
	Errors        int64   `json:"errors"`
	Seconds       float64 `json:"seconds"`
	UploadsPerSec float64 `json:"uploads_per_sec"`
	P50ms         float64 `json:"p50_ms"`
	P95ms         float64 `json:"p95_ms"`
	MeanMs        float64 `json:"mean_ms"`
}

func main() {
	n := flag.Int("n", 200, "uploads per mode")
	conc := flag.Int("c", 4, "concurrent uploads")
	size := flag.Int("size", 1<<20, "file size in bytes")
	flag.Parse()
	if err := run(*n, *conc, *size); err != nil {
		fmt.Fprintln(os.Stderr, "icapload:", err)
		os.Exit(1)
	}
}

func run(n, conc, size int) error {
	if !squidtest.Available() {
		return fmt.Errorf("squid is not installed (%s): apt-get install -y squid", squidtest.Binary)
	}
	ctx := context.Background()
	eng, err := policy.Default()
	if err != nil {
		return err
	}
	srv := icap.New(icap.Config{}, func() *policy.Engine { return eng }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	iln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go srv.Serve(iln)
	defer srv.Shutdown(ctx)

	var received atomic.Int64
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, _ := io.Copy(io.Discard, r.Body)
		received.Add(m)
		w.WriteHeader(http.StatusNoContent)
	})}
	go hs.Serve(hln)
	defer hs.Close()
	target := "http://" + hln.Addr().String() + "/upload"

	// A harmless 1 MB text file (Japanese and ASCII), read in full by inspect.
	var file bytes.Buffer
	for i := 0; file.Len() < size; i++ {
		fmt.Fprintf(&file, "%06d 議事録の本文です。The minutes of the meeting, item %d.\n", i, i)
	}
	file.Truncate(size)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "議事録.txt")
	fw.Write(file.Bytes())
	mw.Close()

	var results []result
	for _, mode := range []string{"squid", "squid+dlpguard"} {
		opt := squidtest.Options{}
		if mode == "squid+dlpguard" {
			opt.ICAP = "icap://" + iln.Addr().String() + "/reqmod"
		}
		sq, err := squidtest.Start(ctx, opt)
		if err != nil {
			return err
		}
		r, err := load(mode, sq.Addr, target, mw.FormDataContentType(), body.Bytes(), n, conc)
		sq.Stop()
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	fmt.Printf("%-16s %8s %7s %10s %9s %9s %9s\n", "mode", "uploads", "errors", "uploads/s", "p50 ms", "p95 ms", "mean ms")
	for _, r := range results {
		fmt.Printf("%-16s %8d %7d %10.1f %9.1f %9.1f %9.1f\n", r.Mode, r.Uploads, r.Errors, r.UploadsPerSec, r.P50ms, r.P95ms, r.MeanMs)
	}
	fmt.Printf("added latency by dlpguard: p50 %+.1f ms, mean %+.1f ms; throughput %.0f%% of plain squid\n",
		results[1].P50ms-results[0].P50ms, results[1].MeanMs-results[0].MeanMs, 100*results[1].UploadsPerSec/results[0].UploadsPerSec)
	enc := json.NewEncoder(os.Stdout)
	for _, r := range results {
		enc.Encode(r)
	}
	return nil
}

func load(mode, proxyAddr, target, ctype string, body []byte, n, conc int) (result, error) {
	proxy, _ := url.Parse("http://" + proxyAddr)
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{Proxy: http.ProxyURL(proxy), MaxIdleConnsPerHost: conc}}
	one := func() (time.Duration, error) {
		start := time.Now()
		resp, err := client.Post(target, ctype, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return 0, fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	// Warm up (connections, ICAP OPTIONS).
	for i := 0; i < conc; i++ {
		if _, err := one(); err != nil {
			return result{}, fmt.Errorf("%s warm-up: %w", mode, err)
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				d, err := one()
				if err != nil {
					errs.Add(1)
					continue
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r := result{Mode: mode, Uploads: len(lat), Errors: errs.Load(), Seconds: el.Seconds()}
	if len(lat) == 0 {
		return r, fmt.Errorf("%s: every upload failed", mode)
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r.UploadsPerSec = float64(len(lat)) / el.Seconds()
	r.P50ms = ms(lat[len(lat)/2])
	r.P95ms = ms(lat[len(lat)*95/100])
	r.MeanMs = ms(sum / time.Duration(len(lat)))
	return r, nil
}
