package policy

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"dlpguard/classify"
	"dlpguard/inspect"
)

// builtinDetectors are the detector names of the scan JSON contract.
var builtinDetectors = map[string]bool{
	classify.MyNumber: true, classify.CorporateNumber: true, classify.ResidentCode: true,
	classify.PensionNumber: true, classify.DriversLicense: true, classify.Passport: true,
	classify.CreditCard: true, classify.BankAccount: true, classify.PhoneNumber: true,
	classify.PostalCode: true, classify.AddressDet: true, classify.BirthDate: true,
	classify.EmailAddress: true, classify.PersonalList: true, classify.Marking: true,
}

var ruleID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// compiler collects problems with their lines while building an Engine.
type compiler struct {
	file  string
	root  *yaml.Node
	now   time.Time
	probs []Problem
	// Work bounds: at most maxProblems problems are located and kept
	// (locating one walks the tree), the rest only counted; work counts
	// the node visits, so that tests can hold it to a multiple of the
	// file's size.
	skipped, skippedErr int
	work                int
}

// maxProblems bounds the problems reported for one file: a file with
// thousands of bad entries (a fuzzer's, or a pasted list) costs no more
// than a few hundred lookups, and nobody reads past the first screenful.
const maxProblems = 200

func (c *compiler) errf(path []any, field, format string, args ...any) {
	c.problem(path, field, false, format, args...)
}

func (c *compiler) warnf(path []any, field, format string, args ...any) {
	c.problem(path, field, true, format, args...)
}

func (c *compiler) problem(path []any, field string, warning bool, format string, args ...any) {
	if len(c.probs) >= maxProblems {
		c.skipped++
		if !warning {
			c.skippedErr++
		}
		return
	}
	line, steps := lineOf(c.root, path...)
	c.work += steps
	c.probs = append(c.probs, Problem{File: c.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...), Warning: warning})
}

func (c *compiler) hasErrors() bool {
	for _, pr := range c.probs {
		if !pr.Warning {
			return true
		}
	}
	return false
}

func p(path ...any) []any { return path }

// compile validates and builds; the Engine is nil when decoding failed.
func compile(data []byte, filename string, now time.Time) (*Engine, []Problem) {
	e, probs, _ := compileWork(data, filename, now)
	return e, probs
}

// compileWork is compile that also returns the work done (node visits of
// the problem lookups), for the tests of its bound.
func compileWork(data []byte, filename string, now time.Time) (*Engine, []Problem, int) {
	f, root, probs, work := decodeFile(data, filename)
	if f == nil {
		return nil, probs, work
	}
	c := &compiler{file: filename, root: root, now: now, probs: probs, work: work}
	e := &Engine{name: f.Name, file: filename, version: hashVersion(data)}

	if f.Version != 0 && f.Version != 1 {
		c.errf(p("version"), "version", "unsupported version %d (this dlpguard knows 1)", f.Version)
	}

	// Organisation: its domains are internal; the rest feeds classify.
	for i, d := range f.Organisation.Domains {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" || strings.ContainsAny(d, "@ \t/") {
			c.errf(p("organisation", "domains", i), fmt.Sprintf("organisation.domains[%d]", i), "bad domain %q", d)
			continue
		}
		e.internal = append(e.internal, d)
	}

	// Departments: senders → the 情報セキュリティ管理責任者 and deputies (3.2, 3.3.5).
	deptNames := map[string]*departmentFile{}
	for i := range f.Departments {
		d := &f.Departments[i]
		fld := fmt.Sprintf("departments[%d]", i)
		if d.Name == "" {
			c.errf(p("departments", i), fld+".name", "missing")
		} else if deptNames[d.Name] != nil {
			c.errf(p("departments", i, "name"), fld+".name", "duplicate department %q", d.Name)
		}
		deptNames[d.Name] = d
		if len(d.Senders) == 0 {
			// A department named by its directory value (issue 18): the
			// city's directory places staff in it, patterns are only the
			// fallback. Without a directory it matches nobody: say so.
			c.warnf(p("departments", i), fld+".senders", "no sender patterns: only the directory (directory.url) places senders in %q", d.Name)
		}
		c.patterns(d.Senders, p("departments", i, "senders"), fld+".senders")
		if d.Manager == "" {
			c.warnf(p("departments", i), fld+".manager", "no 情報セキュリティ管理責任者 named: held messages have no approver")
		}
		dep := department{name: d.Name, senders: d.Senders}
		if d.Manager != "" {
			dep.approvers = append(dep.approvers, d.Manager)
		}
		dep.approvers = append(dep.approvers, d.Deputies...)
		e.departments = append(e.departments, dep)
	}

	// Detectors → classify.Config.
	custom := map[string]bool{}
	cfg := classify.Config{
		Organisation: classify.Organisation{
			Domains:   e.internal,
			Phones:    f.Organisation.Phones,
			Addresses: f.Organisation.Addresses,
			Signature: f.Organisation.Signature,
		},
		Builtin:        f.Detectors.Builtin,
		Custom:         f.Detectors.Custom,
		Exclude:        f.Detectors.Exclude,
		MarkingHeaders: f.Detectors.MarkingHeaders,
		Markings:       f.Detectors.Markings,
	}
	defaultMarkings := classify.DefaultMarkings()
	for tok, l := range f.Detectors.Markings {
		if _, ok := defaultMarkings[tok]; !ok {
			c.errf(p("detectors", "markings", tok), "detectors.markings."+tok, "unknown marking %q (see classify.DefaultMarkings: 重要性1, 機密性2, 極秘, 部外秘 …)", tok)
		}
		if !validLevel(l) {
			c.errf(p("detectors", "markings", tok), "detectors.markings."+tok, "bad level %q (I, II or III)", l)
		}
	}
	for name, s := range f.Detectors.Builtin {
		if !builtinDetectors[name] {
			c.errf(p("detectors", "builtin", name), "detectors.builtin."+name, "unknown detector %q (built-in detectors: %s)", name, detectorList())
		}
		if s.Window < 0 || s.MinCount < 0 {
			c.errf(p("detectors", "builtin", name), "detectors.builtin."+name, "window and min_count must not be negative")
		}
	}
	for i, cd := range f.Detectors.Custom {
		fld := fmt.Sprintf("detectors.custom[%d]", i)
		switch {
		case cd.Name == "":
			c.errf(p("detectors", "custom", i), fld+".name", "missing")
		case builtinDetectors[cd.Name]:
			c.errf(p("detectors", "custom", i, "name"), fld+".name", "%q is a built-in detector; tune it under detectors.builtin", cd.Name)
		case custom[cd.Name]:
			c.errf(p("detectors", "custom", i, "name"), fld+".name", "duplicate detector %q", cd.Name)
		}
		custom[cd.Name] = true
		if cd.Pattern == "" {
			c.errf(p("detectors", "custom", i), fld+".pattern", "missing")
		} else if _, err := regexp.Compile(cd.Pattern); err != nil {
			c.errf(p("detectors", "custom", i, "pattern"), fld+".pattern", "bad regexp: %v", err)
		}
		switch cd.Validator {
		case "", "my_number", "corporate_number", "luhn":
		default:
			c.errf(p("detectors", "custom", i, "validator"), fld+".validator", "unknown validator %q (my_number, corporate_number, luhn)", cd.Validator)
		}
		if cd.Level != "" && !validLevel(cd.Level) {
			c.errf(p("detectors", "custom", i, "level"), fld+".level", "bad level %q (I, II or III)", cd.Level)
		}
	}
	known := func(d string) bool { return builtinDetectors[d] || custom[d] }
	for i, r := range f.Detectors.Exclude.Ranges {
		fld := fmt.Sprintf("detectors.exclude.ranges[%d]", i)
		if !known(r.Detector) {
			c.errf(p("detectors", "exclude", "ranges", i), fld+".detector", "unknown detector %q", r.Detector)
		}
		if !allDigits(r.From) || !allDigits(r.To) || len(r.From) != len(r.To) || r.From > r.To {
			c.errf(p("detectors", "exclude", "ranges", i), fld, "from and to must be digit strings of equal length, from ≤ to")
		}
	}
	for i, h := range f.Detectors.Exclude.Hashes {
		if len(h) != 64 || strings.Trim(strings.ToLower(h), "0123456789abcdef") != "" {
			c.errf(p("detectors", "exclude", "hashes", i), fmt.Sprintf("detectors.exclude.hashes[%d]", i), "not a hex SHA-256")
		}
	}
	for i, mh := range f.Detectors.MarkingHeaders {
		fld := fmt.Sprintf("detectors.marking_headers[%d]", i)
		if mh.Header == "" {
			c.errf(p("detectors", "marking_headers", i), fld+".header", "missing")
		}
		for k, l := range mh.Values {
			if !validLevel(l) {
				c.errf(p("detectors", "marking_headers", i, "values", k), fld+".values."+k, "bad level %q (I, II or III)", l)
			}
		}
	}
	cl, err := classify.New(cfg)
	if err != nil && !c.hasErrors() {
		// Only when our own checks missed it, so one mistake is one line.
		c.errf(p("detectors"), "detectors", "%v", err)
	}
	e.classifier = cl

	// Rules.
	ids := map[string]*rule{}
	for i := range f.Rules {
		r := c.rule(&f.Rules[i], i, known)
		if r == nil {
			continue
		}
		if ids[r.id] != nil {
			c.errf(p("rules", i, "id"), fmt.Sprintf("rules[%d].id", i), "duplicate rule id %q", r.id)
		}
		ids[r.id] = r
		if !f.Rules[i].Disabled {
			e.rules = append(e.rules, r)
		}
	}

	// Exceptions (8.4).
	exIDs := map[string]bool{}
	for i := range f.Exceptions {
		x := &f.Exceptions[i]
		fld := fmt.Sprintf("exceptions[%d]", i)
		at := func(k string) []any { return p("exceptions", i, k) }
		if x.ID == "" {
			c.errf(p("exceptions", i), fld+".id", "missing")
		} else if exIDs[x.ID] {
			c.errf(at("id"), fld+".id", "duplicate exception id %q", x.ID)
		}
		exIDs[x.ID] = true
		// 8.4: only the CISO or the 統括情報セキュリティ責任者 may allow an exception.
		if !approverOK(x.ApprovedBy) {
			c.errf(at("approved_by"), fld+".approved_by", "clause 8.4: an exception must be approved by the CISO or the 統括情報セキュリティ責任者 (got %q)", x.ApprovedBy)
		}
		if strings.TrimSpace(x.Reason) == "" {
			c.errf(p("exceptions", i), fld+".reason", "missing: 8.4 requires a reasonable ground (合理的な理由)")
		}
		if len(x.Senders) == 0 && len(x.Recipients) == 0 {
			c.errf(p("exceptions", i), fld+".senders", "an exception must be scoped by senders or recipients")
		}
		c.patterns(x.Senders, at("senders"), fld+".senders")
		c.patterns(x.Recipients, at("recipients"), fld+".recipients")
		a := Action(x.Action)
		if !a.Valid() {
			c.errf(at("action"), fld+".action", "unknown action %q (pass, bcc, delay, hold, reject)", x.Action)
		}
		if len(x.Rules) == 0 {
			c.errf(p("exceptions", i), fld+".rules", "missing: which rules it relaxes")
		}
		rules := map[string]bool{}
		for j, id := range x.Rules {
			rules[id] = true
			r := ids[id]
			if r == nil {
				c.errf(p("exceptions", i, "rules", j), fmt.Sprintf("%s.rules[%d]", fld, j), "unknown rule %q", id)
			} else if a.Valid() && a.Rank() >= r.action.Rank() {
				c.warnf(p("exceptions", i, "rules", j), fmt.Sprintf("%s.rules[%d]", fld, j), "does not relax rule %q (its action is %s, the exception's %s)", id, r.action, a)
			}
		}
		exp := c.expiry(x.Expires, at("expires"), fld+".expires", "exception "+x.ID)
		e.exceptions = append(e.exceptions, &exception{
			id: x.ID, senders: x.Senders, recipients: x.Recipients,
			rules: rules, action: a, expires: exp,
		})
	}

	// Standing permits (3.3.5).
	pIDs := map[string]bool{}
	approvers := approverSet(f.Departments)
	for i := range f.Permits {
		x := &f.Permits[i]
		fld := fmt.Sprintf("permits[%d]", i)
		at := func(k string) []any { return p("permits", i, k) }
		if x.ID == "" {
			c.errf(p("permits", i), fld+".id", "missing")
		} else if pIDs[x.ID] {
			c.errf(at("id"), fld+".id", "duplicate permit id %q", x.ID)
		}
		pIDs[x.ID] = true
		if strings.TrimSpace(x.GrantedBy) == "" {
			c.errf(p("permits", i), fld+".granted_by", "missing: clause 3.3.5 permission is given by the department's 情報セキュリティ管理責任者")
		}
		if x.Department != "" {
			d := deptNames[x.Department]
			if d == nil {
				c.errf(at("department"), fld+".department", "unknown department %q", x.Department)
			} else if x.GrantedBy != d.Manager && !slices.Contains(d.Deputies, x.GrantedBy) {
				c.warnf(at("granted_by"), fld+".granted_by", "%q is not the manager or a deputy of %q", x.GrantedBy, x.Department)
			}
		}
		if x.Department == "" && len(f.Departments) > 0 && strings.TrimSpace(x.GrantedBy) != "" && !approvers[x.GrantedBy] {
			c.warnf(at("granted_by"), fld+".granted_by", "%q is not the manager or a deputy of any department", x.GrantedBy)
		}
		if len(x.Senders) == 0 {
			c.errf(p("permits", i), fld+".senders", "missing: a permit is scoped to senders")
		}
		if len(x.RecipientDomains) == 0 {
			c.errf(p("permits", i), fld+".recipient_domains", "missing: a permit is scoped to recipient domains")
		}
		if strings.TrimSpace(x.LegalBasis) == "" {
			c.errf(p("permits", i), fld+".legal_basis", "missing: the legal basis of the transfer")
		}
		c.patterns(x.Senders, at("senders"), fld+".senders")
		levels := c.levels(x.Levels, at("levels"), fld+".levels")
		dets := map[string]bool{}
		for j, d := range x.Detectors {
			if !known(d) {
				c.errf(p("permits", i, "detectors", j), fmt.Sprintf("%s.detectors[%d]", fld, j), "unknown detector %q", d)
			}
			dets[d] = true
		}
		rules := map[string]bool{}
		for j, id := range x.Rules {
			if ids[id] == nil {
				c.errf(p("permits", i, "rules", j), fmt.Sprintf("%s.rules[%d]", fld, j), "unknown rule %q", id)
			}
			rules[id] = true
		}
		a := Action(x.Action)
		if x.Action == "" {
			a = Pass
		}
		if a != Pass && a != Delay {
			c.errf(at("action"), fld+".action", "a permit passes or delays (got %q)", x.Action)
		}
		delay := x.DelayMinutes
		if a == Delay && delay <= 0 {
			c.errf(p("permits", i), fld+".delay_minutes", "a delay needs delay_minutes > 0")
		}
		exp := c.expiry(x.Expires, at("expires"), fld+".expires", "permit "+x.ID)
		e.permits = append(e.permits, &permit{
			id: x.ID, senders: x.Senders, rcptDomain: x.RecipientDomains,
			levels: levels, detectors: dets, rules: rules, action: a, delay: delay, expires: exp,
		})
	}

	e.limits = c.limits(&f.Limits)
	c.essentials(f, e.rules, known)
	e.release = c.releaseModes(f)

	if c.skipped > 0 {
		// an error among those left out still refuses the file
		c.probs = append(c.probs, Problem{File: c.file, Warning: c.skippedErr == 0,
			Msg: fmt.Sprintf("%d more problems (%d errors) not shown: fix the first %d and check again", c.skipped, c.skippedErr, maxProblems)})
	}
	sort.SliceStable(c.probs, func(i, j int) bool { return c.probs[i].Line < c.probs[j].Line })
	for _, pr := range c.probs {
		if pr.Warning {
			e.warnings = append(e.warnings, pr)
		}
	}
	return e, c.probs, c.work
}

func (c *compiler) rule(rf *ruleFile, i int, known func(string) bool) *rule {
	fld := fmt.Sprintf("rules[%d]", i)
	at := func(k ...any) []any { return append(p("rules", i), k...) }
	r := &rule{id: rf.ID, action: Action(rf.Action), requireEnc: rf.RequireEncryption,
		delay: rf.DelayMinutes, ja: rf.Message.JA, en: rf.Message.EN,
		tja: rf.TransferMessage.JA, ten: rf.TransferMessage.EN}
	if rf.ID == "" {
		c.errf(at(), fld+".id", "missing")
	} else if !ruleID.MatchString(rf.ID) {
		// The rule ID goes into the SMTP reply, which is ASCII (RFC 5321 4.2).
		c.errf(at("id"), fld+".id", "%q: use ASCII letters, digits, '.', '_' and '-'", rf.ID)
	}
	if !r.action.Valid() {
		c.errf(at("action"), fld+".action", "unknown action %q (pass, bcc, delay, hold, reject)", rf.Action)
	}
	var clauses []string
	for _, cl := range rf.Clause {
		for _, one := range strings.Split(cl, ",") {
			one = normClause(one)
			if one == "" {
				continue
			}
			if _, ok := knownClauses[one]; !ok {
				c.errf(at("clause"), fld+".clause", "unknown clause %q of the security standard", one)
			}
			clauses = append(clauses, one)
		}
	}
	if len(clauses) == 0 && r.action != Pass {
		c.errf(at(), fld+".clause", "missing: every rule cites the clause it enforces (e.g. 3.3.5)")
	}
	r.clause = strings.Join(clauses, ", ")
	if r.action == Delay && r.delay <= 0 {
		c.errf(at(), fld+".delay_minutes", "a delay needs delay_minutes > 0")
	}
	if r.delay < 0 {
		c.errf(at("delay_minutes"), fld+".delay_minutes", "must not be negative")
	}
	if rf.Message.JA == "" {
		c.warnf(at(), fld+".message.ja", "no Japanese text for the sender")
	}
	if rf.Message.EN != "" && asciiOnly(rf.Message.EN) != strings.TrimSpace(rf.Message.EN) {
		c.warnf(at("message", "en"), fld+".message.en", "non-ASCII characters are dropped from SMTP replies")
	}
	w := &rf.When
	wat := func(k ...any) []any { return append(at("when"), k...) }
	wf := fld + ".when."
	for j, d := range w.Detector {
		if !known(d) {
			c.errf(wat("detector"), fmt.Sprintf("%sdetector[%d]", wf, j), "unknown detector %q (built-in: %s; or a detectors.custom name)", d, detectorList())
		}
	}
	r.detectors = w.Detector
	r.minCount = w.MinCount
	if r.minCount < 0 {
		c.errf(wat("min_count"), wf+"min_count", "must not be negative")
	}
	if r.minCount == 0 {
		r.minCount = 1
	}
	switch classify.Confidence(w.MinConfidence) {
	case "":
		r.minConf = classify.Low
	case classify.High, classify.Medium, classify.Low:
		r.minConf = classify.Confidence(w.MinConfidence)
	default:
		c.errf(wat("min_confidence"), wf+"min_confidence", "bad confidence %q (high, medium, low)", w.MinConfidence)
	}
	switch classify.Confidence(w.MaxConfidence) {
	case "":
		r.maxConf = classify.High
	case classify.High, classify.Medium, classify.Low:
		r.maxConf = classify.Confidence(w.MaxConfidence)
	default:
		c.errf(wat("max_confidence"), wf+"max_confidence", "bad confidence %q (high, medium, low)", w.MaxConfidence)
	}
	if r.maxConf.Rank() < r.minConf.Rank() {
		c.errf(wat("max_confidence"), wf+"max_confidence", "below min_confidence: the rule can never fire")
	}
	if (w.MinCount != 0 || w.MinConfidence != "" || w.MaxConfidence != "") && len(w.Detector) == 0 {
		c.errf(wat(), wf+"detector", "min_count and min_confidence need a detector")
	}
	r.levels = c.levels(w.Level, wat("level"), wf+"level")
	r.markings = c.levels(w.Marking, wat("marking"), wf+"marking")
	r.attEnc, r.attUninspected, r.attMedia, r.incomplete = w.AttachmentEncrypted, w.AttachmentUninspectable, w.AttachmentMedia, w.Incomplete
	r.attUnreadScan = w.AttachmentUnreadScan
	r.unreadImageMin = int64(w.AttachmentUnreadImageMinSize)
	r.extRcpt, r.extDomains, r.externalOnly = w.ExternalRecipients, w.ExternalDomains, w.ExternalOnly
	if r.extRcpt < 0 || r.extDomains < 0 {
		c.errf(wat(), wf+"external_recipients", "must not be negative")
	}
	r.sender, r.recipient, r.rcptDomain, r.allRcptIn = w.Sender, w.Recipient, w.RecipientDomain, w.AllRecipientsIn
	c.patterns(w.Sender, wat("sender"), wf+"sender")
	c.patterns(w.Recipient, wat("recipient"), wf+"recipient")
	c.patterns(w.RecipientDomain, wat("recipient_domain"), wf+"recipient_domain")
	c.patterns(w.AllRecipientsIn, wat("all_recipients_in"), wf+"all_recipients_in")
	r.minSize, r.maxSize = int64(w.MinSize), int64(w.MaxSize)
	if r.maxSize > 0 && r.minSize > r.maxSize {
		c.errf(wat("max_size"), wf+"max_size", "smaller than min_size")
	}
	r.transfer = c.compileTransfer(w, wat, wf)
	// A content rule is one a standing permit may cover: it looks at what
	// the message says, not at how it is sent.
	r.content = (len(r.detectors) > 0 || len(r.levels) > 0 || len(r.markings) > 0) &&
		r.attEnc == nil && r.attUninspected == nil && r.attUnreadScan == nil && r.unreadImageMin == 0 && r.incomplete == nil && r.extRcpt == 0 && r.extDomains == 0
	hasCond := len(r.detectors) > 0 || len(r.levels) > 0 || len(r.markings) > 0 || r.attEnc != nil ||
		r.attUninspected != nil || r.attMedia != nil || r.attUnreadScan != nil || r.unreadImageMin > 0 || r.incomplete != nil || r.extRcpt > 0 || r.extDomains > 0 ||
		r.externalOnly || len(r.sender) > 0 || len(r.recipient) > 0 || len(r.rcptDomain) > 0 ||
		len(r.allRcptIn) > 0 || r.minSize > 0 || r.maxSize > 0 || len(r.transfer.dest) > 0 || len(r.transfer.destNotIn) > 0
	if !hasCond && r.action != Pass {
		c.warnf(at(), fld+".when", "no conditions: rule %q fires on every message", rf.ID)
	}
	return r
}

func (c *compiler) levels(ls []string, path []any, fld string) []classify.Level {
	var out []classify.Level
	for _, l := range ls {
		lv := normLevel(l)
		if !validLevel(lv) {
			c.errf(path, fld, "bad level %q (I, II or III)", l)
			continue
		}
		out = append(out, lv)
	}
	return out
}

func (c *compiler) patterns(ps []string, path []any, fld string) {
	for _, s := range ps {
		if strings.TrimSpace(s) == "" || strings.ContainsAny(s, " \t<>") || strings.Count(s, "@") > 1 {
			c.errf(path, fld, "bad address or domain pattern %q", s)
		}
		if s == "*" || s == "*@*" {
			c.warnf(path, fld, "pattern %q matches everyone", s)
		}
	}
}

func (c *compiler) expiry(s string, path []any, fld, what string) time.Time {
	if strings.TrimSpace(s) == "" {
		c.errf(path, fld, "missing: %s needs an expiry date", what)
		return time.Time{}
	}
	t, err := parseExpiry(s)
	if err != nil {
		c.errf(path, fld, "%v", err)
		return time.Time{}
	}
	if !c.now.Before(t) {
		c.warnf(path, fld, "%s expired on %s and no longer applies", what, s)
	}
	return t
}

func (c *compiler) limits(l *limitsFile) inspect.Limits {
	lim := inspect.DefaultLimits()
	set := func(v int64, dst *int64) {
		if v > 0 {
			*dst = v
		}
	}
	set(int64(l.MaxDecodedBytes), &lim.MaxDecodedBytes)
	set(int64(l.MaxPartBytes), &lim.MaxPartBytes)
	set(l.MaxCompressionRatio, &lim.MaxCompressionRatio)
	set(int64(l.MaxTextBytes), &lim.MaxTextBytes)
	set(int64(l.MaxHeaderBytes), &lim.MaxHeaderBytes)
	for _, x := range []struct {
		v   int
		dst *int
		k   string
	}{{l.MaxParts, &lim.MaxParts, "max_parts"}, {l.MaxDepth, &lim.MaxDepth, "max_depth"}, {l.MaxArchiveEntries, &lim.MaxArchiveEntries, "max_archive_entries"}} {
		if x.v < 0 {
			c.errf(p("limits", x.k), "limits."+x.k, "must not be negative")
		} else if x.v > 0 {
			*x.dst = x.v
		}
	}
	if l.MaxCompressionRatio < 0 {
		c.errf(p("limits", "max_compression_ratio"), "limits.max_compression_ratio", "must not be negative")
	}
	if l.Timeout != "" {
		d, err := time.ParseDuration(l.Timeout)
		if err != nil || d <= 0 {
			c.errf(p("limits", "timeout"), "limits.timeout", "bad duration %q (e.g. 60s, 2m)", l.Timeout)
		} else {
			lim.Timeout = d
		}
	}
	return lim
}

func normLevel(s string) classify.Level {
	switch strings.TrimSpace(s) {
	case "I", "1", "Ⅰ", "１":
		return classify.LevelI
	case "II", "2", "Ⅱ", "２":
		return classify.LevelII
	case "III", "3", "Ⅲ", "３":
		return classify.LevelIII
	}
	return classify.Level(s)
}

func validLevel(l classify.Level) bool {
	return l == classify.LevelI || l == classify.LevelII || l == classify.LevelIII
}

// approverOK: clause 8.4 names the CISO and the 統括情報セキュリティ責任者.
func approverOK(s string) bool {
	s = strings.TrimSpace(s)
	return strings.Contains(strings.ToUpper(s), "CISO") ||
		strings.Contains(s, "統括情報セキュリティ責任者") ||
		strings.Contains(s, "最高情報セキュリティ責任者")
}

// approverSet: 3.3.5 permission comes from a department's 情報セキュリティ
// 管理責任者 (or deputy). A set, so that many permits against many
// departments cost no more than both lists.
func approverSet(ds []departmentFile) map[string]bool {
	m := map[string]bool{}
	for _, d := range ds {
		m[d.Manager] = true
		for _, x := range d.Deputies {
			m[x] = true
		}
	}
	return m
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func detectorList() string {
	return "my_number, corporate_number, resident_code, pension_number, drivers_license, passport, credit_card, bank_account, phone_number, postal_code, address, birth_date, email_address, personal_list, marking"
}
