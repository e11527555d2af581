//go:build linux

package spool

import (
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// openAnon creates an unnamed file on dir's filesystem (O_TMPFILE): no
// folder entry is written or locked until linkAnon names it, and a crash
// before that leaves nothing behind (the filesystem frees the inode).
func openAnon(dir, label string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, label)), nil
}

// linkAnon gives the unnamed file f the name path; it fails if path
// exists. AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH; the /proc link
// works for any user.
func linkAnon(f *os.File, path string) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		lerr = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.FormatUint(uint64(fd), 10), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
	}); err != nil {
		return err
	}
	if lerr != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: path, Err: lerr}
	}
	return nil
}
