package policy

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"dlpguard/classify"
	"dlpguard/inspect"
)

func TestNoticeAndLog(t *testing.T) {
	e := mustParse(t, customPolicy)
	res := msg("x@kokuhoren.example.jp")
	res.Header.From = []inspect.Address{{Address: "nenkin-a@city.example.lg.jp"}}
	v := e.Decide(res, report(classify.LevelI, find(classify.MyNumber, 1, classify.High)), Input{Now: time.Date(2026, 12, 1, 0, 0, 0, 0, jst)})
	if v.Action != Hold {
		t.Fatalf("action %s", v.Action)
	}
	n := v.Notice("H-123")
	ja, en, ok := strings.Cut(n, "-----")
	if !ok {
		t.Fatalf("notice without the English part:\n%s", n)
	}
	for _, s := range []string{"保留", "H-123", "mynumber-reject", "3.3.5, 4", "EX-2026-007", "8.4"} {
		if !strings.Contains(ja, s) {
			t.Errorf("Japanese part lacks %q:\n%s", s, ja)
		}
	}
	for _, s := range []string{"held", "Reference: H-123", "Exception EX-2026-007"} {
		if !strings.Contains(en, s) {
			t.Errorf("English part lacks %q:\n%s", s, en)
		}
	}

	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("verdict", "msgid", "Q1", "verdict", v)
	line := buf.String()
	for _, s := range []string{"verdict.action=hold", "mynumber-reject=hold(3.3.5, 4)[exception EX-2026-007]", "verdict.exceptions=EX-2026-007", "verdict.policy=" + e.Version()} {
		if !strings.Contains(line, s) {
			t.Errorf("log line lacks %q: %s", s, line)
		}
	}
	if strings.Contains(line, "****") {
		t.Errorf("log line carries samples: %s", line)
	}

	d := e.Decide(msg("a@example.com"), report(classify.LevelIII), Input{})
	if d.Action != Delay || !strings.Contains(d.Notice(""), "5 分後") || !strings.Contains(d.Notice(""), "in 5 minutes") {
		t.Errorf("delay notice:\n%s", d.Notice(""))
	}
}
