package policy

import (
	"dlpguard/classify"
	"dlpguard/mimemsg"
)

// Attachment is one attachment or archive member in the scan JSON contract
// (docs/contracts.md): archive members are named "outer.zip/inner.csv"; Error is the
// reason it was not inspected.
type Attachment struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Encrypted bool   `json:"encrypted"`
	Inspected bool   `json:"inspected"`
	Error     string `json:"error"`
	// OCR is set when text of the attachment was read by OCR (scans,
	// photos); UnreadScan when a scan was not (3.3.5, unread-scan-hold).
	OCR        bool `json:"ocr,omitempty"`
	UnreadScan bool `json:"unread_scan,omitempty"`
}

// Summary is a verdict in the scan JSON contract (one line of
// `dlpguard scan --json`), also what the hold store and notices show.
type Summary struct {
	Source            string             `json:"source"`
	Verdict           Action             `json:"verdict"`
	Level             classify.Level     `json:"level"`
	Rules             []RuleHit          `json:"rules"`
	Findings          []classify.Finding `json:"findings"`
	Attachments       []Attachment       `json:"attachments"`
	RequireEncryption bool               `json:"require_encryption,omitempty"`
	Exceptions        []string           `json:"exceptions,omitempty"`
	Permit            string             `json:"permit,omitempty"`
	Department        string             `json:"department,omitempty"`
	Approvers         []string           `json:"approvers,omitempty"`
	DelayMinutes      int                `json:"delay_minutes,omitempty"`
	Incomplete        bool               `json:"incomplete,omitempty"`
	Problems          []string           `json:"problems,omitempty"`
	MessageID         string             `json:"message_id,omitempty"`
	Subject           string             `json:"subject,omitempty"`
	PolicyVersion     string             `json:"policy_version"`
	// Parts is the message's MIME tree as inspected (path, type,
	// SHA-256 of header and raw body of each entity); a release sends
	// only a message whose tree is this one (3.3.5).
	Parts         []mimemsg.Part `json:"parts,omitempty"`
	PartsComplete bool           `json:"parts_complete,omitempty"`
}

// Summary renders the verdict in the scan JSON contract; source names the
// message (a path, "-", or a queue ID).
func (v *Verdict) Summary(source string) Summary {
	s := Summary{
		Source:            source,
		Verdict:           v.Action,
		Level:             v.Level,
		Rules:             append([]RuleHit{}, v.Rules...),
		Findings:          v.Report.Findings,
		Attachments:       []Attachment{},
		RequireEncryption: v.RequireEncryption,
		Exceptions:        v.Exceptions,
		Permit:            v.Permit,
		Department:        v.Department,
		Approvers:         v.Approvers,
		DelayMinutes:      v.DelayMinutes,
		PolicyVersion:     v.PolicyVersion,
	}
	if s.Findings == nil {
		s.Findings = []classify.Finding{}
	}
	if res := v.Inspect; res != nil {
		s.Incomplete = res.Incomplete
		s.Problems = res.Problems
		s.MessageID = res.Header.MessageID
		s.Subject = res.Header.Subject
		s.Parts, s.PartsComplete = res.Tree, res.TreeComplete
		for _, p := range res.Parts {
			// Every attachment and archive member; an encrypted message
			// part (PGP/MIME, S/MIME) counts as an encrypted attachment.
			if !p.Attachment && !p.Encrypted {
				continue
			}
			a := Attachment{Name: p.Name, Type: p.Type, Encrypted: p.Encrypted, Inspected: p.Inspected, OCR: p.OCR, UnreadScan: p.UnreadScan}
			if a.Type == "" {
				a.Type = p.DeclaredType
			}
			if !p.Inspected {
				a.Error = p.Reason
			}
			s.Attachments = append(s.Attachments, a)
		}
	}
	return s
}
