package smtpproxy

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// countedConn is a connection from one of our listeners. Besides the
// connection counts it holds the two rules go-smtp cannot be told:
//
//   - A read deadline that passes ends the session. go-smtp sets a fresh
//     deadline before every command line and, when one passes in the middle
//     of a line, runs the partial line as a command and goes on reading: a
//     client sending one byte a second was cut only after several errors,
//     and after "421 Timeout waiting for data" the rest of a trickled body
//     was read as commands (issue 17). Here the first expired deadline is
//     sticky: every later Read fails at once with a timeout, so go-smtp
//     answers 421 4.4.2 and closes, and the session refuses every command
//     (session.over) in case a partial line is run before that.
//   - While a message transfer runs, no read deadline may go past the
//     transfer's end (data_timeout), also across the BDAT chunk commands,
//     whose command reads would otherwise each get a new command timeout.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
	busy    atomic.Bool // a message transfer is in progress
	// quiet is when the last transfer's reply has surely been written
	// (unix ns); a drain must not close the connection between Data's
	// return and go-smtp writing the 250.
	quiet atomic.Int64

	expired   atomic.Bool // a read deadline passed: the session is over
	ended     atomic.Bool // the session ended the connection (fatal reply sent)
	lingering atomic.Bool // end's goroutine closes the socket

	mu          sync.Mutex
	transferEnd time.Time // zero outside a transfer
}

func (c *countedConn) idle(now time.Time) bool {
	return !c.busy.Load() && now.UnixNano() > c.quiet.Load()
}

// Close closes the connection, unless end is already closing it gently
// (go-smtp closes right after its last read fails).
func (c *countedConn) Close() error {
	if c.lingering.Load() {
		return nil
	}
	return c.close()
}

func (c *countedConn) close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// Read makes an expired deadline final (see countedConn). Inside a
// transfer the error is the data timeout's reply itself, so that go-smtp,
// which answers a BDAT chunk's read error with the error's text, says 421
// 4.4.2 rather than an internal "i/o timeout".
func (c *countedConn) Read(p []byte) (int, error) {
	if c.ended.Load() {
		return 0, net.ErrClosed
	}
	if c.expired.Load() {
		return 0, c.expiredErr()
	}
	n, err := c.Conn.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.expired.Store(true)
		err = c.expiredErr()
	}
	return n, err
}

func (c *countedConn) expiredErr() error {
	c.mu.Lock()
	inTransfer := !c.transferEnd.IsZero()
	c.mu.Unlock()
	if inTransfer {
		return errDataTimeout
	}
	return os.ErrDeadlineExceeded
}

// SetReadDeadline keeps every read inside a running transfer's deadline,
// and leaves a lingering close's own deadline alone.
func (c *countedConn) SetReadDeadline(t time.Time) error {
	if c.ended.Load() {
		return nil
	}
	c.mu.Lock()
	if end := c.transferEnd; !end.IsZero() && (t.IsZero() || t.After(end)) {
		t = end
	}
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline is SetReadDeadline and SetWriteDeadline.
func (c *countedConn) SetDeadline(t time.Time) error {
	if err := c.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// beginTransfer bounds every read until endTransfer by end.
func (c *countedConn) beginTransfer(end time.Time) {
	c.mu.Lock()
	c.transferEnd = end
	c.mu.Unlock()
	c.Conn.SetReadDeadline(end)
}

func (c *countedConn) endTransfer() {
	c.mu.Lock()
	c.transferEnd = time.Time{}
	c.mu.Unlock()
}

// over reports whether the session has ended (deadline or fatal reply).
func (c *countedConn) over() bool {
	return c.expired.Load() || c.ended.Load()
}

// lingerMax bounds how long and how much a closing connection still reads.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 1 << 20
)

// end closes the connection after a final reply without losing that
// reply: closing a socket with unread input makes the kernel send a reset,
// and a reset may destroy the reply before the client reads it. So the
// write side is shut first (the client sees the reply, then EOF), the
// input is read away for a bounded time, and then the socket is closed.
// go-smtp's reads fail from now on as if it were closed.
func (c *countedConn) end() {
	if !c.ended.CompareAndSwap(false, true) {
		return
	}
	tcp, ok := c.Conn.(*net.TCPConn)
	if !ok {
		c.close()
		return
	}
	c.lingering.Store(true)
	tcp.CloseWrite()
	go func() {
		defer c.close()
		tcp.SetReadDeadline(time.Now().Add(lingerTime))
		io.CopyN(io.Discard, tcp, lingerBytes)
	}()
}
