package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"dlpguard/config"
	"dlpguard/console"
	"dlpguard/directory"
	"dlpguard/dispose"
	"dlpguard/icap"
	"dlpguard/inspect/ocr"
	"dlpguard/ops"
	"dlpguard/policy"
	"dlpguard/queue"
	"dlpguard/review"
	"dlpguard/smtpproxy"
	"dlpguard/spool"
)

// relay is a running dlpguard: spool, delivery queue, SMTP listeners and
// the operations endpoint.
type relay struct {
	cfg        *config.Config
	log        *slog.Logger
	store      *spool.Store
	smtp       *smtpproxy.Server
	queue      *queue.Queue
	policy     *policy.Holder
	review     *review.Service
	console    *console.Console
	directory  *directory.Client // nil without directory.url
	stores     *review.Stores
	policyFile string // fixed at start (a change needs a restart)
	ops        *ops.Server
	icap       *icap.Server
	icapAddr   string
	smtpAddrs  []string
	mailboxDir string
	audit      auditCheck
	legacy     legacyHolds // plaintext holds of older versions left in spool/hold

	downloads *downloadSide // release by link; nil when off

	draining    atomic.Bool
	stopOnce    sync.Once
	stopErr     error
	queueCancel context.CancelFunc
	queueDone   chan error
	serveWG     sync.WaitGroup
	failed      chan error // a listener or the queue stopped unexpectedly
}

// startRelay opens the spool (recovering it), starts delivery, binds the
// listeners and starts serving.
func startRelay(cfg *config.Config, log *slog.Logger) (r *relay, err error) {
	r = &relay{cfg: cfg, log: log, failed: make(chan error, 8), queueDone: make(chan error, 1)}
	defer func() {
		if err != nil {
			r.shutdown(time.Second)
		}
	}()
	spoolDir := filepath.Join(cfg.DataDir, "spool")
	r.store, err = spool.Open(spoolDir)
	if err != nil {
		return r, err
	}
	queued, _ := r.store.List(spool.AreaQueue)
	legacyHeld, _ := r.store.List(spool.AreaHold)
	log.Info("spool open", "dir", spoolDir, "queued", len(queued), "legacy_plaintext_holds", len(legacyHeld))

	reg, metrics := ops.NewRegistry()

	r.mailboxDir = filepath.Join(cfg.DataDir, "mailbox")
	r.queue, err = queue.New(queueConfig(cfg, r.mailboxDir), r.store, log.With("component", "queue"), &queue.PromMetrics{
		DeliveredTotal: metrics.Delivered,
		DeferredTotal:  metrics.Deferred,
		BouncedTotal:   metrics.Bounced,
		Length:         metrics.QueueLength,
		Latency:        metrics.DeliveryLatency,
	})
	if err != nil {
		return r, err
	}

	// The policy decides before the reply to DATA (3.3.5); a policy that
	// does not load stops the start: the relay never runs uninspected.
	r.policy, err = policy.NewHolder(cfg.Policy.File, log.With("component", "policy"))
	if err != nil {
		return r, fmt.Errorf("policy: %w", err)
	}
	r.policyFile = cfg.Policy.File
	log.Info("policy loaded", "file", cmp.Or(cfg.Policy.File, "built-in default"), "version", r.policy.Version())

	// Held and delayed messages go to the review service: encrypted hold
	// store, notices, approvals and encryption on release (3.3.5, 3.3.4).
	ropts := r.withDownloads(reviewOptionsFrom(cfg))
	if cfg.Directory.Enabled() {
		// Who is who from the city's directory (departments, approvers,
		// console sign-in); the policy still decides what applies.
		if r.directory, err = directory.New(cfg.Directory.ClientConfig(), log.With("component", "directory")); err != nil {
			return r, err
		}
		ropts.Directory = r.directory
	}
	r.review, r.stores, err = openReview(context.Background(), ropts, r.policy.Engine, r.store, r.queue, log.With("component", "review"))
	if err != nil {
		return r, fmt.Errorf("review: %w", err)
	}
	r.audit.start(context.Background(), r.stores.Audit, log.With("component", "audit"))

	// Scanned forms and photographed cards are read by OCR (3.3.5); with
	// enabled: auto a machine without Tesseract runs without it (logged)
	// and the policy holds unread scans.
	ocrEng, err := ocr.New(cfg.Inspect.OCR.Options(), log.With("component", "ocr"))
	if err != nil {
		return r, fmt.Errorf("inspect.ocr: %w", err)
	}
	if ocrEng != nil {
		if err := ocrEng.Register(reg); err != nil {
			return r, fmt.Errorf("inspect.ocr: metrics: %w", err)
		}
		log.Info("OCR on", "command", ocrEng.Config().Command, "languages", ocrEng.Config().Languages, "concurrency", ocrEng.Config().Concurrency)
	}

	scfg, err := smtpConfig(cfg)
	if err != nil {
		return r, err
	}
	// Decide once, apply once (3.3.5): the Disposer evaluates every
	// received message under the policy in force and rejects, queues
	// (pass, bcc, delay: due later) or holds it in the encrypted hold
	// store; when the hold store cannot take it the client gets 451
	// (nothing is kept in clear, 3.3.4). SMTP rejections are audited.
	disposer, err := dispose.New(dispose.Config{Policy: r.policy.Engine, Spool: r.store, Queue: r.queue, Review: r.review,
		Metrics: policy.NewMetrics(reg), Logger: log.With("component", "dispose"), InspectTimeout: cfg.SMTP.Limits.InspectTimeout,
		OCR: ocrInput(ocrEng), Concurrency: cfg.Inspect.Concurrency})
	if err != nil {
		return r, err
	}
	r.smtp = smtpproxy.New(scfg, r.store, smtpproxy.Options{
		Logger:   log.With("component", "smtp"),
		Metrics:  &metrics.Metrics, // the ops registry's SMTP counters
		Queue:    r.queue,
		Disposer: disposer,
		Auditor:  authAuditor{r.stores.Audit},
	})
	// Older versions kept held messages in clear in spool/hold when the
	// hold store failed: they go into the hold store now, inspected again,
	// or stay and are reported on every start and on /healthz.
	if len(legacyHeld) > 0 {
		n, err := disposer.ImportLegacyHolds(context.Background())
		r.legacy.set(err)
		if err != nil {
			log.Error("legacy plaintext holds left in spool/hold: fix the cause and restart to import them", "imported", n, "err", err)
		} else {
			log.Warn("legacy plaintext holds imported into the hold store", "imported", n)
		}
	}

	// Bind everything before serving anything, so a bad address fails the
	// start instead of leaving half a relay.
	var plain, implicit []net.Listener
	for _, a := range cfg.SMTP.Listen {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			closeAll(plain, implicit)
			return r, fmt.Errorf("smtp listen %s: %w", a, err)
		}
		plain = append(plain, ln)
		r.smtpAddrs = append(r.smtpAddrs, ln.Addr().String())
	}
	for _, a := range cfg.SMTP.TLSListen {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			closeAll(plain, implicit)
			return r, fmt.Errorf("smtp tls listen %s: %w", a, err)
		}
		implicit = append(implicit, ln)
		r.smtpAddrs = append(r.smtpAddrs, ln.Addr().String())
	}
	if cfg.HTTP.Listen != "" {
		// The review console for security staff (Japanese first).
		r.console, err = console.New(console.Config{DataDir: cfg.DataDir, SecureCookies: cfg.HTTP.SecureCookies},
			console.Deps{Review: r.review, Holds: r.stores.Holds, Audit: r.stores.Audit, Policy: r.policy, Spool: r.store,
				Logger: log.With("component", "console"), Directory: r.consoleDirectory()})
		if err != nil {
			closeAll(plain, implicit)
			return r, fmt.Errorf("console: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/console/", r.console.Handler())
		mux.Handle("/api/v1/", r.review.Handler())
		mux.Handle("/", ops.Handler(reg, r.ready, r.policyStatus, r.legacy.status, r.audit.status))
		r.ops, err = ops.Listen(cfg.HTTP.Listen, mux, log.With("component", "http"))
		if err != nil {
			closeAll(plain, implicit)
			return r, fmt.Errorf("http listen %s: %w", cfg.HTTP.Listen, err)
		}
	}

	// Web uploads through the proxy: the same policy over ICAP (9.2, 3.3.5).
	var icapLn net.Listener
	if cfg.ICAP.Listen != "" {
		ic := icap.DefaultConfig()
		ic.Listen = cfg.ICAP.Listen
		ic.MaxConnections = cfg.ICAP.MaxConnections
		ic.MaxBodyBytes = int64(cfg.ICAP.MaxBodySize)
		ic.Contact = cfg.ICAP.Contact
		ic.ApprovedRoute = cfg.ICAP.ApprovedRoute
		ic.OCR = ocrInput(ocrEng)
		ic.Audit = r.stores.Audit
		r.icap = icap.New(ic, r.policy.Engine, log.With("component", "icap"), reg)
		if icapLn, err = net.Listen("tcp", cfg.ICAP.Listen); err != nil {
			closeAll(plain, implicit)
			return r, fmt.Errorf("icap listen %s: %w", cfg.ICAP.Listen, err)
		}
		r.icapAddr = icapLn.Addr().String()
	}

	if err := r.downloads.listen(); err != nil {
		return r, err
	}

	qctx, cancel := context.WithCancel(context.Background())
	r.queueCancel = cancel
	// The policy file is also reloaded when it changes on disk.
	go r.policy.Watch(qctx, 2*time.Second)
	// Expiry of holds, reminders and retention purges (delayed messages
	// are queue entries: the queue sends them when due).
	go r.review.Run(qctx)
	if r.directory != nil {
		// Cached answers are refreshed before they expire.
		go r.directory.Run(qctx)
	}
	go func() {
		err := r.queue.Run(qctx)
		r.queueDone <- err
		if err != nil && qctx.Err() == nil {
			r.fail(fmt.Errorf("queue: %w", err))
		}
	}()
	serve := func(ln net.Listener, fn func(net.Listener) error) {
		r.serveWG.Add(1)
		go func() {
			defer r.serveWG.Done()
			if err := fn(ln); err != nil && !r.draining.Load() {
				r.fail(fmt.Errorf("smtp %s: %w", ln.Addr(), err))
			}
		}()
	}
	for _, ln := range plain {
		serve(ln, r.smtp.Serve)
	}
	for _, ln := range implicit {
		serve(ln, r.smtp.ServeTLS)
	}
	if icapLn != nil {
		r.serveWG.Add(1)
		go func() {
			defer r.serveWG.Done()
			if err := r.icap.Serve(icapLn); err != nil && !errors.Is(err, icap.ErrServerClosed) && !r.draining.Load() {
				r.fail(fmt.Errorf("icap %s: %w", icapLn.Addr(), err))
			}
		}()
	}
	r.downloads.serve(r.fail)
	httpAddr := r.httpAddr()
	log.Info("dlpguard started", "smtp", r.smtpAddrs, "http", httpAddr, "hostname", cfg.Hostname,
		"upstream", cmp.Or(cfg.Upstream.Address, "local mailbox "+r.mailboxDir), "icap", cmp.Or(r.icapAddr, "off"))
	return r, nil
}

// httpAddr is the address the HTTP listener (console, API, metrics) is
// bound to, "off" when there is none.
func (r *relay) httpAddr() string {
	if r.ops == nil {
		return "off"
	}
	return r.ops.Addr().String()
}

func closeAll(lists ...[]net.Listener) {
	for _, l := range lists {
		for _, ln := range l {
			ln.Close()
		}
	}
}

// policyStatus is the /healthz line about the policy in force.
func (r *relay) policyStatus() string {
	s := "policy: " + cmp.Or(r.policyFile, "built-in default") + " version " + r.policy.Version()
	if at, err := r.policy.LastReload(); err != nil {
		s += fmt.Sprintf("; last reload at %s FAILED (previous policy in force): %v", at.UTC().Format(time.RFC3339), err)
	}
	return s
}

func (r *relay) fail(err error) {
	select {
	case r.failed <- err:
	default: // one failure is enough to stop
	}
}

func (r *relay) ready() error {
	if r.draining.Load() {
		return errors.New("draining")
	}
	if r.stores != nil {
		// storage.driver postgres: without the database, held mail gets
		// 451 (3.3.5: nothing held is passed); passes still relay.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := r.stores.Ping(ctx); err != nil {
			return fmt.Errorf("hold store database unreachable (held mail answers 451): %w", err)
		}
	}
	return nil
}

// shutdown drains: stop accepting, let open sessions finish (bounded by
// d), then stop delivery, leaving the queue on disk. Later calls return the
// first call's result.
func (r *relay) shutdown(d time.Duration) error {
	r.stopOnce.Do(func() { r.stopErr = r.stop(d) })
	return r.stopErr
}

func (r *relay) stop(d time.Duration) error {
	r.draining.Store(true)
	var errs []error
	if r.icap != nil {
		ctx, cancel := shutdownContext(d)
		if err := r.icap.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("icap: %w", err))
		}
		cancel()
	}
	if r.smtp != nil {
		ctx, cancel := shutdownContext(d)
		if err := r.smtp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("smtp: %w", err))
		}
		cancel()
	}
	r.serveWG.Wait()
	if err := r.downloads.stop(); err != nil {
		errs = append(errs, fmt.Errorf("download: %w", err))
	}
	if r.queueCancel != nil {
		r.queueCancel()
		if err := <-r.queueDone; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("queue: %w", err))
		}
	}
	if r.ops != nil {
		ctx, cancel := shutdownContext(5 * time.Second)
		r.ops.Shutdown(ctx)
		cancel()
	}
	if r.console != nil {
		if err := r.console.Close(); err != nil {
			errs = append(errs, fmt.Errorf("console: %w", err))
		}
	}
	if r.review != nil {
		if err := r.review.Close(); err != nil {
			errs = append(errs, fmt.Errorf("review: %w", err))
		}
	}
	if r.stores != nil {
		if err := r.stores.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stores: %w", err))
		}
	}
	return errors.Join(errs...)
}

// reload applies what can change at run time and logs what cannot.
func (r *relay) reload(cfg *config.Config) {
	old := r.cfg
	var restart []string
	if !slices.Equal(old.SMTP.Listen, cfg.SMTP.Listen) || !slices.Equal(old.SMTP.TLSListen, cfg.SMTP.TLSListen) {
		restart = append(restart, "smtp.listen")
	}
	if old.DataDir != cfg.DataDir {
		restart = append(restart, "data_dir")
	}
	if old.HTTP.Listen != cfg.HTTP.Listen {
		restart = append(restart, "http.listen")
	}
	if old.Hostname != cfg.Hostname {
		restart = append(restart, "hostname")
	}
	if downloadChanged(old, cfg) {
		restart = append(restart, "download")
	}
	// The queue takes its configuration at start: every upstream setting
	// (connect_timeout, command_timeout, password_file … included).
	restart = append(restart, changedSettings("upstream", old.Upstream, cfg.Upstream)...)
	scfg, err := smtpConfig(cfg)
	if err != nil {
		r.log.Error("reload: smtp settings not applied", "err", err)
	} else {
		restart = append(restart, r.smtp.Reload(scfg)...)
	}
	if old.Inspect.Concurrency != cfg.Inspect.Concurrency {
		restart = append(restart, "inspect.concurrency") // the Disposer's slots are made at start
	}
	if old.Policy.File != cfg.Policy.File {
		restart = append(restart, "policy.file")
	} else if err := r.policy.Reload(); err != nil {
		// The policy in force stays (policy.Holder keeps it).
		r.log.Error("reload: policy not applied; the previous policy stays in force", "err", err)
	} else {
		r.log.Info("reload: policy", "version", r.policy.Version())
	}
	if len(restart) > 0 {
		r.log.Warn("reload: these settings changed but need a restart", "settings", restart)
	}
	r.log.Info("configuration reloaded")
	// Keep the settings that need a restart as they run, so the next
	// reload compares against what is really in effect.
	merged := *cfg
	merged.SMTP.Listen, merged.SMTP.TLSListen = old.SMTP.Listen, old.SMTP.TLSListen
	merged.DataDir, merged.HTTP.Listen, merged.Hostname, merged.Upstream = old.DataDir, old.HTTP.Listen, old.Hostname, old.Upstream
	merged.Policy = old.Policy
	merged.Inspect.Concurrency = old.Inspect.Concurrency
	r.cfg = &merged
}

// smtpConfig maps the configuration onto the SMTP front end's.
func smtpConfig(cfg *config.Config) (smtpproxy.Config, error) {
	l := cfg.SMTP.Limits
	sc := smtpproxy.Config{
		Hostname:            cfg.Hostname,
		Networks:            cfg.Networks(),
		Accounts:            map[string]string{},
		MaxMessageSize:      int64(l.MaxMessageSize),
		MaxRecipients:       l.MaxRecipients,
		MaxLineLength:       l.MaxLineLength,
		MaxHeaderSize:       int64(l.MaxHeaderSize),
		CommandTimeout:      l.CommandTimeout,
		DataTimeout:         l.DataTimeout,
		MaxConnections:      l.MaxConnections,
		MaxConnectionsPerIP: l.MaxConnectionsPer,
		InspectTimeout:      l.InspectTimeout,
		Auth:                smtpproxy.AuthLimits(cfg.SMTP.AuthLimits),
	}
	for _, a := range cfg.SMTP.Accounts {
		sc.Accounts[a.Username] = a.PasswordHash
	}
	switch {
	case cfg.SMTP.TLS.CertFile != "":
		cert, err := tls.LoadX509KeyPair(cfg.SMTP.TLS.CertFile, cfg.SMTP.TLS.KeyFile)
		if err != nil {
			return sc, fmt.Errorf("smtp.tls: %w", err)
		}
		sc.Certificate = &cert
	case cfg.SMTP.TLS.SelfSigned:
		cert, err := smtpproxy.SelfSignedCertificate(filepath.Join(cfg.DataDir, "tls"), cfg.Hostname)
		if err != nil {
			return sc, fmt.Errorf("smtp.tls self-signed: %w", err)
		}
		sc.Certificate = &cert
	}
	return sc, nil
}

// queueConfig maps the configuration onto engineer B's delivery queue.
func queueConfig(cfg *config.Config, mailboxDir string) queue.Config {
	u := cfg.Upstream
	return queue.Config{
		Upstream:       u.Address,
		TLS:            queue.TLSMode(u.StartTLS),
		TLSSkipVerify:  u.TLSSkipVerify,
		AuthUser:       u.Username,
		AuthPassword:   u.Password,
		Workers:        u.Workers,
		Retry:          u.Retry,
		MaxAge:         u.MaxAge,
		Hostname:       cfg.Hostname,
		DialTimeout:    u.ConnectTimeout,
		CommandTimeout: u.CommandTimeout,
		MailboxDir:     mailboxDir,
		LocalRetry:     u.LocalRetry,
	}
}

// reviewOptionsFrom maps the configuration onto the review service.
func reviewOptionsFrom(cfg *config.Config) reviewOptions {
	rc := cfg.Review
	from := rc.NoticeFrom
	if from == "" {
		from = "dlpguard@" + cfg.Hostname
	}
	base := rc.BaseURL
	if base == "" && cfg.HTTP.Listen != "" {
		base = "http://" + cfg.HTTP.Listen
		// A wildcard listener is no address to link to: the host name is.
		if host, port, err := net.SplitHostPort(cfg.HTTP.Listen); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
			base = "http://" + net.JoinHostPort(cfg.Hostname, port)
		}
	}
	return reviewOptions{
		DataDir:        cfg.DataDir,
		Hostname:       cfg.Hostname,
		NoticeFrom:     from,
		BaseURL:        base,
		FourEyesLevelI: rc.FourEyesLevelI,
		Passphrase:     rc.NoKey == "passphrase",
		SecurityTeam:   rc.SecurityTeam,
		ReleaseSubject: rc.ReleaseSubject,
		Store:          review.StoreOptions{HoldFor: rc.HoldFor, Retention: rc.Retention, PostgresDSN: cfg.Storage.DSN},
		AdminsApprove:  rc.AdminsApprove, TimeZone: rc.TimeZone, RemindBefore: rc.RemindBefore, PassphraseChannel: rc.PassphraseChannel,
	}
}

// consoleDirectory is the directory for console sign-in, or a nil
// interface (not a typed nil) without one.
func (r *relay) consoleDirectory() console.DirectoryAuth {
	if r.directory == nil {
		return nil
	}
	return r.directory
}
