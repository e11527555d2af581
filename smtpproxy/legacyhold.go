package smtpproxy

import (
	"context"
	"errors"
	"fmt"
	"io"

	"dlpguard/smtpproxy/spool"
)

// ImportLegacyHolds hands the messages that older versions kept in clear
// in the spool's hold area (spool/hold/, when their hold store could not
// take a message or a bcc rewrite failed) to the Keeper, the encrypted
// hold store that staff list and act on (3.3.4, 3.3.5). Each is inspected
// again as the relay would, then kept as held whatever the verdict: its
// sender was told "held", so only staff may release or reject it. A message
// the Keeper took is removed from the spool; one it could not take stays
// where it is, named in the returned error, never silently lost. Call it at
// start, before serving. in inspects them (nil: the server's Inspector).
func (s *Server) ImportLegacyHolds(ctx context.Context, in Inspector) (imported int, err error) {
	if in == nil {
		if box := s.inspector.Load(); box != nil {
			in = box.Inspector
		}
	}
	ids, err := s.store.List(spool.AreaHold)
	if err != nil {
		return 0, fmt.Errorf("legacy holds: %w", err)
	}
	var errs []error
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return imported, errors.Join(append(errs, err)...)
		}
		if err := s.importLegacyHold(id, in); err != nil {
			s.log.Error("legacy plaintext hold NOT imported; it stays in spool/hold until this is fixed", "id", id, "err", err)
			errs = append(errs, fmt.Errorf("legacy hold %s: %w", id, err))
			continue
		}
		imported++
	}
	return imported, errors.Join(errs...)
}

func (s *Server) importLegacyHold(id string, in Inspector) error {
	if s.keeper == nil {
		return errors.New("no hold store (Keeper)")
	}
	env, err := s.store.Envelope(spool.AreaHold, id)
	if err != nil {
		return err
	}
	content, err := s.store.Open(spool.AreaHold, id)
	if err != nil {
		return err
	}
	defer content.Close()
	// A spool temp file gives the inspector the *os.File it reads, exactly
	// as in a session; it is never committed.
	w, err := s.store.Create()
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := io.Copy(w, io.NewSectionReader(content, 0, content.Size())); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	env.Size = w.Size()
	log := s.log.With("id", id)
	timeout := s.config().InspectTimeout
	d := s.inspect(log, in, env, w.File(), timeout)
	inspected := d.Action
	d.Action = ActionHold
	kid, err := s.keep(d, env, w, timeout)
	if err != nil {
		return fmt.Errorf("keeper: %w", err)
	}
	if err := s.store.Remove(spool.AreaHold, id); err != nil {
		// The hold store has it; a copy in clear is left behind.
		return fmt.Errorf("imported as %s, but the plaintext copy could not be removed: %w", kid, err)
	}
	s.metrics.Held.Inc()
	log.Warn("legacy plaintext hold imported into the hold store and removed from the spool", "keeper_id", kid,
		"inspected_action", inspected, "rules", d.Rules)
	return nil
}
