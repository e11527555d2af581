package policy

import (
	"fmt"
	"slices"
	"strings"

	"dlpguard/classify"
)

// essentialDetectors are the detectors a city cannot run without a rule
// for: clause 3.3.5 (and 4, 特定個人情報) forbids sending My Numbers by
// e-mail in principle, so a policy that neither holds nor rejects them
// fails open. An empty file, `rules: []` or a truncated file caught
// half-written by the poller would otherwise be a valid policy that passes
// everything.
var essentialDetectors = []string{classify.MyNumber}

// essentials refuses a policy whose enabled rules hold or reject none of
// the essential detectors, unless the file says so (allow_without, with a
// reason): then it is a warning, which the Holder logs on every load.
func (c *compiler) essentials(f *file, rules []*rule, known func(string) bool) {
	allowed := map[string]bool{}
	for i, d := range f.AllowWithout {
		fld := fmt.Sprintf("allow_without[%d]", i)
		switch {
		case !known(d):
			c.errf(p("allow_without", i), fld, "unknown detector %q", d)
		case !isEssential(d):
			c.errf(p("allow_without", i), fld, "%q is not an essential detector (only %s need allow_without)", d, strings.Join(essentialDetectors, ", "))
		}
		allowed[d] = true
	}
	reason := strings.TrimSpace(f.AllowWithoutReason)
	if len(f.AllowWithout) > 0 && reason == "" {
		c.errf(p("allow_without"), "allow_without_reason", "missing: 理由を書いてください (say why this policy may run without these rules)")
	}
	if reason != "" && len(f.AllowWithout) == 0 {
		c.errf(p("allow_without_reason"), "allow_without_reason", "without allow_without it allows nothing")
	}
	for _, d := range essentialDetectors {
		high, medium := covers(rules, d)
		switch {
		case high || medium:
			if allowed[d] {
				c.warnf(p("allow_without"), "allow_without", "%s has a hold or reject rule; allow_without: [%s] is not needed", d, d)
			}
			if !high || !medium {
				miss := classify.High
				if high {
					miss = classify.Medium
				}
				c.warnf(p("rules"), "rules", "%s at %s confidence is neither held nor rejected by any rule (3.3.5)", d, miss)
			}
		case allowed[d] && reason != "":
			// 3.3.5: allowed on purpose, and said so on every load.
			c.warnf(p("allow_without"), "allow_without", "%sを保留・拒否するルールがありません（対策基準 3.3.5）: no rule holds or rejects %s; allowed because: %s", jaName(d), d, reason)
		case !allowed[d]:
			c.errf(p("rules"), "rules", "%sを保留・拒否するルールがありません。このままでは該当するメールが送信されます（対策基準 3.3.5、4）: no enabled rule holds or rejects %s, so such mail would pass. "+
				"Keep the default's mynumber-reject and mynumber-hold rules (dlpguard policy default), or, if this is intended, add allow_without: [%s] with allow_without_reason", jaName(d), d, d)
		}
	}
}

// jaName names an essential detector for staff.
func jaName(d string) string {
	if d == classify.MyNumber {
		return "個人番号（my_number）"
	}
	return d
}

func isEssential(d string) bool {
	for _, e := range essentialDetectors {
		if e == d {
			return true
		}
	}
	return false
}

// covers reports whether some enabled rule on detector d holds or rejects
// its findings at high and at medium confidence.
func covers(rules []*rule, d string) (high, medium bool) {
	for _, r := range rules {
		if r.action.Rank() < Hold.Rank() || !slices.Contains(r.detectors, d) {
			continue
		}
		in := func(c classify.Confidence) bool {
			return c.Rank() >= r.minConf.Rank() && c.Rank() <= r.maxConf.Rank()
		}
		high = high || in(classify.High)
		medium = medium || in(classify.Medium)
	}
	return high, medium
}
