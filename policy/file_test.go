package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestValidationNamesLineAndField: every error names file, line and field.
func TestValidationNamesLineAndField(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		yaml    string
		line    int
		field   string
		msg     string
		warning bool
	}{
		{"unknown top-level field", "version: 1\nrulez: []\n", 2, "", "field rulez not found", false},
		{"unknown rule field", "rules:\n  - id: a\n    action: hold\n    clause: 3.3.5\n    wehn: {}\n", 5, "", "field wehn not found", false},
		{"type error names the field", "rules:\n  - id: a\n    action: hold\n    clause: 3.3.5\n    when:\n      min_count: many\n", 6, "rules[0].when.min_count", "cannot unmarshal", false},
		{"unknown detector", "rules:\n  - id: a\n    action: hold\n    clause: 3.3.5\n    when:\n      detector: [my_number, my_numbr]\n", 6, "rules[0].when.detector[1]", `unknown detector "my_numbr"`, false},
		{"bad regexp", "detectors:\n  custom:\n    - name: staff_id\n      pattern: 'S[0-9{6}'\n", 4, "detectors.custom[0].pattern", "bad regexp", false},
		{"unknown clause", "rules:\n  - id: a\n    action: hold\n    clause: \"3.3.9\"\n    when: {marking: I}\n", 4, "rules[0].clause", `unknown clause "3.3.9"`, false},
		{"missing clause", "rules:\n  - id: a\n    action: hold\n    when: {marking: I}\n", 2, "rules[0].clause", "missing", false},
		{"unknown action", "rules:\n  - id: a\n    action: quarantine\n    clause: 3.3.5\n    when: {marking: I}\n", 3, "rules[0].action", `unknown action "quarantine"`, false},
		{"non-ASCII rule id", "rules:\n  - id: マイナンバー\n    action: hold\n    clause: 3.3.5\n    when: {marking: I}\n", 2, "rules[0].id", "ASCII", false},
		{"delay without minutes", "rules:\n  - id: d\n    action: delay\n    clause: 3.3.5\n    when: {external_recipients: 1}\n", 2, "rules[0].delay_minutes", "delay_minutes", false},
		{"bad level", "rules:\n  - id: a\n    action: hold\n    clause: 3.3.5\n    when: {level: IV}\n", 5, "rules[0].when.level", `bad level "IV"`, false},
		{"builtin unknown", "detectors:\n  builtin:\n    mynumber: {window: 40}\n", 3, "detectors.builtin.mynumber", "unknown detector", false},
		{"bad size", "rules:\n  - id: a\n    action: hold\n    clause: 3.3.5\n    when: {min_size: 10 parsecs}\n", 5, "", "bad size", false},
		{"bad timeout", "limits:\n  timeout: soon\n", 2, "limits.timeout", "bad duration", false},
		{"expired exception warns", exceptionYAML("CISO", "2026-03-31"), 13, "exceptions[0].expires", "expired", true},
		{"exception needs the CISO (8.4)", exceptionYAML("係長", "2027-03-31"), 8, "exceptions[0].approved_by", "8.4", false},
		{"exception names an unknown rule", strings.Replace(exceptionYAML("CISO", "2027-03-31"), "rules: [r1]", "rules: [r2]", 1), 11, "exceptions[0].rules[0]", `unknown rule "r2"`, false},
		{"bad date", exceptionYAML("CISO", "31/03/2027"), 13, "exceptions[0].expires", "bad date", false},
		{"permit without legal basis", "permits:\n  - id: p\n    granted_by: kacho\n    senders: [a@x.jp]\n    recipient_domains: [y.jp]\n    expires: 2027-01-01\n", 2, "permits[0].legal_basis", "legal basis", false},
		{"permit granted by someone who is no manager", "departments:\n  - {name: 市民課, senders: ['*@x.jp'], manager: kacho@x.jp}\npermits:\n  - id: p\n    granted_by: clerk@x.jp\n    senders: [a@x.jp]\n    recipient_domains: [y.jp]\n    legal_basis: 法\n    expires: 2027-01-01\n" + allowNoMyNumber, 5, "permits[0].granted_by", "not the manager", true},
		{"yaml syntax", "name: x\nrules: a: b\n", 2, "", "mapping values are not allowed", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			probs := Check([]byte(tc.yaml), "p.yaml", now)
			var hit *Problem
			for i := range probs {
				pr := &probs[i]
				if pr.Line == tc.line && strings.Contains(pr.Msg, tc.msg) && (tc.field == "" || pr.Field == tc.field) {
					hit = pr
					break
				}
			}
			if hit == nil {
				t.Fatalf("no problem at line %d field %q msg %q; got %v", tc.line, tc.field, tc.msg, probs)
			}
			if hit.Warning != tc.warning {
				t.Errorf("warning = %v, want %v", hit.Warning, tc.warning)
			}
			if !strings.HasPrefix(hit.String(), "p.yaml:") {
				t.Errorf("String() = %q lacks file:line", hit.String())
			}
			_, err := Parse([]byte(tc.yaml), "p.yaml")
			if tc.warning && err != nil {
				t.Errorf("a warning must not stop loading: %v", err)
			}
			if !tc.warning {
				var ve *ValidationError
				if !errors.As(err, &ve) || !strings.Contains(err.Error(), "p.yaml:") {
					t.Errorf("Parse error = %v, want a ValidationError naming the file", err)
				}
			}
		})
	}
}

func exceptionYAML(approver, expires string) string {
	return `rules:
  - id: r1
    action: reject
    clause: 3.3.5
    when: {detector: my_number}
exceptions:
  - id: EX-1
    approved_by: ` + approver + `
    reason: 月次報告
    senders: [a@city.example.lg.jp]
    rules: [r1]
    action: hold
    expires: ` + expires + "\n"
}

func TestExampleAndDefaultFilesAreClean(t *testing.T) {
	for _, f := range []string{"default.yaml", "example.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		probs := Check(data, f, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
		for _, p := range probs {
			t.Errorf("%s", p)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"10": 10, "10MB": 10_000_000, "25MiB": 25 << 20, "512k": 512 << 10, "1 GiB": 1 << 30} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "ten", "1TB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func TestLimitsFromFile(t *testing.T) {
	e := mustParse(t, "limits:\n  max_part_bytes: 8MiB\n  max_depth: 5\n  timeout: 30s\n"+allowNoMyNumber)
	lim := e.Limits()
	if lim.MaxPartBytes != 8<<20 || lim.MaxDepth != 5 || lim.Timeout != 30*time.Second {
		t.Errorf("limits = %+v", lim)
	}
	if lim.MaxParts == 0 || lim.MaxDecodedBytes == 0 {
		t.Errorf("unset limits must keep their defaults: %+v", lim)
	}
}

const goodV1 = `name: v1
rules:
  - id: mark
    when: {marking: I}
    action: hold
    clause: 3.3.5
    message: {ja: 秘, en: secret}
` + allowNoMyNumber

// TestHolderReload: a broken file on reload keeps the old engine.
func TestHolderReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(goodV1), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := NewHolder(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	v1 := h.Version()
	if h.Engine().Name() != "v1" || v1 == "" {
		t.Fatalf("loaded %q %q", h.Engine().Name(), v1)
	}
	if changed, err := h.Check(); changed || err != nil {
		t.Fatalf("unchanged file: changed=%v err=%v", changed, err)
	}

	// Broken: the old policy stays in force, the error is visible.
	broken := strings.Replace(goodV1, "clause: 3.3.5", "clause: 3.3.99", 1)
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	// written in place: the first poll only notes the change, the
	// second (same size and mtime) reloads
	if changed, err := h.Check(); changed || err != nil {
		t.Fatalf("first poll after an edit in place: changed=%v err=%v", changed, err)
	}
	changed, err := h.Check()
	if !changed || err == nil || !strings.Contains(err.Error(), "3.3.99") {
		t.Fatalf("broken file: changed=%v err=%v", changed, err)
	}
	if h.Version() != v1 || h.Engine().Name() != "v1" {
		t.Fatalf("broken file replaced the policy in force")
	}
	if at, lerr := h.LastReload(); lerr == nil || at.IsZero() {
		t.Fatalf("LastReload = %v, %v; want the error", at, lerr)
	}
	if err := h.Reload(); err == nil { // SIGHUP on the same broken file
		t.Fatal("reload of a broken file succeeded")
	}

	// Fixed, with the same size as the broken one: the content hash tells.
	fixed := strings.Replace(goodV1, "name: v1", "name: v2", 1)
	if err := os.WriteFile(path, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Check()
	changed, err = h.Check()
	if !changed || err != nil {
		t.Fatalf("fixed file: changed=%v err=%v", changed, err)
	}
	if h.Engine().Name() != "v2" || h.Version() == v1 {
		t.Fatalf("fixed file not applied")
	}
	if _, lerr := h.LastReload(); lerr != nil {
		t.Fatalf("LastReload error after a good reload: %v", lerr)
	}

	// A file that vanishes keeps the policy in force.
	os.Remove(path)
	if _, err := h.Check(); err == nil {
		t.Fatal("missing file: no error")
	}
	if h.Engine().Name() != "v2" {
		t.Fatal("missing file replaced the policy")
	}
}

func TestHolderFirstLoadMustSucceed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(path, []byte("rules: [\n"), 0o644)
	if _, err := NewHolder(path, nil); err == nil {
		t.Fatal("broken first load accepted")
	}
	h, err := NewHolder("", nil)
	if err != nil || h.Engine() == nil {
		t.Fatalf("default holder: %v", err)
	}
}

// TestHolderWatch: the poller notices an edit without a SIGHUP.
func TestHolderWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(goodV1), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := NewHolder(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Watch(ctx, time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()
	if err := os.WriteFile(path, []byte(strings.Replace(goodV1, "name: v1", "name: watched", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	// Wait for the poller (not a timing assertion: the bound only stops a hang).
	for i := 0; i < 10000 && h.Engine().Name() != "watched"; i++ {
		time.Sleep(time.Millisecond)
	}
	if h.Engine().Name() != "watched" {
		t.Fatal("edit not noticed by Watch")
	}
}
