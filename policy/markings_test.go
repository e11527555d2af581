package policy

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The level a marking states is configurable (issue: "the mapping is
// configurable"): an organisation that treats 機密性2 as class I says so.
func TestMarkingLevelsConfigurable(t *testing.T) {
	base := string(DefaultYAML())
	y := strings.Replace(base, "\nrules:\n", "\ndetectors:\n  markings:\n    機密性2: I\nrules:\n", 1)
	e, err := Parse([]byte(y), "markings.yaml")
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: a@city.example.lg.jp\r\nTo: b@example.com\r\nSubject: =?UTF-8?B?44CQ5qmf5a+G5oCn77yS44CR6LOH5paZ?=\r\n\r\nhello\r\n"
	v, err := e.Evaluate(context.Background(), strings.NewReader(msg), Input{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if v.Level != "I" || v.Action != Hold {
		t.Fatalf("level %s action %s, want I hold (rules %v)", v.Level, v.Action, v.Rules)
	}

	bad := strings.Replace(base, "\nrules:\n", "\ndetectors:\n  markings:\n    重要度9: I\n    機密性2: IV\nrules:\n", 1)
	_, err = Parse([]byte(bad), "bad.yaml")
	if err == nil || !strings.Contains(err.Error(), "detectors.markings.重要度9") || !strings.Contains(err.Error(), "detectors.markings.機密性2") {
		t.Fatalf("errors do not name the fields: %v", err)
	}
	if !strings.Contains(err.Error(), "bad.yaml:") {
		t.Fatalf("errors do not name the file and line: %v", err)
	}
}
