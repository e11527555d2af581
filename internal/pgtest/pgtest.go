// Package pgtest starts a throwaway PostgreSQL cluster for tests: the
// binaries of Debian's postgresql package, initdb into a temporary folder,
// pg_ctl listening on 127.0.0.1 only, on a free port, with its Unix socket
// in that folder. PostgreSQL refuses to run as root, so as root (CI) the
// cluster runs as the unprivileged user "postgres" through runuser.
//
// The first test that needs PostgreSQL starts one cluster for the
// package; Main (called from TestMain) stops it after the last test. Each
// test takes a fresh database of its own with NewDatabase. Where PostgreSQL is not
// installed the tests that need it skip — except in CI (CI=true), where a
// missing PostgreSQL fails them, so that the PostgreSQL store is never
// silently untested.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is one running PostgreSQL server owned by a test binary.
type Cluster struct {
	bin    string // folder of initdb, pg_ctl, postgres, pg_dump
	dir    string // temporary folder: data/, sock/, log
	port   int
	runAs  string // "" or the user that runs the server
	seq    atomic.Int64
	mu     sync.Mutex
	closed bool
}

// superuser is the cluster's superuser (initdb -U); trust authentication
// on loopback and the socket only, in a throwaway cluster.
const superuser = "dlpguard"

// findBin returns the folder of PostgreSQL's server binaries: pg_config
// --bindir, else the newest /usr/lib/postgresql/*/bin (Debian installs
// them there, outside PATH).
func findBin() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("pgtest: PostgreSQL is not installed (apt-get install postgresql)")
}

// Start initialises and starts a cluster in a new temporary folder.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	c := &Cluster{bin: bin, dir: dir}
	if err := os.Mkdir(filepath.Join(dir, "sock"), 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if os.Geteuid() == 0 {
		c.runAs = "postgres"
		u, err := user.Lookup(c.runAs)
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: running as root needs the user postgres: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, d := range []string{dir, filepath.Join(dir, "sock")} {
			if err := os.Chown(d, uid, gid); err != nil {
				os.RemoveAll(dir)
				return nil, fmt.Errorf("pgtest: %w", err)
			}
		}
	}
	c.watch()
	if err := c.run(ctx, "initdb", "-D", c.data(), "-U", superuser, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// A free port may be taken between the probe and the start: retry.
	for attempt := 0; ; attempt++ {
		c.port, err = freePort()
		if err == nil {
			err = c.Start(ctx)
		}
		if err == nil {
			return c, nil
		}
		if attempt == 2 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// watch starts a watchdog that stops the server and removes its folder
// when this test process ends without Close (killed, or go test's
// -timeout panic), so that no server outlives its tests.
func (c *Cluster) watch() {
	ctl := filepath.Join(c.bin, "pg_ctl")
	stop := fmt.Sprintf("%q stop -m immediate -D %q", ctl, c.data())
	if c.runAs != "" {
		stop = fmt.Sprintf("runuser -u %s -- %s", c.runAs, stop)
	}
	script := fmt.Sprintf(`while kill -0 %d 2>/dev/null; do sleep 1; done; if [ -d %q ]; then %s >/dev/null 2>&1; rm -rf %q; fi`,
		os.Getpid(), c.dir, stop, c.dir)
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cmd.Start() == nil {
		go cmd.Wait()
	}
}

// run runs one of PostgreSQL's binaries as the cluster's user.
func (c *Cluster) run(ctx context.Context, bin string, args ...string) error {
	name := filepath.Join(c.bin, bin)
	cmd := exec.CommandContext(ctx, name, args...)
	if c.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runAs, "--", name}, args...)...)
	}
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: %s %s: %w\n%s", bin, strings.Join(args, " "), err, out)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the (stopped) server again on the same port: with Stop, a
// test takes the database away and brings it back.
func (c *Cluster) Start(ctx context.Context) error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=200", c.port, filepath.Join(c.dir, "sock"))
	return c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-o", opts)
}

// Stop stops the server (fast shutdown: connections are cut) and keeps
// its data.
func (c *Cluster) Stop(ctx context.Context) error {
	return c.run(ctx, "pg_ctl", "stop", "-w", "-m", "fast", "-D", c.data())
}

// Close stops the server and removes its folder.
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c.run(ctx, "pg_ctl", "stop", "-w", "-m", "immediate", "-D", c.data())
	os.RemoveAll(c.dir)
}

// DSN returns the connection string of database db.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, c.port, db)
}

// CreateDatabase creates a new empty database and returns its DSN.
func (c *Cluster) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), c.seq.Add(1))
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	return c.DSN(name), nil
}

// Dump returns pg_dump's plain-text dump of the database of dsn: every
// byte the database keeps, to look for what must not be there.
func (c *Cluster) Dump(ctx context.Context, dsn string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "pg_dump"), "--dbname", dsn)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pgtest: pg_dump: %w", err)
	}
	return out, nil
}

// shared is the package's cluster, started by the first test that needs
// one and stopped by Main after the last. It is the one package-level
// variable: TestMain has no other way to hand a resource to the tests.
var shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// Main runs a package's tests and then stops the cluster they started,
// if any. Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared.c != nil {
		shared.c.Close()
	}
	return code
}

// InCI reports whether the tests run in CI (CI=true), where PostgreSQL
// must be there.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require skips the test when PostgreSQL is not installed, or fails it
// in CI.
func Require(t testing.TB) {
	t.Helper()
	if _, err := findBin(); err != nil {
		unavailable(t, err)
	}
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	if InCI() {
		t.Fatalf("PostgreSQL is required in CI: %v", err)
	}
	t.Skipf("no PostgreSQL: %v", err)
}

// Get returns the package's cluster, starting it on first use. Without
// PostgreSQL it skips the test, or fails it in CI.
func Get(t testing.TB) *Cluster {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.c, shared.err = Start(ctx)
	})
	if shared.c == nil {
		unavailable(t, shared.err)
	}
	return shared.c
}

// NewDatabase returns the DSN of a fresh database for this test on the
// package's cluster (skipping or failing as Get does).
func NewDatabase(t testing.TB) string {
	t.Helper()
	c := Get(t)
	dsn, err := c.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}
