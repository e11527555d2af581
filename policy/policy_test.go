package policy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"dlpguard/classify"
	"dlpguard/inspect"
)

const sender = "tanaka@city.example.lg.jp"

// msg builds an inspection result: From sender, the given To addresses.
func msg(to ...string) *inspect.Result {
	r := &inspect.Result{Header: inspect.Header{From: []inspect.Address{{Address: sender}}}}
	for _, a := range to {
		r.Header.To = append(r.Header.To, inspect.Address{Address: a})
	}
	r.Parts = []inspect.Part{{Type: "text/plain", Inspected: true}}
	return r
}

func withParts(r *inspect.Result, parts ...inspect.Part) *inspect.Result {
	r.Parts = append(r.Parts, parts...)
	for _, p := range parts {
		if p.Encrypted || (!p.Inspected && !p.Media && !p.Signature) {
			r.Incomplete = true
		}
	}
	return r
}

func find(det string, count int, conf classify.Confidence) classify.Finding {
	return classify.Finding{Detector: det, Count: count, Confidence: conf, Locations: []string{"body"}}
}

func marking(l classify.Level) classify.Finding {
	return classify.Finding{Detector: classify.Marking, Count: 1, Confidence: classify.High, Level: l, Locations: []string{"subject"}}
}

func report(level classify.Level, fs ...classify.Finding) classify.Report {
	return classify.Report{Level: level, Findings: fs}
}

func addrs(n int, domain string) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("user%d@%s", i, domain))
	}
	return out
}

func mustDefault(t *testing.T) *Engine {
	t.Helper()
	e, err := Default()
	if err != nil {
		t.Fatalf("default policy: %v", err)
	}
	if w := e.Warnings(); len(w) > 0 {
		t.Fatalf("default policy has warnings: %v", w)
	}
	return e
}

func mustParse(t *testing.T, y string) *Engine {
	t.Helper()
	e, err := Parse([]byte(y), "test.yaml")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return e
}

func hitIDs(v *Verdict) []string {
	var ids []string
	for _, h := range v.Rules {
		ids = append(ids, h.ID)
	}
	return ids
}

// TestDefaultPolicyRows checks every row of the default-policy table of docs/contracts.md.
func TestDefaultPolicyRows(t *testing.T) {
	e := mustDefault(t)
	ext := "someone@example.com"
	tests := []struct {
		name    string
		res     *inspect.Result
		rep     classify.Report
		action  Action
		rules   []string
		clause  string // clause of the first hit
		encrypt bool   // RequireEncryption
	}{
		{"my number with context", msg(ext), report(classify.LevelI, find(classify.MyNumber, 2, classify.High)),
			Reject, []string{"mynumber-reject"}, "3.3.5, 4", false},
		{"my number without context (medium)", msg(ext), report(classify.LevelI, find(classify.MyNumber, 1, classify.Medium)),
			Hold, []string{"mynumber-hold"}, "3.3.5, 4", true},
		{"my number without context (low)", msg(ext), report(classify.LevelI, find(classify.MyNumber, 1, classify.Low)),
			Hold, []string{"mynumber-hold"}, "3.3.5, 4", true},
		{"personal list of 10", msg(ext), report(classify.LevelI, find(classify.PersonalList, 10, classify.High)),
			Hold, []string{"personal-list-hold"}, "3.3.5", true},
		{"personal list of 4 passes", msg(ext), report(classify.LevelIII, find(classify.PersonalList, 4, classify.Medium)),
			Pass, nil, "", false},
		{"credit card", msg(ext), report(classify.LevelI, find(classify.CreditCard, 1, classify.High)),
			Hold, []string{"personal-id-hold"}, "3.3.5", true},
		{"resident code", msg(ext), report(classify.LevelI, find(classify.ResidentCode, 1, classify.Medium)),
			Hold, []string{"personal-id-hold"}, "3.3.5", true},
		{"pension number", msg(ext), report(classify.LevelI, find(classify.PensionNumber, 1, classify.High)),
			Hold, []string{"personal-id-hold"}, "3.3.5", true},
		{"driver's licence", msg(ext), report(classify.LevelI, find(classify.DriversLicense, 1, classify.High)),
			Hold, []string{"personal-id-hold"}, "3.3.5", true},
		{"passport", msg(ext), report(classify.LevelI, find(classify.Passport, 1, classify.High)),
			Hold, []string{"personal-id-hold"}, "3.3.5", true},
		{"bank account alone passes (p015)", msg(ext), report(classify.LevelIII, find(classify.BankAccount, 1, classify.High)),
			Pass, nil, "", false},
		{"phone numbers alone pass", msg(ext), report(classify.LevelIII, find(classify.PhoneNumber, 3, classify.High)),
			Pass, nil, "", false},
		{"marking I", msg(ext), report(classify.LevelI, marking(classify.LevelI)),
			Hold, []string{"marking-i-hold"}, "3.3.5", true},
		{"marking II", msg(ext), report(classify.LevelII, marking(classify.LevelII)),
			Hold, []string{"marking-ii-hold"}, "3.3.5", true},
		{"two marking findings: the strongest decides", msg(ext), report(classify.LevelI, marking(classify.LevelII), marking(classify.LevelI)),
			Hold, []string{"marking-i-hold"}, "3.3.5", true},
		{"marking III passes (p026)", msg(ext), report(classify.LevelIII, marking(classify.LevelIII)),
			Pass, nil, "", false},
		{"encrypted attachment", withParts(msg(ext), inspect.Part{Name: "report.zip", Attachment: true, Type: "application/zip", Encrypted: true}),
			report(classify.LevelIII), Hold, []string{"encrypted-attachment-hold"}, "3.3.5", false},
		{"S/MIME enveloped", withParts(&inspect.Result{Header: inspect.Header{From: []inspect.Address{{Address: sender}}, To: []inspect.Address{{Address: ext}}}},
			inspect.Part{Name: "smime.p7m", Attachment: true, Type: "application/pkcs7-mime", Encrypted: true}),
			report(classify.LevelIII), Hold, []string{"encrypted-attachment-hold"}, "3.3.5", false},
		{"corrupt attachment", withParts(msg(ext), inspect.Part{Name: "a.zip", Attachment: true, Type: "application/zip", Reason: "zip: checksum error"}),
			report(classify.LevelIII), Hold, []string{"uninspectable-hold"}, "3.3.5", false},
		{"incomplete result without a part to blame", func() *inspect.Result {
			r := msg(ext)
			r.Incomplete = true
			r.Problems = []string{"limit reached: max parts"}
			return r
		}(), report(classify.LevelIII), Hold, []string{"uninspectable-hold"}, "3.3.5", false},
		{"image attachment passes (p040)", withParts(msg(ext), inspect.Part{Name: "map.png", Attachment: true, Type: "image/png", Media: true}),
			report(classify.LevelIII), Pass, nil, "", false},
		{"PGP signature passes (p030)", withParts(msg(ext), inspect.Part{Name: "signature.asc", Attachment: true, Type: "application/pgp-signature", Signature: true}),
			report(classify.LevelIII), Pass, nil, "", false},
		{"zero-byte attachment passes (p033)", withParts(msg(ext), inspect.Part{Name: "empty.csv", Attachment: true, Type: "text/csv", Inspected: true}),
			report(classify.LevelIII), Pass, nil, "", false},
		{"10 external recipients", msg(addrs(10, "example.com")...), report(classify.LevelIII),
			Hold, []string{"missending-hold"}, "3.3.5", false},
		{"9 external recipients pass", msg(addrs(9, "example.com")...), report(classify.LevelIII),
			Pass, nil, "", false},
		{"6 To + 6 Cc external (p034)", func() *inspect.Result {
			r := msg(addrs(6, "a.example")...)
			for _, a := range addrs(6, "b.example") {
				r.Header.Cc = append(r.Header.Cc, inspect.Address{Address: a})
			}
			return r
		}(), report(classify.LevelIII), Hold, []string{"missending-hold"}, "3.3.5", false},
		{"9 external + 5 internal pass", msg(append(addrs(9, "example.com"), addrs(5, "city.example.lg.jp")...)...), report(classify.LevelIII),
			Pass, nil, "", false},
		{"duplicates count once", msg(append(addrs(9, "example.com"), "USER0@EXAMPLE.COM", "<user1@example.com>")...), report(classify.LevelIII),
			Pass, nil, "", false},
		{"look-alike domains are external", msg(addrs(10, "city.example.lg.jp.example.com")...), report(classify.LevelIII),
			Hold, []string{"missending-hold"}, "3.3.5", false},
		{"subdomains are external unless configured", msg(addrs(10, "sub.city.example.lg.jp")...), report(classify.LevelIII),
			Hold, []string{"missending-hold"}, "3.3.5", false},
		{"internal recipients only pass", msg(addrs(30, "city.example.lg.jp")...), report(classify.LevelIII),
			Pass, nil, "", false},
		{"nothing found passes", msg(ext), report(classify.LevelIII), Pass, nil, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := e.Decide(tc.res, tc.rep, Input{Now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
			if v.Action != tc.action {
				t.Errorf("action = %s, want %s (rules %v)", v.Action, tc.action, hitIDs(v))
			}
			if got := hitIDs(v); !reflect.DeepEqual(got, tc.rules) {
				t.Errorf("rules = %v, want %v", got, tc.rules)
			}
			if len(v.Rules) > 0 {
				if v.Rules[0].Clause != tc.clause {
					t.Errorf("clause = %q, want %q", v.Rules[0].Clause, tc.clause)
				}
				if v.Rules[0].Reason == "" || v.Rules[0].ReasonEN == "" {
					t.Errorf("rule %s has no reason text: %+v", v.Rules[0].ID, v.Rules[0])
				}
			}
			if v.RequireEncryption != tc.encrypt {
				t.Errorf("RequireEncryption = %v, want %v", v.RequireEncryption, tc.encrypt)
			}
			if v.PolicyVersion != e.Version() || v.PolicyVersion == "" {
				t.Errorf("PolicyVersion = %q, want %q", v.PolicyVersion, e.Version())
			}
		})
	}
}

func TestStrongestWins(t *testing.T) {
	e := mustDefault(t)
	res := withParts(msg(addrs(12, "example.com")...), inspect.Part{Name: "x.zip", Attachment: true, Encrypted: true})
	rep := report(classify.LevelI, find(classify.MyNumber, 3, classify.High), marking(classify.LevelII), find(classify.PersonalList, 25, classify.High))
	v := e.Decide(res, rep, Input{})
	if v.Action != Reject {
		t.Fatalf("action = %s, want reject", v.Action)
	}
	want := []string{"mynumber-reject", "personal-list-hold", "marking-ii-hold", "encrypted-attachment-hold", "missending-hold"}
	if got := hitIDs(v); !reflect.DeepEqual(got, want) {
		t.Fatalf("rules = %v, want every rule that fired: %v", got, want)
	}
	for _, h := range v.Rules {
		if h.Clause == "" {
			t.Errorf("rule %s without clause", h.ID)
		}
	}
	if v.Level != classify.LevelI {
		t.Errorf("level = %s", v.Level)
	}
}

func TestActionRank(t *testing.T) {
	order := []Action{Pass, Bcc, Delay, Hold, Reject}
	for i := 1; i < len(order); i++ {
		if order[i].Rank() <= order[i-1].Rank() {
			t.Errorf("%s should outrank %s", order[i], order[i-1])
		}
	}
	if Action("drop").Valid() {
		t.Error("unknown action valid")
	}
}

const customPolicy = `
version: 1
organisation:
  domains: [city.example.lg.jp, "*.city.example.lg.jp"]
departments:
  - name: 保険年金課
    senders: ["*@hoken.city.example.lg.jp", "nenkin-*@city.example.lg.jp"]
    manager: hoken-kacho@city.example.lg.jp
    deputies: [hoken-kakaricho@city.example.lg.jp]
rules:
  - id: mynumber-reject
    when: {detector: my_number, min_confidence: high}
    action: reject
    clause: "3.3.5, 4"
    message: {ja: 個人番号, en: My Number}
  - id: pension-hold
    when: {detector: pension_number}
    action: hold
    clause: 3.3.5
    message: {ja: 年金番号, en: pension number}
  - id: encrypted-hold
    when: {attachment_encrypted: true}
    action: hold
    clause: 3.3.5
    message: {ja: 暗号化, en: encrypted}
  - id: external-delay
    when: {external_recipients: 1}
    action: delay
    delay_minutes: 5
    clause: 3.3.5
    message: {ja: 誤送信防止のため5分後に送信します, en: sent in 5 minutes}
  - id: many-domains-bcc
    when: {external_domains: 3}
    action: bcc
    clause: 3.3.5
    message: {ja: Bccに変換, en: rewritten to Bcc}
  - id: big-hold
    when: {min_size: 20MB, recipient_domain: "*.example.net"}
    action: hold
    clause: 3.3.5
    message: {ja: 大きい, en: big}
  - id: marking-ii-hold
    when: {marking: [I, II]}
    action: hold
    clause: 3.3.5
    require_encryption: false
    message: {ja: 表示, en: marking}
exceptions:
  - id: EX-2026-007
    approved_by: CISO 山田
    reason: 国保連合会への月次報告（暗号化ZIP、パスワード別送）
    senders: ["nenkin-*@city.example.lg.jp"]
    recipients: ["*@kokuhoren.example.jp"]
    rules: [mynumber-reject]
    action: hold
    expires: 2027-03-31
permits:
  - id: PM-2026-01
    granted_by: hoken-kacho@city.example.lg.jp
    department: 保険年金課
    senders: ["*@hoken.city.example.lg.jp"]
    recipient_domains: [nenkin.example.go.jp]
    levels: [I]
    detectors: [my_number]
    legal_basis: 番号法第19条第8号
    action: pass
    expires: 2027-03-31
`

func TestExceptions(t *testing.T) {
	e := mustParse(t, customPolicy)
	before := time.Date(2027, 3, 31, 23, 0, 0, 0, jst) // last day still valid
	after := time.Date(2027, 4, 1, 0, 0, 0, 0, jst)
	mk := func(from string, to ...string) *inspect.Result {
		r := msg(to...)
		r.Header.From = []inspect.Address{{Address: from}}
		return r
	}
	mn := report(classify.LevelI, find(classify.MyNumber, 1, classify.High))
	tests := []struct {
		name   string
		res    *inspect.Result
		in     Input
		action Action
		exc    []string
	}{
		{"in scope, before expiry", mk("nenkin-a@city.example.lg.jp", "x@kokuhoren.example.jp"), Input{Now: before}, Hold, []string{"EX-2026-007"}},
		{"expired", mk("nenkin-a@city.example.lg.jp", "x@kokuhoren.example.jp"), Input{Now: after}, Reject, nil},
		{"other sender", mk("someone@city.example.lg.jp", "x@kokuhoren.example.jp"), Input{Now: before}, Reject, nil},
		{"one recipient out of scope", mk("nenkin-a@city.example.lg.jp", "x@kokuhoren.example.jp", "y@example.com"), Input{Now: before}, Reject, nil},
		{"envelope sender and recipients win over headers", mk("someone@city.example.lg.jp", "y@example.com"),
			Input{Now: before, Sender: "nenkin-b@city.example.lg.jp", Recipients: []string{"<z@kokuhoren.example.jp>"}}, Hold, []string{"EX-2026-007"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := e.Decide(tc.res, mn, tc.in)
			if v.Action != tc.action {
				t.Errorf("action = %s, want %s (%+v)", v.Action, tc.action, v.Rules)
			}
			if !reflect.DeepEqual(v.Exceptions, tc.exc) {
				t.Errorf("exceptions = %v, want %v", v.Exceptions, tc.exc)
			}
			for _, h := range v.Rules {
				if h.ID == "mynumber-reject" {
					if (h.Exception != "") != (tc.exc != nil) || h.RuleAction != Reject {
						t.Errorf("hit = %+v", h)
					}
				}
			}
		})
	}
}

func TestPermits(t *testing.T) {
	e := mustParse(t, customPolicy)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, jst)
	mk := func(from string, to ...string) *inspect.Result {
		r := msg(to...)
		r.Header.From = []inspect.Address{{Address: from}}
		return r
	}
	mn := report(classify.LevelI, find(classify.MyNumber, 1, classify.High))
	mnPension := report(classify.LevelI, find(classify.MyNumber, 1, classify.High), find(classify.PensionNumber, 1, classify.High))
	tests := []struct {
		name   string
		res    *inspect.Result
		rep    classify.Report
		now    time.Time
		action Action
		permit string
	}{
		// external-delay fires too (one external recipient): the permit covers content rules only.
		{"in scope", mk("a@hoken.city.example.lg.jp", "x@nenkin.example.go.jp"), mn, now, Delay, "PM-2026-01"},
		{"expired", mk("a@hoken.city.example.lg.jp", "x@nenkin.example.go.jp"), mn, time.Date(2027, 4, 2, 0, 0, 0, 0, jst), Reject, ""},
		{"recipient domain out of scope", mk("a@hoken.city.example.lg.jp", "x@nenkin.example.go.jp.evil.example"), mn, now, Reject, ""},
		{"sender out of scope", mk("a@city.example.lg.jp", "x@nenkin.example.go.jp"), mn, now, Reject, ""},
		{"finding not covered", mk("a@hoken.city.example.lg.jp", "x@nenkin.example.go.jp"), mnPension, now, Reject, ""},
		{"marking not covered by a detector permit", mk("a@hoken.city.example.lg.jp", "x@nenkin.example.go.jp"),
			report(classify.LevelI, find(classify.MyNumber, 1, classify.High), marking(classify.LevelII)), now, Hold, "PM-2026-01"},
		{"encryption rule not covered", withParts(mk("a@hoken.city.example.lg.jp", "x@nenkin.example.go.jp"),
			inspect.Part{Name: "a.zip", Attachment: true, Encrypted: true}), mn, now, Hold, "PM-2026-01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := e.Decide(tc.res, tc.rep, Input{Now: tc.now})
			if v.Action != tc.action || v.Permit != tc.permit {
				t.Errorf("action %s permit %q, want %s %q (%+v)", v.Action, v.Permit, tc.action, tc.permit, v.Rules)
			}
			if tc.permit != "" {
				for _, h := range v.Rules {
					if h.ID == "mynumber-reject" && (h.Permit != tc.permit || h.Action != Pass) {
						t.Errorf("hit %+v: want passed by the permit", h)
					}
				}
			}
		})
	}
}

func TestDelayBccDepartment(t *testing.T) {
	e := mustParse(t, customPolicy)
	in := Input{Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	from := func(r *inspect.Result, a string) *inspect.Result {
		r.Header.From = []inspect.Address{{Address: a}}
		return r
	}

	v := e.Decide(from(msg("a@example.com"), "nenkin-x@city.example.lg.jp"), report(classify.LevelIII), in)
	if v.Action != Delay || v.DelayMinutes != 5 {
		t.Errorf("delay: %s %d", v.Action, v.DelayMinutes)
	}
	if v.Department != "保険年金課" || !reflect.DeepEqual(v.Approvers, []string{"hoken-kacho@city.example.lg.jp", "hoken-kakaricho@city.example.lg.jp"}) {
		t.Errorf("department %q approvers %v", v.Department, v.Approvers)
	}

	// Subdomains configured as internal ("*.city.example.lg.jp") are internal.
	v = e.Decide(msg("a@hoken.city.example.lg.jp", "b@city.example.lg.jp"), report(classify.LevelIII), in)
	if v.Action != Pass {
		t.Errorf("internal subdomain: %s %v", v.Action, hitIDs(v))
	}

	v = e.Decide(msg("a@x.example", "b@y.example", "c@z.example"), report(classify.LevelIII), in)
	if v.Action != Delay || !reflect.DeepEqual(hitIDs(v), []string{"external-delay", "many-domains-bcc"}) {
		t.Errorf("bcc+delay: %s %v", v.Action, hitIDs(v))
	}
	// bcc alone: an administrator's policy with only the bcc rule.
	e2 := mustParse(t, `
rules:
  - id: bcc
    when: {external_domains: 2, external_recipients: 3}
    action: bcc
    clause: 3.3.5
    message: {ja: Bcc, en: Bcc}
`+allowNoMyNumber)
	v = e2.Decide(msg("a@x.example", "b@x.example", "c@y.example"), report(classify.LevelIII), in)
	if v.Action != Bcc {
		t.Errorf("bcc: %s", v.Action)
	}
	v = e2.Decide(msg("a@x.example", "b@x.example", "c@x.example"), report(classify.LevelIII), in)
	if v.Action != Pass {
		t.Errorf("one domain: %s", v.Action)
	}

	// An exception that relaxes a hold to delay gets the default minutes.
	e3 := mustParse(t, `
rules:
  - {id: h, when: {marking: II}, action: hold, clause: 3.3.5, message: {ja: 秘, en: marked}}
exceptions:
  - {id: X, approved_by: CISO, reason: 試行, senders: ["*@city.example.lg.jp"], rules: [h], action: delay, expires: 2099-01-01}
`+allowNoMyNumber)
	v = e3.Decide(msg("a@example.com"), report(classify.LevelII, marking(classify.LevelII)), in)
	if v.Action != Delay || v.DelayMinutes != defaultDelayMinutes || v.Exceptions[0] != "X" {
		t.Errorf("relaxed to delay: %s %d %v", v.Action, v.DelayMinutes, v.Exceptions)
	}

	// Hold outranks delay and clears the delay.
	v = e.Decide(withParts(msg("a@example.com"), inspect.Part{Name: "z.zip", Attachment: true, Encrypted: true}), report(classify.LevelIII), in)
	if v.Action != Hold || v.DelayMinutes != 0 {
		t.Errorf("hold+delay: %s %d", v.Action, v.DelayMinutes)
	}

	// Size and recipient-domain conditions.
	v = e.Decide(msg("a@mail.example.net"), report(classify.LevelIII), Input{Size: 25 << 20})
	if v.Action != Hold || !slices.Contains(hitIDs(v), "big-hold") {
		t.Errorf("big: %s %v", v.Action, hitIDs(v))
	}
	v = e.Decide(msg("a@mail.example.net"), report(classify.LevelIII), Input{Size: 1 << 20})
	if slices.Contains(hitIDs(v), "big-hold") {
		t.Errorf("small message hit big-hold")
	}

	// require_encryption: false on the only holding rule.
	v = e.Decide(msg("a@city.example.lg.jp"), report(classify.LevelII, marking(classify.LevelII)), in)
	if v.Action != Hold || v.RequireEncryption {
		t.Errorf("marking: %s enc=%v", v.Action, v.RequireEncryption)
	}
}

func TestNoInternalDomainsConfigured(t *testing.T) {
	e := mustDefault(t)
	// The sender's own domain exactly; the envelope sender decides.
	res := msg(addrs(10, "city.example.lg.jp")...)
	v := e.Decide(res, report(classify.LevelIII), Input{Sender: "x@other.example.org"})
	if v.Action != Hold {
		t.Errorf("from another domain, city addresses are external: %s", v.Action)
	}
	// No sender at all: every recipient with a domain is external (fail closed).
	res = msg(addrs(10, "city.example.lg.jp")...)
	res.Header.From = nil
	v = e.Decide(res, report(classify.LevelIII), Input{})
	if v.Action != Hold {
		t.Errorf("no sender: %s", v.Action)
	}
}

func TestDecideNilResultFailsClosed(t *testing.T) {
	e := mustDefault(t)
	v := e.Decide(nil, classify.Report{}, Input{})
	if v.Action != Hold || v.Level != classify.LevelIII {
		t.Fatalf("nil result: %s %s", v.Action, v.Level)
	}
}

func TestSMTPReply(t *testing.T) {
	e := mustDefault(t)
	v := e.Decide(msg("a@example.com"), report(classify.LevelI, find(classify.MyNumber, 1, classify.High), marking(classify.LevelI)), Input{})
	s := v.SMTPReply()
	if !strings.Contains(s, "rule mynumber-reject, clause 3.3.5, 4") {
		t.Errorf("reply %q lacks rule and clause", s)
	}
	if strings.Contains(s, "marking-i-hold") {
		t.Errorf("reply %q names a rule weaker than the verdict", s)
	}
	for _, r := range s {
		if r < 0x20 || r >= 0x7f {
			t.Fatalf("reply %q is not printable ASCII", s)
		}
	}

	// Many rejecting rules with long texts still make one reply line.
	var y strings.Builder
	y.WriteString("rules:\n")
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&y, "  - {id: r%d, when: {detector: my_number}, action: reject, clause: 3.3.5, message: {ja: 理由, en: %s}}\n", i, strings.Repeat("long reason ", 10))
	}
	v = mustParse(t, y.String()).Decide(msg("a@example.com"), report(classify.LevelI, find(classify.MyNumber, 1, classify.High)), Input{})
	if s := v.SMTPReply(); len(s) > maxReplyText || !strings.HasPrefix(s, "Message refused by policy: rule r0, clause 3.3.5") {
		t.Errorf("long reply (%d bytes): %q", len(s), s)
	}
}

func TestGlobAndDomains(t *testing.T) {
	tests := []struct {
		pattern, addr string
		want          bool
	}{
		{"*@city.example.lg.jp", "Tanaka@City.Example.LG.JP", true},
		{"*@city.example.lg.jp", "a@city.example.lg.jp.example.com", false},
		{"*@city.example.lg.jp", "a@sub.city.example.lg.jp", false},
		{"city.example.lg.jp", "a@city.example.lg.jp", true},
		{"city.example.lg.jp", "a@xcity.example.lg.jp", false},
		{"city.example.lg.jp", "a@city.example.lg.jp.example.com", false},
		{"*.city.example.lg.jp", "a@sub.city.example.lg.jp", true},
		{"*.city.example.lg.jp", "a@city.example.lg.jp", false},
		{"*.city.example.lg.jp", "a@evilcity.example.lg.jp", false},
		{".example.jp", "a@x.example.jp", true},
		{"nenkin-*@city.example.lg.jp", "nenkin-01@city.example.lg.jp", true},
		{"nenkin-*@city.example.lg.jp", "kokuho@city.example.lg.jp", false},
		{"a?c@x.jp", "abc@x.jp", true},
		{"*", "", false},
	}
	for _, tc := range tests {
		if got := matchAddr(tc.pattern, tc.addr); got != tc.want {
			t.Errorf("matchAddr(%q, %q) = %v, want %v", tc.pattern, tc.addr, got, tc.want)
		}
	}
}
