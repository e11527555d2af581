package classify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

func mustNew(t testing.TB, cfg Config) *Classifier {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func bytesB64(b []byte) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, bytes.NewReader(b))
}

// assertMasked fails when a whole identifier (12 or more consecutive
// digits, or any of the given values) appears anywhere in the report's JSON.
func assertMasked(t *testing.T, rep Report, values []string) {
	t.Helper()
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	s := string(js)
	run := 0
	for _, r := range s {
		if fold(r) >= '0' && fold(r) <= '9' {
			run++
			if run >= 7 {
				t.Fatalf("report shows a run of %d digits: %s", run, s)
			}
		} else {
			run = 0
		}
	}
	for _, v := range values {
		if v != "" && strings.Contains(s, v) {
			t.Fatalf("report shows %q: %s", v, s)
		}
	}
}
