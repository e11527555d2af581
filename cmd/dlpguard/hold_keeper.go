package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
	_ "time/tzdata" // review.time_zone (Asia/Tokyo) also where the system has no zone files

	"dlpguard/download"
	"dlpguard/policy"
	"dlpguard/release"
	"dlpguard/review"
	"dlpguard/smtpproxy"
	"dlpguard/smtpproxy/spool"
)

// holdKeeper hands the relay's held and delayed messages to the review
// service (3.3.5); it is the smtpproxy.Keeper of `serve`. The verdict
// travels in Decision.Detail; without one the keeper refuses, and the relay
// keeps the message in its spool's hold area (fail closed).
type holdKeeper struct{ svc *review.Service }

var _ smtpproxy.Keeper = holdKeeper{}

// Keep stores the message durably (hold store or delay spool) before it
// returns, as the relay answers 250 right after.
func (k holdKeeper) Keep(ctx context.Context, action string, env *spool.Envelope, content io.Reader, d smtpproxy.Decision) (string, error) {
	v, ok := d.Detail.(*policy.Verdict)
	if !ok || v == nil {
		return "", fmt.Errorf("keeper %s: no verdict in the decision", env.ID)
	}
	if action == smtpproxy.ActionDelay {
		return k.svc.Delay(ctx, env, content, v)
	}
	return k.svc.Hold(ctx, env, content, v)
}

// reviewOptions are what serve's configuration gives the review service.
type reviewOptions struct {
	DataDir        string // the data folder (review.PathsIn lays it out)
	Hostname       string
	NoticeFrom     string
	BaseURL        string // where the API is reached, for links in notices
	FourEyesLevelI bool
	Passphrase     bool // release with a passphrase when a recipient has no key (else refuse)
	SecurityTeam   []string
	ReleaseSubject string // replaces a Subject with findings on release
	Store          review.StoreOptions
	AdminsApprove  bool          // administrators may release (review.admins_approve)
	TimeZone       string        // IANA zone of times for people; "" is Asia/Tokyo
	RemindBefore   time.Duration // reminder lead time; 0: none
	// PassphraseChannel is named to the officer for the passphrase.
	PassphraseChannel string
	// Downloads, when set, opens the release by link on the stores
	// (review.no_key: link); mail queues its codes and notices.
	Downloads func(st *review.Stores, mail func(ctx context.Context, id string, m download.Message) error) (*download.Service, error)
	NoKeyLink bool // review.no_key: link
}

// auditRejects is the relay's inspector with the policy's 550 refusals
// recorded in the audit log (3.3.5: nothing of the message is kept, so the
// entry is its only trace).
type auditRejects struct {
	next smtpproxy.Inspector
	svc  *review.Service
}

func (a auditRejects) Inspect(ctx context.Context, env *spool.Envelope, content *os.File) (smtpproxy.Decision, error) {
	d, err := a.next.Inspect(ctx, env, content)
	// After a timeout the relay holds the message instead: no entry then.
	if err == nil && ctx.Err() == nil && d.Action == smtpproxy.ActionReject {
		if v, ok := d.Detail.(*policy.Verdict); ok {
			a.svc.AuditRejected(ctx, env, v)
		}
	}
	return d, err
}

// openReview opens the hold store, audit log and keyring in the data
// folder and the review service on top of them. Wiring for serve:
//
//	svc, stores, err := openReview(opts, holder.Engine, spoolStore, queue.Notify, logger)
//	smtpproxy.Options{Keeper: holdKeeper{svc}, ...}
//	mux.Handle("/api/v1/", svc.Handler()); go svc.Run(ctx)
//	defer svc.Close(); defer stores.Close()
func openReview(ctx context.Context, o reviewOptions, pol func() *policy.Engine, sp *spool.Store, notify func(string), log *slog.Logger) (*review.Service, *review.Stores, error) {
	if o.Store.Logger == nil {
		o.Store.Logger = log
	}
	st, err := review.OpenStores(ctx, o.DataDir, o.Store)
	if err != nil {
		return nil, nil, err
	}
	mode := release.RefuseWithoutKey
	if o.Passphrase {
		mode = release.PassphraseWithoutKey
	}
	loc := review.DefaultTimeZone()
	if o.TimeZone != "" {
		if loc, err = time.LoadLocation(o.TimeZone); err != nil {
			st.Close()
			return nil, nil, fmt.Errorf("review.time_zone: %w", err)
		}
	}
	remind := o.RemindBefore
	if remind <= 0 {
		remind = -1 // off
	}
	var svc *review.Service
	var dl *download.Service
	if o.Downloads != nil {
		mail := func(ctx context.Context, id string, m download.Message) error { return svc.QueueNotice(ctx, id, m) }
		if dl, err = o.Downloads(st, mail); err != nil {
			st.Close()
			return nil, nil, err
		}
	}
	svc, err = review.New(review.Config{DataDir: review.PathsIn(o.DataDir).Review, Hostname: o.Hostname,
		NoticeFrom: o.NoticeFrom, BaseURL: o.BaseURL, HoldFor: o.Store.HoldFor, FourEyesLevelI: o.FourEyesLevelI, NoKeyMode: mode, SecurityTeam: o.SecurityTeam,
		AdminsApprove: o.AdminsApprove, TimeZone: loc, RemindBefore: remind, PassphraseChannel: o.PassphraseChannel,
		ReleaseSubject: o.ReleaseSubject, NoKeyLink: o.NoKeyLink && dl != nil},
		review.Deps{Holds: st.Holds, Audit: st.Audit, Keys: st.Keys, Policy: pol, Spool: sp, Notify: notify, Logger: log, Downloads: dl})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return svc, st, nil
}
