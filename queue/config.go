package queue

import (
	"crypto/x509"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"time"
)

// TLSMode says whether STARTTLS (RFC 3207) is used towards the upstream.
type TLSMode string

const (
	TLSNone          TLSMode = "none"          // never; plain text
	TLSOpportunistic TLSMode = "opportunistic" // when offered
	TLSRequired      TLSMode = "required"      // defer delivery when not offered or failing
)

// Config is the delivery side of the relay. The zero value of every field
// means its default (see Defaults).
type Config struct {
	// Upstream is the smarthost as host:port. Empty means no upstream: mail
	// goes to the local demo mailbox under MailboxDir.
	Upstream string
	// TLS is the STARTTLS mode (default opportunistic).
	TLS TLSMode
	// TLSServerName is the name verified in the upstream's certificate
	// (default: the host part of Upstream).
	TLSServerName string
	// TLSSkipVerify turns off certificate verification; only when configured.
	TLSSkipVerify bool
	// RootCAs verifies the upstream's certificate (nil: the system roots).
	RootCAs *x509.CertPool
	// AuthUser and AuthPassword enable AUTH PLAIN (RFC 4954), which is only
	// ever sent over TLS.
	AuthUser     string
	AuthPassword string

	// Workers is the number of concurrent deliveries (default 8); each
	// keeps at most one upstream connection open between messages.
	Workers int
	// NoReuse closes the upstream connection after every message.
	NoReuse bool
	// IdleTimeout closes a worker's idle upstream connection (default 30s,
	// well under the 5 minutes servers wait, RFC 5321 4.5.3.2.7).
	IdleTimeout time.Duration
	// MaxMessagesPerConn bounds the messages sent on one connection
	// (default 100) so that a long-lived connection is renewed.
	MaxMessagesPerConn int

	// Retry is an explicit retry schedule: the wait after the first,
	// second, … failed attempt; the last entry repeats. When empty, the wait
	// is RetryBase × RetryFactor^(n-1), capped at RetryMax.
	Retry       []time.Duration
	RetryBase   time.Duration // default 5m
	RetryFactor float64       // default 2
	RetryMax    time.Duration // default 1h (one upstream: keep retries frequent)
	// MaxAge is how long a message is retried before its pending recipients
	// are given up and bounced (default 5 days, like Postfix's
	// maximal_queue_lifetime). Applies to envelopes without Expires.
	MaxAge time.Duration
	// DelayWarnAfter sends the sender one "delayed" DSN when a recipient
	// has failed temporarily this many times (mox's habit; 0: never, like
	// Postfix's default delay_warning_time).
	DelayWarnAfter int

	// Hostname is used in EHLO and in the notifications (default: the
	// system's host name).
	Hostname string

	DialTimeout    time.Duration // default 30s
	CommandTimeout time.Duration // default 5m (RFC 5321 4.5.3.2)
	DataTimeout    time.Duration // after the final dot; default 10m

	// MailboxDir is the root of the local demo mailbox (Maildir per
	// recipient under MailboxDir/<address>/new); used when Upstream is "".
	MailboxDir string

	// Rescan is how often the spool folder is listed for messages that
	// arrived without Notify (default 1m).
	Rescan time.Duration
	// LocalRetry is the wait after a local problem (a spool read or write
	// failure, a bug) that is not the upstream's fault (default 1m).
	LocalRetry time.Duration
	// DrainTimeout bounds how long Run waits for in-flight deliveries
	// after its context is done (default 30s).
	DrainTimeout time.Duration
}

// Defaults of Config: the one place they are written (package config's
// Default reads them).
const (
	DefaultWorkers        = 8
	DefaultMaxAge         = 5 * 24 * time.Hour
	DefaultDialTimeout    = 30 * time.Second
	DefaultCommandTimeout = 5 * time.Minute
	DefaultLocalRetry     = time.Minute
)

// Defaults returns cfg with every zero field set to its default.
func (cfg Config) Defaults() Config {
	if cfg.TLS == "" {
		cfg.TLS = TLSOpportunistic
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.MaxMessagesPerConn <= 0 {
		cfg.MaxMessagesPerConn = 100
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 5 * time.Minute
	}
	if cfg.RetryFactor < 1 {
		cfg.RetryFactor = 2
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Hour
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Hostname == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			cfg.Hostname = h
		} else {
			cfg.Hostname = "localhost"
		}
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = DefaultCommandTimeout
	}
	if cfg.DataTimeout <= 0 {
		cfg.DataTimeout = 10 * time.Minute
	}
	if cfg.Rescan <= 0 {
		cfg.Rescan = time.Minute
	}
	if cfg.LocalRetry <= 0 {
		cfg.LocalRetry = DefaultLocalRetry
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	return cfg
}

// Validate reports a configuration that cannot work.
func (cfg Config) Validate() error {
	switch cfg.TLS {
	case TLSNone, TLSOpportunistic, TLSRequired, "":
	default:
		return fmt.Errorf("queue: tls mode %q: want none, opportunistic or required", cfg.TLS)
	}
	if cfg.Upstream != "" {
		host, port, err := net.SplitHostPort(cfg.Upstream)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("queue: upstream %q: want host:port", cfg.Upstream)
		}
	} else if cfg.MailboxDir == "" {
		return fmt.Errorf("queue: no upstream and no mailbox folder")
	}
	if cfg.AuthUser != "" && cfg.TLS == TLSNone {
		// RFC 4954 4: credentials never travel in clear text.
		return fmt.Errorf("queue: upstream auth needs tls opportunistic or required")
	}
	for i, d := range cfg.Retry {
		if d <= 0 {
			return fmt.Errorf("queue: retry schedule entry %d (%s) must be positive", i+1, d)
		}
	}
	return nil
}

// backoff is the wait after the n-th failed attempt (n ≥ 1), with up to
// 10% added at random so that messages deferred together by an upstream
// outage do not all come back in the same instant.
func (cfg Config) backoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	var d time.Duration
	if len(cfg.Retry) > 0 {
		d = cfg.Retry[min(n, len(cfg.Retry))-1]
	} else {
		f := float64(cfg.RetryBase) * math.Pow(cfg.RetryFactor, float64(n-1))
		if f > float64(cfg.RetryMax) || math.IsInf(f, 0) || math.IsNaN(f) {
			d = cfg.RetryMax
		} else {
			d = time.Duration(f)
		}
	}
	if d > 10 {
		d += rand.N(d / 10)
	}
	return d
}
