package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-smtp"

	"dlpguard/audit"
	"dlpguard/config"
	"dlpguard/policy"
)

// TestLifecycleOverRelay runs serve's wiring with a policy that names
// 福祉課: a personal list sent over SMTP is held; the approver's notice
// links to the console page that exists; a token made for the department
// whose holder is no approver gets 403, in the audit log as
// refused/not_approver; tokens add refuses a department the policy does
// not name; a deputy may decide until a reload of the policy file drops
// them; a 550 by the policy is in the audit log.
func TestLifecycleOverRelay(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	y := fukushiPolicy("kacho@city.example.lg.jp", "kakaricho@city.example.lg.jp")
	if err := os.WriteFile(pol, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	// A fixed free port: base_url is derived from http.listen.
	httpAddr := freePort(t)
	cfgFile := filepath.Join(dir, "dlpguard.yaml")
	r, cfg := startServe(t, cfgFile, "hostname: relay.test\ndata_dir: data\nsmtp:\n  listen: [\"127.0.0.1:0\"]\nhttp:\n  listen: \""+httpAddr+
		"\"\npolicy:\n  file: policy.yaml\nreview:\n  four_eyes_level_i: false\n")
	defer r.shutdown(time.Second)

	send := func(file, from, rcpt string) (*smtp.SMTPError, string) {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "samples", file))
		if err != nil {
			t.Fatal(err)
		}
		return smtpSend(t, r.smtpAddrs[0], from, rcpt, raw)
	}
	_, text := send("p017_personal_list.eml", "user521@city.example.lg.jp", "contact19@example.org")
	m := regexp.MustCompile(`held as ([0-9A-Z]+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("not held: %q", text)
	}
	id := m[1]

	// The approver's notice, delivered to the local mailbox.
	box := filepath.Join(cfg.DataDir, "mailbox", "kacho@city.example.lg.jp", "new")
	var notice string
	hkWait(t, "approver notice", func() bool {
		files, _ := os.ReadDir(box)
		if len(files) != 1 {
			return false
		}
		b, _ := os.ReadFile(filepath.Join(box, files[0].Name()))
		notice = decodeNotice(t, b)
		return true
	})
	link := regexp.MustCompile(`http://\S+/holds/` + id).FindString(notice)
	if link != "http://"+httpAddr+"/console/holds/"+id {
		t.Fatalf("notice link %q:\n%s", link, notice)
	}
	// Unsigned-in, the link leads to the sign-in page, then back to it.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "/console/login") {
		t.Fatalf("notice link: %d %q", resp.StatusCode, loc)
	}
	resp, err = http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `type="password"`) {
		t.Fatalf("sign-in page: %d", resp.StatusCode)
	}

	// tokens add: a department the configured policy does not name is
	// refused; one it names is taken, but gives no right to release.
	var out, errb bytes.Buffer
	if code := runTokens([]string{"add", "--config", cfgFile, "--data", cfg.DataDir, "--name", "x@city.example.lg.jp", "--department", "市民課"}, &out, &errb); code != 1 {
		t.Fatalf("tokens add for an unknown department: exit %d %q", code, errb.String())
	}
	// --config alone: its data_dir and its policy.
	if code := runTokens([]string{"add", "--config", cfgFile, "--name", "member@city.example.lg.jp", "--department", "福祉課"}, &out, &errb); code != 0 {
		t.Fatalf("tokens add: exit %d %q", code, errb.String())
	}
	tok := strings.TrimSpace(out.String())
	release := func(tok, reason string) (int, string) {
		req, _ := http.NewRequest("POST", "http://"+httpAddr+"/api/v1/holds/"+id+"/release", strings.NewReader(`{"reason":"`+reason+`"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Error.Code
	}
	if code, ec := release(tok, "課員ですが送ります"); code != http.StatusForbidden || ec != "not_approver" {
		t.Fatalf("release by a member who is no approver: %d %q", code, ec)
	}
	ctx := context.Background()
	es, _, err := r.stores.Audit.List(ctx, audit.Filter{Subject: id, Action: audit.Release})
	if err != nil || len(es) != 1 || !strings.Contains(string(es[0].Details), `"reason_code":"not_approver"`) || es[0].Actor != "member@city.example.lg.jp" {
		t.Fatalf("refused release in the audit log: %v %+v", err, es)
	}

	// The deputy may decide (refused here only for the recipient's
	// missing key), until a reload of the policy file drops them.
	out.Reset()
	if code := runTokens([]string{"add", "--config", cfgFile, "--name", "kakaricho@city.example.lg.jp"}, &out, &errb); code != 0 {
		t.Fatalf("tokens add: exit %d %q", code, errb.String())
	}
	deputy := strings.TrimSpace(out.String())
	if code, ec := release(deputy, "代理承認"); code != http.StatusConflict || ec != "no_key" {
		t.Fatalf("deputy release: %d %s, want 409 no_key", code, ec)
	}
	os.WriteFile(pol, []byte(strings.Replace(y, "    deputies: [kakaricho@city.example.lg.jp]\n", "", 1)), 0o600)
	if err := r.policy.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, ec := release(deputy, "代理承認"); code != http.StatusForbidden || ec != "wrong_department" {
		t.Fatalf("deputy release after the reload: %d %s, want 403", code, ec)
	}
	es, _, _ = r.stores.Audit.List(ctx, audit.Filter{Subject: id, Action: audit.Release, Actor: "kakaricho@city.example.lg.jp"})
	if len(es) != 2 || !strings.Contains(string(es[1].Details), `"reason_code":"no_key"`) || !strings.Contains(string(es[0].Details), `"reason_code":"wrong_department"`) {
		t.Fatalf("deputy's attempts in the audit log: %+v", es)
	}

	// A 550 by the policy is audited.
	se, text := send("p001_mynumber.eml", "user521@city.example.lg.jp", "someone@example.com")
	if se == nil || se.Code != 550 {
		t.Fatalf("p001: %q, want 550", text)
	}
	rid := regexp.MustCompile(`\(([0-9A-Z]+)\)\s*$`).FindStringSubmatch(text)
	if rid == nil {
		t.Fatalf("no ID in %q", text)
	}
	es, _, err = r.stores.Audit.List(ctx, audit.Filter{Subject: rid[1], Action: "smtp-reject"})
	if err != nil || len(es) != 1 || !strings.Contains(string(es[0].Details), "mynumber") {
		t.Fatalf("550 in the audit log: %v %+v", err, es)
	}
	if brk, err := r.stores.Audit.Verify(ctx); brk != nil || err != nil {
		t.Fatalf("audit chain: %v %v", brk, err)
	}
}

// smtpSend sends raw over SMTP to addr in one transaction and returns the
// refusal (nil for a 250) and the reply text.
// fukushiPolicy is the default policy with the department 福祉課
// (senders user*@city.example.lg.jp) of this manager and deputies.
func fukushiPolicy(manager string, deputies ...string) string {
	dept := "\ndepartments:\n  - name: 福祉課\n    senders: [\"user*@city.example.lg.jp\"]\n    manager: " + manager + "\n"
	if len(deputies) > 0 {
		dept += "    deputies: [" + strings.Join(deputies, ", ") + "]\n"
	}
	return strings.Replace(string(policy.DefaultYAML()), "\nrules:\n", dept+"rules:\n", 1)
}

// startServe writes cfgYAML to cfgFile and starts serve's wiring on it;
// the caller shuts it down.
func startServe(t *testing.T, cfgFile, cfgYAML string) (*relay, *config.Config) {
	t.Helper()
	os.WriteFile(cfgFile, []byte(cfgYAML), 0o600)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	r, err := startRelay(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return r, cfg
}

func smtpSend(t *testing.T, addr, from, rcpt string, raw []byte) (*smtp.SMTPError, string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail(from, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw)
	resp, err := w.CloseWithResponse()
	if se, ok := err.(*smtp.SMTPError); ok {
		return se, se.Message
	}
	if err != nil {
		t.Fatal(err)
	}
	c.Quit()
	return nil, resp.StatusText
}

// decodeNotice returns a notice's subject and decoded text.
func decodeNotice(t *testing.T, raw []byte) string {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(e.Header.Get("Subject"))
	b, _ := io.ReadAll(e.Body)
	return subj + "\n" + string(b)
}

// TestNoticeBaseURL: links in notices name a reachable host, also when
// the HTTP listener is a wildcard.
func TestNoticeBaseURL(t *testing.T) {
	for _, c := range []struct{ listen, base, want string }{
		{"127.0.0.1:8025", "", "http://127.0.0.1:8025"},
		{":8025", "", "http://relay.city.example.lg.jp:8025"},
		{"0.0.0.0:8025", "", "http://relay.city.example.lg.jp:8025"},
		{"[::]:8025", "", "http://relay.city.example.lg.jp:8025"},
		{":8025", "https://dlpguard.city.example.lg.jp", "https://dlpguard.city.example.lg.jp"},
	} {
		cfg := config.Default()
		cfg.Hostname, cfg.HTTP.Listen, cfg.Review.BaseURL = "relay.city.example.lg.jp", c.listen, c.base
		if got := reviewOptionsFrom(cfg).BaseURL; got != c.want {
			t.Errorf("listen %q base %q: %q, want %q", c.listen, c.base, got, c.want)
		}
	}
}
