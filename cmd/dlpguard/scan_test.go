package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dlpguard/classify"
	"dlpguard/inspect"
	"dlpguard/policy"
)

const samples = "../../testdata/samples"

func runCmd(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestScanJSONSamples(t *testing.T) {
	code, out, errOut := runCmd("", "scan", "--json", samples)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	emls, _ := filepath.Glob(filepath.Join(samples, "*.eml"))
	if len(lines) != len(emls) || len(lines) == 0 {
		t.Fatalf("%d lines for %d messages", len(lines), len(emls))
	}
	prev := ""
	for _, ln := range lines {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("line %q: %v", ln, err)
		}
		for _, k := range []string{"source", "verdict", "level", "rules", "findings", "attachments"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line lacks %q: %s", k, ln)
			}
		}
		var l scanLine
		if err := json.Unmarshal([]byte(ln), &l); err != nil {
			t.Fatal(err)
		}
		if !l.Verdict.Valid() {
			t.Errorf("%s: verdict %q", l.Source, l.Verdict)
		}
		if l.Source <= prev {
			t.Errorf("sources not sorted: %s after %s", l.Source, prev)
		}
		prev = l.Source
	}
}

func TestScanStdinAndText(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(samples, "p036_benign.eml"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(string(data), "scan", "-")
	if code != 0 || !strings.Contains(out, "判定 verdict:") || !strings.HasPrefix(out, "-\n") {
		t.Fatalf("exit %d out %q err %q", code, out, errOut)
	}
}

func TestScanExitCodes(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte("rules:\n  - id: a\n    action: explode\n"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no path", []string{"scan"}, 2, "no PATH"},
		{"unknown flag", []string{"scan", "--jsn", "x.eml"}, 2, "unknown flag"},
		{"policy without file", []string{"scan", "--policy"}, 2, "needs a file"},
		{"broken policy", []string{"scan", "--policy", broken, "x.eml"}, 2, "broken.yaml:3"},
		{"missing file", []string{"scan", "--json", filepath.Join(dir, "nope.eml")}, 1, "nope.eml"},
		{"help", []string{"scan", "--help"}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCmd("", tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.err) {
				t.Errorf("exit %d stderr %q; want %d containing %q", code, errOut, tc.code, tc.err)
			}
		})
	}
}

// TestScanLineContract checks the JSON of one verdict against the contract in
// docs/contracts.md without needing the real inspect.
func TestScanLineContract(t *testing.T) {
	e, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	res := &inspect.Result{
		Header: inspect.Header{From: []inspect.Address{{Address: "a@city.example.lg.jp"}}, To: []inspect.Address{{Address: "b@example.com"}}},
		Parts: []inspect.Part{
			{Type: "text/plain", Inspected: true},
			{Name: "資料.zip", Attachment: true, Type: "application/zip", Inspected: true},
			{Name: "資料.zip/名簿.csv", Attachment: true, Type: "text/csv", Encrypted: true, Reason: "encrypted zip entry"},
			{Name: "map.png", Attachment: true, Type: "image/png", Media: true, Reason: "image: no text layer"},
		},
		Incomplete: true,
	}
	rep := classify.Report{Level: classify.LevelI, Findings: []classify.Finding{{
		Detector: "my_number", Count: 2, Locations: []string{"body", "attachment:名簿.xlsx"},
		Confidence: classify.High, Samples: []string{"**** **** 1234"},
	}}}
	v := e.Decide(res, rep, policy.Input{})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(toScanLine("in/a.eml", v)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Source  string `json:"source"`
		Verdict string `json:"verdict"`
		Level   string `json:"level"`
		Rules   []struct {
			ID, Action, Clause, Reason string
		} `json:"rules"`
		Findings    []classify.Finding  `json:"findings"`
		Attachments []policy.Attachment `json:"attachments"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Source != "in/a.eml" || got.Verdict != "reject" || got.Level != "I" {
		t.Errorf("head = %+v", got)
	}
	if len(got.Rules) != 2 || got.Rules[0].ID != "mynumber-reject" || got.Rules[0].Clause != "3.3.5, 4" || got.Rules[0].Reason == "" ||
		got.Rules[1].ID != "encrypted-attachment-hold" {
		t.Errorf("rules = %+v", got.Rules)
	}
	if len(got.Findings) != 1 || got.Findings[0].Count != 2 || got.Findings[0].Samples[0] != "**** **** 1234" {
		t.Errorf("findings = %+v", got.Findings)
	}
	want := []policy.Attachment{
		{Name: "資料.zip", Type: "application/zip", Inspected: true},
		{Name: "資料.zip/名簿.csv", Type: "text/csv", Encrypted: true, Error: "encrypted zip entry"},
		{Name: "map.png", Type: "image/png", Error: "image: no text layer"},
	}
	if len(got.Attachments) != len(want) {
		t.Fatalf("attachments = %+v", got.Attachments)
	}
	for i := range want {
		if got.Attachments[i] != want[i] {
			t.Errorf("attachment %d = %+v, want %+v", i, got.Attachments[i], want[i])
		}
	}
	var text bytes.Buffer
	printSummary(&text, toScanLine("in/a.eml", v))
	for _, s := range []string{"判定 verdict: 拒否 reject", "mynumber-reject", "3.3.5, 4", "資料.zip/名簿.csv", "暗号化 encrypted"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, text.String())
		}
	}
}

func TestPolicyCheck(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("rules:\n  - id: a\n    action: hold\n    clause: \"3.3.5\"\n    when:\n      detector: my_numbr\n"), 0o644)
	code, out, _ := runCmd("", "policy", "check", "../../policy/default.yaml", "../../policy/example.yaml")
	if code != 0 || strings.Count(out, "OK") != 2 {
		t.Errorf("good files: exit %d\n%s", code, out)
	}
	code, out, _ = runCmd("", "policy", "check", bad)
	if code != 1 || !strings.Contains(out, bad+":6: error: rules[0].when.detector[0]: unknown detector \"my_numbr\"") {
		t.Errorf("bad file: exit %d\n%s", code, out)
	}
	if code, _, _ := runCmd("", "policy", "check"); code != 2 {
		t.Errorf("no file: exit %d", code)
	}
	if code, _, _ := runCmd("", "policy", "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
	code, out, _ = runCmd("", "policy", "default")
	if code != 0 || !strings.Contains(out, "mynumber-reject") {
		t.Errorf("policy default: exit %d", code)
	}
}

func TestPolicyDiff(t *testing.T) {
	if code, _, _ := runCmd("", "policy", "diff", "a.yaml", "b.yaml"); code != 2 {
		t.Errorf("too few args: exit %d", code)
	}
	dir := t.TempDir()
	strict := filepath.Join(dir, "strict.yaml")
	// Hold everything that goes out: every sample's verdict rises to at least hold.
	os.WriteFile(strict, append(policy.DefaultYAML(), []byte(`
  - id: hold-all
    when: {min_size: 1}
    action: hold
    clause: "3.3.5"
    message: {ja: 全件保留, en: hold all}
`)...), 0o644)
	code, out, errOut := runCmd("", "policy", "diff", "default", strict, samples)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "pass → hold  +hold-all(hold, 3.3.5)") || !strings.Contains(out, "判定が変わるメッセージ") {
		t.Errorf("diff output:\n%s", out)
	}
	if strings.Contains(out, "reject → ") {
		t.Errorf("a reject cannot change by adding a hold rule:\n%s", out)
	}
}

// TestScanJSONMasksSubject: `scan --json` shows the subject, attachment
// names and samples masked the one way the console and notices mask
// (issue 11 item 8): a context-free My Number in the Subject and a birth
// date in an attachment's name show only their last four digits / year.
func TestScanJSONMasksSubject(t *testing.T) {
	msg := "From: a@city.example.lg.jp\r\nTo: b@example.com\r\nSubject: 123456789018\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n個人番号 1234 5678 9018\r\n" +
		"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"1980-01-10 card 4111111111111111.txt\"\r\n\r\nhello\r\n--b--\r\n"
	code, out, errOut := runCmd(msg, "scan", "--json", "-")
	if code != 0 && code != 1 {
		t.Fatalf("exit %d err %q", code, errOut)
	}
	var line struct {
		Subject     string `json:"subject"`
		Attachments []struct {
			Name string `json:"name"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal([]byte(out), &line); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if line.Subject != "********9018" {
		t.Errorf("subject %q, want ********9018", line.Subject)
	}
	if len(line.Attachments) != 1 || line.Attachments[0].Name != "1980-**-** card ************1111.txt" {
		t.Errorf("attachments %+v", line.Attachments)
	}
	for _, leak := range []string{"12345678", "4111111111", "01-10"} {
		if strings.Contains(out, leak) {
			t.Errorf("scan --json shows %q: %s", leak, out)
		}
	}
}
