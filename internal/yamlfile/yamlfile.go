// Package yamlfile holds what the server configuration (package config) and
// the policy file (package policy) read alike: byte sizes with units, the
// line of a setting in the node tree, and errors that name the line and the
// setting. One reader, so that "25MB" means the same in both files and an
// error points at the same place whichever file it is in.
package yamlfile

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// sizeUnits are the units a size may carry, case-insensitive: SI (KB, MB,
// GB: powers of 1000), IEC (KiB, MiB, GiB) and the bare letters, which
// staff write meaning powers of 1024 as ls and du do.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1000, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1000 * 1000, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1000 * 1000 * 1000, "gib": 1 << 30,
}

// ParseSize parses a byte count written as a number with an optional unit
// ("1024", "25MB", "25 MiB", "512k"). Negative, unknown units and sizes
// beyond 2^62 are refused.
func ParseSize(v string) (int64, error) {
	t := strings.TrimSpace(v)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	mul, ok := sizeUnits[strings.ToLower(strings.TrimSpace(t[i:]))]
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if !ok || err != nil || n > (1<<62)/mul {
		return 0, fmt.Errorf("bad size %q (want a number of bytes, optionally with KB, MB, KiB, MiB …)", v)
	}
	return n * mul, nil
}

// Line returns the line of the setting at path (mapping keys as strings,
// sequence indexes as ints) in root, or of the deepest part of it that is
// in the file; 0 when not even its first key is (a default). It also
// returns the nodes it looked at, which the policy compiler counts as work.
func Line(root *yaml.Node, path ...any) (line, steps int) {
	n := root
	if n == nil {
		return 0, 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, p := range path {
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					steps++
					if n.Content[i].Value == k {
						line = n.Content[i].Line
						next = n.Content[i+1]
						break
					}
				}
			}
		case int:
			steps++
			if n.Kind == yaml.SequenceNode && k >= 0 && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		if next == nil {
			return line, steps
		}
		n = next
	}
	return line, steps
}

// SplitPath turns a setting's name as errors show it ("smtp.networks[1]",
// "smtp.accounts[0].password_hash") into the path Line takes.
func SplitPath(setting string) []any {
	var path []any
	for _, part := range strings.Split(setting, ".") {
		name, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			name = part[:i]
			if n, err := strconv.Atoi(part[i+1 : len(part)-1]); err == nil {
				idx = n
			}
		}
		path = append(path, name)
		if idx >= 0 {
			path = append(path, idx)
		}
	}
	return path
}

// Error is an invalid value: the setting (as SplitPath reads it), what is
// wrong, and the line once Locate has found it.
type Error struct {
	Line    int // 0: not in the file (a default) or not located yet
	Setting string
	Msg     string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Setting, e.Msg)
	}
	return e.Setting + ": " + e.Msg
}

// Errorf returns an *Error for setting.
func Errorf(setting, format string, args ...any) error {
	return &Error{Setting: setting, Msg: fmt.Sprintf(format, args...)}
}

// Locate returns the *Error in err's chain with its line filled in from
// the file's node tree (the setting and the line say where, so wrapping
// is dropped); err unchanged when it holds no *Error.
func Locate(root *yaml.Node, err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	if e.Line == 0 {
		e.Line, _ = Line(root, SplitPath(e.Setting)...)
	}
	return e
}

var lineMsg = regexp.MustCompile(`^line (\d+): (.*)$`)

// SplitLine splits yaml.v3's "line N: message" into N and the message; 0
// and msg unchanged when msg has no line.
func SplitLine(msg string) (int, string) {
	if sm := lineMsg.FindStringSubmatch(msg); sm != nil {
		n, _ := strconv.Atoi(sm[1])
		return n, sm[2]
	}
	return 0, msg
}

// CleanError drops yaml.v3's "yaml: unmarshal errors:" preamble and joins
// a *yaml.TypeError's messages with "; ".
func CleanError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return errors.New(strings.Join(te.Errors, "; "))
	}
	return err
}
