// Package classify reads the text that inspect extracts and reports findings
// (which detector, how many distinct values, where, with masked samples) and
// the class of the information: 重要性 I, II or III (clause 3.1 of the
// standard).
//
// classify knows nothing of SMTP or of the policy's actions.
package classify

// Detector names, as in the scan JSON contract (DESIGN.md).
const (
	MyNumber        = "my_number"
	CorporateNumber = "corporate_number"
	ResidentCode    = "resident_code"
	PensionNumber   = "pension_number"
	DriversLicense  = "drivers_license"
	Passport        = "passport"
	CreditCard      = "credit_card"
	BankAccount     = "bank_account"
	PhoneNumber     = "phone_number"
	PostalCode      = "postal_code"
	AddressDet      = "address"
	BirthDate       = "birth_date"
	EmailAddress    = "email_address"
	PersonalList    = "personal_list"
	Marking         = "marking"
)

// Level is a class of information of clause 3.1: "I" is the most important
// (personal information and the like), "II" next, "III" the rest.
type Level string

const (
	LevelI   Level = "I"
	LevelII  Level = "II"
	LevelIII Level = "III"
)

// Rank orders levels: I is 3, II is 2, III (or empty) is 1.
func (l Level) Rank() int {
	switch l {
	case LevelI:
		return 3
	case LevelII:
		return 2
	}
	return 1
}

// Confidence of a finding.
type Confidence string

const (
	High   Confidence = "high"
	Medium Confidence = "medium"
	Low    Confidence = "low"
)

// Rank orders confidences: high 3, medium 2, low 1.
func (c Confidence) Rank() int {
	switch c {
	case High:
		return 3
	case Medium:
		return 2
	}
	return 1
}

// Finding is what one detector found in one message.
type Finding struct {
	Detector   string     `json:"detector"`
	Count      int        `json:"count"` // distinct values after normalisation; records for personal_list
	Locations  []string   `json:"locations"`
	Confidence Confidence `json:"confidence"`
	Samples    []string   `json:"samples"` // masked: never a whole identifier
	// Level is set for markings (the class the marking states) and for
	// custom detectors that imply a level.
	Level Level `json:"level,omitempty"`
	// Contexts are a few characters around some matches, identifiers
	// masked, for reviewers.
	Contexts []string `json:"contexts,omitempty"`
}

// Report is the classification of one message.
type Report struct {
	Findings []Finding `json:"findings"`
	// Level is the class the findings imply (clause 3.1).
	Level Level `json:"level"`
}

// Find returns the finding of the named detector, or nil. (A value
// receiver, so that it can be called on a returned Report.)
func (r Report) Find(detector string) *Finding {
	for i := range r.Findings {
		if r.Findings[i].Detector == detector {
			return &r.Findings[i]
		}
	}
	return nil
}
