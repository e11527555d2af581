package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dlpguard/config"
	"dlpguard/internal/ocrtest"
	"dlpguard/policy"
)

// ocrMessage is a mail from a city address with one picture of
// inspect/ocr/testdata attached, as a multifunction printer sends it.
func ocrMessage(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "inspect", "ocr", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	ct := map[string]string{".pdf": "application/pdf", ".jpg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff"}[filepath.Ext(file)]
	var m strings.Builder
	m.WriteString("From: a@city.example.lg.jp\r\nTo: b@example.jp\r\nSubject: scan\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"\xe3\x81\x8a\xe9\x80\x81\xe3\x82\x8a\xe3\x81\x97\xe3\x81\xbe\xe3\x81\x99\xe3\x80\x82\r\n--b1\r\n" + // お送りします。
		"Content-Type: " + ct + "; name=\"" + file + "\"\r\nContent-Disposition: attachment; filename=\"" + file + "\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(b)
	for len(enc) > 76 {
		m.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	m.WriteString(enc + "\r\n--b1--\r\n")
	return m.String()
}

// ocrConfig writes a server configuration with inspect.ocr.enabled set.
func ocrConfig(t *testing.T, enabled string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dlpguard.yaml")
	if err := os.WriteFile(p, []byte("inspect:\n  ocr:\n    enabled: "+enabled+"\n    timeout: 2m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// `dlpguard scan --config FILE` decides on scans as the relay would: with
// OCR the My Number on a scanned form or a photographed card is a reject,
// a scanned name list is held, the flyer and the map pass; with OCR off
// the scans are held unread and a photo without a scanner's signature
// passes as media (the default policy's unread-scan-hold, 3.3.5).
func TestScanOCR(t *testing.T) {
	ocrtest.Require(t)
	dir := t.TempDir()
	on, off := ocrConfig(t, "true"), ocrConfig(t, "false")
	for _, tc := range []struct {
		file, config string
		verdict      policy.Action
		rule         string // a rule that fires ("" none)
		location     string // a finding's location ("" none)
	}{
		{"form-scan.pdf", on, policy.Reject, "mynumber-reject", "attachment:form-scan.pdf/page 1 (OCR)"},
		{"form-scan-jpeg.pdf", on, policy.Reject, "mynumber-reject", "attachment:form-scan-jpeg.pdf/page 1 (OCR)"},
		{"form-scan.jpg", on, policy.Reject, "mynumber-reject", "attachment:form-scan.jpg (OCR)"},
		{"card-photo.jpg", on, policy.Reject, "mynumber-reject", "attachment:card-photo.jpg (OCR)"},
		{"namelist-scan.tif", on, policy.Hold, "personal-list-hold", "attachment:namelist-scan.tif/page 1 (OCR)"},
		{"namelist-scan.pdf", on, policy.Hold, "personal-list-hold", "attachment:namelist-scan.pdf/page 1 (OCR)"},
		{"flyer-scan.pdf", on, policy.Pass, "", ""},
		{"map.png", on, policy.Pass, "", ""},
		{"form-scan.pdf", off, policy.Hold, "unread-scan-hold", ""},
		{"namelist-scan.tif", off, policy.Hold, "unread-scan-hold", ""},
		{"form-scan.jpg", off, policy.Hold, "unread-scan-hold", ""}, // 200 dpi: a scanner's signature
		{"card-photo.jpg", off, policy.Pass, "", ""},                // a camera's 72 dpi: media
		{"map.png", off, policy.Pass, "", ""},
	} {
		name := tc.file + "/ocr-on"
		if tc.config == off {
			name = tc.file + "/ocr-off"
		}
		t.Run(name, func(t *testing.T) {
			eml := filepath.Join(dir, strings.ReplaceAll(name, "/", "-")+".eml")
			if err := os.WriteFile(eml, []byte(ocrMessage(t, tc.file)), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if code := runScan([]string{"--config", tc.config, "--json", eml}, nil, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			var line scanLine
			if err := json.Unmarshal(stdout.Bytes(), &line); err != nil {
				t.Fatalf("%v: %s", err, stdout.String())
			}
			if line.Verdict != tc.verdict {
				t.Errorf("verdict %s, want %s: %s", line.Verdict, tc.verdict, stdout.String())
			}
			fired := map[string]bool{}
			for _, r := range line.Rules {
				fired[r.ID] = true
			}
			if tc.rule != "" && !fired[tc.rule] {
				t.Errorf("rule %s did not fire: %s", tc.rule, stdout.String())
			}
			if tc.rule == "" && len(line.Rules) > 0 {
				t.Errorf("rules fired on a negative: %s", stdout.String())
			}
			if tc.location != "" && !strings.Contains(stdout.String(), `"`+tc.location+`"`) {
				t.Errorf("no finding at %q: %s", tc.location, stdout.String())
			}
			if len(line.Attachments) == 0 {
				t.Fatalf("no attachment reported: %s", stdout.String())
			}
			a := line.Attachments[len(line.Attachments)-1]
			if tc.config == on && (!a.Inspected || !a.OCR || a.UnreadScan) {
				t.Errorf("OCR on: %+v", a)
			}
			if tc.config == off && (a.Inspected || a.OCR || a.UnreadScan != (tc.rule == "unread-scan-hold")) {
				t.Errorf("OCR off: %+v", a)
			}
		})
	}
}

// Over real SMTP on the loopback: the relay with OCR refuses a scanned
// form with a My Number (550, the rule named), takes a scanned flyer for
// delivery; with OCR off the form is held unread (250 … held), never
// passed uninspected.
func TestRelayOCR(t *testing.T) {
	ocrtest.Require(t)
	for _, tc := range []struct {
		enabled, file string
		code          int    // 550, or 0 for a 250
		want          string // in the reply
	}{
		{"true", "form-scan.pdf", 550, "mynumber-reject"},
		{"true", "flyer-scan.pdf", 0, "queued as"},
		{"false", "form-scan.pdf", 0, "held as"},
	} {
		t.Run(tc.enabled+"/"+tc.file, func(t *testing.T) {
			cfg := config.Demo()
			cfg.DataDir = t.TempDir()
			cfg.SMTP.Listen = []string{"127.0.0.1:0"}
			cfg.HTTP.Listen = ""
			cfg.ICAP.Listen = ""
			cfg.Inspect.OCR.Enabled = tc.enabled
			r, err := startRelay(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer r.shutdown(time.Second)
			c, err := smtp.Dial(r.smtpAddrs[0])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Hello("mfp.city.example.lg.jp"); err != nil {
				t.Fatal(err)
			}
			reply, err := sendReply(c, ocrMessage(t, tc.file))
			var se *smtp.SMTPError
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.code == 0 && !strings.Contains(reply, tc.want):
				t.Fatalf("reply %q, want %q", reply, tc.want)
			case tc.code != 0 && !errors.As(err, &se):
				t.Fatalf("reply %q, err %v, want %d", reply, err, tc.code)
			case tc.code != 0 && (se.Code != tc.code || !strings.Contains(se.Message, tc.want)):
				t.Fatalf("reply %d %s, want %d with %q", se.Code, se.Message, tc.code, tc.want)
			}
		})
	}
}

// sendReply sends one message and returns the text of the reply to DATA.
func sendReply(c *smtp.Client, body string) (string, error) {
	if err := c.Mail("a@city.example.lg.jp", nil); err != nil {
		return "", err
	}
	if err := c.Rcpt("b@example.jp", nil); err != nil {
		return "", err
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(w, body); err != nil {
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	return resp.StatusText, nil
}
