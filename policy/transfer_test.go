package policy

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"dlpguard/classify"
	"dlpguard/inspect"
)

const transferYAML = `
version: 1
rules:
  - id: mynumber-reject
    when: {detector: my_number, min_confidence: high}
    action: reject
    clause: "3.3.5, 4"
    message: {ja: 個人番号, en: My Number}
  - id: consumer-storage-reject
    when:
      destination: [dropbox.com, "*.dropbox.com", "*.onedrive.live.com"]
    action: reject
    clause: "9.2"
    message: {ja: 約款による外部サービス, en: consumer storage}
  - id: unapproved-class-ii
    when:
      level: [I, II]
      destination_not_in: [files.city.example.lg.jp, "*.lgwan.example.jp"]
    action: reject
    clause: "3.3.5, 9.2"
    message: {ja: 承認済みサービス以外, en: unapproved service}
  - id: upload-size
    when: {channel: transfer, min_size: 1MB}
    action: hold
    clause: "3.3.5"
    message: {ja: 大きなアップロード, en: large upload}
  - id: mail-only-marking
    when: {channel: mail, marking: [II]}
    action: hold
    clause: "3.3.5"
    message: {ja: 取扱注意, en: marked}
`

func tr(url string) *Transfer { return &Transfer{URL: url, FileName: "a.txt"} }

func TestTransferRules(t *testing.T) {
	e := mustParse(t, transferYAML)
	clean := report(classify.LevelIII)
	classII := report(classify.LevelII, marking(classify.LevelII))
	tests := []struct {
		name   string
		rep    classify.Report
		in     Input
		action Action
		rules  []string
	}{
		{"harmless upload to an ordinary host", clean, Input{Transfer: tr("https://upload.example.com/x")}, Pass, nil},
		{"consumer storage is denied whatever the content", clean, Input{Transfer: tr("https://www.dropbox.com/upload")}, Reject, []string{"consumer-storage-reject"}},
		{"deny-list matches the bare domain", clean, Input{Transfer: &Transfer{Host: "Dropbox.COM.:443"}}, Reject, []string{"consumer-storage-reject"}},
		{"deny-list does not match look-alikes", clean, Input{Transfer: tr("https://dropbox.com.example.net/")}, Pass, nil},
		{"deny-list subdomain pattern", clean, Input{Transfer: tr("http://a.b.onedrive.live.com/")}, Reject, []string{"consumer-storage-reject"}},
		{"class II to an unapproved host", classII, Input{Transfer: tr("https://upload.example.com/")}, Reject, []string{"unapproved-class-ii"}},
		{"class II to an approved host", classII, Input{Transfer: tr("https://files.city.example.lg.jp/up")}, Pass, nil},
		{"class II to an approved subdomain", classII, Input{Transfer: tr("https://x.lgwan.example.jp/up")}, Pass, nil},
		{"class II by mail: mail-only rule, no destination rules", classII, Input{}, Hold, []string{"mail-only-marking"}},
		{"size limit for transfers", clean, Input{Size: 2_000_000, Transfer: tr("https://upload.example.com/")}, Hold, []string{"upload-size"}},
		{"size limit does not apply to mail", clean, Input{Size: 2_000_000}, Pass, nil},
		{"unknown host is outside the allow-list", classII, Input{Transfer: &Transfer{}}, Reject, []string{"unapproved-class-ii"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := e.Decide(&inspect.Result{Parts: []inspect.Part{{Name: "a.txt", Attachment: true, Inspected: true}}}, tc.rep, tc.in)
			if v.Action != tc.action || !slices.Equal(hitIDs(v), tc.rules) {
				t.Errorf("got %s %v, want %s %v", v.Action, hitIDs(v), tc.action, tc.rules)
			}
		})
	}
}

// TestDefaultPolicyAppliesToUploads: the mail rules guard uploads too.
func TestDefaultPolicyAppliesToUploads(t *testing.T) {
	e := mustDefault(t)
	ctx := context.Background()
	tests := []struct {
		name, file, content string
		action              Action
		rule                string
	}{
		{"My Number CSV", "名簿.csv", "氏名,個人番号\n若葉 太郎,123456789018\n", Reject, "mynumber-reject"},
		{"class I marking", "memo.txt", "【極秘】人事異動案\n", Hold, "marking-i-hold"},
		{"harmless", "memo.txt", "打ち合わせは 10 時からです。\n", Pass, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := e.Evaluate(ctx, strings.NewReader(tc.content), Input{Transfer: &Transfer{URL: "https://upload.example.com/", FileName: tc.file}, Now: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if v.Action != tc.action || (tc.rule != "" && !slices.Contains(hitIDs(v), tc.rule)) {
				t.Errorf("got %s %v, want %s %s", v.Action, hitIDs(v), tc.action, tc.rule)
			}
			if slices.Contains(hitIDs(v), "missending-hold") {
				t.Error("mis-sending rule fired on an upload")
			}
		})
	}
}

func TestTransferValidation(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	rule := func(when string) string {
		return "rules:\n  - id: a\n    action: reject\n    clause: \"9.2\"\n    message: {ja: x}\n    when:\n" + when
	}
	tests := []struct {
		name, yaml, field, msg string
		warning                bool
	}{
		{"unknown channel", rule("      channel: fax\n"), "rules[0].when.channel", `unknown channel "fax"`, false},
		{"bad host pattern", rule("      destination: [\"https://dropbox.com/\"]\n"), "rules[0].when.destination[0]", "bad host pattern", false},
		{"address as host", rule("      destination_not_in: [user@example.com]\n"), "rules[0].when.destination_not_in[0]", "bad host pattern", false},
		{"destination on mail", rule("      channel: mail\n      destination: [dropbox.com]\n"), "rules[0].when.channel", "transfers only", false},
		{"match-all host warns", rule("      destination: [\"*\"]\n"), "rules[0].when.destination[0]", "every destination", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			probs := Check([]byte(tc.yaml), "p.yaml", now)
			for _, p := range probs {
				if p.Field == tc.field && strings.Contains(p.Msg, tc.msg) && p.Warning == tc.warning && p.Line > 0 {
					return
				}
			}
			t.Errorf("no problem %s %q (warning %v) in %v", tc.field, tc.msg, tc.warning, probs)
		})
	}
	// valid; the one warning: its my_number rule rejects only high
	// confidence, so medium passes (essentials.go)
	if probs := Check([]byte(transferYAML), "t.yaml", now); len(probs) != 1 || !probs[0].Warning || probs[0].Field != "rules" ||
		!strings.Contains(probs[0].Msg, "my_number at medium confidence") {
		t.Errorf("valid transfer rules: %v", probs)
	}
}

// TestExampleTransferRules: example.yaml's transfer rules load and deny
// consumer storage.
func TestExampleTransferRules(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := mustParse(t, string(data))
	v := e.Decide(&inspect.Result{Parts: []inspect.Part{{Name: "a.txt", Attachment: true, Inspected: true}}}, report(classify.LevelIII),
		Input{Transfer: tr("https://www.dropbox.com/upload"), Now: time.Date(2026, 12, 1, 0, 0, 0, 0, jst)})
	if v.Action != Reject || !slices.Contains(hitIDs(v), "consumer-storage-reject") {
		t.Errorf("example.yaml on dropbox: %s %v", v.Action, hitIDs(v))
	}
}

// TestTransferMessage: an upload gets the rule's transfer_message (a hold
// is no hold for an upload), mail keeps message.
func TestTransferMessage(t *testing.T) {
	e := mustDefault(t)
	res := &inspect.Result{Parts: []inspect.Part{{Name: "a.txt", Attachment: true, Inspected: true}}}
	rep := report(classify.LevelI, marking(classify.LevelI))
	mail := e.Decide(res, rep, Input{})
	up := e.Decide(res, rep, Input{Transfer: tr("https://upload.example.com/")})
	if len(mail.Rules) != 1 || len(up.Rules) != 1 {
		t.Fatalf("rules %v %v", hitIDs(mail), hitIDs(up))
	}
	if !strings.Contains(mail.Rules[0].Reason, "保留しました") {
		t.Errorf("mail reason %q", mail.Rules[0].Reason)
	}
	if r := up.Rules[0]; !strings.Contains(r.Reason, "送信を停止しました") || strings.Contains(r.Reason, "保留") || !strings.Contains(r.ReasonEN, "upload") {
		t.Errorf("upload reason %q / %q", r.Reason, r.ReasonEN)
	}
	// A rule without transfer_message uses message for uploads too.
	e2 := mustParse(t, "rules:\n  - id: a\n    when: {marking: I}\n    action: hold\n    clause: \"3.3.5\"\n    message: {ja: 本文, en: text}\n"+allowNoMyNumber)
	if v := e2.Decide(res, rep, Input{Transfer: tr("https://x.example/")}); v.Rules[0].Reason != "本文" || v.Rules[0].ReasonEN != "text" {
		t.Errorf("fallback %+v", v.Rules[0])
	}
}
