// Package dispose applies a verdict: reject | queue | bcc | hold | delay,
// and the SMTP reply text.
//
// The relay decides once and applies once (clause 3.3.5). The SMTP front
// end (smtpproxy) receives a message into the spool and hands it here
// before it answers DATA; the Disposer evaluates it with the policy in
// force (policy.Engine.Evaluate: inspect → classify → policy, the same
// entry point as `dlpguard scan`), turns the verdict into one typed
// Disposition and applies it:
//
//   - reject: nothing is kept, 550 5.7.1 with the rules, clauses and the
//     message ID; the refusal is an audit entry (its only trace);
//   - pass: committed to the delivery queue, 250 … queued as ID;
//   - bcc: a copy with the external To/Cc addresses taken out of the
//     headers is queued instead, 250 … recipients hidden, queued as ID;
//   - delay: committed to the delivery queue due later (the queue sends it
//     then, like a retry); the sender gets signed links to cancel or send
//     at once (review.Service.DelayNotice), 250 … delayed as ID;
//   - hold: into the encrypted hold store of the review service, 250 …
//     held as ID.
//
// It fails closed: a message whose inspection fails, panics or overruns
// the budget is held as class I under the rule inspect-error, never passed
// uninspected; when the hold store (or the spool) cannot take a message,
// Dispose returns the error and the front end answers 451: nothing is kept
// in clear.
package dispose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"dlpguard/classify"
	"dlpguard/inspect"
	"dlpguard/policy"
	"dlpguard/smtpproxy"
	"dlpguard/spool"
)

// Disposition is what happens to one message: the verdict's action with
// what applying it needs. It is made once, from the verdict (Of).
type Disposition struct {
	Action  policy.Action // pass, bcc, delay, hold or reject; never anything else
	Verdict *policy.Verdict
	Rules   []string      // the IDs of the rules that fired, for the log
	Hide    []string      // bcc: addresses taken out of To and Cc
	Delay   time.Duration // delay: how long the message waits
}

// Of makes the disposition of a verdict. An action the relay does not
// know is held (fail closed, 3.3.5).
func Of(v *policy.Verdict) Disposition {
	d := Disposition{Action: v.Action, Verdict: v, Hide: v.Hide}
	for _, h := range v.Rules {
		d.Rules = append(d.Rules, h.ID)
	}
	switch v.Action {
	case policy.Pass, policy.Bcc, policy.Hold, policy.Reject:
	case policy.Delay:
		d.Delay = time.Duration(v.DelayMinutes) * time.Minute
		if d.Delay <= 0 {
			d.Delay = DefaultDelay
		}
	default:
		d.Action = policy.Hold
	}
	return d
}

// DefaultDelay is the delay of a verdict that names none.
const DefaultDelay = 10 * time.Minute

// Review is what the review service (review.Service) does for the relay.
type Review interface {
	// Hold stores a held message durably (encrypted) before it returns
	// and tells the sender and the approvers; it returns the hold ID.
	Hold(ctx context.Context, env *spool.Envelope, content io.Reader, v *policy.Verdict) (string, error)
	// DelayNotice audits a delayed message and sends its sender the links.
	DelayNotice(ctx context.Context, env *spool.Envelope, due time.Time, v *policy.Verdict)
	// AuditRejected records a 550 by the policy.
	AuditRejected(ctx context.Context, env *spool.Envelope, v *policy.Verdict)
}

// Queue is the delivery queue (queue.Queue).
type Queue interface {
	Notify(id string)                  // committed, deliver now
	NotifyAt(id string, due time.Time) // committed, deliver at due
}

// Config are the Disposer's collaborators.
type Config struct {
	// Policy returns the policy in force; a message is decided and
	// applied under one engine even when a reload comes in between.
	Policy func() *policy.Engine
	// Spool is the relay's spool (bcc copies and legacy holds).
	Spool *spool.Store
	// Queue is told of what is committed to the queue; nil: it finds
	// them when it scans.
	Queue Queue
	// Review holds messages and tells senders; nil: every hold fails
	// (451, nothing kept) and delays go out without a notice.
	Review Review
	// Metrics counts verdicts and rules; nil: none.
	Metrics *policy.Metrics
	Logger  *slog.Logger
	// InspectTimeout bounds the inspection of a legacy hold at start
	// (ImportLegacyHolds); the relay's budget comes with Dispose's ctx.
	InspectTimeout time.Duration
	Now            func() time.Time
	// OCR reads images and scanned PDF pages (the server's inspect.ocr);
	// nil: they are not read, and the policy decides on them unread.
	OCR inspect.OCR
	// Concurrency is how many messages are inspected at once (the
	// server's inspect.concurrency); 0: runtime.GOMAXPROCS. Inspection is
	// CPU work, so more at once only adds memory: each holds its
	// extraction buffers (archives, Office XML, PDF streams) until done.
	Concurrency int
}

// Disposer decides and applies; it is the relay's smtpproxy.Disposer.
type Disposer struct {
	cfg Config
	log *slog.Logger
	// slots has one token per inspection that may run (Concurrency).
	slots chan struct{}
}

var _ smtpproxy.Disposer = (*Disposer)(nil)

// New returns a Disposer.
func New(cfg Config) (*Disposer, error) {
	if cfg.Policy == nil || cfg.Spool == nil {
		return nil, errors.New("dispose: a policy and a spool are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.InspectTimeout <= 0 {
		cfg.InspectTimeout = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = runtime.GOMAXPROCS(0)
	}
	return &Disposer{cfg: cfg, log: cfg.Logger, slots: make(chan struct{}, cfg.Concurrency)}, nil
}

// Dispose evaluates the spooled message msg and applies the verdict (see
// the package comment). ctx's deadline is the inspection budget; applying
// gets as long again, so that a message inspected too slowly can still be
// held.
func (d *Disposer) Dispose(ctx context.Context, env *spool.Envelope, msg *spool.Writer) (smtpproxy.Reply, error) {
	start := d.cfg.Now()
	log := d.log.With("id", env.ID)
	v, err := d.evaluate(ctx, env, msg.File())
	if errors.Is(err, errNoSlot) {
		// Not inspected at all, so not held either: the client gets 451
		// and retries; nothing is kept, nothing passes uninspected (3.3.5).
		return smtpproxy.Reply{}, fmt.Errorf("dispose %s: %w", env.ID, err)
	}
	if err != nil {
		log.Error("inspection failed; holding the message", "err", err)
		v = InspectErrorVerdict("inspect-error")
	} else if d.cfg.Metrics != nil {
		d.cfg.Metrics.Observe(v)
	}
	budget := d.cfg.InspectTimeout
	if dl, ok := ctx.Deadline(); ok {
		budget = dl.Sub(start)
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(budget, time.Second))
	defer cancel()
	return d.Apply(actx, env, msg, Of(v))
}

// errNoSlot: every inspection slot (Config.Concurrency) stayed taken until
// the inspection budget ran out.
var errNoSlot = errors.New("no inspection slot free within the inspection budget (inspect.concurrency)")

// evaluate runs the policy in force on the message, recovering a panic and
// giving up at ctx's deadline: an error is held (fail closed), except
// errNoSlot. It waits for an inspection slot first; the slot is given back
// when the inspection itself ends, not when evaluate gives up on it, so
// that inspections past their deadline still count against the memory
// bound.
func (d *Disposer) evaluate(ctx context.Context, env *spool.Envelope, f *os.File) (*policy.Verdict, error) {
	select {
	case d.slots <- struct{}{}: // a free slot first, whatever the deadline
	default:
		select {
		case d.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (%d at once): %w", errNoSlot, d.cfg.Concurrency, ctx.Err())
		}
	}
	taken := true
	defer func() {
		if taken {
			<-d.slots
		}
	}()
	eng := d.cfg.Policy()
	if eng == nil {
		return nil, errors.New("no policy in force")
	}
	rcpts := make([]string, len(env.Recipients))
	for i, r := range env.Recipients {
		rcpts[i] = r.Address
	}
	type result struct {
		v   *policy.Verdict
		err error
	}
	ch := make(chan result, 1)
	taken = false // the goroutine gives it back
	go func() {
		defer func() { <-d.slots }()
		defer func() {
			if p := recover(); p != nil {
				ch <- result{err: fmt.Errorf("inspection panic: %v", p)}
			}
		}()
		v, err := eng.Evaluate(ctx, io.NewSectionReader(f, 0, env.Size), policy.Input{
			Sender: env.From, Recipients: rcpts, Size: env.Size, Now: env.Received, OCR: d.cfg.OCR,
		})
		if err == nil && v == nil {
			err = errors.New("no verdict")
		}
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		if r.err == nil && ctx.Err() != nil {
			// Decided, but after the budget: the client may have gone.
			return nil, fmt.Errorf("inspection: %w", ctx.Err())
		}
		return r.v, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("inspection: %w", ctx.Err())
	}
}

// Apply carries out a disposition on the spooled message msg (env is its
// envelope) and returns the reply. Only what Apply commits is kept: the
// caller aborts msg afterwards. An error means nothing was kept.
func (d *Disposer) Apply(ctx context.Context, env *spool.Envelope, msg *spool.Writer, disp Disposition) (smtpproxy.Reply, error) {
	v := disp.Verdict
	log := d.log.With("id", env.ID)
	switch disp.Action {
	case policy.Reject:
		// 3.3.5: refused in the session; nothing of it is kept, so the
		// audit entry is its only trace.
		if d.cfg.Review != nil {
			d.cfg.Review.AuditRejected(ctx, env, v)
		}
		return reply(550, [3]int{5, 7, 1}, v.SMTPReply()+" ("+env.ID+")", smtpproxy.Rejected, disp), nil

	case policy.Hold:
		// 3.3.5, 3.3.4: held mail lives only in the hold store, encrypted.
		// When it cannot take the message the client keeps it and retries
		// (451): nothing is kept in clear.
		if d.cfg.Review == nil {
			return smtpproxy.Reply{}, errors.New("dispose: no hold store")
		}
		kid, err := d.cfg.Review.Hold(ctx, env, io.NewSectionReader(msg.File(), 0, env.Size), v)
		if err != nil {
			return smtpproxy.Reply{}, fmt.Errorf("dispose hold %s: %w", env.ID, err)
		}
		if kid == "" {
			kid = env.ID
		}
		log.Info("held", "hold_id", kid, "rules", disp.Rules)
		return reply(250, [3]int{2, 0, 0}, ruleReply("Held for review", v)+": held as "+kid, smtpproxy.Held, disp), nil

	case policy.Delay:
		// 3.3.5 (mis-sending): the message waits in the delivery queue,
		// due later; the sender may cancel it or send it at once.
		due := d.cfg.Now().Add(disp.Delay)
		denv := *env
		denv.NextAttempt = due
		if err := msg.Commit(&denv, spool.AreaQueue); err != nil {
			return smtpproxy.Reply{}, fmt.Errorf("dispose delay %s: %w", env.ID, err)
		}
		if d.cfg.Queue != nil {
			d.cfg.Queue.NotifyAt(denv.ID, due)
		}
		if d.cfg.Review != nil {
			d.cfg.Review.DelayNotice(ctx, &denv, due, v)
		}
		log.Info("delayed", "due", due, "rules", disp.Rules)
		return reply(250, [3]int{2, 0, 0}, ruleReply(fmt.Sprintf("Kept %d minutes against mis-sending", int(disp.Delay/time.Minute)), v)+
			": delayed as "+denv.ID, smtpproxy.Queued, disp), nil

	case policy.Bcc:
		// 3.3.5 (mis-sending): the recipients stay, but they no longer see
		// each other. The rewritten copy replaces the received one; if it
		// cannot be made, the client retries (451): the message never
		// leaves with every recipient visible.
		bw, err := d.cfg.Spool.Create()
		if err != nil {
			return smtpproxy.Reply{}, fmt.Errorf("dispose bcc %s: %w", env.ID, err)
		}
		if err := rewriteHidden(bw, io.NewSectionReader(msg.File(), 0, env.Size), disp.Hide); err != nil {
			bw.Abort()
			return smtpproxy.Reply{}, fmt.Errorf("dispose bcc %s: %w", env.ID, err)
		}
		benv := *env
		benv.ID, benv.Size = bw.ID(), 0
		if err := bw.Commit(&benv, spool.AreaQueue); err != nil {
			return smtpproxy.Reply{}, fmt.Errorf("dispose bcc %s: %w", env.ID, err)
		}
		if d.cfg.Queue != nil {
			d.cfg.Queue.Notify(benv.ID)
		}
		log.Info("queued with recipients hidden", "hidden", len(disp.Hide), "queue_id", benv.ID)
		return reply(250, [3]int{2, 0, 0}, "Ok: recipients hidden, queued as "+benv.ID, smtpproxy.Queued, disp), nil

	default: // pass
		if err := msg.Commit(env, spool.AreaQueue); err != nil {
			return smtpproxy.Reply{}, fmt.Errorf("dispose queue %s: %w", env.ID, err)
		}
		if d.cfg.Queue != nil {
			d.cfg.Queue.Notify(env.ID)
		}
		return reply(250, [3]int{2, 0, 0}, "Ok: queued as "+env.ID, smtpproxy.Queued, disp), nil
	}
}

func reply(code int, enh [3]int, text string, o smtpproxy.Outcome, disp Disposition) smtpproxy.Reply {
	return smtpproxy.Reply{Code: code, Enhanced: enh, Text: text, Outcome: o, Rules: disp.Rules}
}

// ruleReply is the ASCII text naming the rules and clauses of the verdict's
// action, e.g. "Held for review (rule x, clause 3.3.5)".
func ruleReply(lead string, v *policy.Verdict) string {
	var parts []string
	for _, h := range v.Rules {
		if h.Action == v.Action {
			parts = append(parts, "rule "+h.ID+", clause "+h.Clause)
		}
	}
	if len(parts) == 0 {
		return lead
	}
	return lead + " (" + strings.Join(parts, "; ") + ")"
}

// InspectErrorVerdict is the verdict of a message held uninspected (an
// inspection error, a timeout, a panic; 3.3.5 fail closed): class I with
// encryption required on release, the strictest the policy knows, under
// the rule id, so that staff see why.
func InspectErrorVerdict(id string) *policy.Verdict {
	return &policy.Verdict{
		Action:            policy.Hold,
		Level:             classify.LevelI,
		RequireEncryption: true,
		Rules: []policy.RuleHit{{
			ID: id, Action: policy.Hold, RuleAction: policy.Hold, Clause: "3.3.5",
			Reason:   "検査できなかったため、管理者の確認まで保留しました（フェイルクローズ）。",
			ReasonEN: "The message could not be inspected; it is held for review (fail closed).",
		}},
	}
}
