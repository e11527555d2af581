package review

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"dlpguard/audit"
	"dlpguard/download"
	"dlpguard/hold"
	"dlpguard/internal/keyfile"
	"dlpguard/spool"
)

// This file makes a release by download link exactly once across a crash
// (kill -9, power loss), as release_commit.go does for a release by mail.
// releaseLink:
//  1. creates the staging folder of the release (release-link/<hold ID>,
//     a spool of its own, on the relay spool's file system);
//  2. stores the sealed files and the link records; the download
//     listener treats links of a hold whose record does not say released
//     as unknown, so they are inert;
//  3. commits one notice per recipient into the staging folder;
//  4. marks the record released: the commit point;
//  5. writes the audit entry, then moves the notices into the relay's
//     queue (renames) and removes the folder.
// finishLinkReleases settles a folder a crash left by the record: released
// by another attempt (the folder's attempt file, release_attempt.go) →
// this attempt's links (links.list) and files are withdrawn; released by
// this one → its notices go into the queue (the audit entry written if missing);
// anything else → the links and files are deleted with the folder, and the
// message is as its record says (3.3.5: released once, or still held).

// linkStageRoot is the folder of the link releases' staging folders.
func (s *Service) linkStageRoot() string { return filepath.Join(s.cfg.DataDir, "release-link") }

// openLinkStage creates (or opens) the staging folder of id's release,
// durably: the folder is the mark that says links of id may exist.
func (s *Service) openLinkStage(id string) (*spool.Store, error) {
	if !spool.ValidID(id) {
		return nil, fmt.Errorf("link stage %q: not a message ID", id)
	}
	root := s.linkStageRoot()
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("link stage %s: %w", id, err)
	}
	st, err := spool.Open(filepath.Join(root, id))
	if err != nil {
		return nil, fmt.Errorf("link stage %s: %w", id, err)
	}
	if err := keyfile.SyncDir(root); err != nil {
		return nil, fmt.Errorf("link stage %s: %w", id, err)
	}
	return st, nil
}

// removeLinkStage deletes id's staging folder (its notices are in the
// queue, or the release did not commit).
func (s *Service) removeLinkStage(id string) error {
	root := s.linkStageRoot()
	if err := os.RemoveAll(filepath.Join(root, id)); err != nil {
		return fmt.Errorf("link stage %s: %w", id, err)
	}
	return keyfile.SyncDir(root)
}

// linkStageFiles names the list of sealed files a link release stored, in
// its staging folder: a crash before the links name them leaves no other
// trace of them.
const linkStageFiles = "files.list"

// linkStageAttempt names the file of the release attempt's ID in its
// staging folder, and linkStageLinks the list of the links it published
// (their URLs: the same secrets as the staged notices, in the same
// private folder, deleted with it).
const (
	linkStageAttempt = "attempt"
	linkStageLinks   = "links.list"
)

// noteLinks lists the links id's release attempt published in its
// staging folder, durably, before its notices are staged.
func (s *Service) noteLinks(id string, links []download.Published) error {
	var b strings.Builder
	for _, l := range links {
		b.WriteString(l.URL + "\n")
	}
	if err := writeSynced(filepath.Join(s.linkStageRoot(), id), linkStageLinks, []byte(b.String())); err != nil {
		return fmt.Errorf("link stage %s: %w", id, err)
	}
	return nil
}

// withdrawLinkAttempt deletes the links and files of a release attempt
// another attempt beat to the commit (they were never mailed; the
// winner's stay), then its staging folder.
func (s *Service) withdrawLinkAttempt(ctx context.Context, id string, links []download.Published, files []download.File) {
	log := s.logger(id)
	if err := s.downloads.Withdraw(context.WithoutCancel(ctx), id, links, files); err != nil {
		// The folder stays: finishLinkReleases tries again.
		log.Error("review: links of a lost race not deleted, retried later", "err", err)
		return
	}
	if err := s.removeLinkStage(id); err != nil {
		log.Error("review: link staging folder not removed", "err", err)
	}
}

// stagedLinkAttempt reads what id's staging folder says of its attempt:
// the ID ("" for a folder of an older version), its links and its files.
func (s *Service) stagedLinkAttempt(id string) (attempt string, links []download.Published, files []download.File, err error) {
	dir := filepath.Join(s.linkStageRoot(), id)
	if attempt, err = readAttempt(filepath.Join(dir, linkStageAttempt)); err != nil {
		return "", nil, nil, fmt.Errorf("link stage %s: %w", id, err)
	}
	for _, name := range []string{linkStageLinks, linkStageFiles} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", nil, nil, fmt.Errorf("link stage %s: %w", id, err)
		}
		for _, f := range strings.Fields(string(b)) {
			if name == linkStageLinks {
				links = append(links, download.Published{URL: f})
			} else {
				files = append(files, download.File{ID: f})
			}
		}
	}
	return attempt, links, files, nil
}

// noteLinkFile adds a stored file's ID to the staging folder's list,
// durably, before the release goes on.
func (s *Service) noteLinkFile(id, fileID string) error {
	f, err := os.OpenFile(filepath.Join(s.linkStageRoot(), id, linkStageFiles), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("link stage %s: %w", id, err)
	}
	_, err = f.WriteString(fileID + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("link stage %s: %w", id, err)
	}
	return nil
}

// undoLinkRelease takes back a link release that failed before its
// commit point: links, files (those the links name, and those the
// staging folder lists) and staged notices.
func (s *Service) undoLinkRelease(ctx context.Context, id, why string) {
	ctx = context.WithoutCancel(ctx)
	log := s.logger(id)
	if _, err := s.downloads.DiscardRelease(ctx, id, "release failed: "+why); err != nil {
		// The folder stays: finishLinkReleases tries again.
		log.Error("review: links of a failed release not deleted, retried later", "err", err)
		return
	}
	if b, err := os.ReadFile(filepath.Join(s.linkStageRoot(), id, linkStageFiles)); err == nil {
		var files []download.File
		for _, f := range strings.Fields(string(b)) {
			files = append(files, download.File{ID: f})
		}
		s.downloads.Discard(ctx, files) // deleting a file twice is no error
	}
	if err := s.removeLinkStage(id); err != nil {
		log.Error("review: link staging folder not removed", "err", err)
	}
}

// finishLinkReleases settles every staging folder of a link release: at
// start and on each Tick (decideMu taken, as finishReleases).
func (s *Service) finishLinkReleases(ctx context.Context) {
	ents, err := os.ReadDir(s.linkStageRoot())
	if len(ents) == 0 {
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Error("review: staged link releases", "err", err)
		}
		return
	}
	s.decideMu.Lock()
	defer s.decideMu.Unlock()
	ents, err = os.ReadDir(s.linkStageRoot())
	if err != nil {
		s.log.Error("review: staged link releases", "err", err)
		return
	}
	for _, e := range ents {
		if e.IsDir() && spool.ValidID(e.Name()) {
			s.finishLinkRelease(ctx, e.Name())
		}
	}
}

// finishLinkRelease settles id's staging folder by its record (decideMu
// held).
func (s *Service) finishLinkRelease(ctx context.Context, id string) {
	log := s.logger(id)
	rec, err := s.holds.Get(ctx, id)
	if err != nil && !errors.Is(err, hold.ErrNotFound) {
		log.Error("review: staged link release: record", "err", err) // retried on the next Tick
		return
	}
	attempt, links, files, aerr := s.stagedLinkAttempt(id)
	if aerr != nil {
		// Unknown whose folder it is: kept (its links inert or not
		// mailed) until it can be read; retried on the next Tick.
		log.Error("review: staged link release: attempt", "err", aerr)
		return
	}
	switch {
	case err == nil && rec.Status == hold.Released && rec.ReleaseAttempt != attempt:
		// Released by another attempt (another node, while this one was
		// staged and killed before its commit): only this attempt's
		// links and files go, with its notices; the winner's stay
		// (3.3.5: once).
		if s.downloads == nil {
			log.Error("review: link release beaten by another attempt, but download is not configured: folder kept")
			return
		}
		s.withdrawLinkAttempt(ctx, id, links, files)
		log.Warn("review: link release interrupted before its commit and released by another attempt, withdrawn",
			"attempt", attempt, "released_attempt", rec.ReleaseAttempt, "links", len(links), "files", len(files))
	case err == nil && rec.Status == hold.Released:
		if !s.grantAudited(ctx, id) {
			s.auditLog(ctx, log, "system", audit.Release, id, map[string]any{
				"outcome": "granted", "reason_code": "granted", "recovered": true, "encryption": "link",
				"released_by": rec.Actor, "reason": rec.Reason, "approvers": rec.Approvals,
				"content_sha256": rec.ContentSHA256,
			})
		}
		stage, err := s.openLinkStage(id)
		if err != nil {
			log.Error("review: link notices not queued, retried later", "err", err)
			return
		}
		if n, ok := s.enqueueLinkNotices(id, stage); ok && n > 0 {
			log.Warn("review: link release interrupted after its commit, notices queued at recovery", "notices", n)
			n := releasedNotice(s, rec, "link")
			if exp, ok := s.linksExpiry(ctx, id); ok {
				s.withRevokeLink(n, id, exp)
			}
			s.sendNotice(ctx, id, n)
		}
	default:
		if s.downloads == nil {
			// Without the download store its links cannot be deleted;
			// the folder stays until they can (they are inert meanwhile).
			log.Error("review: link release interrupted before its commit, but download is not configured: links kept inert")
			return
		}
		s.undoLinkRelease(ctx, id, "interrupted before its commit")
		log.Warn("review: link release interrupted before its commit, undone; the message is as its record says", "status", rec.Status)
	}
}

// enqueueLinkNotices moves the staged notices of id's committed release
// into the delivery queue (renames: each is in one of the two, whatever
// happens), wakes the queue and removes the folder. It reports how many it
// moved and whether the folder is settled; on failure what is left stays
// staged and the next Tick retries.
func (s *Service) enqueueLinkNotices(id string, stage *spool.Store) (int, bool) {
	log := s.logger(id)
	ids, err := stage.List(spool.AreaQueue)
	if err != nil {
		log.Error("review: link notices not queued, retried later", "err", err)
		return 0, false
	}
	n := 0
	for _, q := range ids {
		if err := s.spool.Adopt(stage, spool.AreaQueue, q); err != nil {
			log.Error("review: link notice not queued, retried later", "queue_id", q, "err", err)
			return n, false
		}
		s.notify(q)
		n++
	}
	if err := s.removeLinkStage(id); err != nil {
		log.Error("review: link staging folder not removed", "err", err)
	}
	return n, true
}

// LinkReleased is download.Deps.Released on the hold store: a link opens
// only once its hold's record says released (the commit point above);
// a record that cannot be read refuses the page (fail closed).
func LinkReleased(holds hold.Store) func(ctx context.Context, holdID string) (bool, error) {
	return func(ctx context.Context, holdID string) (bool, error) {
		rec, err := holds.Get(ctx, holdID)
		if errors.Is(err, hold.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return rec.Status == hold.Released, nil
	}
}
