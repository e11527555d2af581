package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dlpguard/policy"
)

// hardeningMessage is a message as a mail client sends it, with body
// text in the given transfer encoding.
func hardeningMessage(body, cte string) string {
	switch cte {
	case "base64":
		body = base64.StdEncoding.EncodeToString([]byte(body))
	case "quoted-printable":
		var b strings.Builder
		for _, c := range []byte(body) {
			if c < 0x20 || c >= 0x7f || c == '=' {
				fmt.Fprintf(&b, "=%02X", c)
			} else {
				b.WriteByte(c)
			}
		}
		body = b.String()
	}
	return "From: taro@city.example.lg.jp\r\nTo: a@example.com\r\nSubject: =?UTF-8?B?6LOH5paZ?=\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: " + cte + "\r\n\r\n" + body + "\r\n"
}

// scanVerdicts writes each message to its own file and runs `dlpguard
// scan --json` over the folder, as an operator would.
func scanVerdicts(t *testing.T, msgs map[string]string) map[string]policy.Summary {
	t.Helper()
	dir := t.TempDir()
	for name, m := range msgs {
		if err := os.WriteFile(filepath.Join(dir, name+".eml"), []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := runCmd("", "scan", "--json", dir)
	if code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	got := map[string]policy.Summary{}
	for _, ln := range strings.Split(strings.TrimSpace(out), "\n") {
		var s policy.Summary
		if err := json.Unmarshal([]byte(ln), &s); err != nil {
			t.Fatalf("line %q: %v", ln, err)
		}
		got[strings.TrimSuffix(filepath.Base(s.Source), ".eml")] = s
	}
	if len(got) != len(msgs) {
		t.Fatalf("%d verdicts for %d messages", len(got), len(msgs))
	}
	return got
}

func ruleIDs(s policy.Summary) []string {
	var ids []string
	for _, r := range s.Rules {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestScanControlSeparators (issue 17 item 1): a My Number whose groups
// are separated by TAB, NUL, VT, FF, ESC, DEL or a line break no longer
// passes `scan` and the default policy: with a keyword it is refused
// (mynumber-reject), without one it is held (mynumber-hold), in every
// transfer encoding a client may use to carry such bytes.
func TestScanControlSeparators(t *testing.T) {
	seps := map[string]string{"tab": "\t", "nul": "\x00", "vt": "\v", "ff": "\f", "esc": "\x1b", "del": "\x7f",
		"lf": "\n", "crlf": "\r\n", "cr": "\r", "ls": "\u2028", "nbsp": "\u00a0", "ideographic": "\u3000", "zwsp": "\u200b"}
	msgs := map[string]string{}
	want := map[string]string{}
	for name, sep := range seps {
		for _, cte := range []string{"quoted-printable", "base64", "8bit"} {
			if cte == "8bit" && (strings.ContainsAny(sep, "\r\n\x00")) {
				continue // not representable in 8bit MIME (RFC 2045 2.8)
			}
			n := "1234" + sep + "5678" + sep + "9018"
			k := name + "-" + cte
			msgs[k+"-context"] = hardeningMessage("お世話になります。\n個人番号 "+n+"\nよろしくお願いします。", cte)
			want[k+"-context"] = "reject"
			msgs[k+"-none"] = hardeningMessage("お世話になります。\n会議資料 "+n+" を送ります。\nよろしくお願いします。", cte)
			want[k+"-none"] = "hold"
			if name == "nbsp" || name == "ideographic" {
				want[k+"-none"] = "reject" // spaces as a person types them: 4-4-4 is context
			}
			// the check digit still decides
			msgs[k+"-invalid"] = hardeningMessage("個人番号 1234"+sep+"5678"+sep+"9019", cte)
			want[k+"-invalid"] = "pass"
		}
	}
	got := scanVerdicts(t, msgs)
	for k, w := range want {
		s := got[k]
		if string(s.Verdict) != w {
			t.Errorf("%s: verdict %s %v, want %s", k, s.Verdict, ruleIDs(s), w)
		}
		if w == "reject" && (len(s.Rules) == 0 || s.Rules[0].ID != "mynumber-reject") {
			t.Errorf("%s: rules %v", k, ruleIDs(s))
		}
		if w == "hold" && (len(s.Rules) == 0 || s.Rules[0].ID != "mynumber-hold") {
			t.Errorf("%s: rules %v", k, ruleIDs(s))
		}
	}
}

// TestScanFullWidthSeed (issue 17 item 6): the FuzzScanner finding, in a
// message: the full-width form is refused as the half-width one is.
func TestScanFullWidthSeed(t *testing.T) {
	got := scanVerdicts(t, map[string]string{
		"half":      hardeningMessage("個人番号 123456789018.A0", "base64"),
		"full":      hardeningMessage("個人番号 １２３４５６７８９０１８.A０", "base64"),
		"full-8bit": hardeningMessage("個人番号 １２３４５６７８９０１８.A０", "8bit"),
	})
	for k, s := range got {
		if s.Verdict != policy.Reject || ruleIDs(s)[0] != "mynumber-reject" {
			t.Errorf("%s: %s %v, want reject by mynumber-reject", k, s.Verdict, ruleIDs(s))
		}
	}
}
