// Package policy turns what inspect and classify found in a message into a
// verdict — pass, bcc, delay, hold or reject — with every rule that fired and
// the clause of the city's information-security standard behind it (above
// all 3.3.5, sending information). The policy is one YAML file that
// administrators tune; the default of docs/contracts.md is embedded. Exceptions
// (8.4) and standing permits (3.3.5's permission) relax rules for a named
// scope until they expire, and every verdict that used one says so.
//
// An Engine is a compiled policy and is safe for concurrent use; a Holder
// keeps the current Engine and reloads it when the file changes, keeping the
// old one when the new file fails validation.
package policy

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"dlpguard/classify"
	"dlpguard/inspect"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default policy file.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Action is what happens to a message.
type Action string

// Actions, weakest first. The strongest action of all fired rules wins.
const (
	Pass   Action = "pass"   // deliver
	Bcc    Action = "bcc"    // deliver with visible external To/Cc rewritten to Bcc (3.3.5 mis-sending)
	Delay  Action = "delay"  // keep for N minutes; the sender may cancel or send at once; then deliver
	Hold   Action = "hold"   // keep until security staff release or reject it
	Reject Action = "reject" // refuse in the SMTP session (550 5.7.1)
)

// Rank orders actions: reject 4 > hold 3 > delay 2 > bcc 1 > pass 0;
// unknown actions rank -1.
func (a Action) Rank() int {
	switch a {
	case Pass:
		return 0
	case Bcc:
		return 1
	case Delay:
		return 2
	case Hold:
		return 3
	case Reject:
		return 4
	}
	return -1
}

// Valid reports whether a is one of the five actions.
func (a Action) Valid() bool { return a.Rank() >= 0 }

// defaultDelayMinutes is the delay when none is configured for it.
const defaultDelayMinutes = 10

// Transfer describes a file transfer (an upload seen by the web proxy over
// ICAP); nil for mail. Reserved for the file-transfer guard.
type Transfer struct {
	URL      string
	Host     string
	FileName string
}

// Input is what the policy needs to know beyond the message itself.
type Input struct {
	Sender     string    // envelope MAIL FROM; "" → the From header address (scan)
	Recipients []string  // envelope RCPT TO; empty → the To/Cc header addresses (scan)
	Size       int64     // message size in bytes; 0 → counted while reading
	Now        time.Time // for exception and permit expiry; zero → time.Now()
	Transfer   *Transfer // nil for mail
	// OCR reads images and scanned PDF pages (the server's inspect.ocr);
	// nil: they are not read, and the policy decides on them unread.
	OCR inspect.OCR
}

// RuleHit is one rule that fired.
type RuleHit struct {
	ID        string `json:"id"`
	Action    Action `json:"action"` // after exceptions and permits
	Clause    string `json:"clause"` // e.g. "3.3.5, 4"
	Reason    string `json:"reason"` // Japanese, shown to the sender
	ReasonEN  string `json:"reason_en,omitempty"`
	Exception string `json:"exception,omitempty"` // the exception (8.4) that relaxed it
	Permit    string `json:"permit,omitempty"`    // the standing permit (3.3.5) that covered it
	// RuleAction is the rule's own action before any exception or permit.
	RuleAction Action `json:"rule_action,omitempty"`
}

// Verdict is the decision on one message.
type Verdict struct {
	Action Action
	Level  classify.Level
	Rules  []RuleHit // every rule that fired, in policy order
	// RequireEncryption: a held message may be released only with every
	// attachment encrypted (3.3.5: 電子メールで送信する情報には暗号化…).
	RequireEncryption bool
	Exceptions        []string // IDs of the exceptions (8.4) used
	Permit            string   // ID of the standing permit used, if any
	Department        string   // the sender's department, if known
	Approvers         []string // its 情報セキュリティ管理責任者 and deputies
	DelayMinutes      int      // for Delay
	// Hide lists the external addresses visible in To/Cc that the bcc
	// action takes out of the headers (3.3.5 mis-sending); set for Bcc.
	Hide          []string
	Inspect       *inspect.Result
	Report        classify.Report
	PolicyVersion string
}

// Engine is a compiled policy: rules, classifier and inspection limits. It
// is safe for concurrent use.
type Engine struct {
	name        string
	file        string
	version     string
	internal    []string // organisation.domains; empty → the sender's own domain
	departments []department
	rules       []*rule
	exceptions  []*exception
	permits     []*permit
	classifier  *classify.Classifier
	limits      inspect.Limits
	warnings    []Problem
	release     releaseModes // release_mode.go
}

type department struct {
	name      string
	senders   []string
	approvers []string
}

type rule struct {
	id         string
	action     Action
	clause     string
	requireEnc *bool
	delay      int
	ja, en     string
	tja, ten   string // transfer_message: the text for uploads, if any
	content    bool   // conditions on content only: a permit may cover it

	detectors      []string
	minCount       int
	minConf        classify.Confidence
	maxConf        classify.Confidence
	levels         []classify.Level
	markings       []classify.Level
	attEnc         *bool
	attUninspected *bool
	attMedia       *bool
	attUnreadScan  *bool // scanned content OCR did not read (3.3.5)
	unreadImageMin int64 // an image OCR did not read is at least this large
	incomplete     *bool
	extRcpt        int
	extDomains     int
	externalOnly   bool
	sender         []string
	recipient      []string
	rcptDomain     []string
	allRcptIn      []string
	minSize        int64
	maxSize        int64
	transfer       transferCond // channel and destination (uploads)
}

type exception struct {
	id         string
	senders    []string
	recipients []string
	rules      map[string]bool
	action     Action
	expires    time.Time
}

type permit struct {
	id         string
	senders    []string
	rcptDomain []string
	levels     []classify.Level
	detectors  map[string]bool
	rules      map[string]bool
	action     Action
	delay      int
	expires    time.Time
}

// Parse compiles a policy file. The error (a *ValidationError) names the
// file, line and field of every problem.
func Parse(data []byte, filename string) (*Engine, error) {
	e, probs := compile(data, filename, time.Now())
	for _, p := range probs {
		if !p.Warning {
			return nil, &ValidationError{Problems: probs}
		}
	}
	return e, nil
}

// Check validates a policy file as of now and returns every error and
// warning (an exception that has expired is a warning); the policy loads
// when none of them is an error.
func Check(data []byte, filename string, now time.Time) []Problem {
	_, probs := compile(data, filename, now)
	return probs
}

// Load reads and compiles the policy file at path.
func Load(path string) (*Engine, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return Parse(data, path)
}

// Default compiles the embedded default policy (the table of docs/contracts.md).
func Default() (*Engine, error) {
	return Parse(defaultYAML, "default.yaml")
}

// Version identifies the policy file by its content (a hash), for logs,
// verdicts and the ICAP ISTag.
func (e *Engine) Version() string { return e.version }

// Name is the policy's name from the file.
func (e *Engine) Name() string { return e.name }

// Limits are the inspection limits of this policy.
func (e *Engine) Limits() inspect.Limits { return e.limits }

// Classifier is the compiled classifier of this policy.
func (e *Engine) Classifier() *classify.Classifier { return e.classifier }

// Warnings are the validation warnings found when the policy was compiled.
func (e *Engine) Warnings() []Problem { return append([]Problem(nil), e.warnings...) }

// RuleIDs lists the rules in policy order (e.g. to pre-create metrics).
func (e *Engine) RuleIDs() []string {
	ids := make([]string, len(e.rules))
	for i, r := range e.rules {
		ids[i] = r.id
	}
	return ids
}

// DepartmentNames lists the policy's departments in policy order (for the
// console's department choice).
func (e *Engine) DepartmentNames() []string {
	names := make([]string, len(e.departments))
	for i, d := range e.departments {
		names[i] = d.name
	}
	return names
}

func hashVersion(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16]
}

// Evaluate inspects the message read from r (a file when in.Transfer is
// set), classifies it and decides: an Evaluation of one message. It is the
// one code path of the relay (package dispose) and of `dlpguard scan`. The error is
// only for a failure to read r or a cancelled ctx (inspection problems are
// in the verdict and make it fail closed).
func (e *Engine) Evaluate(ctx context.Context, r io.Reader, in Input) (*Verdict, error) {
	ev := e.NewEvaluation("")
	ev.UseOCR(in.OCR)
	var err error
	if in.Transfer != nil {
		err = ev.File(ctx, in.Transfer.FileName, r)
	} else {
		err = ev.Message(ctx, r)
	}
	if err != nil {
		ev.Discard()
		return nil, fmt.Errorf("policy: inspect: %w", err)
	}
	return ev.Decide(in), nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// facts are what the rules look at, computed once per message.
type facts struct {
	sender      string
	recipients  []string // envelope, or To/Cc when none
	extVisible  int      // distinct external addresses in To/Cc
	extAddrs    []string // those addresses
	extDomains  int      // distinct external domains in To/Cc
	anyExternal bool     // some recipient is external
	encrypted   bool
	uninspected bool
	media       bool
	unreadScan  bool      // a scan OCR did not read
	unreadImage int64     // the largest image OCR did not read (bytes)
	transfer    *Transfer // nil for mail
}

func (e *Engine) facts(res *inspect.Result, in Input) facts {
	var f facts
	f.sender = normAddr(in.Sender)
	f.transfer = in.Transfer
	if f.sender == "" && len(res.Header.From) > 0 {
		f.sender = normAddr(res.Header.From[0].Address)
	}
	senderDomain := domainOf(f.sender)
	external := func(addr string) bool {
		d := domainOf(addr)
		if d == "" {
			return false // a local name with no domain stays inside
		}
		if len(e.internal) > 0 {
			return !anyDomain(e.internal, d)
		}
		// No internal domains configured: the sender's own domain,
		// exactly, is internal (docs/contracts.md: not look-alikes, not subdomains).
		return senderDomain == "" || d != senderDomain
	}
	// 3.3.5 (common): mis-sending — what matters is who can see whom, so
	// the visible To/Cc headers are counted, distinct addresses and domains.
	seen := map[string]bool{}
	domains := map[string]bool{}
	var visible []string
	for _, list := range [][]inspect.Address{res.Header.To, res.Header.Cc} {
		for _, a := range list {
			addr := normAddr(a.Address)
			if addr == "" || seen[addr] {
				continue
			}
			seen[addr] = true
			visible = append(visible, addr)
			if external(addr) {
				f.extVisible++
				f.extAddrs = append(f.extAddrs, addr)
				domains[domainOf(addr)] = true
			}
		}
	}
	f.extDomains = len(domains)
	if len(in.Recipients) > 0 {
		for _, r := range in.Recipients {
			f.recipients = append(f.recipients, normAddr(r))
		}
	} else {
		f.recipients = visible
	}
	for _, r := range f.recipients {
		if external(r) {
			f.anyExternal = true
		}
	}
	explained := false
	for _, p := range res.Parts {
		if p.UnreadScan && !p.Encrypted {
			f.unreadScan = true
		}
		if p.Media && !p.Inspected && strings.HasPrefix(p.Type, "image/") {
			f.unreadImage = max(f.unreadImage, p.Size)
		}
		switch {
		case p.Encrypted:
			f.encrypted = true
			explained = true
		case p.Signature:
			// a detached signature hides nothing
		case p.Media:
			f.media = true
		case !p.Inspected:
			f.uninspected = true
			explained = true
		}
	}
	// Fail closed: a result that says content was missed is uninspectable
	// unless an encrypted part already accounts for it.
	if res.Incomplete && !explained {
		f.uninspected = true
	}
	return f
}

// Decide is the pure decision: the rules, exceptions and permits of the
// policy applied to an inspection result and its classification.
func (e *Engine) Decide(res *inspect.Result, rep classify.Report, in Input) *Verdict {
	if res == nil {
		res = &inspect.Result{Incomplete: true, Problems: []string{"no inspection result"}}
	}
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	level := rep.Level
	if level == "" {
		level = classify.LevelIII
	}
	f := e.facts(res, in)
	v := &Verdict{
		Action:        Pass,
		Level:         level,
		Inspect:       res,
		Report:        rep,
		PolicyVersion: e.version,
	}
	for _, d := range e.departments {
		if anyAddr(d.senders, f.sender) {
			v.Department = d.name
			v.Approvers = append([]string(nil), d.approvers...)
			break
		}
	}

	var fired []*rule
	for _, r := range e.rules {
		if r.matches(&f, res, &rep, level, in.Size) {
			fired = append(fired, r)
			ja, en := r.transferText(in.Transfer)
			v.Rules = append(v.Rules, RuleHit{
				ID: r.id, Action: r.action, RuleAction: r.action,
				Clause: r.clause, Reason: ja, ReasonEN: en,
			})
		}
	}

	// 3.3.5: a standing permit of the department's 情報セキュリティ管理責任者
	// covers a recurring lawful transfer; the first permit whose scope holds
	// the whole message applies.
	if p := e.permitFor(&f, level, &rep, fired, now); p != nil {
		for i, r := range fired {
			if p.covers(r) {
				v.Rules[i].Action = p.action
				v.Rules[i].Permit = p.id
				v.Permit = p.id
				if p.action == Delay && p.delay > v.DelayMinutes {
					v.DelayMinutes = p.delay
				}
			}
		}
	}

	// 8.4: exceptions approved by the CISO relax the rules they name, for
	// their senders and recipients, until they expire.
	for _, x := range e.exceptions {
		if !now.Before(x.expires) || !x.applies(&f) {
			continue
		}
		used := false
		for i := range v.Rules {
			h := &v.Rules[i]
			if x.rules[h.ID] && x.action.Rank() < h.Action.Rank() {
				h.Action = x.action
				h.Exception = x.id
				used = true
			}
		}
		if used {
			v.Exceptions = append(v.Exceptions, x.id)
		}
	}

	// The strongest action wins: reject > hold > delay > bcc > pass.
	encYes, encNo := false, 0
	holds := 0
	for i, h := range v.Rules {
		if h.Action.Rank() > v.Action.Rank() {
			v.Action = h.Action
		}
		r := fired[i]
		if h.Action == Delay && h.Permit == "" && r.delay > v.DelayMinutes {
			v.DelayMinutes = r.delay
		}
		if h.Action == Hold {
			holds++
			if r.requireEnc != nil {
				if *r.requireEnc {
					encYes = true
				} else {
					encNo++
				}
			}
		}
	}
	switch {
	case v.Action != Delay:
		v.DelayMinutes = 0
	case v.DelayMinutes <= 0:
		// A rule relaxed to delay by an exception has no minutes of its own.
		v.DelayMinutes = defaultDelayMinutes
	}
	// 3.3.5 (mis-sending): bcc keeps every recipient but lets none of the
	// external ones see the others.
	if v.Action == Bcc {
		v.Hide = f.extAddrs
	}
	// 3.3.5: class I/II information sent by mail must be encrypted, so a
	// held I/II message is released only encrypted unless every holding
	// rule says otherwise.
	if v.Action == Hold {
		v.RequireEncryption = encYes || (encNo < holds && (level == classify.LevelI || level == classify.LevelII))
	}
	return v
}

func (r *rule) matches(f *facts, res *inspect.Result, rep *classify.Report, level classify.Level, size int64) bool {
	if len(r.detectors) > 0 {
		ok := false
		for i := range rep.Findings {
			fd := &rep.Findings[i]
			if slices.Contains(r.detectors, fd.Detector) && fd.Count >= r.minCount &&
				fd.Confidence.Rank() >= r.minConf.Rank() && fd.Confidence.Rank() <= r.maxConf.Rank() {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(r.levels) > 0 && !hasLevel(r.levels, level) {
		return false
	}
	if len(r.markings) > 0 {
		if !hasLevel(r.markings, strongestMarking(rep)) {
			return false
		}
	}
	if r.attEnc != nil && *r.attEnc != f.encrypted {
		return false
	}
	if r.attUninspected != nil && *r.attUninspected != f.uninspected {
		return false
	}
	if r.attMedia != nil && *r.attMedia != f.media {
		return false
	}
	if r.attUnreadScan != nil && *r.attUnreadScan != f.unreadScan {
		return false
	}
	if r.unreadImageMin > 0 && (f.unreadImage == 0 || f.unreadImage < r.unreadImageMin) {
		return false
	}
	if r.incomplete != nil && *r.incomplete != res.Incomplete {
		return false
	}
	if r.extRcpt > 0 && f.extVisible < r.extRcpt {
		return false
	}
	if r.extDomains > 0 && f.extDomains < r.extDomains {
		return false
	}
	if r.externalOnly && !f.anyExternal {
		return false
	}
	if len(r.sender) > 0 && !anyAddr(r.sender, f.sender) {
		return false
	}
	if len(r.recipient) > 0 {
		ok := false
		for _, a := range f.recipients {
			if anyAddr(r.recipient, a) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(r.rcptDomain) > 0 {
		ok := false
		for _, a := range f.recipients {
			if anyDomain(r.rcptDomain, domainOf(a)) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(r.allRcptIn) > 0 {
		if len(f.recipients) == 0 {
			return false
		}
		for _, a := range f.recipients {
			if !anyAddr(r.allRcptIn, a) {
				return false
			}
		}
	}
	if r.minSize > 0 && size < r.minSize {
		return false
	}
	if r.maxSize > 0 && size > r.maxSize {
		return false
	}
	// 9.2: a rule may be limited to mail or to uploads, and to upload destinations.
	return r.transfer.matches(f.transfer)
}

// strongestMarking is the class of the strongest marking found ("" when none).
func strongestMarking(rep *classify.Report) classify.Level {
	var best classify.Level
	for _, f := range rep.Findings {
		if f.Detector == classify.Marking && f.Count > 0 && f.Level != "" && (best == "" || f.Level.Rank() > best.Rank()) {
			best = f.Level
		}
	}
	return best
}

func hasLevel(list []classify.Level, l classify.Level) bool {
	for _, x := range list {
		if x == l {
			return true
		}
	}
	return false
}

// applies: the sender is one of the exception's senders and every
// recipient is within its recipients (an unlisted recipient must not ride
// along on someone else's exception).
func (x *exception) applies(f *facts) bool {
	if len(x.senders) > 0 && !anyAddr(x.senders, f.sender) {
		return false
	}
	if len(x.recipients) > 0 {
		if len(f.recipients) == 0 {
			return false
		}
		for _, r := range f.recipients {
			if !anyAddr(x.recipients, r) {
				return false
			}
		}
	}
	return true
}

func (e *Engine) permitFor(f *facts, level classify.Level, rep *classify.Report, fired []*rule, now time.Time) *permit {
	if len(fired) == 0 {
		return nil
	}
	for _, p := range e.permits {
		if !now.Before(p.expires) || !anyAddr(p.senders, f.sender) {
			continue
		}
		if len(f.recipients) == 0 {
			continue
		}
		inScope := true
		for _, r := range f.recipients {
			if !anyDomain(p.rcptDomain, domainOf(r)) {
				inScope = false
				break
			}
		}
		if !inScope {
			continue
		}
		if len(p.levels) > 0 && !hasLevel(p.levels, level) {
			continue
		}
		// Every personal-data finding must be one the permit covers: a
		// permit for pension numbers does not cover My Numbers.
		if len(p.detectors) > 0 {
			for _, fd := range rep.Findings {
				if fd.Count > 0 && fd.Detector != classify.Marking && sensitive[fd.Detector] && !p.detectors[fd.Detector] {
					inScope = false
					break
				}
			}
			if !inScope {
				continue
			}
		}
		return p
	}
	return nil
}

// sensitive detectors are those whose findings a permit must name to cover.
var sensitive = map[string]bool{
	classify.MyNumber: true, classify.ResidentCode: true, classify.PensionNumber: true,
	classify.DriversLicense: true, classify.Passport: true, classify.CreditCard: true,
	classify.BankAccount: true, classify.PersonalList: true,
}

// covers: the permit names the rule, or names no rules and the rule is about
// content (the level, markings or detectors — not encryption, inspection
// failures or mis-sending, which 3.3.5 asks for whatever the permission).
func (p *permit) covers(r *rule) bool {
	if len(p.rules) > 0 {
		return p.rules[r.id]
	}
	if !r.content {
		return false
	}
	if len(p.detectors) == 0 {
		return true // scoped by sender, recipients and level only
	}
	// A permit that names detectors covers only rules about those: a
	// permit for pension numbers does not cover a 秘 marking.
	for _, d := range r.detectors {
		if !p.detectors[d] {
			return false
		}
	}
	if len(r.markings) > 0 && !p.detectors[classify.Marking] {
		return false
	}
	if len(r.detectors) == 0 && len(r.markings) == 0 && len(p.levels) == 0 {
		return false // a level-only rule needs a permit scoped by level
	}
	return true
}

// SMTPReply is the ASCII text of a reject for after "550 5.7.1 ": the rules
// and clauses behind it (RFC 5321 4.2: reply text is ASCII).
func (v *Verdict) SMTPReply() string {
	var parts []string
	for _, h := range v.Rules {
		if h.Action != v.Action {
			continue
		}
		s := "rule " + asciiOnly(h.ID) + ", clause " + asciiOnly(h.Clause)
		if h.ReasonEN != "" {
			s += ": " + asciiOnly(h.ReasonEN)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "message refused by policy"
	}
	s := "Message refused by policy: " + strings.Join(parts, "; ")
	// RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with its code
	// and CRLF; leave room for "550 5.7.1 " and the message ID.
	if len(s) > maxReplyText {
		s = strings.TrimSpace(s[:maxReplyText-3]) + "..."
	}
	return s
}

const maxReplyText = 400

// asciiOnly keeps printable ASCII, so reply text never carries raw UTF-8 or
// control characters (RFC 5321 4.2).
func asciiOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r == '\n' || r == '\t' || r == '\r':
			b.WriteByte(' ')
		}
	}
	return strings.TrimSpace(b.String())
}
