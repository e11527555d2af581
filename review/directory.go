package review

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"dlpguard/directory"
	"dlpguard/hold"
	"dlpguard/policy"
)

// Directory says who is who from the city's directory
// (*directory.Client): a sender's department and approvers. It is asked at
// hold time (who is told) and again at the time of each action (who may
// decide, 3.3.5), through its cache.
type Directory interface {
	Resolve(ctx context.Context, addr string) (directory.Resolution, error)
}

// Where a department and its approvers came from.
const (
	SourceDirectory = "directory"   // the directory, asked now
	SourceCache     = "cache"       // the directory's answer within its TTL
	SourceStale     = "stale"       // an older answer: the directory is unreachable
	SourcePattern   = "pattern"     // the policy's sender patterns
	SourceNone      = "none"        // nobody: the security team decides
	SourceDown      = "unavailable" // the directory is unreachable past its cache: the security team decides
)

// WhoIs is what the relay uses for a sender: the department, its
// manager, who approves, and where that came from.
type WhoIs struct {
	Address     string   `json:"address"`
	Department  string   `json:"department"`
	DisplayName string   `json:"display_name,omitempty"`
	Manager     string   `json:"manager,omitempty"`
	Approvers   []string `json:"approvers"`
	Source      string   `json:"source"`
	// DirectoryError is why the directory gave no answer ("" when it
	// did, or none is configured).
	DirectoryError string `json:"directory_error,omitempty"`
}

// Resolved reports whether the sender has a department with someone to
// approve for it.
func (w WhoIs) Resolved() bool { return w.Department != "" && len(w.Approvers) > 0 }

// ResolveSender decides who is who for sender: the directory first (its
// department, the sender's manager and the approver group's members of
// that department, plus the approvers the policy names for a department
// of the same name), then the policy's sender patterns (the fallback, and
// for tests). When the directory is unreachable past its cache the
// patterns still apply; a sender they do not name has no department, so
// the security team decides (3.3.5: never passed, never approved on a
// guess). dir and pol may be nil.
func ResolveSender(ctx context.Context, dir Directory, pol *policy.Engine, sender string) WhoIs {
	w := WhoIs{Address: sender, Source: SourceNone}
	if dir != nil {
		r, err := dir.Resolve(ctx, sender)
		if err == nil && r.Department != "" {
			w.Department, w.DisplayName, w.Manager = r.Department, r.Sender.DisplayName, r.Manager
			w.Approvers = append([]string(nil), r.Approvers...)
			w.Source = string(r.Source)
			if pol != nil {
				if d, ok := pol.Department(r.Department); ok {
					w.Approvers = union(w.Approvers, withoutAddr(d.Approvers, sender))
				}
			}
			return w
		}
		switch {
		case err == nil:
			w.DirectoryError = "no department in the directory"
		case errors.Is(err, directory.ErrUnavailable):
			w.DirectoryError = err.Error()
			w.Source = SourceDown
		default:
			w.DirectoryError = err.Error()
		}
	}
	if pol != nil {
		if d, ok := pol.DepartmentOf(sender); ok {
			w.Department, w.Approvers, w.Source = d.Name, d.Approvers, SourcePattern
		}
	}
	return w
}

var errDirectoryDown = errf(http.StatusServiceUnavailable, "directory_unavailable",
	"ディレクトリ（AD/LDAP）に接続できないため、承認者を確認できません。情報セキュリティ担当（review.security_team）が処理するか、復旧後に再度お試しください（対策基準 3.3.5）。",
	"the directory (AD/LDAP) cannot be reached, so the approvers cannot be checked; the security team may decide, or try again when it is back (standard 3.3.5)", nil)

// directoryDown reports whether the directory could not say who approves
// for rec's sender (unreachable past its cache).
func (s *Service) directoryDown(ctx context.Context, rec hold.Record) bool {
	if s.dir == nil || rec.Department == "" {
		return false
	}
	_, err := s.dir.Resolve(ctx, rec.Envelope.From)
	return errors.Is(err, directory.ErrUnavailable)
}

// approversNow is who may decide for rec at the time of the action, by
// the directory (when configured) and the policy in force; ok is false
// when neither names the department's approvers, and the security team
// decides.
func (s *Service) approversNow(ctx context.Context, rec hold.Record) ([]string, bool) {
	var pol *policy.Engine
	if s.policy != nil {
		pol = s.policy()
	}
	if s.dir != nil {
		w := ResolveSender(ctx, s.dir, pol, rec.Envelope.From)
		// The directory's answer counts for the department the message
		// was held under; a sender who has moved since is decided by the
		// policy's naming of that department, or the security team.
		if w.Department == rec.Department && w.Source != SourcePattern && len(w.Approvers) > 0 {
			return w.Approvers, true
		}
	}
	if pol != nil {
		if d, ok := pol.Department(rec.Department); ok {
			return d.Approvers, true
		}
	}
	return nil, false
}

func union(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, x := range b {
		if !slices.ContainsFunc(out, func(y string) bool { return strings.EqualFold(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}

// withoutAddr drops addr from list: nobody approves their own message.
func withoutAddr(list []string, addr string) []string {
	return slices.DeleteFunc(append([]string(nil), list...), func(x string) bool { return sameAddr(x, addr) })
}

// holdDepartment sets rec's department and the approvers told of it from
// the directory, at hold time (3.3.5). Without a directory answer the
// policy's verdict (its sender patterns) stays; with no department at all
// the security team is told (noticeApprovers). It returns the source, for
// the audit entry.
func (s *Service) holdDepartment(ctx context.Context, rec *hold.Record) string {
	if s.dir == nil {
		if rec.Department != "" {
			return SourcePattern
		}
		return SourceNone
	}
	var pol *policy.Engine
	if s.policy != nil {
		pol = s.policy()
	}
	w := ResolveSender(ctx, s.dir, pol, rec.Envelope.From)
	switch w.Source {
	case SourceDirectory, SourceCache, SourceStale:
		rec.Department = w.Department
		rec.Handling.Approvers = w.Approvers
	default:
		if w.DirectoryError != "" {
			s.logger(rec.ID).Warn("review: no department from the directory", "from", rec.Envelope.From,
				"err", w.DirectoryError, "department", rec.Department)
		}
		if rec.Department == "" {
			return w.Source
		}
		return SourcePattern
	}
	return w.Source
}
