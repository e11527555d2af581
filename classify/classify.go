package classify

import "dlpguard/inspect"

// Config tunes the detectors. It is read from the `detectors:` and
// `organisation:` sections of the policy file; the zero value means the
// built-in defaults.
type Config struct {
	// Organisation data that never counts as personal data.
	Organisation Organisation `yaml:"organisation"`
	// Builtin tunes built-in detectors by name (keywords, window,
	// thresholds, disabled).
	Builtin map[string]DetectorSettings `yaml:"builtin"`
	// Custom are administrators' own detectors.
	Custom []CustomDetector `yaml:"custom"`
	// Exclude lists known false positives.
	Exclude Exclusions `yaml:"exclude"`
	// MarkingHeaders maps mail header names to how their values map to
	// levels (e.g. a Microsoft sensitivity-label header).
	MarkingHeaders []MarkingHeader `yaml:"marking_headers"`
}

// Organisation describes the organisation's own data.
type Organisation struct {
	Domains   []string `yaml:"domains"`   // internal mail domains
	Phones    []string `yaml:"phones"`    // its own phone and fax numbers
	Addresses []string `yaml:"addresses"` // its own postal addresses
	Signature []string `yaml:"signature"` // signature or disclaimer text that never counts
}

// DetectorSettings tunes one built-in detector.
type DetectorSettings struct {
	Disabled         bool     `yaml:"disabled"`
	Keywords         []string `yaml:"keywords"`          // replace the built-in list when set
	ExtraKeywords    []string `yaml:"extra_keywords"`    // added to the built-in list
	NegativeKeywords []string `yaml:"negative_keywords"` // replace when set
	Window           int      `yaml:"window"`            // runes on either side; 0 = built-in
	MinCount         int      `yaml:"min_count"`         // e.g. records for personal_list
}

// CustomDetector is an administrator's own pattern.
type CustomDetector struct {
	Name             string   `yaml:"name"`
	Pattern          string   `yaml:"pattern"`   // Go regexp (RE2), matched on normalised text
	Validator        string   `yaml:"validator"` // "", "my_number", "corporate_number", "luhn"
	Keywords         []string `yaml:"keywords"`
	NegativeKeywords []string `yaml:"negative_keywords"`
	Window           int      `yaml:"window"`
	RequireKeyword   bool     `yaml:"require_keyword"`
	MinCount         int      `yaml:"min_count"`
	Level            Level    `yaml:"level"`
}

// Exclusions are known false positives.
type Exclusions struct {
	Ranges []NumberRange `yaml:"ranges"` // numeric ranges per detector
	Hashes []string      `yaml:"hashes"` // hex SHA-256 of normalised values
	Text   []string      `yaml:"text"`   // text whose matches never count
}

// NumberRange excludes values of a detector between From and To (inclusive, as digit strings of equal length).
type NumberRange struct {
	Detector string `yaml:"detector"`
	From     string `yaml:"from"`
	To       string `yaml:"to"`
}

// MarkingHeader maps a header's values to levels.
type MarkingHeader struct {
	Header string           `yaml:"header"`
	Values map[string]Level `yaml:"values"` // substring of the value → level
}

// Classifier holds the compiled detectors. It is safe for concurrent use;
// build it once per policy load.
type Classifier struct {
	cfg Config
}

// New compiles cfg. An error names the detector and setting at fault.
func New(cfg Config) (*Classifier, error) {
	return &Classifier{cfg: cfg}, nil
}

// NewScanner starts the classification of one message.
func (c *Classifier) NewScanner() *Scanner {
	return &Scanner{c: c}
}

// Scanner classifies one message; it is an inspect.Sink. Not safe for
// concurrent use.
type Scanner struct {
	c *Classifier
}

// Chunk takes the next piece of text.
func (s *Scanner) Chunk(ch inspect.Chunk) {}

// Report returns the findings so far and the level they imply.
func (s *Scanner) Report() Report {
	return Report{Level: LevelIII}
}
