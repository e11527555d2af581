package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"dlpguard/classify"
	"dlpguard/internal/yamlfile"
)

// file is the policy file as written by administrators. Every field is
// documented in policy/README.md and example.yaml.
type file struct {
	Version      int              `yaml:"version"`
	Name         string           `yaml:"name"`
	Organisation orgFile          `yaml:"organisation"`
	Departments  []departmentFile `yaml:"departments"`
	Detectors    detectorsFile    `yaml:"detectors"`
	Rules        []ruleFile       `yaml:"rules"`
	Exceptions   []exceptionFile  `yaml:"exceptions"`
	Permits      []permitFile     `yaml:"permits"`
	Limits       limitsFile       `yaml:"limits"`
	// AllowWithout names the essential detectors (my_number) this policy
	// deliberately has no hold or reject rule for, with the reason
	// (essentials.go).
	AllowWithout       strList `yaml:"allow_without"`
	AllowWithoutReason string  `yaml:"allow_without_reason"`

	Release releaseFile `yaml:"release"` // how releases leave, per level (release_mode.go)
}

type orgFile struct {
	Name      string   `yaml:"name"`
	Domains   strList  `yaml:"domains"`
	Phones    []string `yaml:"phones"`
	Addresses []string `yaml:"addresses"`
	Signature []string `yaml:"signature"`
}

type departmentFile struct {
	Name     string  `yaml:"name"`
	Senders  strList `yaml:"senders"`  // address patterns of its staff
	Manager  string  `yaml:"manager"`  // 情報セキュリティ管理責任者
	Deputies strList `yaml:"deputies"` // who may approve in the manager's absence
}

type detectorsFile struct {
	Builtin        map[string]classify.DetectorSettings `yaml:"builtin"`
	Custom         []classify.CustomDetector            `yaml:"custom"`
	Exclude        classify.Exclusions                  `yaml:"exclude"`
	MarkingHeaders []classify.MarkingHeader             `yaml:"marking_headers"`
	// Markings overrides the level a marking token states (clause 3.1
	// classes), e.g. 重要性2: I; tokens as in classify.DefaultMarkings.
	Markings map[string]classify.Level `yaml:"markings"`
}

type ruleFile struct {
	ID                string   `yaml:"id"`
	Description       string   `yaml:"description"`
	When              whenFile `yaml:"when"`
	Action            string   `yaml:"action"`
	Clause            strList  `yaml:"clause"`
	RequireEncryption *bool    `yaml:"require_encryption"`
	DelayMinutes      int      `yaml:"delay_minutes"`
	Message           textFile `yaml:"message"`
	TransferMessage   textFile `yaml:"transfer_message"` // for uploads (ICAP); "" = message
	Disabled          bool     `yaml:"disabled"`

	Release releaseFile `yaml:"release"` // how a message this rule held leaves (release_mode.go)
}

type textFile struct {
	JA string `yaml:"ja"`
	EN string `yaml:"en"`
}

// whenFile holds a rule's conditions; every condition given must hold.
type whenFile struct {
	Detector      strList `yaml:"detector"` // any of these detectors
	MinCount      int     `yaml:"min_count"`
	MinConfidence string  `yaml:"min_confidence"`
	MaxConfidence string  `yaml:"max_confidence"` // e.g. medium: only findings without context
	Level         strList `yaml:"level"`          // the message's level is one of these
	Marking       strList `yaml:"marking"`        // the strongest marking is one of these

	AttachmentEncrypted     *bool `yaml:"attachment_encrypted"`
	AttachmentUninspectable *bool `yaml:"attachment_uninspectable"`
	AttachmentMedia         *bool `yaml:"attachment_media"`
	// AttachmentUnreadScan: scanned content OCR did not read (inspect's
	// Part.UnreadScan: image-only PDF pages, a picture with a scanner's
	// signature; OCR off, failed or over a limit).
	AttachmentUnreadScan *bool `yaml:"attachment_unread_scan"`
	// AttachmentUnreadImageMinSize: an image OCR did not read is at least
	// this large (bytes).
	AttachmentUnreadImageMinSize size `yaml:"attachment_unread_image_min_size"`

	ExternalRecipients int `yaml:"external_recipients"` // at least this many in To/Cc
	ExternalDomains    int `yaml:"external_domains"`    // at least this many distinct external domains in To/Cc

	Sender          strList `yaml:"sender"`            // the sender matches one
	Recipient       strList `yaml:"recipient"`         // some recipient matches one
	RecipientDomain strList `yaml:"recipient_domain"`  // some recipient's domain matches one
	AllRecipientsIn strList `yaml:"all_recipients_in"` // every recipient matches one
	MinSize         size    `yaml:"min_size"`
	MaxSize         size    `yaml:"max_size"`
	ExternalOnly    bool    `yaml:"external_only"` // only when some recipient is external
	Incomplete      *bool   `yaml:"incomplete"`    // some content could not be read (Result.Incomplete)

	Channel          string  `yaml:"channel"`            // mail | transfer ("" = both)
	Destination      strList `yaml:"destination"`        // transfers whose host matches one (deny-lists, 9.2)
	DestinationNotIn strList `yaml:"destination_not_in"` // transfers whose host matches none (allow-lists)
}

type exceptionFile struct {
	ID         string  `yaml:"id"`
	ApprovedBy string  `yaml:"approved_by"`
	Reason     string  `yaml:"reason"`
	Senders    strList `yaml:"senders"`
	Recipients strList `yaml:"recipients"`
	Rules      strList `yaml:"rules"`
	Action     string  `yaml:"action"` // what the rules are relaxed to
	Expires    string  `yaml:"expires"`
}

type permitFile struct {
	ID               string  `yaml:"id"`
	GrantedBy        string  `yaml:"granted_by"`
	Department       string  `yaml:"department"`
	Senders          strList `yaml:"senders"`
	RecipientDomains strList `yaml:"recipient_domains"`
	Levels           strList `yaml:"levels"`
	Detectors        strList `yaml:"detectors"`
	Rules            strList `yaml:"rules"`
	LegalBasis       string  `yaml:"legal_basis"`
	Action           string  `yaml:"action"` // pass (default) or delay
	DelayMinutes     int     `yaml:"delay_minutes"`
	Expires          string  `yaml:"expires"`
}

type limitsFile struct {
	MaxDecodedBytes     size   `yaml:"max_decoded_bytes"`
	MaxPartBytes        size   `yaml:"max_part_bytes"`
	MaxParts            int    `yaml:"max_parts"`
	MaxDepth            int    `yaml:"max_depth"`
	MaxArchiveEntries   int    `yaml:"max_archive_entries"`
	MaxCompressionRatio int64  `yaml:"max_compression_ratio"`
	MaxTextBytes        size   `yaml:"max_text_bytes"`
	MaxHeaderBytes      size   `yaml:"max_header_bytes"`
	Timeout             string `yaml:"timeout"`
}

// strList is a list of strings that may also be written as one scalar.
type strList []string

func (s *strList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			*s = nil
			return nil
		}
		*s = strList{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// size is a byte count written as a number or with a unit (10MB, 25MiB, 512k).
type size int64

func (s *size) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*s = size(v)
	return nil
}

// parseSize reads a size as the server configuration does.
func parseSize(v string) (int64, error) { return yamlfile.ParseSize(v) }

// Problem is one finding of validation, named by file, line and field.
type Problem struct {
	File    string
	Line    int
	Field   string // e.g. rules[2].when.detector
	Msg     string
	Warning bool // a warning does not stop the policy from loading
}

func (p Problem) String() string {
	kind := "error"
	if p.Warning {
		kind = "warning"
	}
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Field != "" {
		return fmt.Sprintf("%s: %s: %s: %s", loc, kind, p.Field, p.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, kind, p.Msg)
}

// ValidationError lists every error found in a policy file.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	n := 0
	for _, p := range e.Problems {
		if p.Warning {
			continue
		}
		if n > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
		n++
	}
	return b.String()
}

// decodeFile decodes data strictly (unknown fields are errors) and returns
// the decoded file, the node tree for line lookups, the problems and the
// work of locating them (node visits). Type errors are located through
// one index of the tree's lines, built once: a lookup per error walked the
// whole tree, and a file of many bad entries cost the square of its size.
func decodeFile(data []byte, filename string) (*file, *yaml.Node, []Problem, int) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, []Problem{yamlProblem(filename, err)}, 0
	}
	if probs, work := checkMappings(&root, filename); len(probs) > 0 {
		return nil, nil, probs, work
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&f)
	if errors.Is(err, io.EOF) {
		err = nil // an empty file is an empty policy
	}
	var probs []Problem
	var te *yaml.TypeError
	work := 0
	switch {
	case errors.As(err, &te):
		var fields map[int]string
		for i, m := range te.Errors {
			if i == maxProblems {
				probs = append(probs, Problem{File: filename, Msg: fmt.Sprintf("%d more type errors not shown", len(te.Errors)-i)})
				break
			}
			p := Problem{File: filename, Msg: m}
			if p.Line, p.Msg = yamlfile.SplitLine(m); p.Line > 0 {
				if fields == nil {
					fields, work = fieldIndex(&root)
				}
				p.Field = fields[p.Line]
			}
			probs = append(probs, p)
		}
	case err != nil:
		return nil, nil, []Problem{yamlProblem(filename, err)}, 0
	}
	return &f, &root, probs, work
}

func yamlProblem(filename string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{File: filename}
	p.Line, p.Msg = yamlfile.SplitLine(msg)
	return p
}

// maxMappingKeys bounds the keys of one mapping. No mapping of a policy
// has more than a few dozen; yaml.v3 compares every key of a mapping with
// every other (its duplicate check), so a mapping of many thousand keys
// would cost the square of its size.
const maxMappingKeys = 1000

// checkMappings refuses, before yaml.v3 decodes the file, mappings too
// large (maxMappingKeys) and duplicate keys (found here with a set, as
// yaml.v3 would report them, pair by pair). It returns the problems and
// the nodes visited.
func checkMappings(root *yaml.Node, filename string) ([]Problem, int) {
	var probs []Problem
	visits := 0
	add := func(line int, format string, args ...any) {
		if len(probs) < maxProblems {
			probs = append(probs, Problem{File: filename, Line: line, Msg: fmt.Sprintf(format, args...)})
		}
	}
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		visits++
		if n == nil || depth > 10000 {
			return
		}
		if n.Kind == yaml.MappingNode {
			if len(n.Content)/2 > maxMappingKeys {
				add(n.Line, "a mapping of %d keys (at most %d)", len(n.Content)/2, maxMappingKeys)
				return
			}
			seen := map[string]int{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Kind != yaml.ScalarNode {
					continue
				}
				if at, dup := seen[k.Value]; dup {
					add(k.Line, "mapping key %q already defined at line %d", k.Value, at)
				} else {
					seen[k.Value] = k.Line
				}
			}
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(root, 0)
	return probs, visits
}

// fieldIndex names, for each line, the field (as a path) whose key or
// value starts on it: the first in document order, as a reader looks for
// it. One walk; it also returns the nodes visited.
func fieldIndex(root *yaml.Node) (map[int]string, int) {
	idx := map[int]string{}
	visits := 0
	set := func(line int, p string) {
		if _, ok := idx[line]; !ok {
			idx[line] = p
		}
	}
	var walk func(n *yaml.Node, path string, depth int)
	walk = func(n *yaml.Node, path string, depth int) {
		visits++
		if n == nil || depth > 10000 {
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, depth+1)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if v.Kind == yaml.ScalarNode || v.Line != k.Line {
					set(k.Line, p)
				}
				walk(v, p, depth+1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := path + "[" + strconv.Itoa(i) + "]"
				if c.Kind == yaml.ScalarNode {
					set(c.Line, p)
				}
				walk(c, p, depth+1)
			}
		}
	}
	walk(root, "", 0)
	return idx, visits
}

// lineOf returns the line of the node at path (keys and sequence indexes);
// the deepest node found when the path does not exist all the way, the
// document's first line when none of it does. It also returns the nodes it
// looked at.
func lineOf(root *yaml.Node, path ...any) (int, int) {
	line, steps := yamlfile.Line(root, path...)
	if line == 0 && root != nil {
		n := root
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			n = n.Content[0]
		}
		line = n.Line
	}
	return line, steps
}

// jst is the zone in which expiry dates are read: the city's own.
var jst = time.FixedZone("JST", 9*60*60)

// parseExpiry reads a date (2027-03-31: valid through the end of that day,
// Japan time) or an RFC 3339 time.
func parseExpiry(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.ParseInLocation("2006-01-02", s, jst); err == nil {
		return t.AddDate(0, 0, 1), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("bad date %q (want YYYY-MM-DD or RFC 3339)", s)
}
