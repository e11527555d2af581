package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"runtime"
	"time"
)

// pprofEnv names the loopback address of the Go profiler of `serve`
// (CPU, heap, block and mutex profiles, goroutines), for measuring the
// relay under load (bench/README.md). Unset, as in production: no
// profiler, and no block or mutex sampling.
const pprofEnv = "DLPGUARD_PPROF"

// startPprof serves net/http/pprof on addr, which must be a loopback IP
// and port: profiles show message IDs and internals, so they are never
// reachable from the network. It turns on block and mutex sampling for as
// long as it runs. stop ends both.
func startPprof(addr string, log *slog.Logger) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%q is not a loopback address (127.0.0.1:PORT or [::1]:PORT)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux() // not http.DefaultServeMux: nothing else is exposed
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// Blocking of 10 µs or more, and one in 100 mutex contentions: enough
	// for where sessions wait (fsync, the spool's folder syncs, locks)
	// at a small cost while profiling.
	runtime.SetBlockProfileRate(10_000)
	runtime.SetMutexProfileFraction(100)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Warn("profiler on (not for production)", "addr", ln.Addr().String(), "env", pprofEnv)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
	}, nil
}
