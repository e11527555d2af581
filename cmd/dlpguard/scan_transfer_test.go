package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanTransfer: `scan --transfer URL FILE...` judges plain files as
// uploads to URL, with the scan JSON contract plus what the upload gets.
func TestScanTransfer(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	list := write("名簿.csv", "氏名,個人番号\n若葉 太郎,123456789018\n")
	memo := write("memo.txt", "打ち合わせは 10 時からです。\n")
	marked := write("案.txt", "【極秘】人事異動案\n")
	tests := []struct {
		name, url, file, policy string
		verdict, outcome, rule  string
	}{
		{"My Number list", "https://upload.example.com/x", list, "", "reject", "block", "mynumber-reject"},
		{"harmless", "https://upload.example.com/x", memo, "", "pass", "allow", ""},
		{"hold means block for uploads", "https://upload.example.com/x", marked, "", "hold", "block", "marking-i-hold"},
		{"consumer storage in example.yaml", "https://www.dropbox.com/upload", memo, "../../policy/example.yaml", "reject", "block", "consumer-storage-reject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"scan", "--json", "--transfer", tc.url, tc.file}
			if tc.policy != "" {
				args = append(args, "--policy", tc.policy)
			}
			code, out, errOut := runCmd("", args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var l struct {
				Source   string `json:"source"`
				Verdict  string `json:"verdict"`
				Rules    []struct{ ID string }
				Transfer struct{ URL, Host, Outcome string }
			}
			if err := json.Unmarshal([]byte(out), &l); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if l.Source != tc.file || l.Verdict != tc.verdict || l.Transfer.Outcome != tc.outcome || l.Transfer.URL != tc.url {
				t.Errorf("got %+v", l)
			}
			if tc.rule != "" && !strings.Contains(out, `"id":"`+tc.rule+`"`) {
				t.Errorf("rule %s missing: %s", tc.rule, out)
			}
			if strings.Contains(out, "123456789018") {
				t.Error("output shows the whole My Number")
			}
		})
	}
	// A folder means every file with --transfer (not only .eml).
	code, out, errOut := runCmd("", "scan", "--json", "--transfer", "https://upload.example.com/", dir)
	if code != 0 || strings.Count(out, "\n") != 3 {
		t.Errorf("folder: exit %d, %d lines: %s %s", code, strings.Count(out, "\n"), out, errOut)
	}
	// A relative URL is bad usage.
	if code, _, _ := runCmd("", "scan", "--transfer", "/upload", memo); code != 2 {
		t.Errorf("relative URL: exit %d, want 2", code)
	}
	// Text output says what the upload gets.
	_, out, _ = runCmd("", "scan", "--transfer", "https://upload.example.com/", list)
	if !strings.Contains(out, "停止 (403) block") {
		t.Errorf("text output: %s", out)
	}
}
