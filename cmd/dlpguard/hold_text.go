package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/text/width"

	"dlpguard/classify"
	"dlpguard/hold"
	"dlpguard/review"
)

// The readable output of `dlpguard hold` (--json keeps the API's JSON for
// scripts): Japanese labels first, identifiers masked, times in the
// configured zone with the zone shown, and columns that stay aligned with
// Japanese text (East Asian wide characters take two cells).

// cells is the number of terminal cells s takes: East Asian wide and
// fullwidth characters two, the rest one (ambiguous ones one, as most
// terminals in Japan are set).
func cells(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

// table writes rows with columns padded to the widest cell, two spaces
// apart; the last column is not padded.
func table(w io.Writer, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], cells(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-cells(c)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// cliZone is the zone of times the CLI prints: --time-zone, else
// $DLPGUARD_TIME_ZONE, else Asia/Tokyo.
func cliZone(name string) (*time.Location, error) {
	if name == "" {
		name = os.Getenv("DLPGUARD_TIME_ZONE")
	}
	if name == "" {
		return review.DefaultTimeZone(), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return loc, nil
}

var statusJA = map[hold.Status]string{hold.Held: "保留中", hold.Released: "送信済み", hold.Rejected: "却下", hold.Expired: "期限切れ"}

func statusText(s hold.Status) string {
	if ja := statusJA[s]; ja != "" {
		return ja + " " + string(s)
	}
	return string(s)
}

// printList writes one line per held message.
func printList(w io.Writer, page hold.Page, loc *time.Location) {
	rows := [][]string{{"保留番号 ID", "状態 STATUS", "分類 LEVEL", "所属 DEPARTMENT", "送信者 FROM", "規則 RULES", "受付 RECEIVED", "件名 SUBJECT"}}
	for _, r := range page.Records {
		var rules []string
		for _, h := range r.Verdict.Rules {
			rules = append(rules, h.ID)
		}
		rows = append(rows, []string{r.ID, statusText(r.Status), string(r.Level), dash(r.Department), r.Envelope.From,
			strings.Join(rules, ","), review.FormatTime(r.Created, loc), clip(classify.MaskText(r.Subject), 40)})
	}
	table(w, rows)
	fmt.Fprintf(w, "%d 件 / %d 件中 (%d of %d)\n", len(page.Records), page.Total, len(page.Records), page.Total)
}

// printView writes one held message: envelope, state, why it was held
// (rules, masked findings), parts and who may decide.
func printView(w io.Writer, v review.HoldView, loc *time.Location) {
	r := v.Record
	rows := [][]string{
		{"保留番号 ID", r.ID},
		{"状態 Status", statusText(r.Status)},
		{"送信者 From", r.Envelope.From},
		{"宛先 To", strings.Join(r.Envelope.Recipients, ", ")},
		{"件名 Subject", classify.MaskText(r.Subject)},
		{"所属 Department", dash(r.Department)},
		{"重要性分類 Class", dash(string(r.Level))},
		{"受付 Received", review.FormatTime(r.Created, loc)},
		{"期限 Expires", review.FormatTime(r.ExpiresAt, loc)},
		{"承認 Approvals", fmt.Sprintf("%d / %d", len(r.Approvals), max(r.RequiredApprovals, 1))},
		{"承認できる人 Approvers", dash(strings.Join(v.Approvers, ", "))},
	}
	enc := "不要 not required"
	if v.RequireEncryption {
		enc = "必要（送信時に暗号化） required on release"
	}
	rows = append(rows, []string{"暗号化 Encryption", enc})
	if r.Status != hold.Held {
		rows = append(rows, []string{"処理者 Decided by", r.Actor}, []string{"処理日時 Decided at", review.FormatTime(r.ActedAt, loc)},
			[]string{"理由 Reason", classify.MaskText(r.Reason)})
	}
	table(w, rows)
	if len(r.Verdict.Rules) > 0 {
		fmt.Fprintln(w, "\n該当した規則 Rules:")
		var rr [][]string
		for _, h := range r.Verdict.Rules {
			rr = append(rr, []string{"  " + h.ID, h.Action, "対策基準 " + h.Clause, classify.MaskText(h.Reason)})
		}
		table(w, rr)
	}
	if len(r.Verdict.Findings) > 0 {
		fmt.Fprintln(w, "\n検出内容（伏せ字） Findings (masked):")
		var fr [][]string
		for _, f := range r.Verdict.Findings {
			var ss []string
			if f.Detector != "personal_list" { // its samples may be names
				for _, s := range f.Samples {
					ss = append(ss, classify.MaskText(s))
				}
			}
			fr = append(fr, []string{"  " + f.Detector, fmt.Sprintf("%d 件", f.Count), string(f.Level), strings.Join(f.Locations, ","), strings.Join(ss, " / ")})
		}
		table(w, fr)
	}
	if len(v.Parts) > 0 {
		fmt.Fprintln(w, "\n添付 Parts:")
		var pr [][]string
		for _, p := range v.Parts {
			state := "検査済み inspected"
			if !p.Inspected {
				state = "未検査 not inspected"
			}
			if p.Encrypted {
				state += "・暗号化済み encrypted"
			}
			pr = append(pr, []string{"  " + classify.MaskText(p.Name), p.Type, state})
		}
		table(w, pr)
	}
	for _, a := range r.Approvals {
		fmt.Fprintf(w, "\n承認 approved: %s %s %s", a.Actor, review.FormatTime(a.At, loc), classify.MaskText(a.Note))
	}
	if len(r.Approvals) > 0 {
		fmt.Fprintln(w)
	}
}

// printRelease writes a release's outcome; with a passphrase, to whom it
// must go and how (never by mail), then the passphrase itself last.
func printRelease(w io.Writer, res *review.ReleaseResult) {
	switch res.Status {
	case "released":
		fmt.Fprintf(w, "%s: 送信しました released (承認 approvals %d/%d)\n", res.ID, res.Approvals, res.Required)
	default:
		fmt.Fprintf(w, "%s: 承認しました。もう一人の承認が必要です approved, another approver must approve (承認 approvals %d/%d)\n", res.ID, res.Approvals, res.Required)
	}
	if res.QueueID != "" {
		fmt.Fprintf(w, "送信キュー queued as %s, 暗号化 encryption %s\n", res.QueueID, res.Method)
	}
	if res.Passphrase != "" {
		if h := res.PassphraseHandoff; h != nil {
			fmt.Fprintf(w, "%s\n%s\n", h.JA, h.EN)
		}
		fmt.Fprintf(w, "パスワード（受信者に別の手段で伝えてください。再表示できません）/ passphrase (give it to the recipient by another channel; shown once):\n%s\n", res.Passphrase)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clip shortens s to at most n cells.
func clip(s string, n int) string {
	if cells(s) <= n {
		return s
	}
	var b strings.Builder
	c := 0
	for _, r := range s {
		rc := cells(string(r))
		if c+rc > n-1 {
			break
		}
		b.WriteRune(r)
		c += rc
	}
	return b.String() + "…"
}
