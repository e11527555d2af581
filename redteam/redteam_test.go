// Package redteam attacks the promise that no personal data slips through a
// parsing gap: crafted messages go through policy.Default() → Evaluate, as
// the relay runs them, and must not pass; benign look-alikes must pass.
package redteam

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"

	"dlpguard/policy"
)

// want is the verdict a case must get.
type want string

const (
	reject  want = "reject"  // a My Number with context: refused
	hold    want = "hold"    // held for review (exactly hold)
	notPass want = "notpass" // hold or reject: fail closed, either is acceptable
	pass    want = "pass"
)

type rtCase struct {
	name string
	want want
	msg  func(t *testing.T) []byte
}

func evaluate(t *testing.T, e *policy.Engine, raw []byte) *policy.Verdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v, err := e.Evaluate(ctx, bytes.NewReader(raw), policy.Input{Now: time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	return v
}

func check(t *testing.T, e *policy.Engine, c rtCase) {
	t.Helper()
	v := evaluate(t, e, c.msg(t))
	got := string(v.Action)
	var fired []string
	for _, r := range v.Rules {
		fired = append(fired, r.ID)
	}
	t.Logf("%s: %v", got, fired)
	ok := false
	switch c.want {
	case notPass:
		ok = got == string(policy.Hold) || got == string(policy.Reject)
	default:
		ok = got == string(c.want)
	}
	if !ok {
		var rules []string
		for _, r := range v.Rules {
			rules = append(rules, r.ID)
		}
		var fs []string
		for _, f := range v.Report.Findings {
			fs = append(fs, f.Detector+"/"+string(f.Confidence))
		}
		t.Errorf("verdict %s, want %s; rules %v; findings %v; problems %v; incomplete %v",
			got, c.want, rules, fs, v.Inspect.Problems, v.Inspect.Incomplete)
		for _, p := range v.Inspect.Parts {
			t.Logf("part %q declared %q type %q inspected %v reason %q", p.Name, p.DeclaredType, p.Type, p.Inspected, p.Reason)
		}
	}
}

func encode(t *testing.T, enc encoding.Encoding, s string) string {
	t.Helper()
	b, err := enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return string(b)
}

func raw(b []byte) func(*testing.T) []byte { return func(*testing.T) []byte { return b } }

// ctxLine is the usual sentence with a My Number in context.
func ctxLine(num string) string { return "個人番号：" + num + " の方の件です。\n" }

// TestHidden: a My Number hidden by an encoding, markup or container trick
// must be found (reject) or at least held.
func TestHidden(t *testing.T) {
	e, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	html := func(body string) []byte {
		return single("ご連絡", "text/html; charset=UTF-8", "8bit", "<html><body>"+body+"</body></html>\r\n")
	}
	var entities, hexEntities string
	for _, r := range mn {
		entities += "&#" + itoa(int(r)) + ";"
		hexEntities += "&#x3" + string(r) + ";"
	}
	cases := []rtCase{
		// Baselines: the plain forms.
		{"baseline plain", reject, raw(plain("ご連絡", ctxLine(mn)))},
		{"baseline grouped", reject, raw(plain("ご連絡", "番号 "+grouped(mn, "-")+"\n"))},
		// HTML: decimal and hex character references (HTML tokenizer must decode).
		{"html decimal entities", reject, raw(html("個人番号：" + entities))},
		{"html hex entities", reject, raw(html("個人番号：" + hexEntities))},
		// HTML: digits split by inline elements and comments (text must be joined without separators).
		{"html span split", reject, raw(html("個人番号：<span>" + mn[:4] + "</span><b>" + mn[4:8] + "</b><i>" + mn[8:] + "</i>"))},
		{"html comment split", reject, raw(html("個人番号：" + mn[:6] + "<!-- x -->" + mn[6:]))},
		// Invisible separators between digits.
		{"soft hyphen", reject, raw(plain("ご連絡", ctxLine(each(mn, "\u00ad"))))},
		{"zero width space", reject, raw(plain("ご連絡", ctxLine(each(mn, "\u200b"))))},
		{"word joiner", reject, raw(plain("ご連絡", ctxLine(each(mn, "\u2060"))))},
		{"nbsp groups", reject, raw(plain("ご連絡", ctxLine(grouped(mn, "\u00a0"))))},
		{"thin space groups", reject, raw(plain("ご連絡", ctxLine(grouped(mn, "\u2009"))))},
		{"narrow nbsp groups", reject, raw(plain("ご連絡", ctxLine(grouped(mn, "\u202f"))))},
		{"ideographic space groups", reject, raw(plain("ご連絡", ctxLine(fullWidth(grouped(mn, "\u3000")))))},
		{"html nbsp entity groups", reject, raw(html("個人番号：" + grouped(mn, "&nbsp;")))},
		// HTML text the reader does not see still leaves with the message.
		{"html display none", reject, raw(html(`<div style="display:none">個人番号：` + mn + `</div>見えません`))},
		{"html textarea", reject, raw(html(`<textarea>個人番号：` + mn + `</textarea>`))},
		{"html noscript", reject, raw(html(`<noscript>個人番号：` + mn + `</noscript>`))},
		{"html title attr", notPass, raw(html(`<p title="個人番号：` + mn + `">連絡</p>`))},
		{"html alt attr", notPass, raw(html(`<img alt="個人番号：` + mn + `" src="cid:x">`))},
		{"html input value", notPass, raw(html(`<input value="個人番号：` + mn + `">`))},
		{"html head title", reject, raw(html(`<head><title>個人番号：` + mn + `</title></head>`))},
		// QP soft line break in the middle of the number.
		{"qp soft break", reject, raw(single("ご連絡", "text/plain; charset=UTF-8", "quoted-printable",
			qp("個人番号：")+mn[:5]+"=\r\n"+mn[5:]+"\r\n"))},
		// base64 with whitespace and garbage.
		{"base64 spaces", reject, raw(single("ご連絡", "text/plain; charset=UTF-8", "base64",
			spaced(b64([]byte(ctxLine(mn))))))},
		// CTE spelling variants.
		{"cte uppercase", reject, raw(single("ご連絡", "text/plain; charset=UTF-8", "BASE64", b64([]byte(ctxLine(mn)))))},
		{"cte base-64 typo", notPass, raw(single("ご連絡", "text/plain; charset=UTF-8", "base-64", b64([]byte(ctxLine(mn)))))},
		{"cte 8bit lie on base64", notPass, raw(single("ご連絡", "text/plain; charset=UTF-8", "8bit", b64([]byte(ctxLine(mn)))))},
		// Odd MIME types.
		{"TEXT/PLAIN upper", reject, raw(single("ご連絡", "TEXT/PLAIN; CHARSET=UTF-8", "8bit", ctxLine(mn)))},
		{"no content-type", reject, raw(single("ご連絡", "", "8bit", ctxLine(mn)))},
		{"csv as vnd.ms-excel", reject, raw(withAttachment("送付", "application/vnd.ms-excel", "list.csv", []byte("氏名,個人番号\n山田太郎,"+mn+"\n")))},
		{"csv as text/x-csv", reject, raw(withAttachment("送付", "text/x-csv", "list.csv", []byte("氏名,個人番号\n山田太郎,"+mn+"\n")))},
		{"csv as octet-stream no ext", reject, raw(withAttachment("送付", "application/octet-stream", "data", []byte("氏名,個人番号\n山田太郎,"+mn+"\n")))},
		{"json attachment", reject, raw(withAttachment("送付", "application/json", "a.json", []byte(`{"個人番号":"`+mn+`"}`)))},
		{"xml attachment", reject, raw(withAttachment("送付", "application/xml", "a.xml", []byte(`<?xml version="1.0"?><r><個人番号>`+mn+`</個人番号></r>`)))},
		{"vcard", reject, raw(withAttachment("送付", "text/vcard", "a.vcf", []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:山田太郎\r\nNOTE:個人番号 "+mn+"\r\nEND:VCARD\r\n")))},
		{"calendar", reject, raw(withAttachment("送付", "text/calendar", "a.ics", []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:面談\r\nDESCRIPTION:個人番号 "+mn+"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")))},
		{"rtf attachment", reject, raw(withAttachment("送付", "application/rtf", "a.rtf", []byte(`{\rtf1\ansi\ansicpg932 {\fonttbl\f0 MS Mincho;}\f0 \'8c\'c2\'90\'6c\'94\'d4\'8d\'86 `+mn+`\par}`)))},
		// Charsets.
		{"utf16le bom", reject, func(t *testing.T) []byte {
			return withAttachment("送付", "text/plain", "a.txt", []byte(encode(t, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), ctxLine(mn))))
		}},
		{"utf16be bom", reject, func(t *testing.T) []byte {
			return withAttachment("送付", "text/plain", "a.txt", []byte(encode(t, unicode.UTF16(unicode.BigEndian, unicode.UseBOM), ctxLine(mn))))
		}},
		{"utf16le no bom", reject, func(t *testing.T) []byte {
			return withAttachment("送付", "application/octet-stream", "a.txt", []byte(encode(t, unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), ctxLine(mn))))
		}},
		{"utf16be no bom", reject, func(t *testing.T) []byte {
			return withAttachment("送付", "application/octet-stream", "a.txt", []byte(encode(t, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), ctxLine(mn))))
		}},
		{"iso-2022-jp fullwidth", reject, func(t *testing.T) []byte {
			return single("ご連絡", "text/plain; charset=ISO-2022-JP", "7bit", encode(t, japanese.ISO2022JP, ctxLine(fullWidth(mn))))
		}},
		{"euc-jp", reject, func(t *testing.T) []byte {
			return single("ご連絡", "text/plain; charset=EUC-JP", "8bit", encode(t, japanese.EUCJP, ctxLine(mn)))
		}},
		{"shift_jis labelled utf-8", reject, func(t *testing.T) []byte {
			return single("ご連絡", "text/plain; charset=UTF-8", "8bit", encode(t, japanese.ShiftJIS, ctxLine(mn)))
		}},
		{"charset unknown", reject, func(t *testing.T) []byte {
			return single("ご連絡", "text/plain; charset=x-unknown-42", "8bit", encode(t, japanese.ShiftJIS, ctxLine(mn)))
		}},
		{"shift_jis csv no label", reject, func(t *testing.T) []byte {
			return withAttachment("送付", "application/octet-stream", "名簿.csv", []byte(encode(t, japanese.ShiftJIS, "氏名,個人番号\r\n山田太郎,"+mn+"\r\n")))
		}},
		// Other Unicode decimal digits (Nd): an insider's trick. Decision: fold every Nd digit.
		{"arabic-indic digits", reject, raw(plain("ご連絡", ctxLine(digitsFrom(mn, 0x0660))))},
		{"devanagari digits", reject, raw(plain("ご連絡", ctxLine(digitsFrom(mn, 0x0966))))},
		{"mathematical bold digits", reject, raw(plain("ご連絡", ctxLine(digitsFrom(mn, 0x1D7CE))))},
		// Layout tricks.
		// Decision (out of scope): digits are never joined across line
		// breaks without a separator (1234-5678-\n9018 is joined): columns
		// of figures would join into false My Numbers. Documented gap.
		{"two lines of a table", pass, raw(plain("ご連絡", "個人番号\n"+mn[:6]+"\n"+mn[6:]+"\n"))},
		{"wrapped after a dash", reject, raw(plain("ご連絡", "個人番号 "+mn[:4]+"-"+mn[4:8]+"-\n"+mn[8:]+"\n"))},
		// Headers.
		{"subject", reject, raw(plain("個人番号 "+mn, "本文です。\n"))},
		{"to display name", notPass, raw([]byte(strings.Replace(string(plain("ご連絡", "本文です。\n")), "To: someone@example.com", "To: \"個人番号 "+mn+"\" <someone@example.com>", 1)))},
		{"x-header", notPass, raw([]byte(strings.Replace(string(plain("ご連絡", "本文です。\n")), "MIME-Version", "X-Note: 個人番号 "+mn+"\r\nMIME-Version", 1)))},
		// Multipart structure.
		{"preamble", notPass, raw([]byte(hdr("ご連絡") + "Content-Type: multipart/mixed; boundary=\"BND\"\r\n\r\n" + multipartBody("BND", ctxLine(mn), "", textPart("本文です。\n"))))},
		{"epilogue", notPass, raw([]byte(hdr("ご連絡") + "Content-Type: multipart/mixed; boundary=\"BND\"\r\n\r\n" + multipartBody("BND", "", ctxLine(mn), textPart("本文です。\n"))))},
		{"duplicate content-type", notPass, raw([]byte(hdr("ご連絡") + "Content-Type: text/plain; charset=UTF-8\r\nContent-Type: image/png\r\n\r\n" + ctxLine(mn)))},
		{"inline disposition attachment", reject, raw(mixed("送付", textPart("本文\n"), part{"Content-Type: text/plain; charset=UTF-8; name=\"a.txt\"\r\nContent-Disposition: inline", crlf(ctxLine(mn))}))},
		{"filename encoded-word", reject, raw(mixed("送付", textPart("本文\n"), part{"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"=?UTF-8?B?" + b64str("個人番号"+mn+".txt") + "?=\"", "x\r\n"}))},
		{"filename rfc2231 continuation", reject, raw(mixed("送付", textPart("本文\n"), part{"Content-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n filename*0*=UTF-8''" + pct("個人番号") + ";\r\n filename*1=" + mn[:6] + ";\r\n filename*2=" + mn[6:] + ".txt", "x\r\n"}))},
		{"html in multipart/related", reject, raw([]byte(hdr("ご連絡") + "Content-Type: multipart/related; boundary=\"R\"\r\n\r\n" + multipartBody("R", "", "", part{"Content-Type: text/html; charset=UTF-8", "<p>個人番号：" + mn + "</p>"}, part{"Content-Type: image/png\r\nContent-ID: <x>\r\nContent-Transfer-Encoding: base64", b64([]byte("\x89PNG\r\n\x1a\n"))})))},
		{"message/partial", notPass, raw([]byte(hdr("ご連絡") + "Content-Type: message/partial; id=\"abc\"; number=1; total=2\r\n\r\n" + ctxLine(mn[:6])))},
		{"message/external-body", notPass, raw([]byte(hdr("ご連絡") + "Content-Type: message/external-body; access-type=URL; URL=\"http://example.com/x\"\r\n\r\nContent-Type: text/plain\r\n\r\n"))},
		{"ms-tnef garbage", notPass, raw(withAttachment("送付", "application/ms-tnef", "winmail.dat", []byte("not really tnef "+ctxLine(mn))))},
		// Forwarded messages.
		{"forwarded subject", reject, raw(mixed("転送", textPart("転送します\n"), part{"Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"fwd.eml\"", string(plain("個人番号 "+mn, "本文\n"))}))},
		{"rfc822 in zip in rfc822", reject, func(t *testing.T) []byte {
			inner := plain("ご連絡", ctxLine(mn))
			z := zipOf(t, entry{"mail.eml", inner})
			mid := withAttachment("中", "application/zip", "m.zip", z)
			return mixed("転送", textPart("転送します\n"), part{"Content-Type: message/rfc822", string(mid)})
		}},
		// Archives.
		{"zip csv", reject, func(t *testing.T) []byte {
			return withAttachment("送付", "application/zip", "a.zip", zipOf(t, entry{"list.csv", []byte("氏名,個人番号\n山田," + mn + "\n")}))
		}},
		{"nested zips depth 8", notPass, func(t *testing.T) []byte {
			d := []byte(ctxLine(mn))
			name := "a.txt"
			for i := 0; i < 8; i++ {
				d = zipOf(t, entry{name, d})
				name = "n" + itoa(i) + ".zip"
			}
			return withAttachment("送付", "application/zip", "a.zip", d)
		}},
		{"nested zips depth 20", notPass, func(t *testing.T) []byte {
			d := []byte(ctxLine(mn))
			name := "a.txt"
			for i := 0; i < 20; i++ {
				d = zipOf(t, entry{name, d})
				name = "n" + itoa(i) + ".zip"
			}
			return withAttachment("送付", "application/zip", "a.zip", d)
		}},
		{"tar.gz csv", reject, func(t *testing.T) []byte {
			return withAttachment("送付", "application/gzip", "a.tar.gz", gz(t, tarOf(t, entry{"list.csv", []byte("氏名,個人番号\n山田," + mn + "\n")})))
		}},
		{"gz as octet-stream", reject, func(t *testing.T) []byte {
			return withAttachment("送付", "application/octet-stream", "a.bin", gz(t, []byte(ctxLine(mn))))
		}},
		{"zip duplicate names", reject, func(t *testing.T) []byte {
			return withAttachment("送付", "application/zip", "a.zip", zipOf(t, entry{"a.txt", []byte("無関係\n")}, entry{"a.txt", []byte(ctxLine(mn))}))
		}},
		{"zip with lying sizes", notPass, func(t *testing.T) []byte {
			z := zipStored(t, entry{"a.txt", []byte(ctxLine(mn) + strings.Repeat("x", 200))})
			return withAttachment("送付", "application/zip", "a.zip", lieSizes(z))
		}},
		// A ZIP embedded in a document is not opened by the office reader:
		// held as uninspectable (fail closed), not read. Open item.
		{"docx in zip in docx", hold, func(t *testing.T) []byte {
			in := docx(t, []string{"個人番号：" + mn}, "")
			z := zipOf(t, entry{"in.docx", in})
			out := docx(t, []string{"外側の文書"}, "", entry{"word/embeddings/pkg.zip", z})
			return withAttachment("送付", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "out.docx", out)
		}},
		{"docx run split", reject, func(t *testing.T) []byte {
			d := docx(t, []string{`<w:r><w:t>個人番号：` + mn[:4] + `</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>` + mn[4:8] + `</w:t></w:r><w:r><w:t>` + mn[8:] + `</w:t></w:r>`}, "")
			return withAttachment("送付", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a.docx", d)
		}},
		{"docx in zip as octet-stream", reject, func(t *testing.T) []byte {
			d := docx(t, []string{"個人番号：" + mn}, "")
			return withAttachment("送付", "application/octet-stream", "files.zip", zipOf(t, entry{"a.docx", d}))
		}},
		{"xlsx number cell", reject, func(t *testing.T) []byte {
			x := xlsx(t, []string{"氏名", "個人番号", "山田太郎"},
				`<c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>`,
				`<c r="A2" t="s"><v>2</v></c><c r="B2"><v>`+mn+`</v></c>`)
			return withAttachment("送付", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "a.xlsx", x)
		}},
		{"xlsx formula cached", reject, func(t *testing.T) []byte {
			x := xlsx(t, []string{"氏名", "個人番号", "山田太郎"},
				`<c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>`,
				`<c r="A2" t="s"><v>2</v></c><c r="B2"><f>C2*1</f><v>`+mn+`</v></c>`)
			return withAttachment("送付", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "a.xlsx", x)
		}},
		{"xlsx exponent", reject, func(t *testing.T) []byte {
			x := xlsx(t, []string{"氏名", "個人番号", "山田太郎"},
				`<c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>`,
				`<c r="A2" t="s"><v>2</v></c><c r="B2"><v>`+mn[:1]+"."+mn[1:]+`E11</v></c>`)
			return withAttachment("送付", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "a.xlsx", x)
		}},
		{"xlsx inline string", reject, func(t *testing.T) []byte {
			x := xlsx(t, nil, `<c r="A1" t="inlineStr"><is><t>個人番号 `+mn+`</t></is></c>`)
			return withAttachment("送付", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "a.xlsx", x)
		}},
		// Decision (out of scope): a number split over two cells is not
		// joined (adjacent numeric cells are common); documented gap.
		{"xlsx split cells", pass, func(t *testing.T) []byte {
			x := xlsx(t, []string{"個人番号", grouped(mn, "-")[:9], mn[8:]},
				`<c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>`)
			return withAttachment("送付", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "a.xlsx", x)
		}},
		// Corrupt / encrypted containers: held.
		{"corrupt docx", notPass, raw(withAttachment("送付", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a.docx", []byte("PK\x03\x04garbage"+ctxLine(mn))))},
		{"truncated zip", notPass, func(t *testing.T) []byte {
			z := zipOf(t, entry{"a.txt", []byte(ctxLine(mn) + strings.Repeat("あ", 1000))})
			return withAttachment("送付", "application/zip", "a.zip", z[:len(z)/2])
		}},
		// Limits: padding before the number.
		{"25MB padding", notPass, func(t *testing.T) []byte {
			pad := strings.Repeat("あいうえお かきくけこ\n", 25<<20/32)
			return withAttachment("送付", "text/plain", "big.txt", []byte(pad+ctxLine(mn)))
		}},
		// Limits: more parts than MaxParts before the number.
		{"over MaxParts", notPass, func(t *testing.T) []byte {
			ps := make([]part, 0, 2101)
			for i := 0; i < 2100; i++ {
				ps = append(ps, textPart("x"))
			}
			return mixed("送付", append(ps, textPart(ctxLine(mn)))...)
		}},
		// Limits: forwarded messages nested beyond MaxDepth.
		{"rfc822 nested 15 deep", notPass, func(t *testing.T) []byte {
			m := plain("中", ctxLine(mn))
			for i := 0; i < 15; i++ {
				m = []byte(hdr("転送") + "Content-Type: message/rfc822\r\n\r\n" + string(m))
			}
			return m
		}},
		// PDF: uncompressed text in a page.
		{"pdf text", reject, raw(withAttachment("送付", "application/pdf", "a.pdf", minimalPDF("(My Number: "+mn+") Tj", "")))},
		{"pdf invisible text", reject, raw(withAttachment("送付", "application/pdf", "a.pdf", minimalPDF("3 Tr (My Number: "+mn+") Tj", "")))},
		{"pdf annotation", notPass, raw(withAttachment("送付", "application/pdf", "a.pdf", minimalPDF("(hello) Tj", "/Annots [<< /Type /Annot /Subtype /Text /Rect [0 0 10 10] /Contents (kojin bango "+mn+") >>]")))},
		{"pdf garbage", notPass, raw(withAttachment("送付", "application/pdf", "a.pdf", []byte("%PDF-1.4\n garbage "+ctxLine(mn))))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, e, c) })
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func b64str(s string) string { return strings.TrimSpace(b64([]byte(s))) }

func pct(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
	}
	return b.String()
}

// spaced inserts spaces and a stray '!' into base64 text.
func spaced(s string) string {
	var b strings.Builder
	for i, c := range s {
		b.WriteRune(c)
		if i%7 == 3 && c != '\r' && c != '\n' {
			b.WriteString(" ")
		}
	}
	return b.String()
}

// lieSizes rewrites the sizes in the central directory of a one-entry
// stored zip to 10 bytes.
func lieSizes(z []byte) []byte {
	out := append([]byte(nil), z...)
	i := bytes.Index(out, []byte("PK\x01\x02"))
	if i < 0 || i+28 > len(out) {
		return out
	}
	for _, off := range []int{20, 24} {
		out[i+off], out[i+off+1], out[i+off+2], out[i+off+3] = 10, 0, 0, 0
	}
	return out
}

// minimalPDF builds a one-page PDF with an uncompressed content stream and
// extra page dictionary entries.
func minimalPDF(content, pageExtra string) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(s string) {
		offs = append(offs, b.Len())
		b.WriteString(itoa(len(offs)) + " 0 obj\n" + s + "\nendobj\n")
	}
	b.WriteString("%PDF-1.4\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R " + pageExtra + " >>")
	stream := "BT /F1 12 Tf 72 700 Td " + content + " ET"
	obj("<< /Length " + itoa(len(stream)) + " >>\nstream\n" + stream + "\nendstream")
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	xref := b.Len()
	b.WriteString("xref\n0 " + itoa(len(offs)+1) + "\n0000000000 65535 f \n")
	for _, o := range offs {
		s := itoa(o)
		b.WriteString(strings.Repeat("0", 10-len(s)) + s + " 00000 n \n")
	}
	b.WriteString("trailer\n<< /Size " + itoa(len(offs)+1) + " /Root 1 0 R >>\nstartxref\n" + itoa(xref) + "\n%%EOF\n")
	return b.Bytes()
}
