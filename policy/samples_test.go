package policy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"dlpguard/classify"
)

// label is one line of testdata/samples/labels.jsonl.
type label struct {
	File              string   `json:"file"`
	Verdict           string   `json:"verdict"`
	VerdictOK         []string `json:"verdict_ok"`
	MyNumber          int      `json:"my_number"`
	Level             *string  `json:"level"`
	Marking           *string  `json:"marking"`
	Encrypted         []string `json:"encrypted"`
	EncryptedOptional []string `json:"encrypted_optional"`
	PersonalList      bool     `json:"personal_list"`
	Note              string   `json:"note"`
}

const samplesDir = "../testdata/samples"

func readLabels(t *testing.T) []label {
	t.Helper()
	f, err := os.Open(filepath.Join(samplesDir, "labels.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []label
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var l label
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("labels.jsonl: %v", err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no labels")
	}
	return out
}

// TestSamples runs the default policy, through Evaluate (the relay's code
// path), on every sample and compares with labels.jsonl.
func TestSamples(t *testing.T) {
	e := mustDefault(t)
	for _, lb := range readLabels(t) {
		t.Run(lb.File, func(t *testing.T) {
			f, err := os.Open(filepath.Join(samplesDir, lb.File))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			v, err := e.Evaluate(context.Background(), f, Input{Now: time.Now()})
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			ok := append([]string{lb.Verdict}, lb.VerdictOK...)
			if !slices.Contains(ok, string(v.Action)) {
				t.Errorf("verdict = %s (rules %v), want %v — %s", v.Action, hitIDs(v), ok, lb.Note)
			}
			mn := 0
			if fd := v.Report.Find(classify.MyNumber); fd != nil {
				mn = fd.Count
			}
			if mn != lb.MyNumber {
				t.Errorf("my_number = %d, want %d", mn, lb.MyNumber)
			}
			if lb.Level != nil && string(v.Level) != *lb.Level {
				t.Errorf("level = %s, want %s", v.Level, *lb.Level)
			}
			var mark *string
			if fd := v.Report.Find(classify.Marking); fd != nil && fd.Count > 0 && fd.Level != classify.LevelIII {
				s := string(fd.Level)
				mark = &s
			}
			if (mark == nil) != (lb.Marking == nil) || (mark != nil && *mark != *lb.Marking) {
				t.Errorf("marking = %v, want %v", deref(mark), deref(lb.Marking))
			}
			pl := false
			if fd := v.Report.Find(classify.PersonalList); fd != nil && fd.Count > 0 {
				pl = true
			}
			if pl != lb.PersonalList {
				t.Errorf("personal_list = %v, want %v", pl, lb.PersonalList)
			}
			// Every labelled name must be reported encrypted, and nothing
			// else may be, except members inside an archive labelled
			// encrypted (an AES zip's entries are encrypted too) and the
			// names whose flag the labels do not judge.
			var enc []string
			for _, p := range v.Inspect.Parts {
				if !p.Encrypted || slices.Contains(lb.EncryptedOptional, p.Name) {
					continue
				}
				enc = append(enc, p.Name)
				if !slices.Contains(lb.Encrypted, p.Name) && !insideAny(lb.Encrypted, p.Name) {
					t.Errorf("%q reported encrypted; labels say only %q", p.Name, lb.Encrypted)
				}
			}
			for _, w := range lb.Encrypted {
				if !slices.Contains(enc, w) {
					t.Errorf("%q not reported encrypted (reported: %q)", w, enc)
				}
			}
		})
	}
}

func insideAny(archives []string, name string) bool {
	for _, a := range archives {
		if strings.HasPrefix(name, a+"/") {
			return true
		}
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// BenchmarkEvaluateSamples: the relay's whole per-message path (inspect,
// classify, decide) over every sample; MB/s is over the raw messages.
func BenchmarkEvaluateSamples(b *testing.B) {
	e, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(samplesDir, "*.eml"))
	var msgs [][]byte
	var total int64
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, data)
		total += int64(len(data))
	}
	if _, err := e.Evaluate(context.Background(), strings.NewReader("Subject: x\r\n\r\nx\r\n"), Input{}); err != nil {
		b.Skip(err)
	}
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			if _, err := e.Evaluate(context.Background(), bytes.NewReader(m), Input{Size: int64(len(m))}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
