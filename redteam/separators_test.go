package redteam

import (
	"strings"
	"testing"

	"dlpguard/policy"
)

// TestControlSeparators (issue 17 item 1): the groups of a My Number
// separated by what a spreadsheet paste or a crafted message puts between
// them — TAB, NUL, VT, FF, ESC, DEL, line breaks, Unicode line and
// paragraph separators — carried by the transfer encodings that can hold
// them. With a keyword it is refused; without, held.
func TestControlSeparators(t *testing.T) {
	e, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	seps := []struct{ name, sep string }{
		{"tab", "\t"}, {"nul", "\x00"}, {"vt", "\v"}, {"ff", "\f"}, {"esc", "\x1b"}, {"del", "\x7f"},
		{"lf", "\n"}, {"crlf", "\r\n"}, {"cr", "\r"}, {"nel", "\u0085"}, {"line separator", "\u2028"}, {"paragraph separator", "\u2029"},
	}
	var cases []rtCase
	for _, s := range seps {
		g := grouped(mn, s.sep)
		cases = append(cases,
			rtCase{s.name + " qp, keyword", reject, raw(single("ご連絡", "text/plain; charset=UTF-8", "quoted-printable", qp(ctxLine(g))))},
			rtCase{s.name + " base64, keyword", reject, raw(single("ご連絡", "text/plain; charset=UTF-8", "base64", b64([]byte(ctxLine(g)))))},
			rtCase{s.name + " base64, no keyword", hold, raw(single("ご連絡", "text/plain; charset=UTF-8", "base64", b64([]byte("会議資料 "+g+" を送ります。\n"))))},
			rtCase{s.name + " html, keyword", reject, raw(single("ご連絡", "text/html; charset=UTF-8", "base64", b64([]byte("<p>個人番号："+g+"</p>"))))},
		)
		if !strings.ContainsAny(s.sep, "\x00\r\n") {
			cases = append(cases, rtCase{s.name + " 8bit, keyword", reject, raw(plain("ご連絡", ctxLine(g)))})
		}
	}
	// a spreadsheet row pasted into the body, the number split over cells
	cases = append(cases,
		rtCase{"pasted row", reject, raw(plain("ご連絡", "氏名\t個人番号\t\t\t住所\n山田\t"+grouped(mn, "\t")+"\t若葉市\n"))},
		rtCase{"pasted tsv attachment", reject, raw(withAttachment("送付", "text/tab-separated-values", "名簿.tsv",
			[]byte("氏名\t年\t金額\t個人番号\n山田\t2026\t150000\t"+mn+"\n")))},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, e, c) })
	}
}

// TestPDFWorkLimit (issue 17 item 7): a small PDF whose Form XObjects draw
// each other asks for millions of operators; the reader stops at its work
// limit (about 0.2 s; before, at 20 million operators, about 6 s) and the
// message is held as not fully inspected, never passed.
func TestPDFWorkLimit(t *testing.T) {
	e, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /XObject << /F 5 0 R >> >> >>", stream("/F Do")}
	const depth = 12
	for i := 0; i < depth; i++ {
		res := " /Resources << /XObject << /F " + itoa(6+i) + " 0 R >> >>"
		if i == depth-1 {
			res = ""
		}
		body := strings.Repeat("/F Do ", 4)
		objs = append(objs, "<< /Type /XObject /Subtype /Form /BBox [0 0 1 1]"+res+" /Length "+itoa(len(body))+" >>\nstream\n"+body+"\nendstream")
	}
	c := rtCase{"form fan-out", hold, raw(withAttachment("送付", "application/pdf", "a.pdf", pdfObjects(objs...)))}
	check(t, e, c)
	v := evaluate(t, e, c.msg(t))
	if len(v.Rules) == 0 || v.Rules[0].ID != "uninspectable-hold" {
		t.Errorf("rules %+v, want uninspectable-hold", v.Rules)
	}
}
