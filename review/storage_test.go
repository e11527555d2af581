package review

import (
	"database/sql"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"dlpguard/internal/pgtest"
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
	if os.Getenv(storageEnv) != "postgres" {
		return o
	}
	dsn, ok := pgDSNs.Load(dir)
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
