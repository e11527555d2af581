package console

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"dlpguard/audit"
	"dlpguard/classify"
)

// The audit page (issue 11 item 7): what an inspector reads — every entry
// with its details decoded into labelled fields (not raw JSON), filtered by
// date range, kind, actor and hold ID, and exported with the same filters
// as CSV (for a spreadsheet) or JSON (for a script). String values are
// masked one way (classify.MaskTextLoose: hashes and timestamps stay).

// auditQuery is the filter form of the audit page and its exports.
type auditQuery struct {
	Action, Actor, Subject string
	From, To               string // dates (YYYY-MM-DD) in review.time_zone, both inclusive
	Offset                 int
}

func readAuditQuery(r *http.Request) auditQuery {
	q := r.URL.Query()
	aq := auditQuery{Action: q.Get("action"), Actor: strings.TrimSpace(q.Get("actor")), Subject: strings.TrimSpace(q.Get("subject")),
		From: q.Get("from"), To: q.Get("to")}
	if n, err := strconv.Atoi(q.Get("offset")); err == nil && n > 0 {
		aq.Offset = n
	}
	return aq
}

// filter turns the query into an audit.Filter; a date that does not parse
// is an error shown to the person (never silently ignored: an export
// without the range asked for would mislead).
func (q auditQuery) filter(loc *time.Location) (audit.Filter, error) {
	f := audit.Filter{Action: q.Action, Actor: q.Actor, Subject: q.Subject, Offset: q.Offset}
	if q.From != "" {
		t, err := time.ParseInLocation("2006-01-02", q.From, loc)
		if err != nil {
			return f, fmt.Errorf("from %q", q.From)
		}
		f.Since = t
	}
	if q.To != "" {
		t, err := time.ParseInLocation("2006-01-02", q.To, loc)
		if err != nil {
			return f, fmt.Errorf("to %q", q.To)
		}
		f.Until = t.AddDate(0, 0, 1) // the whole last day
	}
	return f, nil
}

func (q auditQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"action": q.Action, "actor": q.Actor, "subject": q.Subject, "from": q.From, "to": q.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// url is the page (or an export: base ending in .csv or .json) with the
// query and offset.
func (q auditQuery) url(base string, offset int) string {
	v := q.values()
	if offset > 0 {
		v.Set("offset", strconv.Itoa(offset))
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}

// field is one decoded detail: a label and its value as text.
type field struct {
	Key, Label, Value string
}

// entryView is one entry as the page and the CSV show it.
type entryView struct {
	audit.Entry
	ActionLabel string
	Fields      []field
}

// actionLabels name the kinds of entry; others show their code.
var actionLabels = map[string][2]string{
	audit.Hold: {"保留", "held"}, audit.Approve: {"承認", "approved"}, audit.Release: {"送信許可（解除）", "released"},
	audit.Reject: {"却下", "rejected"}, audit.Expire: {"期限切れ", "expired"}, audit.Purge: {"内容の消去", "content purged"},
	audit.FalsePositive: {"誤検知の記録", "false positive"}, audit.ExceptionUse: {"例外の適用（8.4）", "exception used (8.4)"},
	audit.PolicyReload: {"ポリシー再読込", "policy reloaded"}, audit.KeyImport: {"公開鍵の登録", "key imported"},
	audit.KeyRemove: {"公開鍵の削除", "key removed"}, audit.Login: {"サインイン", "signed in"},
	"login-failed": {"サインイン失敗", "sign-in failed"}, "logout": {"サインアウト", "signed out"},
	audit.AnchorStart: {"監査ログの固定開始", "audit log anchored"}, "audit-export": {"監査ログの書き出し", "audit log exported"},
	"smtp-reject": {"SMTP で拒否（550）", "refused over SMTP (550)"}, "remind": {"期限前の催促", "reminder"},
	"delay": {"送信遅延", "delayed"}, "delay-send": {"遅延中の即時送信", "delay: sent now"}, "delay-cancel": {"遅延中の取消", "delay: cancelled"},
	"upload-block": {"アップロード停止", "upload blocked"}, "upload-allow": {"アップロード通過", "upload allowed"},
}

// detailLabels name the fields dlpguard writes; others show their key.
var detailLabels = map[string][2]string{
	"reason": {"理由", "reason"}, "code": {"理由コード", "reason code"}, "reason_code": {"理由コード", "reason code"}, "outcome": {"結果", "outcome"},
	"client_ip": {"送信元 IP", "client IP"}, "reply": {"応答", "reply"}, "due": {"送信予定", "due"},
	"break_seq": {"改ざんを検出した番号", "break at entry"}, "break": {"検出内容", "break found"},
	"level": {"重要性分類", "class"}, "rules": {"規則", "rules"}, "findings": {"検出", "findings"},
	"department": {"所属", "department"}, "from": {"差出人", "sender"}, "recipients": {"宛先", "recipients"},
	"status": {"状態", "status"}, "encryption": {"暗号化", "encryption"}, "user": {"利用者", "user"},
	"remote": {"接続元", "remote address"}, "error": {"エラー", "error"}, "approvals": {"承認数", "approvals"},
	"exception": {"例外", "exception"}, "detector": {"検出器", "detector"}, "location": {"箇所", "location"},
	"subject": {"件名", "subject"}, "version": {"版", "version"}, "file": {"ファイル", "file"},
	"fingerprint": {"指紋", "fingerprint"}, "queue_id": {"配送ID", "queue ID"}, "content_sha256": {"内容の SHA-256", "content SHA-256"},
	"anchored_after": {"固定した最後の番号", "anchored after entry"}, "filter": {"条件", "filter"}, "format": {"形式", "format"},
	"count": {"件数", "count"}, "policy_version": {"ポリシーの版", "policy version"}, "approvers": {"承認", "approvals"},
	"parts": {"送信した部分", "parts sent"}, "fingerprints": {"鍵の指紋", "key fingerprints"}, "required": {"必要な承認数", "approvals required"},
	"note": {"備考", "note"}, "id": {"ID", "ID"},
}

func label(m map[string][2]string, key, lang string) string {
	l, ok := m[key]
	if !ok {
		return key
	}
	if lang == "en" {
		return l[1]
	}
	return l[0]
}

// decodeDetails turns an entry's JSON object into labelled fields, keys
// sorted; a value that is not an object is one field "details".
func decodeDetails(raw json.RawMessage, lang string) []field {
	if len(raw) == 0 {
		return nil
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return []field{{Key: "details", Label: "details", Value: classify.MaskTextLoose(string(raw))}}
		}
		return []field{{Key: "details", Label: "details", Value: valueText(v)}}
	}
	keys := slices.Sorted(maps.Keys(obj))
	out := make([]field, 0, len(keys))
	for _, k := range keys {
		out = append(out, field{Key: k, Label: label(detailLabels, k, lang), Value: valueText(obj[k])})
	}
	return out
}

// valueText renders a decoded JSON value for people: strings masked,
// lists joined, objects as "key: value" (a rule as its ID and clause, a
// finding as its detector and count read naturally either way).
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case string:
		return classify.MaskTextLoose(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, valueText(e))
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		// A finding and a rule as people name them.
		if det, ok := x["detector"].(string); ok {
			s := det
			if n, ok := x["count"].(float64); ok {
				s += " ×" + strconv.FormatFloat(n, 'f', -1, 64)
			}
			if l := valueText(x["locations"]); x["locations"] != nil && l != "" {
				s += " (" + l + ")"
			}
			return s
		}
		if id, ok := x["id"].(string); ok && x["clause"] != nil {
			s := id + " [" + valueText(x["clause"]) + "]"
			if x["reason"] != nil {
				s += " " + valueText(x["reason"])
			}
			return s
		}
		parts := make([]string, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			parts = append(parts, k+": "+valueText(x[k]))
		}
		return strings.Join(parts, ", ")
	}
	return classify.MaskTextLoose(fmt.Sprint(v))
}

func viewOf(e audit.Entry, lang string) entryView {
	e.Subject = classify.MaskTextLoose(e.Subject)
	return entryView{Entry: e, ActionLabel: label(actionLabels, e.Action, lang), Fields: decodeDetails(e.Details, lang)}
}

// auditPageSize is the entries on one page.
const auditPageSize = 100

type auditData struct {
	Q          auditQuery
	Entries    []entryView
	Total      int
	Broken     *audit.Break
	VerifyErr  string
	QueryErr   string
	PrevURL    string
	NextURL    string
	CSVURL     string
	JSONURL    string
	From, To   int
	ActionList []field // Key: action code, Label: its name
}

// handleAudit: the audit log with the chain and its checkpoint verified on
// every view.
func (c *Console) handleAudit(w http.ResponseWriter, r *http.Request, pg *page) {
	q := readAuditQuery(r)
	d := auditData{Q: q}
	pg.Nav, pg.Title = "audit", pg.T("audit_title")
	d.ActionList = c.actionList(r.Context(), pg.Lang, q.Action)
	f, err := q.filter(c.d.Review.Location())
	if err != nil {
		d.QueryErr = pg.T("bad_date") + ": " + err.Error()
		pg.Data = d
		c.render(w, http.StatusBadRequest, "audit", pg)
		return
	}
	f.Limit = auditPageSize
	ents, total, err := c.d.Audit.List(r.Context(), f)
	if err != nil {
		c.failErr(w, r, pg, err)
		return
	}
	for _, e := range ents {
		d.Entries = append(d.Entries, viewOf(e, pg.Lang))
	}
	d.Total, d.From, d.To = total, q.Offset+1, q.Offset+len(ents)
	if d.Broken, err = c.d.Audit.Verify(r.Context()); err != nil {
		d.VerifyErr = err.Error()
	}
	base := pg.P + "/audit"
	if q.Offset > 0 {
		d.PrevURL = q.url(base, max(q.Offset-auditPageSize, 0))
	}
	if q.Offset+len(ents) < total {
		d.NextURL = q.url(base, q.Offset+auditPageSize)
	}
	d.CSVURL, d.JSONURL = q.url(base+".csv", 0), q.url(base+".json", 0)
	pg.Data = d
	c.render(w, http.StatusOK, "audit", pg)
}

// actionList is every kind the log holds (and the known ones), labelled.
func (c *Console) actionList(ctx context.Context, lang, selected string) []field {
	seen := map[string]bool{}
	var out []field
	add := func(a string) {
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, field{Key: a, Label: label(actionLabels, a, lang)})
		}
	}
	for _, a := range []string{audit.Hold, audit.Approve, audit.Release, audit.Reject, audit.Expire, audit.FalsePositive, audit.Login} {
		add(a)
	}
	if acts, err := c.d.Audit.Actions(ctx); err == nil {
		for _, a := range acts {
			add(a)
		}
	}
	add(selected)
	return out
}

// maxExport bounds one export (read in pages of 1000).
const maxExport = 1_000_000

// handleAuditExport writes every entry matching the page's filters, oldest
// first, as CSV (UTF-8 with a byte-order mark, so that spreadsheet programs
// read the Japanese) or JSON (an array of entries, details as objects).
// The export itself is audited: who took which part of the log.
func (c *Console) handleAuditExport(format string) func(http.ResponseWriter, *http.Request, *page) {
	return func(w http.ResponseWriter, r *http.Request, pg *page) {
		q := readAuditQuery(r)
		q.Offset = 0
		f, err := q.filter(c.d.Review.Location())
		if err != nil {
			c.fail(w, pg, http.StatusBadRequest, pg.T("bad_date")+": "+err.Error())
			return
		}
		// Counted first, so that the export's own audit entry says how
		// many entries it carries (and the entry itself, appended now,
		// falls outside a range that ends before it).
		f.Limit = 1
		_, total, err := c.d.Audit.List(r.Context(), f)
		if err != nil {
			c.failErr(w, r, pg, err)
			return
		}
		total = min(total, maxExport)
		c.audit(r.Context(), pg.User.Email, "audit-export", map[string]any{"format": format, "count": total, "filter": q.values().Encode()})
		name := "dlpguard-audit-" + c.now().Format("20060102-150405") + "." + format
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		// Oldest first, page by page (stable while others append), up to
		// the count taken above: the file is streamed, never held whole.
		f.Oldest = true
		each := func(write func(audit.Entry) error) error {
			for off := 0; off < total; off += 1000 {
				f.Limit, f.Offset = min(1000, total-off), off
				ents, _, err := c.d.Audit.List(r.Context(), f)
				if err != nil {
					return err
				}
				for _, e := range ents {
					if err := write(e); err != nil {
						return err
					}
				}
				if len(ents) == 0 {
					break
				}
			}
			return nil
		}
		var werr error
		switch format {
		case "json":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			io.WriteString(w, "[")
			sep := "\n"
			werr = each(func(e audit.Entry) error {
				b, err := json.Marshal(exportOf(e))
				if err != nil {
					return err
				}
				io.WriteString(w, sep)
				sep = ",\n"
				_, err = w.Write(b)
				return err
			})
			io.WriteString(w, "\n]\n")
		default:
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Write([]byte("\ufeff"))
			cw := csv.NewWriter(w)
			cw.Write([]string{"seq", "time", "actor", "action", "action_label", "subject", "details", "prev", "hash"})
			werr = each(func(e audit.Entry) error {
				v := viewOf(e, pg.Lang)
				parts := make([]string, 0, len(v.Fields))
				for _, fl := range v.Fields {
					parts = append(parts, fl.Label+": "+fl.Value)
				}
				return cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.Time.In(c.d.Review.Location()).Format(time.RFC3339Nano), cell(e.Actor), e.Action,
					v.ActionLabel, cell(v.Subject), cell(strings.Join(parts, " / ")), e.Prev, e.Hash})
			})
			cw.Flush()
			if werr == nil {
				werr = cw.Error()
			}
		}
		if werr != nil {
			// The status is sent: the file ends short; the log says why.
			c.log.Warn("console: audit export cut short", "user", pg.User.Username, "err", werr)
		}
	}
}

// cell keeps a spreadsheet from reading a value as a formula (CSV
// injection: an actor or reason beginning with = + - @).
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// exportEntry is one entry of the JSON export: the stored fields (prev and
// hash, so that the chain can be re-checked outside), details decoded with
// their strings masked.
type exportEntry struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Subject string    `json:"subject,omitempty"`
	Details any       `json:"details,omitempty"`
	Prev    string    `json:"prev"`
	Hash    string    `json:"hash"`
}

func exportOf(e audit.Entry) exportEntry {
	x := exportEntry{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Subject: classify.MaskTextLoose(e.Subject), Prev: e.Prev, Hash: e.Hash}
	if len(e.Details) > 0 {
		var v any
		if json.Unmarshal(e.Details, &v) == nil {
			x.Details = maskStrings(v)
		}
	}
	return x
}

// maskStrings masks every string in a decoded JSON value.
func maskStrings(v any) any {
	switch x := v.(type) {
	case string:
		return classify.MaskTextLoose(x)
	case []any:
		for i := range x {
			x[i] = maskStrings(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = maskStrings(x[k])
		}
	}
	return v
}
