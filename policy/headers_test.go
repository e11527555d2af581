package policy

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A sensitivity label in a mail header is a marking too (clause 3.3.5):
// Evaluate must hand the decoded header fields to the classifier.
func TestEvaluateMarkingHeader(t *testing.T) {
	eng, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: a@city.example.lg.jp\r\nTo: b@example.com\r\nSubject: hi\r\n" +
		"Sensitivity: Company-Confidential\r\n\r\nhello\r\n"
	v, err := eng.Evaluate(context.Background(), strings.NewReader(msg), Input{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if v.Action != Hold || v.Level != "II" {
		t.Fatalf("action %s level %s, want hold II: %+v", v.Action, v.Level, v.Rules)
	}
	if f := v.Report.Find("marking"); f == nil || f.Locations[0] != "header:Sensitivity" {
		t.Fatalf("marking finding %+v", f)
	}
}
