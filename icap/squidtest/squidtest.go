// Package squidtest runs a private Squid on loopback for tests and
// benchmarks: its own squid.conf, pid file and logs in a temporary folder,
// optionally adapting requests through an ICAP REQMOD service with
// bypass=0 (a failing service blocks, never passes).
package squidtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Binary is where Debian's squid package installs Squid.
const Binary = "/usr/sbin/squid"

// Available reports whether Squid is installed.
func Available() bool {
	_, err := os.Stat(Binary)
	return err == nil
}

// Squid is a running Squid.
type Squid struct {
	Addr string // host:port of its http_port
	Dir  string
	cmd  *exec.Cmd
	done chan error
}

// Options configure Start.
type Options struct {
	ICAP        string // ICAP service URL (icap://127.0.0.1:1344/reqmod); "" = no adaptation
	PreviewSize int    // icap_preview_size; default 1024
}

// Start writes a squid.conf into a new folder and starts `squid -N -f`.
// It returns when Squid accepts connections.
func Start(ctx context.Context, opt Options) (*Squid, error) {
	dir, err := os.MkdirTemp("", "dlpguard-squid-*")
	if err != nil {
		return nil, err
	}
	// Squid started as root switches to cache_effective_user, which must
	// be able to write its logs and pid file here.
	runAs := ""
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("proxy"); err == nil {
			runAs = "proxy"
		} else if _, err := user.Lookup("nobody"); err == nil {
			runAs = "nobody"
		}
		os.Chmod(dir, 0o777)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if opt.PreviewSize <= 0 {
		opt.PreviewSize = 1024
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "http_port 127.0.0.1:%d\n", port)
	fmt.Fprintf(&conf, "pid_filename %s\n", filepath.Join(dir, "squid.pid"))
	fmt.Fprintf(&conf, "cache_log %s\n", filepath.Join(dir, "cache.log"))
	fmt.Fprintf(&conf, "access_log %s\n", filepath.Join(dir, "access.log"))
	fmt.Fprintf(&conf, "coredump_dir %s\n", dir)
	conf.WriteString("cache_store_log none\ncache deny all\ncache_mem 8 MB\npinger_enable off\n")
	conf.WriteString("shutdown_lifetime 0 seconds\nvisible_hostname dlpguard-test\n")
	conf.WriteString("netdb_filename none\n")
	conf.WriteString("request_body_max_size 0\nclient_request_buffer_max_size 1 MB\n")
	conf.WriteString("acl localnet src 127.0.0.1/32 ::1\nhttp_access allow localnet\nhttp_access deny all\n")
	if runAs != "" {
		fmt.Fprintf(&conf, "cache_effective_user %s\n", runAs)
	}
	if opt.ICAP != "" {
		conf.WriteString("icap_enable on\n")
		fmt.Fprintf(&conf, "icap_preview_enable on\nicap_preview_size %d\n", opt.PreviewSize)
		conf.WriteString("icap_persistent_connections on\n")
		fmt.Fprintf(&conf, "icap_service dlpguard reqmod_precache %s bypass=0\n", opt.ICAP)
		conf.WriteString("adaptation_access dlpguard allow all\n")
	}
	confPath := filepath.Join(dir, "squid.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(Binary, "-N", "-f", confPath)
	out, err := os.Create(filepath.Join(dir, "squid.out"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("squid: %w", err)
	}
	s := &Squid{Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir, cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); out.Close() }()
	// Wait until it listens (bounded), or until it exits.
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case err := <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "cache.log"))
			o, _ := os.ReadFile(filepath.Join(dir, "squid.out"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("squid exited (%v): %s %s", err, o, log)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "cache.log"))
			s.Stop()
			return nil, fmt.Errorf("squid did not start listening on %s: %s", s.Addr, log)
		}
	}
}

// Log returns Squid's cache.log (for test failures).
func (s *Squid) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "cache.log"))
	return string(b)
}

// Stop ends Squid (SIGTERM, then SIGKILL) and removes its folder.
func (s *Squid) Stop() error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	s.cmd.Process.Signal(os.Interrupt)
	var err error
	select {
	case err = <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		err = <-s.done
	}
	os.RemoveAll(s.Dir)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = nil // killed by our signal
	}
	return err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
