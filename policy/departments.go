package policy

// Department is one department of the policy in force: its name and who may
// give the 3.3.5 permission for its staff's mail (the 情報セキュリティ管理責任者
// first, then the deputies).
type Department struct {
	Name      string
	Approvers []string
}

// Departments returns the policy's departments in file order. The review
// service checks approvals against them at the time of the action, so a
// reload that removes an approver removes the right (3.3.5).
func (e *Engine) Departments() []Department {
	out := make([]Department, 0, len(e.departments))
	for _, d := range e.departments {
		out = append(out, Department{Name: d.name, Approvers: append([]string(nil), d.approvers...)})
	}
	return out
}

// Department returns the department named name, if the policy names it.
func (e *Engine) Department(name string) (Department, bool) {
	for _, d := range e.departments {
		if d.name == name {
			return Department{Name: d.name, Approvers: append([]string(nil), d.approvers...)}, true
		}
	}
	return Department{}, false
}

// DepartmentOf returns the department whose sender patterns match sender
// (the first in file order, as Decide does): the fallback when the
// city's directory does not say (review.ResolveSender).
func (e *Engine) DepartmentOf(sender string) (Department, bool) {
	for _, d := range e.departments {
		if anyAddr(d.senders, normAddr(sender)) {
			return Department{Name: d.name, Approvers: append([]string(nil), d.approvers...)}, true
		}
	}
	return Department{}, false
}
