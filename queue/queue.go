// Package queue delivers the messages in the spool's queue area to the
// upstream mail server (the smarthost), or to a local demo mailbox when no
// upstream is configured. Delivery is per recipient: accepted recipients
// are marked delivered and never sent again, temporary failures (4xx) are
// retried with exponential backoff until the message expires, permanent
// failures (5xx) and expired recipients are reported to the sender with a
// delivery status notification (package dsn). The spool envelope is the
// only state: a restart picks up everything left in the queue.
package queue

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"dlpguard/dsn"
	"dlpguard/spool"
)

// maxDSNHeader bounds the original header section quoted in a DSN.
const maxDSNHeader = 64 << 10

// Queue runs the delivery workers.
type Queue struct {
	cfg          Config
	store        *spool.Store
	log          *slog.Logger
	m            Metrics
	newTransport func() transport

	kick  chan struct{} // wakes the dispatcher; capacity 1
	reapc chan reapJob  // finished messages to remove

	mu      sync.Mutex
	entries map[string]*entry // every message known: scheduled or in flight
	sched   schedule          // those waiting, earliest first
	seq     uint64
}

// push schedules e; q.mu must be held.
func (q *Queue) push(e *entry) {
	q.seq++
	e.seq = q.seq
	heap.Push(&q.sched, e)
}

// entry is one queued message as the scheduler sees it.
type entry struct {
	id    string
	due   time.Time
	seq   uint64 // order of scheduling: ties on due go first come, first served
	index int    // position in sched; -1 while in flight
	fresh bool   // announced by Notify in this process, never attempted
	again bool   // Notify came while in flight: try again at once
}

// New returns a queue delivering from store's queue area. logger and
// metrics may be nil.
func New(cfg Config, store *spool.Store, logger *slog.Logger, metrics Metrics) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("queue: no spool")
	}
	cfg = cfg.Defaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if metrics == nil {
		metrics = nopMetrics{}
	}
	q := &Queue{
		cfg:     cfg,
		store:   store,
		log:     logger,
		m:       metrics,
		kick:    make(chan struct{}, 1),
		reapc:   make(chan reapJob, 1024),
		entries: map[string]*entry{},
	}
	if cfg.Upstream == "" {
		mb := &mailbox{root: cfg.MailboxDir, hostname: cfg.Hostname}
		q.newTransport = func() transport { return mb }
	} else {
		q.newTransport = func() transport { return newUpstream(cfg, logger) }
	}
	return q, nil
}

// Notify wakes delivery for a message just committed to the queue area (or
// moved there): it is attempted at once, without waiting for a rescan. It
// never blocks.
func (q *Queue) Notify(id string) {
	q.mu.Lock()
	e := q.entries[id]
	// Due now, not at time zero: messages are then taken in arrival order
	// (FIFO), so that none waits behind a burst of newer ones.
	now := time.Now()
	switch {
	case e == nil:
		e = &entry{id: id, due: now, fresh: true}
		q.entries[id] = e
		q.push(e)
	case e.index >= 0:
		if e.due.After(now) {
			e.due = now
			heap.Fix(&q.sched, e.index)
		}
	default:
		e.again = true
	}
	n := len(q.entries)
	q.mu.Unlock()
	q.m.QueueLength(n)
	q.wake()
}

// NotifyAt schedules a message just committed to the queue area for due
// (a delayed message, 3.3.5 mis-sending): it waits there like a retry, and
// a later Notify (send now) moves it forward. A message already known
// keeps its place. It never blocks.
func (q *Queue) NotifyAt(id string, due time.Time) {
	q.mu.Lock()
	if _, known := q.entries[id]; !known {
		e := &entry{id: id, due: due}
		q.entries[id] = e
		q.push(e)
	}
	n := len(q.entries)
	q.mu.Unlock()
	q.m.QueueLength(n)
	q.wake()
}

// Len is the number of messages in the queue (scheduled or in flight).
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.entries)
}

func (q *Queue) wake() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done, then lets in-flight deliveries finish
// (at most DrainTimeout) and returns, leaving everything undelivered in the
// spool. At start it picks up every message already in the queue area
// (crash recovery). Run is called once per Queue.
func (q *Queue) Run(ctx context.Context) error {
	if err := q.rescan(); err != nil {
		return err
	}
	// Deliveries run on their own context so that a shutdown lets them
	// finish; it is cancelled only when the drain takes too long.
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	work := make(chan *entry)
	var reapers sync.WaitGroup
	for range 2 {
		reapers.Add(1)
		go func() {
			defer reapers.Done()
			q.reaper(q.reapc)
		}()
	}
	var wg sync.WaitGroup
	for range q.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.worker(dctx, work)
		}()
	}
	q.dispatch(ctx, work)
	close(work)
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(q.cfg.DrainTimeout):
		q.log.Warn("queue drain timed out; cancelling in-flight deliveries", "timeout", q.cfg.DrainTimeout)
		cancel()
		<-done
	}
	close(q.reapc)
	reapers.Wait()
	q.log.Info("queue stopped", "queued", q.Len())
	return nil
}

// rescan schedules every message in the queue area not yet known.
func (q *Queue) rescan() error {
	ids, err := q.store.List(spool.AreaQueue)
	if err != nil {
		return fmt.Errorf("queue rescan: %w", err)
	}
	added := 0
	for _, id := range ids {
		q.mu.Lock()
		_, known := q.entries[id]
		q.mu.Unlock()
		if known {
			continue
		}
		env, err := q.store.Envelope(spool.AreaQueue, id)
		if err != nil {
			if !errors.Is(err, spool.ErrNotFound) {
				q.log.Error("queue rescan: reading envelope", "id", id, "err", err)
			}
			continue
		}
		q.mu.Lock()
		if _, known := q.entries[id]; !known {
			e := &entry{id: id, due: env.NextAttempt}
			q.entries[id] = e
			q.push(e)
			added++
		}
		q.mu.Unlock()
	}
	if added > 0 {
		q.log.Info("queue rescan", "found", added)
		q.m.QueueLength(q.Len())
		q.wake()
	}
	return nil
}

// dispatch hands due messages to the workers until ctx is done.
func (q *Queue) dispatch(ctx context.Context, work chan<- *entry) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	rescan := time.NewTicker(q.cfg.Rescan)
	defer rescan.Stop()
	for {
		var next *entry
		wait := q.cfg.Rescan
		q.mu.Lock()
		if len(q.sched) > 0 {
			if d := time.Until(q.sched[0].due); d <= 0 {
				next = heap.Pop(&q.sched).(*entry)
			} else {
				wait = d
			}
		}
		q.mu.Unlock()
		if next != nil {
			select {
			case work <- next:
				continue
			case <-ctx.Done():
				q.reschedule(next, next.due)
				return
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-q.kick:
		case <-timer.C:
		case <-rescan.C:
			if err := q.rescan(); err != nil {
				q.log.Error("queue rescan", "err", err)
			}
		}
	}
}

func (q *Queue) reschedule(e *entry, due time.Time) {
	q.mu.Lock()
	e.fresh = false
	if e.again {
		e.again, due = false, time.Time{}
	}
	e.due = due
	q.push(e)
	q.mu.Unlock()
}

func (q *Queue) forget(e *entry) {
	q.mu.Lock()
	delete(q.entries, e.id)
	n := len(q.entries)
	q.mu.Unlock()
	q.m.QueueLength(n)
}

func (q *Queue) worker(ctx context.Context, work <-chan *entry) {
	t := q.newTransport()
	defer t.close()
	idle := time.NewTimer(q.cfg.IdleTimeout)
	defer idle.Stop()
	last := time.Now()
	for {
		select {
		case e, ok := <-work:
			if !ok {
				return
			}
			next, done, fin := q.safeAttempt(ctx, t, e)
			switch {
			case fin != nil:
				q.reap(e, fin)
			case done:
				q.forget(e)
			default:
				q.reschedule(e, next)
				q.wake()
			}
			last = time.Now()
			idle.Reset(q.cfg.IdleTimeout)
		case <-idle.C:
			t.idle(time.Since(last))
		}
	}
}

// safeAttempt runs attempt and turns a panic (a bug) into a retry later,
// so that one message cannot stop delivery of all others.
func (q *Queue) safeAttempt(ctx context.Context, t transport, e *entry) (next time.Time, done bool, fin *spool.Envelope) {
	defer func() {
		if p := recover(); p != nil {
			q.log.Error("queue: delivery panicked; retrying later", "id", e.id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			next, done, fin = time.Now().Add(q.cfg.LocalRetry), false, nil
		}
	}()
	return q.attempt(ctx, t, e.id, e.fresh)
}

// attempt makes one delivery attempt for every pending recipient of a
// message. It returns when to try again, or done when the message has left
// the queue.
func (q *Queue) attempt(ctx context.Context, t transport, id string, fresh bool) (next time.Time, done bool, fin *spool.Envelope) {
	log := q.log.With("id", id)
	now := time.Now()
	retryLocal := now.Add(q.cfg.LocalRetry)
	env, err := q.store.Envelope(spool.AreaQueue, id)
	if errors.Is(err, spool.ErrNotFound) {
		return time.Time{}, true, nil // removed or moved meanwhile
	} else if err != nil {
		log.Error("queue: reading envelope", "err", err)
		return retryLocal, false, nil
	}
	if env.Expires.IsZero() {
		base := env.Received
		if base.IsZero() {
			base = now
		}
		env.Expires = base.Add(q.cfg.MaxAge)
	}
	pending := pendingOf(env)
	if len(pending) == 0 {
		return time.Time{}, true, env
	}
	// Like Postfix, an expired message gets one last attempt before it is
	// given up: a relay that was down for days does not bounce its whole
	// queue unseen.
	expired := !now.Before(env.Expires)

	// Record the next attempt before trying, so that a crash during the
	// attempt (a crash loop) does not hammer the upstream. A message just
	// announced by Notify skips this fsync: if it crashes us, the restart
	// finds it on disk and takes this path.
	attempts := maxAttempts(env, pending)
	if !fresh || attempts > 0 {
		env.NextAttempt = q.nextAttempt(env, now, attempts+1)
		if err := q.store.UpdateEnvelope(spool.AreaQueue, env); err != nil {
			if errors.Is(err, spool.ErrNotFound) {
				return time.Time{}, true, nil
			}
			log.Error("queue: recording next attempt", "err", err)
			return retryLocal, false, nil
		}
	}

	f, err := q.store.Open(spool.AreaQueue, id)
	if errors.Is(err, spool.ErrNotFound) {
		// Moved away meanwhile (or its content vanished, which the
		// spool's recovery handles at the next start).
		log.Warn("queue: message content not found", "err", err)
		return time.Time{}, true, nil
	} else if err != nil {
		log.Error("queue: opening message", "err", err)
		return retryLocal, false, nil
	}
	defer f.Close()

	rcpts := make([]string, len(pending))
	for k, i := range pending {
		rcpts[k] = env.Recipients[i].Address
	}
	res := t.deliver(ctx, env, rcpts, f)
	end := time.Now()
	if len(res) != len(rcpts) {
		// Never guess which recipient a result belongs to.
		res = allResults(len(rcpts), tempLocal("internal error: %d results for %d recipients", len(res), len(rcpts)))
	}

	var delivered, deferred int
	var failed []int
	var report, delayed []dsn.Recipient
	for k, i := range pending {
		r := res[k]
		rc := &env.Recipients[i]
		rc.Attempts++
		rc.LastCode = r.Code
		switch {
		case r.Delivered:
			rc.Status = spool.Delivered
			rc.LastError = ""
			delivered++
			q.m.DeliveryLatency(end.Sub(env.Received))
			log.Info("delivered", "rcpt", rc.Address, "reply", r.Diagnostic(), "attempt", rc.Attempts, "delay", end.Sub(env.Received).Round(time.Millisecond))
		case r.Permanent:
			rc.Status = spool.Failed
			rc.LastError = r.Diagnostic()
			failed = append(failed, i)
			report = append(report, dsn.Recipient{Address: rc.Address, Action: dsn.Failed, Status: r.Status,
				Diagnostic: remoteDiagnostic(r), RemoteMTA: r.Remote, LastAttempt: end})
			log.Warn("delivery failed permanently", "rcpt", rc.Address, "reply", r.Diagnostic(), "attempt", rc.Attempts)
		default:
			rc.LastError = r.Diagnostic()
			deferred++
			log.Info("delivery deferred", "rcpt", rc.Address, "reply", r.Diagnostic(), "attempt", rc.Attempts)
			if q.cfg.DelayWarnAfter > 0 && rc.Attempts == q.cfg.DelayWarnAfter {
				delayed = append(delayed, dsn.Recipient{Address: rc.Address, Action: dsn.Delayed, Status: tempStatus(r.Status),
					Diagnostic: remoteDiagnostic(r), RemoteMTA: r.Remote, LastAttempt: end, WillRetryUntil: env.Expires})
			}
		}
	}
	if expired {
		// The last attempt is over: what is still pending is given up, in
		// the same notification as any permanent failure.
		for _, i := range pendingOf(env) {
			rc := &env.Recipients[i]
			rc.Status = spool.Failed
			failed = append(failed, i)
			deferred--
			report = append(report, dsn.Recipient{Address: rc.Address, Action: dsn.Failed,
				// RFC 3463 X.4.7: delivery time expired.
				Status: "5.4.7", Diagnostic: rc.LastError, GaveUp: true, LastAttempt: end})
			log.Warn("giving up: message expired", "rcpt", rc.Address, "attempts", rc.Attempts, "last_error", rc.LastError, "expires", env.Expires.Format(time.RFC3339))
		}
		delayed = nil
	}
	q.m.Delivered(delivered)
	q.m.Deferred(deferred)
	if len(failed) > 0 {
		// The DSN is committed before the envelope says "failed": a crash
		// in between can repeat the DSN but never lose it.
		if err := q.bounce(log, env, f, report); err != nil {
			log.Error("queue: enqueueing DSN; recipients stay pending", "err", err)
			for _, i := range failed {
				env.Recipients[i].Status = spool.Pending
			}
		} else {
			q.m.Bounced(len(failed))
		}
	}

	if len(delayed) > 0 {
		// A warning only: losing it to a crash or a full disk is harmless.
		if err := q.bounce(log, env, f, delayed); err != nil {
			log.Error("queue: enqueueing delay warning", "err", err)
		}
	}

	pending = pendingOf(env)
	if len(pending) == 0 {
		return time.Time{}, true, env
	}
	env.NextAttempt = q.nextAttempt(env, end, maxAttempts(env, pending))
	if err := q.store.UpdateEnvelope(spool.AreaQueue, env); err != nil {
		// Delivered recipients may be sent again after a restart: at least
		// once, never lost.
		log.Error("queue: recording delivery state", "err", err)
		return retryLocal, false, nil
	}
	log.Info("queued for retry", "pending", len(pending), "next_attempt", env.NextAttempt.Format(time.RFC3339))
	return env.NextAttempt, false, nil
}

// nextAttempt is when to try again after the n-th failed attempt; the
// expiry is never overshot, so that giving up happens on time.
func (q *Queue) nextAttempt(env *spool.Envelope, from time.Time, n int) time.Time {
	t := from.Add(q.cfg.backoff(n))
	if t.After(env.Expires) && env.Expires.After(from) {
		t = env.Expires
	}
	return t
}

// bounce queues a DSN about report (failed or delayed recipients) to the
// message's sender. Nothing is
// sent for the null sender or for a DSN (RFC 3464 2: never a DSN about a
// DSN, so that two relays cannot bounce mail at each other forever).
func (q *Queue) bounce(log *slog.Logger, env *spool.Envelope, body io.ReaderAt, report []dsn.Recipient) error {
	if env.From == "" || env.DSN {
		log.Info("no DSN: null sender or a DSN itself", "failed", len(report))
		return nil
	}
	hdr, err := dsn.HeaderSection(io.NewSectionReader(body, 0, 1<<62), maxDSNHeader)
	if err != nil {
		return fmt.Errorf("reading headers: %w", err)
	}
	msg, utf8, err := (&dsn.Report{
		ReportingMTA: q.cfg.Hostname,
		To:           env.From,
		QueueID:      env.ID,
		Arrival:      env.Received,
		Recipients:   report,
		Headers:      hdr,
	}).Build()
	if err != nil {
		return err
	}
	w, err := q.store.Create()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Abort()
		return err
	}
	now := time.Now()
	denv := &spool.Envelope{
		From:       "", // RFC 5321 4.5.5: null reverse-path
		Recipients: []spool.Recipient{{Address: env.From, Status: spool.Pending}},
		Received:   now,
		Expires:    now.Add(q.cfg.MaxAge),
		UTF8:       utf8,
		DSN:        true,
	}
	if err := w.Commit(denv, spool.AreaQueue); err != nil {
		return err
	}
	log.Info("DSN queued", "dsn_id", denv.ID, "to", env.From, "failed", len(report))
	q.Notify(denv.ID)
	return nil
}

// reap removes a finished message. Removal waits for a folder fsync;
// the reapers do it so that the workers go on delivering meanwhile. The
// entry stays known until the files are gone, so a rescan cannot pick the
// message up again.
func (q *Queue) reap(e *entry, env *spool.Envelope) {
	select {
	case q.reapc <- reapJob{e, env}:
	default:
		q.removeNow(e, env) // reapers busy: push back on the worker
	}
}

type reapJob struct {
	e   *entry
	env *spool.Envelope
}

func (q *Queue) reaper(jobs <-chan reapJob) {
	for j := range jobs {
		q.removeNow(j.e, j.env)
	}
}

func (q *Queue) removeNow(e *entry, env *spool.Envelope) {
	log := q.log.With("id", env.ID)
	if err := q.store.Remove(spool.AreaQueue, env.ID); err != nil && !errors.Is(err, spool.ErrNotFound) {
		log.Error("queue: removing finished message", "err", err)
		// Record the final states so the retry only removes it.
		if uerr := q.store.UpdateEnvelope(spool.AreaQueue, env); uerr != nil {
			log.Error("queue: recording final state", "err", uerr)
		}
		q.reschedule(e, time.Now().Add(q.cfg.LocalRetry))
		q.wake()
		return
	}
	log.Info("message done", "recipients", len(env.Recipients))
	q.forget(e)
}

// tempStatus is a 4.x.x status for a delayed recipient.
func tempStatus(s string) string {
	if len(s) > 2 && s[0] == '4' && s[1] == '.' {
		return s
	}
	return "4.0.0"
}

// remoteDiagnostic is the Diagnostic-Code text: only replies that came
// from a remote server (local ones are described by the status).
func remoteDiagnostic(r result) string {
	if r.Code == 0 {
		return ""
	}
	return r.Diagnostic()
}

func pendingOf(env *spool.Envelope) []int {
	var p []int
	for i, rc := range env.Recipients {
		if rc.Status == spool.Pending || rc.Status == "" {
			p = append(p, i)
		}
	}
	return p
}

func maxAttempts(env *spool.Envelope, idx []int) int {
	n := 0
	for _, i := range idx {
		n = max(n, env.Recipients[i].Attempts)
	}
	return n
}

// schedule is a min-heap of entries by due time.
type schedule []*entry

func (s schedule) Len() int { return len(s) }
func (s schedule) Less(i, j int) bool {
	if !s[i].due.Equal(s[j].due) {
		return s[i].due.Before(s[j].due)
	}
	return s[i].seq < s[j].seq
}
func (s schedule) Swap(i, j int) {
	s[i], s[j] = s[j], s[i]
	s[i].index = i
	s[j].index = j
}
func (s *schedule) Push(x any) {
	e := x.(*entry)
	e.index = len(*s)
	*s = append(*s, e)
}
func (s *schedule) Pop() any {
	old := *s
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*s = old[:len(old)-1]
	return e
}
