package policy

import (
	"context"
	"strings"
	"testing"
)

// TestEvaluation: an Evaluation judges everything given to it as one
// (files of an upload, a message) and fails closed on what it could not
// read; Evaluate is the same path for one message.
func TestEvaluation(t *testing.T) {
	e, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	transfer := Input{Transfer: &Transfer{URL: "https://up.example/x", Host: "up.example", FileName: "a.txt"}}
	tests := []struct {
		name  string
		feed  func(ev *Evaluation) error
		in    Input
		want  Action
		rule  string // a rule that fired ("" none)
		count int    // My Number findings
	}{
		{"clean files", func(ev *Evaluation) error {
			if err := ev.File(ctx, "a.txt", strings.NewReader("会議の資料です。")); err != nil {
				return err
			}
			return ev.File(ctx, "b.txt", strings.NewReader("よろしくお願いします。"))
		}, transfer, Pass, "", 0},
		{"a number in the second file", func(ev *Evaluation) error {
			if err := ev.File(ctx, "a.txt", strings.NewReader("会議の資料です。")); err != nil {
				return err
			}
			return ev.File(ctx, "b.txt", strings.NewReader("個人番号 1234 5678 9018"))
		}, transfer, Reject, "mynumber-reject", 1},
		{"numbers in both files are counted together", func(ev *Evaluation) error {
			if err := ev.File(ctx, "a.txt", strings.NewReader("個人番号 1234 5678 9018")); err != nil {
				return err
			}
			return ev.File(ctx, "b.txt", strings.NewReader("個人番号 2345 6789 0121"))
		}, transfer, Reject, "mynumber-reject", 2},
		{"what could not be read is not passed", func(ev *Evaluation) error {
			if err := ev.File(ctx, "a.txt", strings.NewReader("会議の資料です。")); err != nil {
				return err
			}
			ev.Problem("Content-Encoding %q is not supported", "br")
			return nil
		}, transfer, Hold, "uninspectable-hold", 0},
		{"a message", func(ev *Evaluation) error {
			return ev.Message(ctx, strings.NewReader("Subject: x\r\n\r\n個人番号 1234 5678 9018\r\n"))
		}, Input{}, Reject, "mynumber-reject", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := e.NewEvaluation(t.TempDir())
			if err := tc.feed(ev); err != nil {
				ev.Discard()
				t.Fatal(err)
			}
			v := ev.Decide(tc.in)
			if v.Action != tc.want {
				t.Fatalf("action %s, want %s (rules %+v, problems %v)", v.Action, tc.want, v.Rules, v.Inspect.Problems)
			}
			fired := tc.rule == ""
			for _, h := range v.Rules {
				fired = fired || h.ID == tc.rule
			}
			if !fired {
				t.Errorf("rule %s did not fire: %+v", tc.rule, v.Rules)
			}
			n := 0
			for _, f := range v.Report.Findings {
				if f.Detector == "my_number" {
					n += f.Count
				}
			}
			if n != tc.count {
				t.Errorf("%d My Numbers, want %d (%+v)", n, tc.count, v.Report.Findings)
			}
		})
	}
	// Evaluate is the same path for one message.
	v, err := e.Evaluate(ctx, strings.NewReader("Subject: x\r\n\r\n個人番号 1234 5678 9018\r\n"), Input{})
	if err != nil || v.Action != Reject {
		t.Fatalf("Evaluate: %v %v", v, err)
	}
}
