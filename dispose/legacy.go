package dispose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"dlpguard/policy"
	"dlpguard/spool"
)

// ImportLegacyHolds hands the messages that older versions kept in clear
// in the spool's hold area (spool/hold/, when their hold store could not
// take a message or a bcc rewrite failed) to the encrypted hold store that
// staff list and act on (3.3.4, 3.3.5). Each is inspected again as the
// relay would, then held whatever the verdict: its sender was told
// "held", so only staff may release or reject it (LegacyVerdict says what
// the policy in force would do). A message the hold store took is removed
// from the spool; one it could not take stays where it is, named in the
// returned error, never silently lost. Call it at start, before serving.
func (d *Disposer) ImportLegacyHolds(ctx context.Context) (imported int, err error) {
	ids, err := d.cfg.Spool.List(spool.AreaHold)
	if err != nil {
		return 0, fmt.Errorf("legacy holds: %w", err)
	}
	var errs []error
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return imported, errors.Join(append(errs, err)...)
		}
		if err := d.importLegacyHold(ctx, id); err != nil {
			d.log.Error("legacy plaintext hold NOT imported; it stays in spool/hold until this is fixed", "id", id, "err", err)
			errs = append(errs, fmt.Errorf("legacy hold %s: %w", id, err))
			continue
		}
		imported++
	}
	return imported, errors.Join(errs...)
}

func (d *Disposer) importLegacyHold(ctx context.Context, id string) error {
	if d.cfg.Review == nil {
		return errors.New("no hold store")
	}
	st := d.cfg.Spool
	env, err := st.Envelope(spool.AreaHold, id)
	if err != nil {
		return err
	}
	content, err := st.Open(spool.AreaHold, id)
	if err != nil {
		return err
	}
	defer content.Close()
	// A spool temp file gives the inspection the *os.File it reads, exactly
	// as in a session; it is never committed.
	w, err := st.Create()
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := io.Copy(w, io.NewSectionReader(content, 0, content.Size())); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	env.Size = w.Size()
	ictx, cancel := context.WithTimeout(ctx, d.cfg.InspectTimeout)
	v, err := d.evaluate(ictx, env, w.File())
	cancel()
	if err != nil {
		d.log.Error("legacy hold: inspection failed; held as such", "id", id, "err", err)
		v = InspectErrorVerdict("inspect-error")
	}
	held := LegacyVerdict(v)
	hctx, cancel := context.WithTimeout(ctx, d.cfg.InspectTimeout)
	defer cancel()
	kid, err := d.cfg.Review.Hold(hctx, env, io.NewSectionReader(w.File(), 0, env.Size), held)
	if err != nil {
		return fmt.Errorf("hold store: %w", err)
	}
	if err := st.Remove(spool.AreaHold, id); err != nil {
		// The hold store has it; a copy in clear is left behind.
		return fmt.Errorf("imported as %s, but the plaintext copy could not be removed: %w", kid, err)
	}
	d.log.Warn("legacy plaintext hold imported into the hold store and removed from the spool", "id", id, "hold_id", kid,
		"inspected_action", v.Action, "rules", Of(held).Rules)
	return nil
}

// LegacyVerdict is the verdict of a plaintext hold of an older version
// imported at start: held whatever the policy in force says now (its
// sender was told "held"; 3.3.5: staff release or reject it), with a rule
// legacy-plaintext-hold that names what the policy would now do.
func LegacyVerdict(v *policy.Verdict) *policy.Verdict {
	if v.Action == policy.Hold {
		return v
	}
	held := *v
	held.Action = policy.Hold
	held.Rules = append(slices.Clone(v.Rules), policy.RuleHit{
		ID: "legacy-plaintext-hold", Action: policy.Hold, RuleAction: policy.Hold, Clause: "3.3.5",
		Reason:   fmt.Sprintf("旧版が保留したメッセージを取り込みました（現在の方針による判定: %s）。", v.Action),
		ReasonEN: fmt.Sprintf("Held by an earlier version and imported; the policy in force would now %s it.", v.Action),
	})
	return &held
}
