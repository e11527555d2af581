package yamlfile

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1024", 1024, true}, {"25MB", 25_000_000, true}, {"25MiB", 25 << 20, true}, {"25M", 25 << 20, true},
		{"512 KiB", 512 << 10, true}, {"512k", 512 << 10, true}, {"1GB", 1_000_000_000, true}, {" 7b ", 7, true},
		{"", 0, false}, {"-1", 0, false}, {"ten", 0, false}, {"1TB", 0, false}, {"5XB", 0, false},
		{"99999999999999999999", 0, false}, {"9999999999G", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.in)) {
			t.Errorf("ParseSize(%q): error %q does not quote the value", tc.in, err)
		}
	}
}

func TestLineAndLocate(t *testing.T) {
	const doc = "smtp:\n  listen: [a]\n  networks:\n    - 10.0.0.0/8\n    - bad\nhttp:\n  listen: x\n"
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		setting string
		line    int
	}{
		{"smtp.networks[1]", 5}, {"smtp.networks[0]", 4}, {"smtp.networks", 3}, {"http.listen", 7},
		{"smtp.networks[9]", 3}, // deepest part present
		{"smtp.tls.cert_file", 1},
		{"review.listen", 0}, // a default: not in the file
	}
	for _, tc := range tests {
		if got, _ := Line(&root, SplitPath(tc.setting)...); got != tc.line {
			t.Errorf("Line(%s) = %d, want %d", tc.setting, got, tc.line)
		}
	}
	err := fmt.Errorf("check: %w", Errorf("smtp.networks[1]", "%q is not a network", "bad"))
	if got, want := Locate(&root, err).Error(), `line 5: smtp.networks[1]: "bad" is not a network`; got != want {
		t.Errorf("Locate = %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 5 || e.Setting != "smtp.networks[1]" {
		t.Errorf("located error %+v", e)
	}
	if got, want := Locate(&root, Errorf("review.listen", "bad")).Error(), "review.listen: bad"; got != want {
		t.Errorf("Locate of a default = %q, want %q", got, want)
	}
	if _, steps := Line(&root, "http", "listen"); steps == 0 {
		t.Error("Line counted no steps")
	}
}

func TestSplitLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		line int
		msg  string
	}{
		{"line 12: cannot unmarshal !!str", 12, "cannot unmarshal !!str"},
		{"did not find expected key", 0, "did not find expected key"},
	} {
		if l, m := SplitLine(tc.in); l != tc.line || m != tc.msg {
			t.Errorf("SplitLine(%q) = %d, %q", tc.in, l, m)
		}
	}
	err := yaml.Unmarshal([]byte("a: [1\n"), new(map[string]any))
	if err == nil || strings.HasPrefix(CleanError(err).Error(), "yaml: unmarshal errors") {
		t.Errorf("CleanError(%v)", err)
	}
	var v struct{ N int }
	err = yaml.Unmarshal([]byte("n: x\n"), &v)
	if got := CleanError(err).Error(); !strings.HasPrefix(got, "line 1: ") {
		t.Errorf("CleanError(type error) = %q", got)
	}
}
