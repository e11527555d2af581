package review

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"dlpguard/hold"
)

// Op is what an actor wants to do with a held message.
type Op int

const (
	// OpView is listing and showing (the API's GET, the console's list
	// and detail pages).
	OpView Op = iota
	// OpDecide is approving, releasing, rejecting and marking a false
	// positive: the 3.3.5 permission itself.
	OpDecide
)

var errNotApprover = errf(http.StatusForbidden, "not_approver",
	"このメッセージの所属の情報セキュリティ管理責任者・代理者ではないため、承認・処理できません（対策基準 3.3.5）。",
	"only the department's information-security manager or a deputy may decide on this message (standard 3.3.5)", nil)

// Authorize is the one permission rule for held messages, used by the API,
// the console and the CLI (through the API):
//
//   - nobody decides on their own message (3.3.5: the permission is
//     someone else's); the sender may look at it;
//   - deciding needs the sender's department's manager or a deputy in the
//     policy in force at the time of the action (3.3.5), or, for a sender
//     of no department (or of a department the policy no longer names),
//     a member of review.security_team; administrators decide only when
//     review.admins_approve is set. A token or account assigned to the
//     department is not enough: the policy names who approves;
//   - viewing needs the right to decide, or the department assigned to
//     the token or account, or the administrator role.
//
// The error is a *Error: 403 self_approval, not_approver or
// wrong_department.
func (s *Service) Authorize(ctx context.Context, a Actor, rec hold.Record, op Op) error {
	own := sameAddr(a.Address, rec.Envelope.From) || (rec.Envelope.AuthUser != "" && sameAddr(a.Address, rec.Envelope.AuthUser))
	if op == OpView {
		if own || a.Role == RoleAdmin || slices.Contains(a.Departments, rec.Department) && rec.Department != "" || s.isApprover(ctx, a, rec) {
			return nil
		}
		return errDept
	}
	if own {
		return errSelf
	}
	if s.isApprover(ctx, a, rec) || a.Role == RoleAdmin && s.cfg.AdminsApprove {
		return nil
	}
	if s.directoryDown(ctx, rec) {
		// 3.3.5, fail closed: who approves is unknown, so nobody the
		// directory names does; say why instead of "not an approver".
		return errDirectoryDown
	}
	if a.Role == RoleAdmin || rec.Department != "" && slices.Contains(a.Departments, rec.Department) {
		return errNotApprover
	}
	return errDept
}

// isApprover: a is named an approver of rec, now, by the directory or the
// policy in force.
func (s *Service) isApprover(ctx context.Context, a Actor, rec hold.Record) bool {
	if a.Role != RoleApprover && a.Role != RoleAdmin {
		return false
	}
	for _, ap := range s.currentApprovers(ctx, rec) {
		if sameAddr(ap, a.Address) {
			return true
		}
	}
	return false
}

// currentApprovers is who may give the 3.3.5 permission for rec now: the
// sender's manager and the approver group's members of the department in
// the city's directory (through its cache; never past it), and the
// manager and deputies of the department in the policy in force; or the
// security team when neither names the department's approvers (someone
// must be able to decide, and nobody decides on a guess).
func (s *Service) currentApprovers(ctx context.Context, rec hold.Record) []string {
	if rec.Department != "" {
		if ap, ok := s.approversNow(ctx, rec); ok {
			return ap
		}
	}
	return s.cfg.SecurityTeam
}

// Scope is which held messages an actor may list: all of them, or those
// of Departments (the departments assigned to them and those whose
// approver the policy in force names them), and the security team's
// share (messages of no department) when NoDepartment is set.
type Scope struct {
	All          bool
	Departments  []string
	NoDepartment bool
}

// ListScope is the list part of Authorize: the API and the console filter
// their lists with it.
func (s *Service) ListScope(a Actor) Scope {
	if a.Role == RoleAdmin {
		return Scope{All: true}
	}
	var sc Scope
	if a.Role != RoleApprover {
		return sc
	}
	add := func(d string) {
		if d != "" && !slices.Contains(sc.Departments, d) {
			sc.Departments = append(sc.Departments, d)
		}
	}
	for _, d := range a.Departments {
		add(d)
	}
	if s.policy != nil {
		if e := s.policy(); e != nil {
			for _, d := range e.Departments() {
				if slices.ContainsFunc(d.Approvers, func(ap string) bool { return sameAddr(ap, a.Address) }) {
					add(d.Name)
				}
			}
		}
	}
	sc.NoDepartment = slices.ContainsFunc(s.cfg.SecurityTeam, func(ap string) bool { return sameAddr(ap, a.Address) })
	return sc
}

// Filter narrows f to the scope; requested is a department asked for
// ("" for any). ok is false when the department asked for is outside the
// scope (403).
func (sc Scope) Filter(f hold.Filter, requested string) (hold.Filter, bool) {
	if sc.All {
		if requested != "" {
			f.Departments = []string{requested}
		}
		return f, true
	}
	allowed := append([]string(nil), sc.Departments...)
	if sc.NoDepartment {
		allowed = append(allowed, "")
	}
	if requested != "" {
		if !slices.Contains(allowed, requested) {
			return f, false
		}
		allowed = []string{requested}
	}
	if len(allowed) == 0 {
		// Nothing to see: a department no message can have.
		allowed = []string{"\x00none"}
	}
	f.Departments = allowed
	return f, true
}

// Can is Authorize for the held message id (404 for an unknown one): the
// console asks it which buttons to show, and every action checks again.
func (s *Service) Can(ctx context.Context, a Actor, id string, op Op) error {
	rec, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	return s.Authorize(ctx, a, rec, op)
}

// ConsoleView is what the API shows of a held message (approvers, whether
// release encrypts, parts, times for people), for the console's detail
// page.
func (s *Service) ConsoleView(ctx context.Context, id string) (HoldView, error) {
	rec, err := s.get(ctx, id)
	if err != nil {
		return HoldView{}, err
	}
	return s.view(ctx, rec), nil
}

// reasonCode is the audit log's reason code of a refusal.
func reasonCode(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		return "error"
	}
	switch e.Code {
	case "not_held", "purged", "already_approved":
		return "state"
	case "invalid_token", "unauthorized":
		return "bad_token"
	}
	return e.Code
}
