package icap

import (
	"bytes"
	"html/template"
	"time"

	"dlpguard/policy"
)

// detectorJA names detectors for staff.
var detectorJA = map[string]string{
	"my_number": "個人番号（マイナンバー）", "corporate_number": "法人番号", "resident_code": "住民票コード",
	"pension_number": "基礎年金番号", "drivers_license": "運転免許証番号", "passport": "旅券番号",
	"credit_card": "クレジットカード番号", "bank_account": "口座番号", "phone_number": "電話番号",
	"postal_code": "郵便番号", "address": "住所", "birth_date": "生年月日", "email_address": "メールアドレス",
	"personal_list": "個人情報の一覧", "marking": "重要性分類の表示",
}

type pageFinding struct {
	Label, Detector string
	Count           int
	Samples         []string
}

type pageData struct {
	Ref, Host, Time     string
	Rules               []policy.RuleHit
	Findings            []pageFinding
	Held                bool // the policy would hold: uploads cannot wait
	Problem             string
	Contact, Route      string
	Approvers           []string
	SizeLimit, Internal bool
}

// The 403 page: Japanese first, English below. html/template escapes
// everything (file names, hosts and samples come from the uploader).
var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>送信を停止しました / Upload blocked</title>
<style>body{font-family:sans-serif;max-width:46em;margin:2em auto;line-height:1.6}h1{color:#a00}.en{color:#444;border-top:1px solid #ccc;margin-top:2em}code{background:#eee;padding:0 .3em}</style>
</head><body>
<h1>このアップロードは送信されませんでした</h1>
<p>送信先 <code>{{.Host}}</code> へのファイル送信は、市の情報セキュリティ対策基準により停止されました。</p>
{{if .Problem}}<p>理由: {{.Problem}}</p>{{end}}
{{if .Rules}}<h2>該当した規則</h2><ul>{{range .Rules}}<li><code>{{.ID}}</code>（対策基準 {{.Clause}}）: {{.Reason}}</li>{{end}}</ul>{{end}}
{{if .Findings}}<h2>検出された内容（一部を伏せて表示）</h2><ul>{{range .Findings}}<li>{{.Label}} {{.Count}} 件{{range .Samples}} <code>{{.}}</code>{{end}}</li>{{end}}</ul>{{end}}
{{if .Held}}<p>この内容は承認が必要な情報です。ウェブからのアップロードは承認を待てないため停止しました。情報セキュリティ管理責任者の許可を得て、承認された経路（{{.Route}}）を利用してください。</p>{{end}}
<p>参照番号: <strong>{{.Ref}}</strong>（{{.Time}}）</p>
<p>問い合わせ先: {{.Contact}}{{if .Approvers}}（所属の情報セキュリティ管理責任者: {{range $i, $a := .Approvers}}{{if $i}}、{{end}}{{$a}}{{end}}）{{end}}。参照番号をお伝えください。</p>
<div class="en" lang="en">
<h2>This upload was not sent</h2>
<p>The file transfer to <code>{{.Host}}</code> was stopped under the city's information-security standard.</p>
{{if .SizeLimit}}<p>Reason: the upload is larger than the inspection limit.</p>{{else if .Internal}}<p>Reason: the upload could not be inspected, so it was not sent.</p>{{end}}
{{if .Rules}}<ul>{{range .Rules}}<li><code>{{.ID}}</code> (clause {{.Clause}}){{if .ReasonEN}}: {{.ReasonEN}}{{end}}</li>{{end}}</ul>{{end}}
{{if .Findings}}<p>Found (masked):</p><ul>{{range .Findings}}<li>{{.Detector}} ×{{.Count}}{{range .Samples}} <code>{{.}}</code>{{end}}</li>{{end}}</ul>{{end}}
{{if .Held}}<p>This content needs approval, and web uploads cannot wait for an approver. Ask your department's information-security manager for permission and use the approved route.</p>{{end}}
<p>Reference: <strong>{{.Ref}}</strong>. Contact: {{.Contact}} and quote the reference.</p>
</div></body></html>
`))

// renderPage renders the 403 page for a blocked upload.
func (s *Server) renderPage(out *outcome) []byte {
	d := pageData{
		Ref: out.ref, Host: out.host, Time: time.Now().In(jst).Format("2006-01-02 15:04:05 JST"),
		Problem: out.problem, Contact: s.cfg.Contact, Route: s.cfg.ApprovedRoute,
		SizeLimit: out.reason == "size-limit", Internal: out.reason == "internal-error",
	}
	if v := out.verdict; v != nil {
		for _, h := range v.Rules {
			if h.Action == policy.Pass || h.Action == policy.Bcc {
				continue
			}
			d.Rules = append(d.Rules, h)
			if h.Action == policy.Hold || h.Action == policy.Delay {
				d.Held = true
			}
		}
		for _, f := range v.Report.Findings {
			if f.Count == 0 {
				continue
			}
			label := detectorJA[f.Detector]
			if label == "" {
				label = f.Detector
			}
			// Samples are masked by classify (never a whole identifier).
			d.Findings = append(d.Findings, pageFinding{Label: label, Detector: f.Detector, Count: f.Count, Samples: f.Samples})
		}
		d.Approvers = v.Approvers
		if v.Inspect != nil && v.Inspect.Incomplete && d.Problem == "" && len(v.Inspect.Problems) > 0 {
			d.Problem = "内容を検査できない部分があります / part of the upload could not be inspected"
		}
	}
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, d); err != nil {
		return []byte("<!DOCTYPE html><p>このアップロードは停止されました。参照番号 " + template.HTMLEscapeString(out.ref) + "</p><p>Upload blocked. Reference " + template.HTMLEscapeString(out.ref) + "</p>")
	}
	return b.Bytes()
}

var jst = time.FixedZone("JST", 9*60*60)
