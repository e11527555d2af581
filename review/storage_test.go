package review

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"dlpguard/audit"
	"dlpguard/hold"
	"dlpguard/internal/pgtest"
	"dlpguard/release"
	"dlpguard/spool"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// storageEnv selects the hold store of the review tests: unset, SQLite in
// the fixture's data folder; "postgres", a database of the package's
// PostgreSQL cluster. TestSuiteOnPostgres runs the whole suite the second
// way: one test suite, two stores.
const storageEnv = "DLPGUARD_TEST_STORAGE"

// pgDSNs maps a fixture's data folder to its database, so that a fixture
// reopened on the same folder (a restart) finds the same records.
var pgDSNs sync.Map

func testStoreOptions(t testing.TB, dir string, o StoreOptions) StoreOptions {
	t.Helper()
	dsn, ok := pgDSNs.Load(dir) // a test that set up nodes on one database
	if !ok && os.Getenv(storageEnv) != "postgres" {
		return o
	}
	if !ok {
		dsn, _ = pgDSNs.LoadOrStore(dir, pgtest.NewDatabase(t))
	}
	o.PostgresDSN = dsn.(string)
	return o
}

// auditDB opens the database that holds the audit log of the fixture in
// dir, for tests that tamper with it.
func auditDB(t testing.TB, dir string) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if dsn, ok := pgDSNs.Load(dir); ok {
		db, err = sql.Open("pgx", dsn.(string))
	} else {
		db, err = sql.Open("sqlite", "file:"+PathsIn(dir).Audit+"?_pragma=busy_timeout(10000)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestSuiteOnPostgres runs this package's tests again with the hold store
// on PostgreSQL (a child test process with DLPGUARD_TEST_STORAGE=postgres).
func TestSuiteOnPostgres(t *testing.T) {
	if os.Getenv(storageEnv) != "" {
		t.Skip("this is the run on PostgreSQL")
	}
	pgtest.Require(t)
	cmd := exec.Command(os.Args[0], "-test.count=1", "-test.v", "-test.run=^Test", "-test.skip=^TestSuiteOnPostgres$")
	cmd.Env = append(os.Environ(), storageEnv+"=postgres")
	out, err := cmd.CombinedOutput()
	passed := len(regexp.MustCompile(`(?m)^--- PASS: Test`).FindAll(out, -1))
	if err != nil || strings.Contains(string(out), "--- FAIL") {
		lines := strings.Split(string(out), "\n")
		var fails []string
		for _, l := range lines {
			if strings.Contains(l, "FAIL") || strings.Contains(l, "_test.go:") {
				fails = append(fails, l)
			}
		}
		t.Fatalf("review suite on PostgreSQL: %v\n%s", err, strings.Join(fails, "\n"))
	}
	if passed < 10 {
		t.Fatalf("only %d tests passed on PostgreSQL:\n%s", passed, out)
	}
	t.Logf("%d review tests passed with the hold store on PostgreSQL", passed)
}

// TestNodesShareHolds: three review services (nodes A, B, C: their own
// data folder, spool and delivery queue) on one PostgreSQL. A message
// held through A is listed and shown on B; officers on B and C press
// release at the same moment: one release, delivered once, one
// "released" audit entry in the one chain, and the other officer told it
// is no longer held (409). The hold key is the same on every node; the
// officers' API tokens, made on A, work on B and C.
func TestNodesShareHolds(t *testing.T) {
	pgtest.Require(t)
	t.Setenv(hold.KeyEnv, strings.Repeat("5a", 32))
	dsn := pgtest.NewDatabase(t)
	up := startUpstream(t)
	linkKey := filepath.Join(t.TempDir(), "link.key") // the same on every node, as the hold key
	mod := func(c *Config) {
		c.NoKeyMode = release.PassphraseWithoutKey
		c.FourEyesLevelI = false
		c.AdminsApprove = true
		c.LinkKeyFile = linkKey
	}
	var nodes []*fixture
	for range 3 {
		dir := t.TempDir()
		pgDSNs.Store(dir, dsn)
		nodes = append(nodes, newFixture(t, dir, up, mod))
	}
	a, b, c := nodes[0], nodes[1], nodes[2]
	const rcpt = "contact78@example.net"
	for round := range 3 {
		id, _, _ := a.hold("p011_other_id.eml", "user660@city.example.lg.jp", rcpt)
		// Tokens are made on A and work on B and C (one token table).
		tb := a.token(fmt.Sprintf("b%d", round), "admin-b@city.example.lg.jp", RoleAdmin)
		tc := a.token(fmt.Sprintf("c%d", round), "admin-c@city.example.lg.jp", RoleAdmin)
		if code, out := b.api("GET", "/api/v1/holds/"+id, tb, nil); code != 200 {
			t.Fatalf("show on B: %d %v", code, out)
		}
		if code, page := b.api("GET", "/api/v1/holds?status=held", tb, nil); code != 200 || page["total"].(float64) != 1 {
			t.Fatalf("list on B: %d %v", code, page)
		}
		codes := make(chan int, 2)
		for _, n := range []struct {
			f   *fixture
			tok string
		}{{b, tb}, {c, tc}} {
			go func() {
				code, _ := n.f.api("POST", "/api/v1/holds/"+id+"/release", n.tok, map[string]string{"reason": "送信可"})
				codes <- code
			}()
		}
		got := []int{<-codes, <-codes}
		slices.Sort(got)
		if got[0] != 200 || got[1] != http.StatusConflict {
			t.Fatalf("round %d: release on B and C answered %v, want one 200 and one 409", round, got)
		}
		want := round + 1
		waitFor(t, "delivery", func() bool { return len(up.To(rcpt)) == want })
		for _, n := range nodes {
			waitFor(t, "queues drained", func() bool { ids, _ := n.spool.List(spool.AreaQueue); return len(ids) == 0 })
		}
		if n := len(up.To(rcpt)); n != want {
			t.Fatalf("round %d: %d deliveries, want %d", round, n, want)
		}
		// One chain: the winner's release and the loser's refusal, each once.
		if got := auditAttempts(t, a, id, audit.Release); len(got) != 2 ||
			!slices.ContainsFunc(got, func(r string) bool { return strings.HasPrefix(r, "granted/") }) ||
			!slices.ContainsFunc(got, func(r string) bool { return strings.HasPrefix(r, "refused/state/") }) {
			t.Fatalf("round %d: release entries in the audit log %v, want one granted and one refused/state", round, got)
		}
		if rec, _ := c.stores.Holds.Get(context.Background(), id); rec.Status != hold.Released {
			t.Fatalf("status seen on C: %s", rec.Status)
		}
	}
	for i, n := range nodes {
		if brk, err := n.stores.Audit.Verify(context.Background()); brk != nil || err != nil {
			t.Fatalf("node %d: audit verify: %v %v", i, brk, err)
		}
	}
}

// TestNodeLinkKeyChecked: on one PostgreSQL, a node whose link-signing
// key differs from the one the first node recorded does not start (its
// delay and revoke links would be refused by the others); a node with
// the same key starts.
func TestNodeLinkKeyChecked(t *testing.T) {
	pgtest.Require(t)
	t.Setenv(hold.KeyEnv, strings.Repeat("5a", 32))
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	shared := filepath.Join(t.TempDir(), "link.key")
	open := func(linkKey string) (*Service, error) {
		dir := t.TempDir()
		st, err := OpenStores(ctx, dir, StoreOptions{PostgresDSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		sp, err := spool.Open(PathsIn(dir).Spool)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := New(Config{DataDir: PathsIn(dir).Review, Hostname: "relay.test", LinkKeyFile: linkKey},
			Deps{Holds: st.Holds, Audit: st.Audit, Keys: st.Keys, Spool: sp, Logger: logger()})
		if err == nil {
			t.Cleanup(func() { svc.Close() })
		}
		return svc, err
	}
	if _, err := open(shared); err != nil {
		t.Fatalf("first node: %v", err)
	}
	if _, err := open(shared); err != nil {
		t.Fatalf("a node with the same link key: %v", err)
	}
	_, err := open("") // its own data folder's new link.key
	if !errors.Is(err, ErrKeyMismatch) || !strings.Contains(err.Error(), "リンク署名鍵") {
		t.Fatalf("a node with another link key: %v, want ErrKeyMismatch", err)
	}
}
