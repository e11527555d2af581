package review

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"

	"dlpguard/audit"
	"dlpguard/hold"
	"dlpguard/spool"
)

// This file finishes the releases a crash (kill -9, power loss)
// interrupted. release commits the copy to send to the staging spool
// (spool.AreaQueue of s.staged, which the delivery queue never reads)
// under the hold ID, then marks the record released, then moves the copy
// into the relay's queue; the record's state — and the release attempt it
// names, against the one beside the copy (release_attempt.go) — is what
// says whether a staged copy leaves or is thrown away (3.3.5: released
// once, or still held, never lost and never twice).

// finishReleases settles every staged release: at start (before the
// service decides anything) and on each Tick (a move into the queue that
// failed is retried), the releases by link first. It takes decideMu, so it never sees a release this
// process is still making.
func (s *Service) finishReleases(ctx context.Context) {
	s.finishLinkReleases(ctx)
	ids, err := s.staged.List(spool.AreaQueue)
	if err != nil {
		s.log.Error("review: staged releases", "err", err)
		return
	}
	sidecars, _ := os.ReadDir(s.attemptRoot())
	if len(ids) == 0 && len(sidecars) == 0 {
		return // the common case, without waiting for a decision in progress
	}
	s.decideMu.Lock()
	defer s.decideMu.Unlock()
	// Listed again under the lock: a release that was finishing has
	// moved its copy by now.
	if ids, err = s.staged.List(spool.AreaQueue); err != nil {
		s.log.Error("review: staged releases", "err", err)
		return
	}
	for _, id := range ids {
		s.finishRelease(ctx, id)
	}
	s.dropStrayAttempts(ids)
}

// dropStrayAttempts removes the attempt files without a staged copy (a
// crash between the file and the copy's commit, or a temp file of the
// write); decideMu held, so no release is between the two now.
func (s *Service) dropStrayAttempts(staged []string) {
	ents, err := os.ReadDir(s.attemptRoot())
	if err != nil {
		return
	}
	for _, e := range ents {
		if !slices.Contains(staged, e.Name()) {
			if err := os.Remove(filepath.Join(s.attemptRoot(), e.Name())); err != nil {
				s.log.Error("review: stray release attempt file not removed", "file", e.Name(), "err", err)
			}
		}
	}
}

// finishRelease settles the staged copy of id by its record (decideMu
// held): released by the attempt that staged it → into the queue, with
// the audit entry if the crash came before it and the sender's notice;
// anything else (released by another attempt, still held, rejected,
// expired, gone) → deleted, the message stays as the record says and may
// be released again.
func (s *Service) finishRelease(ctx context.Context, id string) {
	log := s.logger(id)
	rec, err := s.holds.Get(ctx, id)
	if err != nil && !errors.Is(err, hold.ErrNotFound) {
		log.Error("review: staged release: record", "err", err) // retried on the next Tick
		return
	}
	attempt, aerr := s.stagedAttempt(id)
	if aerr != nil {
		// Which attempt staged it is unknown: neither sent nor thrown
		// away until it can be read (fail closed, retried on the next Tick).
		log.Error("review: staged release: attempt", "err", aerr)
		return
	}
	switch {
	case err == nil && rec.Status == hold.Released && rec.ReleaseAttempt != attempt:
		// Released, but by another attempt (another node, on a shared
		// store, while this one was staged and killed before its
		// commit): that attempt's copy is the one that leaves (3.3.5:
		// once). Records and copies of older versions both have "".
		if err := s.staged.Remove(spool.AreaQueue, id); err != nil && !errors.Is(err, spool.ErrNotFound) {
			log.Error("review: staged release not removed", "err", err)
			return
		}
		s.dropAttempt(id)
		log.Warn("review: release interrupted before its commit and released by another attempt, staged copy discarded",
			"attempt", attempt, "released_attempt", rec.ReleaseAttempt)
	case err == nil && rec.Status == hold.Released:
		if !s.grantAudited(ctx, id) {
			s.auditLog(ctx, log, "system", audit.Release, id, map[string]any{
				"outcome": "granted", "reason_code": "granted", "recovered": true,
				"released_by": rec.Actor, "reason": rec.Reason, "approvers": rec.Approvals,
				"queue_id": id, "content_sha256": rec.ContentSHA256,
			})
		}
		if s.enqueueReleased(id) {
			s.dropAttempt(id)
			log.Warn("review: release interrupted after its commit, queued at recovery")
			// The method is not known here: the notice says released,
			// without what the recipient needs to open it.
			s.sendNotice(ctx, id, releasedNotice(s, rec, ""))
		}
	default:
		if err := s.staged.Remove(spool.AreaQueue, id); err != nil && !errors.Is(err, spool.ErrNotFound) {
			log.Error("review: staged release not removed", "err", err)
			return
		}
		s.dropAttempt(id)
		log.Warn("review: release interrupted before its commit, discarded; the message is as its record says", "status", rec.Status)
	}
}

// enqueueReleased moves the staged copy of id into the delivery queue (a
// rename: it is in one of the two, whatever happens) and wakes the queue.
// On failure it stays staged and the next Tick retries.
func (s *Service) enqueueReleased(id string) bool {
	if err := s.spool.Adopt(s.staged, spool.AreaQueue, id); err != nil {
		s.logger(id).Error("review: released copy not queued, retried later", "err", err)
		return false
	}
	s.notify(id)
	return true
}

// grantAudited reports whether the audit log has the granted release of
// id (written before the copy leaves the staging spool).
func (s *Service) grantAudited(ctx context.Context, id string) bool {
	entries, _, err := s.audit.List(ctx, audit.Filter{Subject: id, Action: audit.Release, Limit: 1000})
	if err != nil {
		return false
	}
	for _, e := range entries {
		var d struct{ Outcome string }
		if json.Unmarshal(e.Details, &d) == nil && d.Outcome == "granted" {
			return true
		}
	}
	return false
}
