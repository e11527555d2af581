package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"

	"dlpguard/audit"
	"dlpguard/classify"
	"dlpguard/policy"
	"dlpguard/smtpproxy"
	"dlpguard/smtpproxy/spool"
)

// authAuditor writes the SMTP front end's AUTH failures and blocks to the
// hash-chained audit log (issue 17), so that a guessing attack is on
// record for the security office, not only in the process log.
type authAuditor struct{ log *audit.Log }

func (a authAuditor) RecordAuth(ctx context.Context, ev smtpproxy.AuthEvent) error {
	_, err := a.log.Append(ctx, "smtp", ev.Kind, ev.Client, ev)
	return err
}

// failClosedKeeper gives the hold store a verdict for a message held
// without one: the relay holds what it could not inspect (an inspection
// error, a timeout, a panic; 3.3.5 fail closed), and the hold store takes
// nothing without a verdict. Such a message is held as class I with
// encryption required on release, the strictest the policy knows, under
// the rule "inspect-error", so staff see why. Without this the relay would
// answer 451 and the message could never be sent at all.
type failClosedKeeper struct{ next smtpproxy.Keeper }

func (k failClosedKeeper) Keep(ctx context.Context, action string, env *spool.Envelope, content io.Reader, d smtpproxy.Decision) (string, error) {
	if v, ok := d.Detail.(*policy.Verdict); !ok || v == nil {
		d.Detail = inspectErrorVerdict(d)
	}
	return k.next.Keep(ctx, action, env, content, d)
}

// inspectErrorVerdict is the verdict of a message held uninspected.
func inspectErrorVerdict(d smtpproxy.Decision) *policy.Verdict {
	id := "inspect-error"
	if len(d.Rules) > 0 && d.Rules[0] != "" {
		id = d.Rules[0]
	}
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

// legacyHolds remembers the plaintext holds of older versions that could
// not be imported at start, for /healthz.
type legacyHolds struct{ err atomic.Pointer[error] }

func (l *legacyHolds) set(err error) {
	if err != nil {
		l.err.Store(&err)
	}
}

// status is the /healthz line while legacy holds are left in clear.
func (l *legacyHolds) status() string {
	if p := l.err.Load(); p != nil {
		return fmt.Sprintf("legacy plaintext holds in spool/hold NOT imported (see the log; they stay until imported): %v", *p)
	}
	return ""
}

// legacyInspector inspects a plaintext hold left by an older version
// before it goes into the hold store. Its sender was told "held", so it is
// held whatever the policy says now (3.3.5: staff release or reject it);
// the verdict says so, and names what the policy in force would do.
type legacyInspector struct{ next smtpproxy.Inspector }

func (l legacyInspector) Inspect(ctx context.Context, env *spool.Envelope, content *os.File) (smtpproxy.Decision, error) {
	d, err := l.next.Inspect(ctx, env, content)
	if err != nil {
		return d, err // held fail-closed (failClosedKeeper)
	}
	if v, ok := d.Detail.(*policy.Verdict); ok && v != nil && v.Action != policy.Hold {
		held := *v
		held.Action = policy.Hold
		held.Rules = append(slices.Clone(v.Rules), policy.RuleHit{
			ID: "legacy-plaintext-hold", Action: policy.Hold, RuleAction: policy.Hold, Clause: "3.3.5",
			Reason:   fmt.Sprintf("旧版が保留したメッセージを取り込みました（現在の方針による判定: %s）。", v.Action),
			ReasonEN: fmt.Sprintf("Held by an earlier version and imported; the policy in force would now %s it.", v.Action),
		})
		d.Detail = &held
	}
	d.Action = smtpproxy.ActionHold
	return d, nil
}
