package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestScanSharedSamples runs `dlpguard scan --json` over the project's
// shared sample folder (../shared/samples beside the checkout, as CI lays
// it out) and compares every verdict with its labels.jsonl. The copy in
// testdata/samples is checked in detail by the policy package; this test
// holds the command to whatever the shared folder holds on the day.
func TestScanSharedSamples(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "samples")
	labels, err := os.Open(filepath.Join(dir, "labels.jsonl"))
	if err != nil {
		t.Skipf("no shared samples beside the checkout (%v); testdata/samples is checked instead", err)
	}
	defer labels.Close()
	type label struct {
		File      string   `json:"file"`
		Verdict   string   `json:"verdict"`
		VerdictOK []string `json:"verdict_ok"`
	}
	want := map[string]label{}
	sc := bufio.NewScanner(labels)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var l label
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("labels.jsonl: %v", err)
		}
		want[l.File] = l
	}
	code, out, errOut := runCmd("", "scan", "--json", dir)
	if code != 0 {
		t.Fatalf("scan exit %d: %s", code, errOut)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var got struct {
			Source  string `json:"source"`
			Verdict string `json:"verdict"`
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("scan output %q: %v", line, err)
		}
		l, ok := want[filepath.Base(got.Source)]
		if !ok {
			continue // a message without a label
		}
		seen++
		if got.Verdict != l.Verdict && !slices.Contains(l.VerdictOK, got.Verdict) {
			t.Errorf("%s: verdict %s, labelled %s", l.File, got.Verdict, l.Verdict)
		}
	}
	if seen != len(want) {
		t.Errorf("scanned %d labelled messages, labels.jsonl has %d", seen, len(want))
	}
}
