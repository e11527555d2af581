package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"time"

	"dlpguard/config"
	"dlpguard/download"
	"dlpguard/hold"
	"dlpguard/review"
)

// downloadSide is the release by download link (review.no_key: link): the
// link store in data_dir/download and the recipients' listener, apart from
// the console's (it may face the Internet through the city's reverse
// proxy; it serves nothing but download pages and files).
type downloadSide struct {
	cfg    config.Download
	log    *slog.Logger
	svc    *download.Service
	store  *download.SQLite
	srv    *http.Server
	ln     net.Listener
	cancel context.CancelFunc
}

// withDownloads adds the link release to the review options when the
// download listener is configured (for review.no_key: link and for the
// policy's release mode link); the side is opened with the review stores.
func (r *relay) withDownloads(o reviewOptions) reviewOptions {
	cfg := r.cfg
	if cfg.Download.Listen == "" {
		return o
	}
	o.NoKeyLink = cfg.Review.NoKey == "link"
	d := &downloadSide{cfg: cfg.Download, log: r.log.With("component", "download")}
	r.downloads = d
	o.Downloads = func(st *review.Stores, mail func(context.Context, string, download.Message) error) (*download.Service, error) {
		// The hold store's key: the files are held content (3.3.4).
		key, err := hold.LoadKey(filepath.Join(review.PathsIn(cfg.DataDir).Hold, "hold.key"))
		if err != nil {
			return nil, err
		}
		if d.store, err = download.OpenSQLite(context.Background(), filepath.Join(cfg.DataDir, "download"), key); err != nil {
			return nil, err
		}
		loc, _ := time.LoadLocation(cfg.Review.TimeZone)
		limit := cfg.Download.MaxDownloads
		if limit == 0 {
			limit = -1 // 0 in the file is "no limit"; New's 0 is the default
		}
		d.svc, err = download.New(download.Config{BaseURL: cfg.Download.BaseURL, Expiry: cfg.Download.Expiry,
			MaxDownloads: limit, NotifySender: cfg.Download.NotifySender,
			SecureCookies:  cfg.Download.SecureCookies || cfg.Download.TLS.CertFile != "",
			TrustedProxies: cfg.Download.TrustedProxies, TimeZone: loc},
			download.Deps{Store: d.store, Audit: st.Audit, Mail: mail, Logger: d.log})
		if err != nil {
			d.store.Close()
			return nil, err
		}
		return d.svc, nil
	}
	return o
}

// listen binds the download listener (before anything is served).
func (d *downloadSide) listen() error {
	if d == nil {
		return nil
	}
	ln, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		return fmt.Errorf("download listen %s: %w", d.cfg.Listen, err)
	}
	if d.cfg.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(d.cfg.TLS.CertFile, d.cfg.TLS.KeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("download tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	d.ln = ln
	// ReadTimeout bounds reading a request (the code form is tiny); no
	// WriteTimeout: a 25 MB file on a slow phone line takes its time.
	d.srv = &http.Server{Handler: d.svc.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: time.Minute, MaxHeaderBytes: 32 << 10,
		ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)}
	return nil
}

// serve serves the listener and purges expired links until stop.
func (d *downloadSide) serve(fail func(error)) {
	if d == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go d.svc.Run(ctx, time.Minute)
	go func() {
		if err := d.srv.Serve(d.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fail(fmt.Errorf("download %s: %w", d.ln.Addr(), err))
		}
	}()
	d.log.Info("download listener started", "addr", d.ln.Addr().String(), "base_url", d.cfg.BaseURL)
}

// stop ends the listener (downloads in progress get a few seconds) and
// closes the link store.
func (d *downloadSide) stop() error {
	if d == nil {
		return nil
	}
	if d.cancel != nil {
		d.cancel()
	}
	if d.srv != nil {
		ctx, cancel := shutdownContext(5 * time.Second)
		d.srv.Shutdown(ctx)
		cancel()
	}
	if d.store != nil {
		return d.store.Close()
	}
	return nil
}

// downloadChanged: the download side takes its configuration at start.
func downloadChanged(old, cfg *config.Config) bool {
	return !reflect.DeepEqual(old.Download, cfg.Download)
}
