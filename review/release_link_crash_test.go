package review

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dlpguard/audit"
	"dlpguard/download"
	"dlpguard/hold"
	"dlpguard/internal/pgtest"
	"dlpguard/pgdb"
	"dlpguard/spool"
)

// TestLinkReleaseInterruptedSettled puts the files in each state a kill -9
// can leave a release by link in (see release_link_commit.go: staging
// folder, sealed files, link records, staged notices, record released,
// audit entry, queue) and starts the service again on them. Links of a
// release not yet committed never open, and are deleted with their files
// at the start; the message is still held and released once afterwards,
// with new links. A committed release sends each recipient exactly one
// notice, whose link opens, with exactly one granted release audited.
// An attempt staged here whose record was released by another attempt
// (another node, while this one was killed before its commit) is
// withdrawn: its links and files deleted, its notices never sent; the
// other attempt's links stay and open.
func TestLinkReleaseInterruptedSettled(t *testing.T) {
	for _, c := range []struct {
		name                          string
		published, committed, audited bool
		elsewhere                     bool // the record names another attempt
	}{
		{"files stored, no links", false, false, false, false},
		{"links and notices staged", true, false, false, false},
		{"committed, not audited", true, true, false, false},
		{"committed and audited, not queued", true, true, true, false},
		{"staged here, released by another attempt", true, true, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			lf := newLinkFixture(t)
			sender := "user521@city.example.lg.jp"
			rcpts := []string{"contact19@example.org", "other@example.net"}
			id, _, raw := lf.hold("p017_personal_list.eml", sender, rcpts...)

			// What the interrupted release had done.
			root := filepath.Join(lf.cfg.DataDir, "release-link")
			stage, err := spool.Open(filepath.Join(root, id))
			if err != nil {
				t.Fatal(err)
			}
			file, err := lf.dl.StoreFile(ctx, "attachment", "要支援者名簿.xlsx", "application/octet-stream", bytes.NewReader(xlsxOf(t, raw)))
			if err != nil {
				t.Fatal(err)
			}
			// The release lists each file it stores in the folder.
			if err := os.WriteFile(filepath.Join(root, id, "files.list"), []byte(file.ID+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			// And the attempt's ID, first.
			if err := os.WriteFile(filepath.Join(root, id, "attempt"), []byte("a1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			released := "a1"
			if c.elsewhere {
				released = "b2"
			}
			var pub []download.Published
			marker := "X-Staged-Before-Crash: " + id
			if c.published {
				if pub, err = lf.dl.Publish(ctx, id, sender, "", rcpts, []download.File{file}, ""); err != nil {
					t.Fatal(err)
				}
				var urls string
				for _, p := range pub {
					urls += p.URL + "\n"
				}
				if err := os.WriteFile(filepath.Join(root, id, "links.list"), []byte(urls), 0o600); err != nil {
					t.Fatal(err)
				}
				for _, p := range pub {
					w, err := stage.Create()
					if err != nil {
						t.Fatal(err)
					}
					w.Write([]byte(marker + "\r\nSubject: staged\r\n\r\n" + p.URL + "\r\n(English) " + p.URL + "\r\n"))
					if err := w.Commit(&spool.Envelope{ID: w.ID(), From: sender, Received: time.Now(),
						Recipients: spool.PendingRecipients([]string{p.Recipient})}, spool.AreaQueue); err != nil {
						t.Fatal(err)
					}
				}
				// Before the commit point the links do not open.
				b := newHTTPClient(t)
				if st, _ := b.do("GET", pub[0].URL, nil); st != http.StatusNotFound {
					t.Fatalf("link of an uncommitted release: %d, want 404", st)
				}
			}
			if c.committed {
				if _, err := lf.stores.Holds.Approve(ctx, id, linkKacho.Address, "確認"); err != nil {
					t.Fatal(err)
				}
				if _, err := lf.stores.Holds.Release(ctx, id, linkKacho.Address, "確認", released); err != nil {
					t.Fatal(err)
				}
			}
			var winner []download.Published
			var winnerFile download.File
			if c.elsewhere {
				// The other attempt's file, links and notices (its node
				// queues and sends them itself).
				if winnerFile, err = lf.dl.StoreFile(ctx, "attachment", "要支援者名簿.xlsx", "application/octet-stream", bytes.NewReader(xlsxOf(t, raw))); err != nil {
					t.Fatal(err)
				}
				if winner, err = lf.dl.Publish(ctx, id, sender, "", rcpts, []download.File{winnerFile}, ""); err != nil {
					t.Fatal(err)
				}
				for _, p := range winner {
					w, err := lf.spool.Create()
					if err != nil {
						t.Fatal(err)
					}
					w.Write([]byte("X-Released-Elsewhere: " + id + "\r\nSubject: released elsewhere\r\n\r\n" + p.URL + "\r\n(English) " + p.URL + "\r\n"))
					if err := w.Commit(&spool.Envelope{ID: w.ID(), From: sender, Received: time.Now(),
						Recipients: spool.PendingRecipients([]string{p.Recipient})}, spool.AreaQueue); err != nil {
						t.Fatal(err)
					}
					lf.q.Notify(w.ID())
				}
			}
			if c.audited {
				if _, err := lf.stores.Audit.Append(ctx, linkKacho.Address, audit.Release, id, map[string]any{"outcome": "granted", "reason_code": "granted"}); err != nil {
					t.Fatal(err)
				}
			}

			lf.svc.Close()
			lf.start(t) // the start after the crash

			if ents, err := os.ReadDir(root); err != nil || len(ents) != 0 {
				t.Fatalf("staging folders left after the start: %v %v", ents, err)
			}
			rec, err := lf.stores.Holds.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !c.committed {
				if rec.Status != hold.Held {
					t.Fatalf("uncommitted release left the record %s", rec.Status)
				}
				if ls, err := lf.dl.Links(ctx, id); err != nil || len(ls) != 0 {
					t.Fatalf("links of the uncommitted release kept: %d %v", len(ls), err)
				}
				// The sealed file goes too, named by a link or not.
				if _, err := lf.st.OpenFile(ctx, file.ID); !errors.Is(err, download.ErrNotFound) {
					t.Fatalf("file of the uncommitted release: %v, want gone", err)
				}
				if c.published {
					if lf.actions(t, id)[download.ActionDiscard] != 1 {
						t.Fatalf("no %s audit entry: %v", download.ActionDiscard, lf.actions(t, id))
					}
				}
				if _, err := lf.svc.Release(ctx, id, linkKacho, "再起動後"); err != nil {
					t.Fatalf("release after the restart: %v", err)
				}
			} else if rec.Status != hold.Released || rec.ReleaseAttempt != released {
				t.Fatalf("committed release: record %s by attempt %q", rec.Status, rec.ReleaseAttempt)
			}
			if c.elsewhere {
				// Only the winner's links and file are left.
				ls, err := lf.dl.Links(ctx, id)
				if err != nil || len(ls) != len(rcpts) {
					t.Fatalf("links kept: %d %v, want the other attempt's %d", len(ls), err, len(rcpts))
				}
				if _, err := lf.st.OpenFile(ctx, file.ID); !errors.Is(err, download.ErrNotFound) {
					t.Fatalf("file of the beaten attempt: %v, want gone", err)
				}
				if f, err := lf.st.OpenFile(ctx, winnerFile.ID); err != nil {
					t.Fatalf("file of the other attempt: %v", err)
				} else {
					f.Close()
				}
				if lf.actions(t, id)[download.ActionDiscard] != 1 {
					t.Fatalf("no %s audit entry: %v", download.ActionDiscard, lf.actions(t, id))
				}
			}

			// Each recipient: one notice, staged before the crash exactly
			// when the release had committed, whose link opens.
			for i, r := range rcpts {
				_, _, link := lf.noticeFor(t, r)
				msgs := lf.up.To(r)
				if staged := bytes.Contains(msgs[0].Data, []byte(marker)); staged != (c.committed && !c.elsewhere) {
					t.Fatalf("notice to %s staged before the crash: %v, want %v", r, staged, c.committed && !c.elsewhere)
				}
				if c.published && (!c.committed || c.elsewhere) && link == pub[i].URL {
					t.Fatal("the uncommitted release's link was sent")
				}
				if c.elsewhere && link != winner[i].URL {
					t.Fatalf("notice to %s: link %s, want the other attempt's", r, link)
				}
				b := newHTTPClient(t)
				if st, page := b.do("GET", link, nil); st != http.StatusOK || !strings.Contains(page, "確認コード") {
					t.Fatalf("link to %s: %d %s", r, st, page)
				}
			}
			if c.published && (!c.committed || c.elsewhere) {
				b := newHTTPClient(t)
				if st, _ := b.do("GET", pub[0].URL, nil); st != http.StatusNotFound {
					t.Fatalf("link of the undone release after the restart: %d, want 404", st)
				}
			}
			time.Sleep(200 * time.Millisecond) // a second copy would be queued by now
			for _, r := range rcpts {
				if n := len(lf.up.To(r)); n != 1 {
					t.Fatalf("%s got %d notices, want 1", r, n)
				}
			}

			granted, recovered := grantedReleases(t, lf.stores.Audit, id)
			wantRecovered := 0
			if c.committed && !c.audited {
				wantRecovered = 1
			}
			if granted != 1 || recovered != wantRecovered {
				t.Fatalf("audit: %d granted, %d recovered; want 1, %d", granted, recovered, wantRecovered)
			}
			if brk, err := lf.stores.Audit.Verify(ctx); err != nil || brk != nil {
				t.Fatalf("audit chain: %+v %v", brk, err)
			}
		})
	}
}

// TestLinkReleaseRaceOnTwoNodes: two nodes on one PostgreSQL (holds and
// download links shared) release the same message by link at the same
// moment, several times: one release, each recipient one notice whose
// link opens, and the release keeps only the winner's links (the loser's
// links and files are withdrawn), with one granted release audited.
func TestLinkReleaseRaceOnTwoNodes(t *testing.T) {
	pgtest.Require(t)
	t.Setenv(hold.KeyEnv, strings.Repeat("5a", 32))
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	pool, err := pgdb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	dst, err := download.OpenPostgres(ctx, pool, bytes.Repeat([]byte{0x5a}, 32))
	if err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t)
	linkKey := filepath.Join(t.TempDir(), "link.key")
	var nodes []*linkFixture
	for range 2 {
		dir := t.TempDir()
		pgDSNs.Store(dir, dsn)
		nodes = append(nodes, newLinkNode(t, dir, up, linkKey, dst))
	}
	sender := "user521@city.example.lg.jp"
	for round := range 3 {
		rcpts := []string{fmt.Sprintf("r%d-a@example.org", round), fmt.Sprintf("r%d-b@example.net", round)}
		id, _, _ := nodes[0].hold("p017_personal_list.eml", sender, rcpts...)
		errs := make(chan error, 2)
		// Two officers, one on each node.
		officers := []Actor{linkKacho, {Address: "kakaricho@city.example.lg.jp", Role: RoleApprover, Departments: []string{"福祉課"}}}
		for i, n := range nodes {
			go func() { _, err := n.svc.Release(ctx, id, officers[i], "相手先確認済み"); errs <- err }()
		}
		e1, e2 := <-errs, <-errs
		if (e1 == nil) == (e2 == nil) {
			t.Fatalf("round %d: releases on both nodes answered %v and %v, want one success", round, e1, e2)
		}
		for _, r := range rcpts {
			_, _, link := nodes[0].noticeFor(t, r)
			if st, _ := newHTTPClient(t).do("GET", link, nil); st != http.StatusOK {
				t.Fatalf("round %d: link to %s: %d", round, r, st)
			}
		}
		for _, n := range nodes {
			waitFor(t, "queues drained", func() bool { ids, _ := n.spool.List(spool.AreaQueue); return len(ids) == 0 })
		}
		for _, r := range rcpts {
			if got := len(up.To(r)); got != 1 {
				t.Fatalf("round %d: %s got %d notices, want 1", round, r, got)
			}
		}
		if ls, err := dst.ForHold(ctx, id); err != nil || len(ls) != len(rcpts) {
			t.Fatalf("round %d: %d links kept, want the winner's %d (%v)", round, len(ls), len(rcpts), err)
		}
		if granted, _ := grantedReleases(t, nodes[0].stores.Audit, id); granted != 1 {
			t.Fatalf("round %d: %d granted releases audited", round, granted)
		}
	}
}
