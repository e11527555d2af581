package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestPprofLoopbackOnly: the profiler of DLPGUARD_PPROF listens only on a
// loopback address, and serves the block and mutex profiles there.
func TestPprofLoopbackOnly(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "192.0.2.1:6060", "localhost:6060", ":6060", "127.0.0.1"} {
		if stop, err := startPprof(addr, log); err == nil {
			stop()
			t.Errorf("%q accepted", addr)
		}
	}
	// A free loopback port.
	addr := freePort(t)
	stop, err := startPprof(addr, log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for p, want := range map[string]string{"block": "contention", "mutex": "sampling period=100", "goroutine": "goroutine"} {
		resp, err := http.Get("http://" + addr + "/debug/pprof/" + p + "?debug=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %.80q", p, resp.StatusCode, body)
		}
	}
}
