package policy

import "time"

// ExceptionCovers reports whether the exception (8.4) named id is in this
// policy, has not expired at now, and covers sender and every recipient:
// what a release of class I/II content without encryption must name
// (3.3.5, 8.4). The release names it in its audit entry.
func (e *Engine) ExceptionCovers(id, sender string, recipients []string, now time.Time) bool {
	for _, x := range e.exceptions {
		if x.id != id || !now.Before(x.expires) {
			continue
		}
		f := facts{sender: normAddr(sender)}
		for _, r := range recipients {
			f.recipients = append(f.recipients, normAddr(r))
		}
		return x.applies(&f)
	}
	return false
}
