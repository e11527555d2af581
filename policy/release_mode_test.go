package policy

import (
	"strings"
	"testing"
)

func TestReleaseMode(t *testing.T) {
	y := string(DefaultYAML()) + `
release:
  mode: pgp
  levels:
    I: {mode: link}
`
	y = strings.Replace(y, "  - id: personal-list-hold\n", "  - id: personal-list-hold\n    release: {mode: passphrase}\n", 1)
	y = strings.Replace(y, "  - id: marking-i-hold\n", "  - id: marking-i-hold\n    release: {mode: refuse}\n", 1)
	e, err := Parse([]byte(y), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rules []string
		level string
		want  string
	}{
		{[]string{"personal-list-hold"}, "I", ReleasePassphrase}, // the rule before its level
		{[]string{"personal-list-hold", "marking-i-hold"}, "I", ReleaseRefuse},
		{[]string{"mynumber-hold"}, "I", ReleaseLink}, // no mode of its own: the level's
		{[]string{"mynumber-hold"}, "II", ReleasePGP}, // the policy's
		{nil, "III", ReleasePGP},
	} {
		if got := e.ReleaseMode(c.rules, c.level); got != c.want {
			t.Errorf("%v %s: %q, want %q", c.rules, c.level, got, c.want)
		}
	}
	d, err := Parse(DefaultYAML(), "d.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m := d.ReleaseMode([]string{"personal-list-hold"}, "I"); m != "" {
		t.Errorf("default policy: %q, want none (review.no_key decides)", m)
	}
	for _, bad := range []struct{ yaml, field string }{
		{"release:\n  mode: zip\n", "release.mode"},
		{"release:\n  levels:\n    IV: {mode: link}\n", "release.levels.IV"},
		{"release:\n  mode: pgp\n  access: passphrase\n", "release.access"},
		{"release:\n  mode: link\n  access: sms\n", "release.access"},
	} {
		_, err := Parse([]byte(string(DefaultYAML())+bad.yaml), "b.yaml")
		if err == nil || !strings.Contains(err.Error(), bad.field) {
			t.Errorf("%q: %v, want an error naming %s", bad.yaml, err, bad.field)
		}
	}
	y = strings.Replace(string(DefaultYAML()), "  - id: personal-list-hold\n", "  - id: personal-list-hold\n    release: {mode: link, access: passphrase}\n", 1)
	a, err := Parse([]byte(y), "a.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m, acc := a.ReleaseAccess([]string{"mynumber-hold", "personal-list-hold"}, "I"); m != ReleaseLink || acc != AccessPassphrase {
		t.Errorf("access: %q %q", m, acc)
	}
	y = strings.Replace(string(DefaultYAML()), "  - id: personal-list-hold\n", "  - id: personal-list-hold\n    release: {mode: ppap}\n", 1)
	if _, err := Parse([]byte(y), "r.yaml"); err == nil || !strings.Contains(err.Error(), "rules[") || !strings.Contains(err.Error(), "ppap") {
		t.Errorf("bad rule mode: %v", err)
	}
}
