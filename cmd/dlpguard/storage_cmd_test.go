package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"dlpguard/console"
	"dlpguard/download"
	"dlpguard/hold"
	"dlpguard/internal/pgtest"
	"dlpguard/review"
)

// TestStorageMigrate: a SQLite installation with held, released and
// purged messages and an audit log moves to PostgreSQL; the nodes then
// read every record and content, `audit verify --config` holds against the
// database (with the node's own head checkpoint), and a second migrate
// into the same database is refused.
func TestStorageMigrate(t *testing.T) {
	ctx := context.Background()
	t.Setenv(hold.KeyEnv, "")
	dsn := pgtest.NewDatabase(t)
	dir := t.TempDir()
	st, err := review.OpenStores(ctx, dir, review.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{}
	for i := range 4 {
		id := fmt.Sprintf("m%d", i)
		bodies[id] = bytes.Repeat([]byte(fmt.Sprintf("line %d of %s\r\n", i, id)), 50_000*(i+1)) // up to 4 MB: several rows
		rec := hold.Record{ID: id, Envelope: hold.Envelope{From: "sato@city.example.lg.jp", Recipients: []string{"a@example.com"}},
			Subject: "件名 " + id, Department: "総務課", Level: "I",
			Verdict: hold.Verdict{Action: "hold", Rules: []hold.Rule{{ID: "r" + id, Action: "hold", Clause: "3.3.5"}}}}
		if _, err := st.Holds.Put(ctx, rec, bytes.NewReader(bodies[id])); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Audit.Append(ctx, "system", "hold", id, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Holds.Approve(ctx, "m1", "kacho", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Holds.Release(ctx, "m1", "kacho", "ok", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Holds.Reject(ctx, "m2", "kacho", "no"); err != nil {
		t.Fatal(err)
	}
	if p, err := st.Holds.PurgeDue(ctx, timeFar()); err != nil || len(p) != 2 {
		t.Fatalf("purge: %d %v", len(p), err)
	}
	st.Close()
	tdb, err := review.OpenDB(ctx, filepath.Join(review.PathsIn(dir).Review, "review.db"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tdb.AddToken(ctx, review.Token{Name: "kacho", Actor: "kacho@city.example.lg.jp", Role: review.RoleApprover}, time.Now())
	tdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	cu, err := console.OpenUsers(ctx, console.UsersPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	err = cu.Add(ctx, console.User{Username: "suzuki", Email: "suzuki@city.example.lg.jp", Role: console.RoleApprover, Departments: []string{"総務課"}}, "a long password 123", time.Now())
	if err == nil {
		err = cu.SetDisabled(ctx, "suzuki", true)
	}
	cu.Close()
	if err != nil {
		t.Fatal(err)
	}

	// A release by link of m1: its link and sealed file.
	hkey, err := hold.LoadKey(filepath.Join(review.PathsIn(dir).Hold, "hold.key"))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := download.OpenSQLite(ctx, filepath.Join(dir, "download"), hkey)
	if err != nil {
		t.Fatal(err)
	}
	fileBody := bytes.Repeat([]byte("名簿 "), 400_000) // several rows
	fid, _ := download.NewFileID()
	if err := ds.PutFile(ctx, fid, bytes.NewReader(fileBody)); err != nil {
		t.Fatal(err)
	}
	link := download.Link{TokenHash: strings.Repeat("ab", 32), HoldID: "m1", Recipient: "a@example.com",
		Files: []download.File{{ID: fid, Name: "名簿.xlsx", Size: int64(len(fileBody))}}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
	if err := ds.AddLinks(ctx, []download.Link{link}); err != nil {
		t.Fatal(err)
	}
	ds.Close()

	var out, errOut bytes.Buffer
	if code := runStorage([]string{"migrate", "--from", "sqlite:" + dir, "--to", "postgres:" + dsn}, &out, &errOut); code != 0 {
		t.Fatalf("migrate: %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "migrated: 4 held messages (2 contents opened), 4 audit entries (verified), 1 API tokens, 1 console accounts") {
		t.Fatalf("migrate said %q", out.String())
	}
	if !strings.Contains(out.String(), "1 download links (1 files opened)") {
		t.Fatalf("migrate said %q", out.String())
	}
	if strings.Contains(out.String()+errOut.String(), dsn) {
		t.Fatal("the DSN was printed")
	}

	cfgFile := filepath.Join(dir, "dlpguard.yaml")
	os.WriteFile(filepath.Join(dir, "dsn"), []byte(dsn+"\n"), 0o600)
	os.WriteFile(cfgFile, []byte("data_dir: .\nstorage:\n  driver: postgres\n  dsn_file: dsn\n"), 0o600)
	out.Reset()
	errOut.Reset()
	if code := runAudit([]string{"verify", "--config", cfgFile}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "ok: 4 entries") {
		t.Fatalf("audit verify --config: %d %s %s", code, out.String(), errOut.String())
	}

	// The token moved: `tokens list --config` shows it from the database,
	// and it authenticates there.
	out.Reset()
	errOut.Reset()
	if code := runTokens([]string{"list", "--config", cfgFile}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "kacho") {
		t.Fatalf("tokens list --config: %d %s %s", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := runUsers([]string{"list", "--config", cfgFile}, strings.NewReader(""), &out, &errOut); code != 0 || !strings.Contains(out.String(), "suzuki") {
		t.Fatalf("users list --config: %d %s %s", code, out.String(), errOut.String())
	}
	pu, closeUsers, err := cliOpenUsers(ctx, t.TempDir(), cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if usr, err := pu.Get(ctx, "suzuki"); err != nil || !usr.Disabled || usr.Email != "suzuki@city.example.lg.jp" {
		t.Fatalf("account after migrate: %+v %v", usr, err)
	}
	closeUsers()
	tdb, closeDB, err := cliOpenTokens(ctx, filepath.Join(dir, "nowhere.db"), cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if tk, err := tdb.Authenticate(ctx, tok); err != nil || tk.Actor != "kacho@city.example.lg.jp" {
		t.Fatalf("token after migrate: %+v %v", tk, err)
	}
	closeDB()

	pg, err := review.OpenStores(ctx, dir, review.StoreOptions{PostgresDSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	// The link and its file, as a node on PostgreSQL reads them.
	pds, err := download.OpenPostgres(ctx, pg.Holds.(interface{ Pool() *pgxpool.Pool }).Pool(), hkey)
	if err != nil {
		t.Fatal(err)
	}
	if ls, err := pds.ForHold(ctx, "m1"); err != nil || len(ls) != 1 || ls[0].Recipient != "a@example.com" {
		t.Fatalf("links after migrate: %+v %v", ls, err)
	}
	if rc, err := pds.OpenFile(ctx, fid); err != nil {
		t.Fatal(err)
	} else if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, fileBody) {
		t.Fatalf("file after migrate: %d bytes %v", len(got), err)
	}
	page, err := pg.Holds.List(ctx, hold.Filter{Rule: "rm3"})
	if err != nil || page.Total != 1 || page.Records[0].Subject != "件名 m3" {
		t.Fatalf("rule filter after migrate: %+v %v", page, err)
	}
	for id, want := range bodies {
		rec, err := pg.Holds.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !rec.PurgedAt.IsZero() {
			continue
		}
		rc, err := pg.Holds.Content(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s content after migrate: %d bytes, %v", id, len(got), err)
		}
	}
	if rec, _ := pg.Holds.Get(ctx, "m1"); rec.Status != hold.Released || rec.PurgedAt.IsZero() {
		t.Fatalf("m1 after migrate: %s", rec.Status)
	}
	// The records moved are the ones the nodes decide on.
	if _, err := pg.Holds.Reject(ctx, "m0", "kacho", "移行後"); err != nil {
		t.Fatal(err)
	}

	out.Reset()
	errOut.Reset()
	if code := runStorage([]string{"migrate", "--from", "sqlite:" + dir, "--to", "postgres:" + dsn}, &out, &errOut); code == 0 ||
		!strings.Contains(errOut.String(), "already has") {
		t.Fatalf("second migrate: %d %s", code, errOut.String())
	}
}

// timeFar is a time after every retention period of the test.
func timeFar() time.Time { return time.Now().Add(365 * 24 * time.Hour) }
