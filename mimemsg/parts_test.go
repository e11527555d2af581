package mimemsg

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"
)

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

const sample = "From: a@example.jp\r\nSubject: =?UTF-8?B?5ZCN57C/?=\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
	"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n本文です\r\n" +
	"--b1\r\nContent-Type: text/csv; name*=shift_jis''%96%BC%95%EB.csv\r\nContent-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\nYSxiLGMK\r\n" +
	"--b1--\r\n"

// TestSplit lists the entities with their paths, types and names.
func TestSplit(t *testing.T) {
	parts, err := Split(context.Background(), strings.NewReader(sample), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Part{{Path: "1", Type: "multipart/mixed"}, {Path: "1.1", Type: "text/plain"}, {Path: "1.2", Type: "text/csv", Size: 8}}
	if len(parts) != len(want) {
		t.Fatalf("parts %+v", parts)
	}
	for i, w := range want {
		p := parts[i]
		if p.Path != w.Path || p.Type != w.Type || (w.Size > 0 && p.Size != w.Size) || len(p.SHA256) != 64 {
			t.Errorf("part %d: %+v, want %+v", i, p, w)
		}
	}
}

// TestCompare: every kind of change to the message is found, with the
// path of the entity that changed.
func TestCompare(t *testing.T) {
	orig, err := Split(context.Background(), strings.NewReader(sample), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, old, new, path, what string
	}{
		{"body text", "本文です", "個人番号 123456789018", "1.1", "body"},
		{"attachment body", "YSxiLGMK", "YSxiLGQK", "1.2", "body"},
		{"attachment renamed", "%96%BC%95%EB.csv", "%96%BC%95%EC.csv", "1.2", "header"},
		{"subject", "5ZCN57C/", "5ZCN57C0", "1", "header"},
		{"part added", "--b1--", "--b1\r\n\r\nmore\r\n--b1--", "1.3", "added"},
		{"type changed", "text/plain; charset=utf-8", "text/html; charset=utf-8", "1.1", "type"},
		{"boundary broken", "--b1\r\nContent-Type: text/csv", "--b2\r\nContent-Type: text/csv", "1.1", "body"},
	} {
		got, err := Split(context.Background(), strings.NewReader(strings.Replace(sample, c.old, c.new, 1)), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		m := Compare(orig, got)
		if m == nil || m.Path != c.path || m.What != c.what {
			t.Errorf("%s: %v, want part %s (%s)", c.name, m, c.path, c.what)
		}
	}
	if m := Compare(orig, orig[:2]); m == nil || m.What != "missing" || m.Path != "1.2" {
		t.Errorf("shorter list: %v", m)
	}
	if m := Compare(orig[:2], orig); m == nil || m.What != "added" {
		t.Errorf("longer list: %v", m)
	}
}

// TestSplitLimits: too many entities is an error (the list is not
// complete); too deep a nesting makes the deepest multipart one entity.
func TestSplitLimits(t *testing.T) {
	if _, err := Split(context.Background(), strings.NewReader(sample), Limits{MaxParts: 2}); err != ErrTooManyParts {
		t.Errorf("MaxParts: %v", err)
	}
	parts, err := Split(context.Background(), strings.NewReader(sample), Limits{MaxDepth: -1})
	if err != nil || len(parts) != 3 {
		t.Errorf("default depth: %d %v", len(parts), err)
	}
	var b strings.Builder
	for i := range 20 {
		b.WriteString("Content-Type: multipart/mixed; boundary=\"x" + string(rune('a'+i)) + "\"\r\n\r\n--x" + string(rune('a'+i)) + "\r\n")
	}
	b.WriteString("\r\ndeep\r\n")
	parts, err = Split(context.Background(), strings.NewReader(b.String()), Limits{MaxDepth: 5})
	if err != nil || len(parts) != 7 {
		t.Errorf("deep: %d parts %v", len(parts), err)
	}
}
