package main

import (
	"context"
	"io"
	"os"
	"strings"

	"dlpguard/inspect"
	"dlpguard/inspect/ocr"
	"dlpguard/policy"
	"dlpguard/smtpproxy"
	"dlpguard/smtpproxy/spool"
)

// policyInspector is the relay's inspection hook: the policy engine in
// force decides on the spooled message before the reply to DATA (3.3.5).
// A session takes the engine once and finishes under it, so a policy
// reload never changes a decision half-way.
type policyInspector struct {
	holder  *policy.Holder
	metrics *policy.Metrics
	ocr     inspect.OCR // nil: images and scanned pages are not read
}

func (p *policyInspector) Inspect(ctx context.Context, env *spool.Envelope, content *os.File) (smtpproxy.Decision, error) {
	eng := p.holder.Engine()
	rcpts := make([]string, len(env.Recipients))
	for i, r := range env.Recipients {
		rcpts[i] = r.Address
	}
	v, err := eng.Evaluate(ctx, io.NewSectionReader(content, 0, env.Size), policy.Input{
		Sender:     env.From,
		Recipients: rcpts,
		Size:       env.Size,
		Now:        env.Received,
		OCR:        p.ocr,
	})
	if err != nil {
		return smtpproxy.Decision{}, err // the relay holds the message (fail closed)
	}
	p.metrics.Observe(v)
	// Detail carries the verdict to the Keeper (the review service).
	d := smtpproxy.Decision{Action: string(v.Action), Detail: v}
	for _, h := range v.Rules {
		d.Rules = append(d.Rules, h.ID)
	}
	switch v.Action {
	case policy.Reject:
		d.Reply = v.SMTPReply()
	case policy.Bcc:
		d.Hide = v.Hide
	case policy.Hold, policy.Delay:
		// Delay goes to the Keeper when one is wired (else it is held).
		// The reply names the rules and clauses, as for a reject.
		d.Reply = holdReply(v)
	}
	return d, nil
}

// holdReply is the ASCII text before ": held as ID".
func holdReply(v *policy.Verdict) string {
	var parts []string
	for _, h := range v.Rules {
		if h.Action == v.Action {
			parts = append(parts, "rule "+h.ID+", clause "+h.Clause)
		}
	}
	if len(parts) == 0 {
		return "Held for review"
	}
	return "Held for review (" + strings.Join(parts, "; ") + ")"
}

// ocrInput keeps a nil engine a nil interface (OCR off), not a typed nil.
func ocrInput(e *ocr.Engine) inspect.OCR {
	if e == nil {
		return nil
	}
	return e
}
