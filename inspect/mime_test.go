package inspect

import (
	"path/filepath"
	"strings"
	"testing"
)

// mimeCase is one hand-made message of testdata/mime (made by gen.py there)
// and what inspection must make of it.
type mimeCase struct {
	file       string
	loc        string   // location whose text is checked ("" = all text)
	want       []string // substrings of that text
	notWant    []string // substrings that must not be sent anywhere
	charset    string   // Charset of the first part with text, when set
	reason     string   // substring of some part's Reason
	incomplete bool
	problem    string // substring of a Problem
	check      func(t *testing.T, res *Result, col *collect)
}

func TestMIME(t *testing.T) {
	cases := []mimeCase{
		// charsets
		{file: "cs_sjis_8bit.eml", loc: "body", want: []string{"個人番号 1234 5678 9012 ①Ⅰ㈱髙 テスト"}, charset: "cp932"},
		{file: "cs_cp932_qp.eml", loc: "body", want: []string{"①Ⅰ㈱髙"}, charset: "cp932"},
		{file: "cs_ms932_b64.eml", loc: "body", want: []string{"①Ⅰ㈱髙"}, charset: "cp932"},
		{file: "cs_cp50220.eml", loc: "body", want: []string{"個人番号 1234 5678 9012 ①Ⅰ ｱｱ"}, charset: "iso-2022-jp"},
		{file: "cs_iso2022_nolabel.eml", loc: "body", want: []string{"個人番号 1234 5678 9012 ①Ⅰ"}, charset: "iso-2022-jp"},
		{file: "cs_eucjp.eml", loc: "body", want: []string{"個人番号 1234 5678 9012 東京都"}, charset: "euc-jp"},
		{file: "cs_utf8_bom.eml", loc: "body", want: []string{"個人番号 1234"}, notWant: []string{"\uFEFF"}, charset: "utf-8"},
		{file: "cs_mislabel.eml", loc: "body", want: []string{"個人番号 1234 5678 9012 ①Ⅰ㈱髙"}, charset: "cp932", reason: "does not fit"},
		{file: "cs_ascii_is_iso2022.eml", loc: "body", want: []string{"個人番号 1234 5678 9012 ①Ⅰ"}, charset: "iso-2022-jp", reason: "does not fit"},
		{file: "cs_latin1.eml", loc: "body", want: []string{"café 1234"}, charset: "iso-8859-1"},
		{file: "cs_utf8_invalid.eml", loc: "body", want: []string{"ok \uFFFD\uFFFD bad 1234 5678 9012"}, charset: "utf-8"},
		{file: "att_utf16.eml", loc: "attachment:u16.txt", want: []string{"個人番号 1234 5678 9012"}, charset: "utf-16le"},
		// real type, not name: a Shift_JIS CSV named .dat is a table.
		{file: "att_csv_as_dat.eml", loc: "attachment:data.dat", want: []string{"山田\u3000太郎,123456789012"}, check: func(t *testing.T, res *Result, col *collect) {
			p := findPart(res, "data.dat")
			if p == nil || p.Type != "text/csv" || p.Charset != "cp932" || !p.Inspected {
				t.Errorf("data.dat: %+v", p)
			}
			if !tableAt(col, "attachment:data.dat") {
				t.Error("CSV not marked Table")
			}
		}},
		// headers and file names
		{file: "hdr_split_iso2022.eml", loc: "subject", want: []string{"個人番号のお知らせ"}, notWant: []string{"99998888777766665555", "123456789012"},
			check: func(t *testing.T, res *Result, col *collect) {
				h := res.Header
				if len(h.From) != 3 || h.From[0].Name != "山田" || h.From[0].Address != "x@example.com" || h.From[2].Name != "Plain Name" {
					t.Errorf("From: %+v", h.From)
				}
				if len(h.To) != 2 || h.To[1].Name != "鈴木" || h.To[0].Address != "c@example.com" {
					t.Errorf("To: %+v", h.To)
				}
				if len(h.Cc) != 1 || h.Cc[0].Name != "佐藤" {
					t.Errorf("Cc: %+v", h.Cc)
				}
				if got := h.Raw["X-Label"]; len(got) != 1 || got[0] != "重要性Ⅱ" {
					t.Errorf("Raw X-Label = %q", got)
				}
				if h.MessageID != "<99998888777766665555@example.com>" {
					t.Errorf("Message-ID %q", h.MessageID)
				}
				if !strings.Contains(col.text("header:To"), "鈴木") || !strings.Contains(col.text("header:From"), "山田") {
					t.Errorf("display names not sent: %q", col.kinds(KindHeader))
				}
			}},
		{file: "hdr_raw8bit.eml", loc: "subject", want: []string{"【秘】 取扱注意"}},
		{file: "fn_rfc2231_sjis.eml", loc: "attachment:名簿.csv", want: []string{"名簿.csv", "123456789012"}, check: func(t *testing.T, res *Result, _ *collect) {
			if findPart(res, "会議.txt") == nil {
				t.Errorf("RFC 2231 continuation in ISO-2022-JP: %s", dumpParts(res))
			}
		}},
		{file: "fn_raw_sjis.eml", loc: "attachment:表ソ一覧.csv", want: []string{"表ソ一覧.csv", "123456789012"}},
		{file: "fn_rfc2047_quoted.eml", loc: "attachment:【秘】名簿.txt", want: []string{"【秘】名簿.txt", "中身 1234"}},
		// HTML and alternatives: both alternatives, hidden text, alt/title,
		// entities, table cells; no <style> rules. Comments are hidden but
		// sent: read apart, after the document (red team decision).
		{file: "html_alt.eml", loc: "body", want: []string{"テキスト版のみ", "見える&本文 個人番号", "隠し 111122223333", "代替テキスト", "タイトル属性",
			"氏名\t番号", "山田\t123456789012", "スクリプト", "\n\ncomment 999988887777"}, notWant: []string{"color:red", "<p>"},
			check: func(t *testing.T, res *Result, col *collect) {
				if !tableAt(col, "body") {
					t.Error("HTML table not marked Table")
				}
				n := 0
				for _, p := range res.Parts {
					if !p.Attachment && p.Inspected {
						n++
					}
				}
				if n != 2 {
					t.Errorf("want 2 inspected body parts: %s", dumpParts(res))
				}
			}},
		// forwarded mail, attached and inline: subject, body, attachments.
		{file: "nested_rfc822.eml", want: []string{"【秘】転送件名", "転送本文 個人番号 123456789012"}, check: func(t *testing.T, res *Result, col *collect) {
			if findPart(res, "fwd.eml/inner.csv") == nil || findPart(res, "inline.csv") == nil {
				t.Errorf("nested attachments: %s", dumpParts(res))
			}
			if !strings.Contains(col.text("attachment:fwd.eml"), "転送本文") || !strings.Contains(col.text("body"), "転送本文") {
				t.Error("forwarded body text not at the attachment (attached) or body (inline)")
			}
			if !strings.Contains(col.text("attachment:fwd.eml/inner.csv"), "123456789012") {
				t.Error("CSV inside the forwarded message not read")
			}
		}},
		// encryption and signatures
		{file: "pgp_mime.eml", incomplete: true, check: func(t *testing.T, res *Result, _ *collect) {
			p := findPart(res, "encrypted.asc")
			if p == nil || !p.Encrypted || p.Inspected {
				t.Errorf("PGP/MIME: %s", dumpParts(res))
			}
		}},
		{file: "pgp_attachments.eml", incomplete: true, notWant: []string{"123456789012"}, check: func(t *testing.T, res *Result, _ *collect) {
			for _, n := range []string{"data.gpg", "note.asc", "renamed.txt"} {
				if p := findPart(res, n); p == nil || !p.Encrypted {
					t.Errorf("%s not encrypted: %+v", n, p)
				}
			}
		}},
		// encrypted content pasted into a text body (issue 12): an encrypted
		// part of its own, so the message is held.
		{file: "pasted_pgp.eml", incomplete: true, check: wantEncryptedPart("pasted-pgp-1")},
		{file: "pasted_pgp_quoted.eml", incomplete: true, check: wantEncryptedPart("pasted-pgp-1")},
		{file: "pasted_pgp_cut.eml", incomplete: true, check: wantEncryptedPart("pasted-pgp-1")},
		{file: "pasted_smime_pem.eml", incomplete: true, check: wantEncryptedPart("pasted-pkcs7-1")},
		{file: "pasted_smime_bare.eml", incomplete: true, check: wantEncryptedPart("pasted-base64-1")},
		{file: "smime_opaque_signed.eml", loc: "body", want: []string{"署名本文 個人番号 123456789012"}, check: func(t *testing.T, res *Result, _ *collect) {
			if p := findPart(res, "smime.p7m"); p == nil || p.Encrypted || !p.Inspected {
				t.Errorf("opaque signed: %+v", p)
			}
		}},
		{file: "smime_detached_signed.eml", loc: "body", want: []string{"署名本文 個人番号 123456789012"}, check: func(t *testing.T, res *Result, _ *collect) {
			if p := findPart(res, "smime.p7s"); p == nil || !p.Signature || p.Encrypted {
				t.Errorf("detached signature: %s", dumpParts(res))
			}
		}},
		// format=flowed, DelSp=yes: soft breaks joined, the words whole.
		{file: "flowed_delsp.eml", loc: "body", want: []string{"本人の個人番号は1234 56789012です。\r\n", "-- \r\nsig"}},
		// a file pasted into the text as uuencode is decoded and read.
		{file: "uuencode.eml", loc: "attachment:roster.csv", want: []string{"roster.csv", "山田\u3000太郎,123456789012"}, check: func(t *testing.T, res *Result, _ *collect) {
			if p := findPart(res, "roster.csv"); p == nil || !p.Inspected || p.Charset != "cp932" || p.Size != 80 {
				t.Errorf("uuencoded file: %s", dumpParts(res))
			}
		}},
		// malformed: read what can be read, report, Incomplete when content
		// may be missing.
		{file: "bad_no_final_boundary.eml", loc: "body", want: []string{"本文 123456789012", "second part"}, incomplete: true, problem: "missing final boundary"},
		{file: "bad_crcrlf.eml", loc: "body", want: []string{"本文 123456789012"}, check: func(t *testing.T, res *Result, col *collect) {
			if res.Header.Subject != "件名" {
				t.Errorf("subject %q", res.Header.Subject)
			}
		}},
		{file: "bad_nul.eml", loc: "body", want: []string{"123456789012"}},
		{file: "bad_headerless_part.eml", loc: "body", want: []string{"本文だけのパート 123456789012", "この行は本文"}},
		{file: "bad_boundary_missing.eml", loc: "body", want: []string{"本文 123456789012"}, incomplete: true, problem: "never found"},
		{file: "bad_base64.eml", loc: "body", want: []string{"本文"}, incomplete: true, reason: "broken base64"},
		{file: "bad_qp.eml", loc: "body", want: []string{"a=b 本文 123456789012 =ZZ softbreak"}, reason: "quoted-printable"},
		{file: "bad_no_content_type.eml", loc: "body", want: []string{"本文 123456789012"}, charset: "cp932"},
		{file: "bad_ctype.eml", loc: "body", want: []string{"本文"}, incomplete: true, problem: "Content-Type"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			res, col := inspectFile(t, filepath.Join("testdata", "mime", c.file), DefaultLimits())
			text := col.text(c.loc)
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("%q not in %q text:\n%q\nparts: %s", w, c.loc, text, dumpParts(res))
				}
			}
			all := col.text("")
			for _, w := range c.notWant {
				if strings.Contains(all, w) {
					t.Errorf("%q must not be sent; text:\n%q", w, all)
				}
			}
			if c.charset != "" {
				got := ""
				for _, p := range res.Parts {
					if p.Charset != "" {
						got = p.Charset
						if p.Attachment == strings.HasPrefix(c.loc, "attachment:") {
							break
						}
					}
				}
				if got != c.charset {
					t.Errorf("charset %q, want %q: %s", got, c.charset, dumpParts(res))
				}
			}
			if c.reason != "" {
				found := false
				for _, p := range res.Parts {
					if strings.Contains(p.Reason, c.reason) {
						found = true
					}
				}
				if !found {
					t.Errorf("no part reason with %q: %s", c.reason, dumpParts(res))
				}
			}
			if c.problem != "" && !strings.Contains(strings.Join(res.Problems, "\n"), c.problem) {
				t.Errorf("no problem with %q: %q", c.problem, res.Problems)
			}
			if res.Incomplete != c.incomplete {
				t.Errorf("Incomplete = %v, want %v: %s", res.Incomplete, c.incomplete, dumpParts(res))
			}
			for _, ch := range col.chunks {
				if !validUTF8(ch.Text) {
					t.Errorf("invalid UTF-8 sent at %s", ch.Location)
				}
			}
			if c.check != nil {
				c.check(t, res, col)
			}
		})
	}
}

func findPart(res *Result, name string) *Part {
	for i := range res.Parts {
		if res.Parts[i].Name == name {
			return &res.Parts[i]
		}
	}
	return nil
}

func tableAt(col *collect, loc string) bool {
	for _, ch := range col.chunks {
		if ch.Location == loc && ch.Table {
			return true
		}
	}
	return false
}

func validUTF8(s string) bool {
	return strings.ToValidUTF8(s, "") == s
}

// wantEncryptedPart checks that the part named name is reported encrypted
// and not inspected.
func wantEncryptedPart(name string) func(*testing.T, *Result, *collect) {
	return func(t *testing.T, res *Result, _ *collect) {
		t.Helper()
		if p := findPart(res, name); p == nil || !p.Encrypted || p.Inspected {
			t.Errorf("%s not reported encrypted: %s", name, dumpParts(res))
		}
	}
}
