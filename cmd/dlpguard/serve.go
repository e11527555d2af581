package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"dlpguard/config"
	"dlpguard/console"
)

// drainTimeout bounds how long SIGTERM waits for open SMTP sessions.
const drainTimeout = 30 * time.Second

// runServe runs the relay until SIGTERM or SIGINT; SIGHUP reloads the
// configuration file.
func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML); default: embedded defaults")
	demo := fs.Bool("demo", false, "demo mode: 127.0.0.1:2525 (SMTP) and :8025 (HTTP), data in ./demo-data, local mailbox")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dlpguard serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	load := func() (*config.Config, error) { return loadServeConfig(*cfgPath, *demo) }
	cfg, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard serve: %v\n", err)
		return 1
	}
	level := new(slog.LevelVar)
	level.Set(parseLevel(cfg.LogLevel))
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if addr := os.Getenv(pprofEnv); addr != "" {
		stop, err := startPprof(addr, logger)
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard serve: %s を使えません / cannot start the profiler: %v\n", pprofEnv, err)
			return 1
		}
		defer stop()
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	// In the demo, a first console administrator, its password shown once.
	var demoPW string
	var demoCreated bool
	var demoErr error
	if *demo {
		demoPW, demoCreated, demoErr = console.EnsureDemoAdmin(context.Background(), cfg.DataDir, "admin@"+cfg.Hostname)
	}
	r, err := startRelay(cfg, logger)
	if err != nil {
		logger.Error("start failed", "err", err)
		return 1
	}
	if *demo {
		fmt.Fprintf(stdout, "dlpguard demo: SMTP on %s, HTTP on http://%s/metrics, mail arrives in %s\n",
			r.smtpAddrs[0], cfg.HTTP.Listen, r.mailboxDir)
		switch {
		case demoErr != nil:
			logger.Error("demo console account", "err", demoErr)
		case demoCreated:
			fmt.Fprintf(stdout, "console: http://%s/console/  user admin  password %s  (shown once)\n", cfg.HTTP.Listen, demoPW)
		default:
			fmt.Fprintf(stdout, "console: http://%s/console/  (the demo administrator exists already)\n", cfg.HTTP.Listen)
		}
	}
	for {
		select {
		case err := <-r.failed:
			logger.Error("relay failed", "err", err)
			r.shutdown(drainTimeout)
			return 1
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				newCfg, err := load()
				if err != nil {
					logger.Error("reload failed; keeping the running configuration", "err", err)
					continue
				}
				level.Set(parseLevel(newCfg.LogLevel))
				r.reload(newCfg)
				continue
			}
			logger.Info("draining", "signal", sig.String())
			if err := r.shutdown(drainTimeout); err != nil {
				logger.Error("shutdown", "err", err)
			}
			logger.Info("stopped")
			return 0
		}
	}
}

// loadServeConfig picks the configuration: the file, else the demo or the
// embedded defaults.
func loadServeConfig(path string, demo bool) (*config.Config, error) {
	switch {
	case path != "" && demo:
		return nil, errors.New("--config and --demo exclude each other")
	case path != "":
		return config.Load(path)
	case demo:
		return config.Demo(), nil
	}
	return config.Default(), nil
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// shutdownContext is a context that ends after d.
func shutdownContext(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
