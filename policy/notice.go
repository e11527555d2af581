package policy

import (
	"cmp"
	"fmt"
	"log/slog"
	"strings"
)

// LogValue makes a verdict loggable as one group (slog.Any("verdict", v)):
// the action, the rules with their clauses, the exceptions and permit used,
// and the policy version. Findings are not logged (their samples are masked
// but still belong in the hold store, not in logs).
func (v *Verdict) LogValue() slog.Value {
	if v == nil {
		return slog.StringValue("none")
	}
	rules := make([]string, 0, len(v.Rules))
	for _, h := range v.Rules {
		s := h.ID + "=" + string(h.Action) + "(" + h.Clause + ")"
		if h.Exception != "" {
			s += "[exception " + h.Exception + "]"
		}
		if h.Permit != "" {
			s += "[permit " + h.Permit + "]"
		}
		rules = append(rules, s)
	}
	attrs := []slog.Attr{
		slog.String("action", string(v.Action)),
		slog.String("level", string(v.Level)),
		slog.String("rules", strings.Join(rules, " ")),
		slog.String("policy", v.PolicyVersion),
	}
	if len(v.Exceptions) > 0 {
		attrs = append(attrs, slog.String("exceptions", strings.Join(v.Exceptions, ",")))
	}
	if v.Permit != "" {
		attrs = append(attrs, slog.String("permit", v.Permit))
	}
	if v.Department != "" {
		attrs = append(attrs, slog.String("department", v.Department))
	}
	if v.Inspect != nil && v.Inspect.Incomplete {
		attrs = append(attrs, slog.Bool("incomplete", true))
	}
	return slog.GroupValue(attrs...)
}

var noticeHead = map[Action][2]string{
	Reject: {"このメールは送信できませんでした。", "This message was not sent."},
	Hold:   {"このメールは送信を保留しています。情報セキュリティ管理責任者の確認後に送信されます。", "This message is held until the information-security manager reviews it."},
	Delay:  {"このメールは誤送信防止のため、%d 分後に送信されます。それまでは取り消し・即時送信ができます。", "This message will be sent in %d minutes; until then you may cancel it or send it at once."},
	Bcc:    {"外部の宛先を Bcc に変更して送信しました。", "Outside To/Cc recipients were moved to Bcc."},
	Pass:   {"このメールは送信されました。", "This message was sent."},
}

// Notice is the staff-facing text of a verdict: Japanese first, English
// below. id names the message (hold ID or queue ID) for the sender's reference.
func (v *Verdict) Notice(id string) string {
	var ja, en strings.Builder
	head := noticeHead[v.Action]
	if v.Action == Delay {
		head = [2]string{fmt.Sprintf(head[0], v.DelayMinutes), fmt.Sprintf(head[1], v.DelayMinutes)}
	}
	ja.WriteString(head[0] + "\n")
	en.WriteString(head[1] + "\n")
	if id != "" {
		fmt.Fprintf(&ja, "受付番号: %s\n", id)
		fmt.Fprintf(&en, "Reference: %s\n", id)
	}
	if len(v.Rules) > 0 {
		ja.WriteString("\n理由:\n")
		en.WriteString("\nReasons:\n")
	}
	for _, h := range v.Rules {
		fmt.Fprintf(&ja, "・%s（規則 %s、対策基準 %s）\n", cmp.Or(h.Reason, "ポリシーに該当しました"), h.ID, h.Clause)
		fmt.Fprintf(&en, "- %s (rule %s, standard %s)\n", cmp.Or(h.ReasonEN, "matched the policy"), h.ID, h.Clause)
		if h.Exception != "" {
			fmt.Fprintf(&ja, "  例外措置 %s（8.4）を適用しました。\n", h.Exception)
			fmt.Fprintf(&en, "  Exception %s (8.4) applied.\n", h.Exception)
		}
		if h.Permit != "" {
			fmt.Fprintf(&ja, "  送信許可 %s（3.3.5）の範囲内です。\n", h.Permit)
			fmt.Fprintf(&en, "  Within standing permit %s (3.3.5).\n", h.Permit)
		}
	}
	if v.Action == Hold {
		if len(v.Approvers) > 0 {
			fmt.Fprintf(&ja, "\n承認者: %s\n", strings.Join(v.Approvers, ", "))
			fmt.Fprintf(&en, "\nApprovers: %s\n", strings.Join(v.Approvers, ", "))
		}
		if v.RequireEncryption {
			ja.WriteString("送信時にはすべての添付ファイルが暗号化されます（対策基準 3.3.5）。\n")
			en.WriteString("On release every attachment will be encrypted (standard 3.3.5).\n")
		}
	}
	return ja.String() + "\n-----\n" + en.String()
}
