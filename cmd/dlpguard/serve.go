package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
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
	demo := fs.Bool("demo", false, "demo mode: 127.0.0.1:2525 (SMTP), :8025 (HTTP) and :1344 (ICAP), data in ./demo-data, local mailbox")
	var listen listenFlags
	fs.StringVar(&listen.smtp, "smtp", "", "SMTP listen address host:port, instead of smtp.listen (e.g. 127.0.0.1:2526)")
	fs.StringVar(&listen.http, "http", "", "HTTP (console, API, metrics) listen address, instead of http.listen")
	fs.StringVar(&listen.icap, "icap", "", "ICAP listen address, instead of icap.listen")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dlpguard serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := listen.check(); err != nil {
		fmt.Fprintf(stderr, "dlpguard serve: %v\n", err)
		return 2
	}
	// The flags apply at every (re)load, so a reload does not see them as
	// a change of the listen settings.
	load := func() (*config.Config, error) {
		c, err := loadServeConfig(*cfgPath, *demo)
		if err == nil {
			listen.apply(c)
		}
		return c, err
	}
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
		// Japanese first: the demo is shown to the city's staff.
		fmt.Fprintf(stdout, "dlpguard デモ / demo: SMTP %s, ICAP %s, 届いたメール / mail arrives in %s\n",
			r.smtpAddrs[0], cmp.Or(r.icapAddr, "off"), r.mailboxDir)
		consoleURL := "http://" + r.httpAddr() + "/console/"
		switch {
		case demoErr != nil:
			logger.Error("demo console account", "err", demoErr)
		case demoCreated:
			fmt.Fprintf(stdout, "コンソール / console: %s  ユーザー / user admin  パスワード / password %s  (この一度だけ表示 / shown once)\n", consoleURL, demoPW)
		default:
			fmt.Fprintf(stdout, "コンソール / console: %s  (デモ管理者は作成済み / the demo administrator exists already)\n", consoleURL)
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

// listenFlags are serve's --smtp, --http and --icap: listen addresses
// that replace the configuration's (the demo's 2525, 8025 and 1344 are
// often taken).
type listenFlags struct{ smtp, http, icap string }

func (l listenFlags) check() error {
	for _, f := range []struct{ name, addr string }{{"--smtp", l.smtp}, {"--http", l.http}, {"--icap", l.icap}} {
		if f.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(f.addr); err != nil {
			return fmt.Errorf("%s %q: want host:port: %w", f.name, f.addr, err)
		}
	}
	return nil
}

func (l listenFlags) apply(c *config.Config) {
	if l.smtp != "" {
		c.SMTP.Listen = []string{l.smtp}
	}
	if l.http != "" {
		c.HTTP.Listen = l.http
	}
	if l.icap != "" {
		c.ICAP.Listen = l.icap
	}
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
