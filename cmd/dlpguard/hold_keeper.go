package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"
	_ "time/tzdata" // review.time_zone (Asia/Tokyo) also where the system has no zone files

	"dlpguard/dispose"
	"dlpguard/download"
	"dlpguard/policy"
	"dlpguard/release"
	"dlpguard/review"
	"dlpguard/spool"
)

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
	// Directory is the city's directory (departments and approvers);
	// nil: the policy's departments only.
	Directory review.Directory
}

// openReview opens the hold store, audit log and keyring in the data
// folder and the review service on top of them. Wiring for serve:
//
//	svc, stores, err := openReview(opts, holder.Engine, spoolStore, queue, logger)
//	dispose.New(dispose.Config{Review: svc, ...})
//	mux.Handle("/api/v1/", svc.Handler()); go svc.Run(ctx)
//	defer svc.Close(); defer stores.Close()
func openReview(ctx context.Context, o reviewOptions, pol func() *policy.Engine, sp *spool.Store, q dispose.Queue, log *slog.Logger) (*review.Service, *review.Stores, error) {
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
	var dl *download.Service
	var svc *review.Service
	if o.Downloads != nil {
		mail := func(ctx context.Context, id string, m download.Message) error { return svc.QueueNotice(ctx, id, m) }
		if dl, err = o.Downloads(st, mail); err != nil {
			st.Close()
			return nil, nil, err
		}
	}
	deps := review.Deps{Holds: st.Holds, Audit: st.Audit, Keys: st.Keys, Policy: pol, Spool: sp, Logger: log, Downloads: dl, Directory: o.Directory}
	if q != nil {
		// Released messages go out now; delayed ones of an earlier
		// version's spool when due.
		deps.Notify, deps.Schedule = q.Notify, q.NotifyAt
	}
	svc, err = review.New(review.Config{DataDir: review.PathsIn(o.DataDir).Review, Hostname: o.Hostname,
		NoticeFrom: o.NoticeFrom, BaseURL: o.BaseURL, HoldFor: o.Store.HoldFor, FourEyesLevelI: o.FourEyesLevelI, NoKeyMode: mode, SecurityTeam: o.SecurityTeam,
		AdminsApprove: o.AdminsApprove, TimeZone: loc, RemindBefore: remind, PassphraseChannel: o.PassphraseChannel,
		ReleaseSubject: o.ReleaseSubject, NoKeyLink: o.NoKeyLink && dl != nil},
		deps)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return svc, st, nil
}
