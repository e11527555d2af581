package review

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"dlpguard/audit"
	"dlpguard/hold"
	"dlpguard/release"
	"dlpguard/spool"
)

// TestReleaseInterruptedSettled puts the files in each state a kill -9
// can leave a release in (see release: staged copy, record released,
// audit entry, queue) and restarts the service on them: a release whose
// record was not yet marked released leaves nothing behind and is
// released once afterwards; one that was committed is delivered exactly
// once, with exactly one granted release in the audit log. A copy staged
// here whose record was released by another attempt (another node on the
// same PostgreSQL, while this one was killed before its commit) is
// discarded: the recipient gets the other attempt's copy only.
func TestReleaseInterruptedSettled(t *testing.T) {
	mod := func(c *Config) { c.FourEyesLevelI = false; c.NoKeyMode = release.PassphraseWithoutKey }
	for _, c := range []struct {
		name               string
		committed, audited bool // the record marked released; its audit entry written
		// attempt staged the copy here ("": a version without attempt
		// IDs); released is the attempt the record names.
		attempt, released string
	}{
		{"staged only", false, false, "a1", ""},
		{"committed, not audited", true, false, "a1", "a1"},
		{"committed and audited, not queued", true, true, "a1", "a1"},
		{"committed by an older version", true, false, "", ""},
		{"staged here, released by another attempt", true, true, "a1", "b2"},
		{"staged by an older version, released by another attempt", true, true, "", "b2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			up := startUpstream(t)
			f := newFixture(t, dir, up, mod)
			id, _, _ := f.hold("p017_personal_list.eml", sender17, rcpt17)

			// The copy the interrupted release had prepared, staged
			// under the hold ID; a marker tells it from a later release.
			staged, err := spool.Open(filepath.Join(f.cfg.DataDir, "release"))
			if err != nil {
				t.Fatal(err)
			}
			w, err := staged.Create()
			if err != nil {
				t.Fatal(err)
			}
			marker := []byte("X-Staged-Before-Crash: " + id)
			w.Write(append(append([]byte{}, marker...), "\r\nSubject: staged\r\n\r\nencrypted body\r\n"...))
			if err := os.MkdirAll(filepath.Join(f.cfg.DataDir, "release-attempt"), 0o700); err != nil {
				t.Fatal(err)
			}
			// Left by crashes before a copy was committed: removed at start.
			for _, stray := range []string{"1STRAYATTEMPT0000000000", ".tmp-123"} {
				if err := os.WriteFile(filepath.Join(f.cfg.DataDir, "release-attempt", stray), []byte("z9\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if c.attempt != "" {
				if err := os.WriteFile(filepath.Join(f.cfg.DataDir, "release-attempt", id), []byte(c.attempt+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Commit(&spool.Envelope{ID: id, From: sender17, Received: time.Now(), Recipients: spool.PendingRecipients([]string{rcpt17})}, spool.AreaQueue); err != nil {
				t.Fatal(err)
			}
			elsewhere := c.committed && c.released != c.attempt
			if c.committed {
				if _, err := f.stores.Holds.Approve(ctx, id, kacho, "確認"); err != nil {
					t.Fatal(err)
				}
				if _, err := f.stores.Holds.Release(ctx, id, kacho, "確認", c.released); err != nil {
					t.Fatal(err)
				}
			}
			winner := []byte("X-Released-Elsewhere: " + id)
			if elsewhere {
				// The other node's copy, which it delivers itself.
				w, err := f.spool.Create()
				if err != nil {
					t.Fatal(err)
				}
				w.Write(append(append([]byte{}, winner...), "\r\nSubject: released elsewhere\r\n\r\nencrypted body\r\n"...))
				if err := w.Commit(&spool.Envelope{ID: w.ID(), From: sender17, Received: time.Now(), Recipients: spool.PendingRecipients([]string{rcpt17})}, spool.AreaQueue); err != nil {
					t.Fatal(err)
				}
				f.q.Notify(w.ID())
			}
			if c.audited {
				if _, err := f.stores.Audit.Append(ctx, kacho, audit.Release, id, map[string]any{"outcome": "granted", "reason_code": "granted"}); err != nil {
					t.Fatal(err)
				}
			}
			f.stop()

			f2 := newFixture(t, dir, up, mod)
			if ids, err := staged.List(spool.AreaQueue); err != nil || len(ids) != 0 {
				t.Fatalf("staged copies left after the start: %v %v", ids, err)
			}
			if ents, err := os.ReadDir(filepath.Join(f2.cfg.DataDir, "release-attempt")); len(ents) != 0 || (err != nil && !errors.Is(err, os.ErrNotExist)) {
				t.Fatalf("release attempt files left after the start: %v %v", ents, err)
			}
			rec, err := f2.stores.Holds.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !c.committed {
				// Never released: still held, and it never leaves until
				// someone releases it — then once.
				if rec.Status != hold.Held {
					t.Fatalf("uncommitted release left the record %s", rec.Status)
				}
				if q, _ := f2.spool.List(spool.AreaQueue); len(q) > 0 {
					for _, qid := range q {
						if qid == id {
							t.Fatal("the uncommitted copy reached the queue")
						}
					}
				}
				tok := f2.token("kacho", kacho, RoleApprover)
				if code, out := f2.api("POST", "/api/v1/holds/"+id+"/release", tok, map[string]string{"reason": "再起動後"}); code != 200 || out["status"] != "released" {
					t.Fatalf("release after the restart: %d %v", code, out)
				}
			} else if rec.Status != hold.Released || rec.ReleaseAttempt != c.released {
				t.Fatalf("committed release: record %s by attempt %q", rec.Status, rec.ReleaseAttempt)
			}
			if elsewhere {
				// Discarded at the start (finishReleases runs before the
				// service decides anything): neither staged nor queued here.
				if q, _ := f2.spool.List(spool.AreaQueue); slices.Contains(q, id) {
					t.Fatal("the copy of the beaten attempt reached the queue")
				}
				waitFor(t, "the other attempt's delivery", func() bool { return len(up.To(rcpt17)) >= 1 })
			} else {
				// The sender's released notice (after the held one) is
				// queued after the copy; by then the recipient has what
				// it will get.
				waitFor(t, "the delivery and the sender's notices", func() bool {
					return len(up.To(rcpt17)) >= 1 && len(up.To(sender17)) >= 2
				})
			}
			if ents, _ := os.ReadDir(filepath.Join(f2.cfg.DataDir, "release-attempt")); len(ents) != 0 {
				t.Fatalf("release attempt files left: %v", ents)
			}
			got := up.To(rcpt17)
			if len(got) != 1 {
				t.Fatalf("delivered %d times", len(got))
			}
			if staged := bytes.Contains(got[0].Data, marker); staged != (c.committed && !elsewhere) {
				t.Fatalf("delivered copy staged before the crash: %v, want %v", staged, c.committed && !elsewhere)
			}
			if other := bytes.Contains(got[0].Data, winner); other != elsewhere {
				t.Fatalf("delivered the other attempt's copy: %v, want %v", other, elsewhere)
			}

			granted, recovered := grantedReleases(t, f2.stores.Audit, id)
			wantRecovered := 0
			if c.committed && !c.audited && !elsewhere {
				wantRecovered = 1
			}
			if granted != 1 || recovered != wantRecovered {
				t.Fatalf("audit: %d granted, %d recovered; want 1, %d", granted, recovered, wantRecovered)
			}
			if brk, err := f2.stores.Audit.Verify(ctx); err != nil || brk != nil {
				t.Fatalf("audit chain: %+v %v", brk, err)
			}
		})
	}
}

// grantedReleases counts the granted release entries of id in the audit
// log, and those of them written at recovery.
func grantedReleases(t *testing.T, al *audit.Log, id string) (granted, recovered int) {
	t.Helper()
	entries, _, err := al.List(context.Background(), audit.Filter{Subject: id, Action: audit.Release})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var d struct {
			Outcome   string
			Recovered bool
		}
		json.Unmarshal(e.Details, &d)
		if d.Outcome == "granted" {
			granted++
			if d.Recovered {
				recovered++
			}
		}
	}
	return granted, recovered
}
