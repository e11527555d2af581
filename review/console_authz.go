package review

import (
	"context"
	"errors"
)

// ConsoleCanView reports whether a may look at the held message id in the
// web console: the same rule as GET /api/v1/holds/{id} (the department's
// approvers and admins; the sender may look at their own message but
// ConsoleCanAct refuses them). The error is a *Error (404 for an unknown
// ID, 403 for another department).
func (s *Service) ConsoleCanView(ctx context.Context, a Actor, id string) error {
	rec, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	if err := s.authorize(ctx, a, rec); err != nil && !errors.Is(err, errSelf) {
		return err
	}
	return nil
}

// ConsoleCanAct reports whether a may release, reject or mark the held
// message id: exactly the check Release, Reject and MarkFalsePositive make
// (they check again), so the console shows only the buttons that work.
func (s *Service) ConsoleCanAct(ctx context.Context, a Actor, id string) error {
	rec, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	return s.authorize(ctx, a, rec)
}

// ConsoleView is what the API shows of a held message (approvers, whether
// release encrypts, parts), for the console's detail page.
func (s *Service) ConsoleView(ctx context.Context, id string) (HoldView, error) {
	rec, err := s.get(ctx, id)
	if err != nil {
		return HoldView{}, err
	}
	return s.view(ctx, rec), nil
}
