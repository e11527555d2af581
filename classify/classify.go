package classify

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"dlpguard/inspect"
)

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
	// levels (e.g. a Microsoft sensitivity-label header). When none are
	// configured, `Sensitivity: Company-Confidential` maps to II.
	MarkingHeaders []MarkingHeader `yaml:"marking_headers"`
	// Markings overrides the level of canonical marking tokens (see
	// DefaultMarkings), e.g. {"重要性2": "I"}.
	Markings map[string]Level `yaml:"markings"`
}

// Organisation describes the organisation's own data.
type Organisation struct {
	Domains []string `yaml:"domains"` // internal mail domains (subdomains included)
	// Phones are its own phone and fax numbers. An entry with fewer than 10
	// digits (e.g. "042-555") is a prefix: every number starting with it is
	// the organisation's.
	Phones    []string `yaml:"phones"`
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
	Level            Level    `yaml:"level"` // "" means I
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

// detSettings is the compiled tuning of one built-in detector.
type detSettings struct {
	disabled bool
	window   int
	minCount int
}

// Classifier holds the compiled detectors. It is safe for concurrent use;
// build it once per policy load.
type Classifier struct {
	cfg      Config
	set      [nDet]detSettings
	ac       *acMatcher
	trig     [1024]uint64 // bitset of 3-byte runes that start work in the hot loop
	negWin   int
	maxWin   int
	margin   int // bytes kept after the scan position (forward context)
	back     int // bytes kept before it (backward context)
	org      orgData
	excl     [][]byte
	ranges   [nDet][]NumberRange
	hashes   map[string]bool
	custom   []*customDet
	markHdrs []MarkingHeader
	markings map[string]Level
	eras     [5]era
	prefs    [47]string
	// bytes the hot loop passes over: ASCII other than digits and '@'
	// (and '\n' in tables).
	skipASCII, skipTable [256]bool
	pool                 sync.Pool // released Scanners, buffers kept
	birthASCII           []string  // the ASCII keywords of birth_date, lower case
	birthASCIIMax        int       // the longest of them
	birthFirst           [256]bool // their first bytes, both cases
	// birthFirst2 and birthSecond are their first and second letters
	// (lower case, each repeated in the eight bytes of a word) when all
	// are letters and there are at most two first and four second ones
	// (the default: d, b; o, a, i), else zero
	birthFirst2 [2]uint64
	birthSecond [4]uint64
	// ref turns the shortcuts off (the alphanumeric-token skip in scan,
	// plainRun, judge12's early return, the byte window of judgeDate,
	// exact wide windows in near): set only by the differential tests,
	// which compare both ways.
	ref bool
}

type orgData struct {
	phones   map[string]bool
	prefixes []string
	domains  []string
	addrs    []string
}

func detIndex(name string) int {
	for i, n := range detNames() {
		if n == name {
			return i
		}
	}
	return -1
}

func validLevel(l Level) bool { return l == LevelI || l == LevelII || l == LevelIII }

// New compiles cfg. An error names the detector and setting at fault.
func New(cfg Config) (*Classifier, error) {
	c := &Classifier{cfg: cfg, negWin: 30, hashes: map[string]bool{}, eras: eras(), prefs: prefectures()}
	var kws []kwInfo
	index := map[string]int{}
	add := func(word string, pos, neg, label uint32) {
		w := strings.ToLower(strings.TrimSpace(word))
		if w == "" {
			return
		}
		i, ok := index[w]
		if !ok {
			i = len(kws)
			index[w] = i
			kws = append(kws, kwInfo{text: w, runes: len([]rune(w))})
		}
		kws[i].pos |= pos
		kws[i].neg |= neg
		kws[i].label |= label
	}
	for name := range cfg.Builtin {
		if detIndex(name) < 0 {
			return nil, fmt.Errorf("detectors.builtin: unknown detector %q", name)
		}
	}
	for d := 0; d < nDet; d++ {
		def := defaultSettings(d)
		s, ok := cfg.Builtin[detNames()[d]]
		if !ok {
			s = DetectorSettings{}
		}
		if s.Window < 0 || s.MinCount < 0 {
			return nil, fmt.Errorf("detectors.builtin.%s: window and min_count must not be negative", detNames()[d])
		}
		kw := def.Keywords
		if len(s.Keywords) > 0 {
			kw = s.Keywords
		}
		kw = append(append([]string(nil), kw...), s.ExtraKeywords...)
		neg := def.NegativeKeywords
		if len(s.NegativeKeywords) > 0 {
			neg = s.NegativeKeywords
		}
		ds := detSettings{disabled: s.Disabled, window: def.Window, minCount: def.MinCount}
		if s.Window > 0 {
			ds.window = s.Window
		}
		if s.MinCount > 0 {
			ds.minCount = s.MinCount
		}
		if ds.minCount == 0 {
			ds.minCount = 1
		}
		c.set[d] = ds
		for _, w := range kw {
			if lw := strings.ToLower(strings.TrimSpace(w)); d == dBirth && lw != "" && isASCII([]byte(lw)) {
				c.birthASCII = append(c.birthASCII, lw)
				c.birthASCIIMax = max(c.birthASCIIMax, len(lw))
				c.birthFirst[lw[0]], c.birthFirst[upperASCII(lw[0])] = true, true
			}
			var lab uint32
			if d == dMyNumber && w == "番号" {
				lab = labGenericNumber
			}
			add(w, 1<<d, 0, lab)
		}
		for _, w := range neg {
			add(w, 0, 1<<d, 0)
		}
		if ds.window > c.maxWin {
			c.maxWin = ds.window
		}
	}
	for lab, words := range labelWords() {
		for _, w := range words {
			add(w, 0, 0, lab)
		}
	}
	c.birthFirst2, c.birthSecond = firstLetters(c.birthASCII)
	if total := keywordBytes(kws); total >= 1<<15-1 {
		return nil, fmt.Errorf("detectors: keywords too long in total (%d bytes, at most 32766)", total)
	}
	if len(kws) > 60000 {
		return nil, fmt.Errorf("detectors: too many keywords (%d)", len(kws))
	}
	c.ac = buildAC(kws)
	if c.ac.maxLen > 256 {
		return nil, fmt.Errorf("detectors: keyword longer than 256 bytes")
	}

	// organisation
	c.org.phones = map[string]bool{}
	for _, p := range cfg.Organisation.Phones {
		d := digitsOnly(p)
		switch {
		case len(d) >= 10:
			c.org.phones[d] = true
		case len(d) >= 2:
			c.org.prefixes = append(c.org.prefixes, d)
		default:
			return nil, fmt.Errorf("organisation.phones: %q has too few digits", p)
		}
	}
	for _, d := range cfg.Organisation.Domains {
		d = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(d, "@")))
		if d != "" {
			c.org.domains = append(c.org.domains, d)
		}
	}
	for _, a := range cfg.Organisation.Addresses {
		if f := compactAddr(a); f != "" {
			c.org.addrs = append(c.org.addrs, f)
		}
	}
	for _, t := range append(append([]string(nil), cfg.Organisation.Signature...), cfg.Exclude.Text...) {
		if t = strings.TrimSpace(t); t != "" {
			c.excl = append(c.excl, []byte(t))
		}
	}
	for i, r := range cfg.Exclude.Ranges {
		d := detIndex(r.Detector)
		if d < 0 {
			found := false
			for _, cd := range cfg.Custom {
				found = found || cd.Name == r.Detector
			}
			if !found {
				return nil, fmt.Errorf("detectors.exclude.ranges[%d]: unknown detector %q", i, r.Detector)
			}
		}
		if len(r.From) != len(r.To) || !allDigits(r.From) || !allDigits(r.To) || r.From == "" || r.From > r.To {
			return nil, fmt.Errorf("detectors.exclude.ranges[%d] (%s): from and to must be digit strings of equal length, from ≤ to", i, r.Detector)
		}
		if d >= 0 {
			c.ranges[d] = append(c.ranges[d], r)
		}
	}
	for i, h := range cfg.Exclude.Hashes {
		h = strings.ToLower(strings.TrimSpace(h))
		if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("detectors.exclude.hashes[%d]: not a hex SHA-256", i)
		}
		c.hashes[h] = true
	}
	names := map[string]bool{}
	for i, cd := range cfg.Custom {
		if cd.Name == "" {
			return nil, fmt.Errorf("detectors.custom[%d]: name is empty", i)
		}
		if detIndex(cd.Name) >= 0 || names[cd.Name] {
			return nil, fmt.Errorf("detectors.custom[%d] %q: name already used", i, cd.Name)
		}
		names[cd.Name] = true
		re, err := regexp.Compile(cd.Pattern)
		if err != nil {
			return nil, fmt.Errorf("detectors.custom %q: pattern: %w", cd.Name, err)
		}
		if cd.Pattern == "" || re.MatchString("") {
			return nil, fmt.Errorf("detectors.custom %q: pattern matches the empty string", cd.Name)
		}
		v, ok := validatorFor(cd.Validator)
		if !ok {
			return nil, fmt.Errorf("detectors.custom %q: unknown validator %q (want my_number, corporate_number or luhn)", cd.Name, cd.Validator)
		}
		lvl := cd.Level
		if lvl == "" {
			lvl = LevelI
		}
		if !validLevel(lvl) {
			return nil, fmt.Errorf("detectors.custom %q: bad level %q (want I, II or III)", cd.Name, cd.Level)
		}
		if cd.Window < 0 || cd.MinCount < 0 {
			return nil, fmt.Errorf("detectors.custom %q: window and min_count must not be negative", cd.Name)
		}
		if cd.RequireKeyword && len(cd.Keywords) == 0 {
			return nil, fmt.Errorf("detectors.custom %q: require_keyword without keywords", cd.Name)
		}
		w := cd.Window
		if w == 0 {
			w = 100
		}
		mc := cd.MinCount
		if mc == 0 {
			mc = 1
		}
		c.custom = append(c.custom, &customDet{name: cd.Name, re: re, valid: v, kw: lowerAll(cd.Keywords),
			neg: lowerAll(cd.NegativeKeywords), window: w, require: cd.RequireKeyword, minCount: mc, level: lvl})
	}
	c.markings = DefaultMarkings()
	for tok, l := range cfg.Markings {
		if _, ok := c.markings[tok]; !ok {
			return nil, fmt.Errorf("detectors.markings: unknown marking %q", tok)
		}
		if !validLevel(l) {
			return nil, fmt.Errorf("detectors.markings %s: bad level %q (want I, II or III)", tok, l)
		}
		c.markings[tok] = l
	}
	c.markHdrs = cfg.MarkingHeaders
	for i, mh := range c.markHdrs {
		if strings.TrimSpace(mh.Header) == "" || len(mh.Values) == 0 {
			return nil, fmt.Errorf("detectors.marking_headers[%d]: header and values are required", i)
		}
		for k, l := range mh.Values {
			if !validLevel(l) || k == "" {
				return nil, fmt.Errorf("detectors.marking_headers %s: bad value %q → %q", mh.Header, k, l)
			}
		}
	}
	if len(c.markHdrs) == 0 {
		c.markHdrs = []MarkingHeader{{Header: "Sensitivity", Values: map[string]Level{"company-confidential": LevelII}}}
	}
	if c.maxWin > 5000 {
		return nil, fmt.Errorf("detectors: window %d too large (at most 5000 runes)", c.maxWin)
	}
	c.margin = 4*c.maxWin + 512
	c.back = 4*c.maxWin + 1024
	for b := 0; b < utf8.RuneSelf; b++ {
		plain := !(b >= '0' && b <= '9') && b != '@'
		c.skipASCII[b] = plain
		c.skipTable[b] = plain && b != '\n'
	}
	for _, r := range triggerRunes() {
		c.trig[r>>6] |= 1 << (r & 63)
	}
	return c, nil
}

// firstLetters returns the distinct first and second bytes of the
// (lower-case) words, each times lo8, when all are ASCII letters and there
// are at most two first and four second ones (repeated to fill the
// arrays), else zeros.
func firstLetters(words []string) (first [2]uint64, second [4]uint64) {
	var f, s []byte
	for _, w := range words {
		if len(w) < 2 || w[0] < 'a' || w[0] > 'z' || w[1] < 'a' || w[1] > 'z' {
			return
		}
		if !slices.Contains(f, w[0]) {
			f = append(f, w[0])
		}
		if !slices.Contains(s, w[1]) {
			s = append(s, w[1])
		}
	}
	if len(f) == 0 || len(f) > len(first) || len(s) > len(second) {
		return
	}
	for k := range first {
		first[k] = lo8 * uint64(f[k%len(f)])
	}
	for k := range second {
		second[k] = lo8 * uint64(s[k%len(s)])
	}
	return
}

func keywordBytes(kws []kwInfo) int {
	n := 0
	for _, k := range kws {
		n += len(k.text)
	}
	return n
}

func lowerAll(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// NewScanner starts the classification of one message.
func (c *Classifier) NewScanner() *Scanner {
	if v, ok := c.pool.Get().(*Scanner); ok {
		return v
	}
	s := &Scanner{c: c}
	s.values = make([]map[string]Confidence, nDet)
	return s
}

// Release returns a Scanner whose Report has been taken, so that the next
// NewScanner reuses its buffers. The Scanner must not be used afterwards.
// Calling it is optional.
func (c *Classifier) Release(s *Scanner) {
	if s == nil || s.c != c {
		return
	}
	s.Reset()
	c.pool.Put(s)
}

// ScanText classifies one plain text (tests, callers without a message).
func (c *Classifier) ScanText(loc string, kind inspect.Kind, text string) Report {
	s := c.NewScanner()
	s.Chunk(inspect.Chunk{Location: loc, Kind: kind, Text: text})
	return s.Report()
}
