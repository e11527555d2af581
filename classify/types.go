// Package classify reads the text that inspect extracts and reports findings
// (which detector, how many distinct values, where, with masked samples) and
// the class of the information: 重要性 I, II or III (clause 3.1 of the
// standard).
//
// classify knows nothing of SMTP or of the policy's actions.
//
// How it works: New compiles the configuration once (keyword automaton,
// trigger tables, exclusions, custom patterns). A Scanner takes the
// chunks of one message; text of one location is kept in a sliding buffer
// so that numbers and keyword windows cross chunk boundaries, and one pass
// over the UTF-8 bytes stops only at digits (half or full width), '@' and
// the anchor runes of the markings. Normalisation (full-width digits and
// letters, dash and space look-alikes, zero-width characters inside
// numbers) happens on the fly at those stops; keywords are found by an
// Aho-Corasick automaton run lazily over the windows around candidates,
// block by block at fixed offsets, each block once (so that every window
// sees the same keywords whatever was looked at before). Plain ASCII is
// passed over eight bytes at a time, and the commonest digit runs of
// ASCII text (7f3a9c1e, 12ms, 2026-11-25T10:15) are dismissed before the
// full parse (plainRun); the differential tests compare these shortcuts
// with the full path.
//
// Decisions worth knowing:
//   - A 12-digit run inside a longer digit run or glued to letters, '/',
//     '@', '=' … (URLs, base64, Message-IDs, file names) is not a My
//     Number; next to Japanese text it is. 4-4-4-4 is one 16-digit number.
//   - Between the groups of a number, one separator: a space (any Zs), a
//     dash or dot look-alike, or a control or invisible character (Cc:
//     TAB, NUL, VT, FF, ESC, DEL, C1; line breaks CR, LF, CR LF, NEL,
//     U+2028, U+2029; Cf, which the fold drops). Controls and line
//     breaks join at most three groups on their way to a known grouping
//     (4-4-4, 4-6-5, 4-6-4), and are no context: 1234<TAB>5678<TAB>9018
//     without a keyword is medium (cells of a pasted table may be any
//     three numbers). A run
//     too long for one number (more than 8 groups or 40 digits) is ended at
//     a space, TAB or line break and the rest judged on its own.
//   - my_number confidence: high with a keyword within the window (the
//     bare 番号 only within 30 runes and not inside a longer word such as
//     電話番号), a 4-4-4 grouping (spaced, not by controls or line breaks),
//     a column labelled 個人番号, or two or more
//     distinct valid numbers in the message; medium otherwise; a negative
//     keyword (注文番号 …) nearer than any positive one, or a column
//     labelled with one, lowers it one step (high→medium→low).
//   - A My Number as people fill in forms (keyed.go): within 20 runes
//     after a My Number keyword, twelve digits with a valid check digit in
//     any grouping (one digit per space, half or full width; one digit per
//     line or per spreadsheet cell; 3-3-3-3, 2-4-4-2, 6-6, dots; up to
//     three separator runes between two digits) are one number, high. A
//     thirteenth digit, no keyword, or a negative keyword nearer than the
//     keyword keeps them out: tables of single digits hold nothing.
//   - The other ID detectors (corporate, resident, pension, licence,
//     passport, card, bank) have the ticket labels (受付番号, 注文番号,
//     伝票番号, 問合せ番号, 管理番号, 予約番号, 整理番号, tracking …,
//     ticketWords) as negative keywords: when one is nearer than any of
//     the detector's own keywords (within 30 runes), or heads the
//     number's column, the number is that ticket's and is not recorded
//     (the default policy holds those IDs at any confidence); a corporate
//     number loses one step. A licence candidate dropped this way still
//     goes to the My Number test.
//   - Markings: see marking.go (秘書課, 秘密保持契約, 重要性の高い and
//     取扱注意事項 are not markings).
//   - personal_list counts records (table rows under a header with a name
//     column and an address, phone or birth-date column; or text lines with
//     a name-like field and an address, phone or birth date) per location
//     and reports locations with at least MinCount (default 10). The
//     layouts of issue 12 (records.go): split name columns (姓・名), list
//     bullets and numbering before the name, and as the field also an
//     e-mail address, a bank account, an age, a date marked 生, a street
//     number after a town without a prefecture; an address label block
//     (〒 line, then a name with 様) is one record.
package classify

// Detector names, as in the scan JSON contract (docs/contracts.md).
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
