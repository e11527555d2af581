package redteam

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"

	"dlpguard/policy"
)

// TestMore: further hiding places for a My Number and evasions of the
// classification markings (3.3.5: a marked message is held).
func TestMore(t *testing.T) {
	e, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	html := func(body string) []byte {
		return single("ご連絡", "text/html; charset=UTF-8", "8bit", "<html><body>"+body+"</body></html>\r\n")
	}
	var qpDigits string
	for _, c := range mn {
		qpDigits += "=3" + string(c)
	}
	cases := []rtCase{
		// --- more hiding places ---
		// QP escapes for every digit.
		{"qp hex digits", reject, raw(single("ご連絡", "text/plain; charset=UTF-8", "quoted-printable", qp("個人番号：")+qpDigits+"\r\n"))},
		// Q-encoded word in the subject.
		{"subject q encoded digits", reject, raw(plain("=?UTF-8?Q?=E5=80=8B=E4=BA=BA=E7=95=AA=E5=8F=B7_"+strings.ReplaceAll(qpDigits, "=3", "=3")+"?=", "本文\n"))},
		// Encoded word split mid-character.
		{"subject split encoded words", reject, raw(plain("=?UTF-8?B?"+b64str("個人番号 "+mn[:6])+"?= =?UTF-8?B?"+b64str(mn[6:])+"?=", "本文\n"))},
		// ISO-2022-JP subject with full-width digits.
		{"subject iso-2022-jp", reject, func(t *testing.T) []byte {
			return plain("=?ISO-2022-JP?B?"+b64str(encode(t, japanese.ISO2022JP, "個人番号"+fullWidth(mn)))+"?=", "本文\n")
		}},
		// UTF-7 (RFC 2152) is a registered charset; a sender can label it.
		{"utf-7 body", reject, raw(single("ご連絡", "text/plain; charset=UTF-7", "7bit", "+UAtOunVqU/f/Gg-"+mn+"\r\n"))},
		// Markup between digits.
		{"html wbr", reject, raw(html("個人番号：" + each(mn, "<wbr>")))},
		{"html br groups", reject, raw(html("個人番号：" + grouped(mn, "-<br>")))},
		{"html nested inline", reject, raw(html(`個人番号：<span style="font-size:0">` + mn[:3] + `</span><font color="white">` + mn[3:9] + `</font><u>` + mn[9:] + `</u>`))},
		{"html data uri text", reject, raw(html(`<a href="data:text/plain;base64,` + b64str(ctxLine(mn)) + `">x</a>`))},
		{"html alternative only", reject, raw([]byte(hdr("ご連絡") + "Content-Type: multipart/alternative; boundary=\"A\"\r\n\r\n" + multipartBody("A", "", "", textPart("本文です。\n"), part{"Content-Type: text/html; charset=UTF-8", "<p>個人番号：" + mn + "</p>"})))},
		{"unknown multipart subtype", reject, raw([]byte(hdr("ご連絡") + "Content-Type: multipart/x-weird; boundary=\"A\"\r\n\r\n" + multipartBody("A", "", "", textPart(ctxLine(mn)))))},
		// A Content-Description of a part leaves with the message.
		{"part content-description", notPass, raw(mixed("送付", textPart("本文\n"), part{"Content-Type: text/plain; charset=UTF-8\r\nContent-Description: 個人番号 " + mn, "添付\r\n"}))},
		// Text in HTML that no client shows but that leaves with the message.
		{"html comment", notPass, raw(html("<!-- 個人番号：" + mn + " -->見えません"))},
		{"css content", notPass, raw(html(`<style>p.x::before{content:"個人番号：` + mn + `"}</style><p class="x">氏名</p>`))},
		{"css content escapes", notPass, raw(html(`<style>p.x::after{content:"個人番号\FF1A` + cssEsc(mn) + `"}</style><p class="x">氏名</p>`))},
		{"html meta content", notPass, raw(html(`<head><meta name="description" content="個人番号：` + mn + `"></head>本文`))},
		{"html data attribute", notPass, raw(html(`<p data-note="個人番号：` + mn + `">本文</p>`))},
		// A second Subject field: clients differ on which they show.
		{"second subject", reject, raw([]byte(strings.Replace(string(plain("ご連絡", "本文です。\n")), "MIME-Version", "Subject: 個人番号 "+mn+"\r\nMIME-Version", 1)))},
		// Labels a clerk writes before the number.
		{"No. label", notPass, raw(plain("ご連絡", "マイナンバー No."+mn+"\n"))},
		{"NO: label", reject, raw(plain("ご連絡", "個人番号 NO:"+mn+"\n"))},
		{"hash label", reject, raw(plain("ご連絡", "個人番号 #"+mn+"\n"))},
		{"bracketed", reject, raw(plain("ご連絡", "個人番号（"+mn+"）\n"))},
		{"keyword with spaces", notPass, raw(plain("ご連絡", "個 人 番 号 "+mn+"\n"))},
		// Separators a clerk uses.
		{"spaced dashes", reject, raw(plain("ご連絡", "個人番号 "+grouped(mn, " - ")+"\n"))},
		{"dotted groups", reject, raw(plain("ご連絡", "個人番号 "+grouped(mn, ".")+"\n"))},
		// Excel's comma style, exported to CSV.
		{"csv thousands separators", notPass, raw(withAttachment("送付", "text/csv", "a.csv", []byte("氏名,個人番号\n山田太郎,\""+mn[:3]+","+mn[3:6]+","+mn[6:9]+","+mn[9:]+"\"\n")))},
		// Header folding inside the subject.
		{"subject folded", reject, raw(plain("個人番号\r\n "+mn, "本文\n"))},
		// NUL bytes between digits (UTF-16 labelled UTF-8).
		{"utf16 labelled utf-8", reject, func(t *testing.T) []byte {
			return withAttachment("送付", "text/plain; charset=UTF-8", "a.txt", []byte("\x00"+strings.Join(strings.Split("My Number "+mn, ""), "\x00")))
		}},
		// The whole message body in base64 under a wrong multipart.
		{"tar csv", reject, func(t *testing.T) []byte {
			return withAttachment("送付", "application/x-tar", "a.tar", tarOf(t, entry{"list.csv", []byte("氏名,個人番号\n山田," + mn + "\n")}))
		}},
		// Encrypted containers are held.
		{"zipcrypto", notPass, func(t *testing.T) []byte {
			z := zipStored(t, entry{"a.txt", []byte(ctxLine(mn))})
			// set the encryption flag on both headers
			z[6] |= 1
			if i := strings.Index(string(z), "PK\x01\x02"); i >= 0 {
				z[i+8] |= 1
			}
			return withAttachment("送付", "application/zip", "a.zip", z)
		}},
		{"password docx (OLE)", notPass, raw(withAttachment("送付", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a.docx", append([]byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), make([]byte, 600)...)))},
		// Image-only content: media pass by policy (no OCR); documented.
		{"png only", pass, raw(withAttachment("送付", "image/png", "scan.png", append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 64)...)))},
		// Text in picture metadata leaves with the picture: read.
		{"png text chunk", reject, raw(withAttachment("送付", "image/png", "photo.png", pngWithText("Comment", "個人番号 "+mn)))},
		{"jpeg comment", reject, raw(withAttachment("送付", "image/jpeg", "photo.jpg", []byte("\xFF\xD8\xFF\xFE\x00"+string(rune(2+len("個人番号 "+mn)))+"個人番号 "+mn+"\xFF\xDA\x00\x02")))},
		// Kanji numerals: out of scope (detectors.md §10.1); documented.
		{"kanji numerals", pass, raw(plain("ご連絡", "個人番号 一二三四五六七八九〇一八\n"))},
		// Circled digits (NFKC folds them): an insider's trick.
		{"circled digits", notPass, raw(plain("ご連絡", "個人番号 ①②③④⑤⑥⑦⑧⑨⓪①⑧\n"))},
		// Vertical text: one digit a line right after the keyword is a
		// form's field (issue 12): any grouping after a keyword is read.
		{"vertical digits", reject, raw(plain("ご連絡", "個人番号\n"+each(mn, "\n")+"\n"))},
		{"one digit per space after keyword", reject, raw(plain("ご連絡", "個人番号 "+each(mn, " ")+"\n"))},
		{"3-3-3-3 after keyword", reject, raw(plain("ご連絡", "マイナンバー："+mn[:3]+"-"+mn[3:6]+"-"+mn[6:9]+"-"+mn[9:]+"\n"))},
		// Without a keyword the same digits are a column of figures.
		{"vertical digits no keyword", pass, raw(plain("ご連絡", "集計\n"+each(mn, "\n")+"\n"))},
		{"3-3-3-3 no keyword", pass, raw(plain("ご連絡", "品番 "+mn[:3]+"-"+mn[3:6]+"-"+mn[6:9]+"-"+mn[9:]+"\n"))},

		// --- markings ---
		{"marking fullwidth digit", hold, raw(plain("【機密性２】資料送付", "本文\n"))},
		{"marking with space", hold, raw(plain("機密性 2 資料送付", "本文\n"))},
		{"marking maru-hi subject", hold, raw(plain("㊙", "本文\n"))},
		{"marking docx header", hold, func(t *testing.T) []byte {
			return withAttachment("送付", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a.docx", docx(t, []string{"会議資料"}, "重要性Ⅰ"))
		}},
		{"marking filename in zip", hold, func(t *testing.T) []byte {
			return withAttachment("送付", "application/zip", "a.zip", zipOf(t, entry{"【取扱注意】名簿.txt", []byte("会議資料\n")}))
		}},
		{"marking zero width", hold, raw(plain("取\u200b扱\u200b注\u200b意", "本文\n"))},
		{"marking soft hyphen", hold, raw(plain("ご連絡", "【機密性\u00ad２】\n"))},
		{"marking in x-header", hold, raw([]byte(strings.Replace(string(plain("ご連絡", "本文です。\n")), "MIME-Version", "X-Classification: 取扱注意\r\nMIME-Version", 1)))},
		{"marking in preamble", hold, raw([]byte(hdr("ご連絡") + "Content-Type: multipart/mixed; boundary=\"BND\"\r\n\r\n" + multipartBody("BND", "【部外秘】\r\n", "", textPart("本文です。\n"))))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, e, c) })
	}
}

// cssEsc writes each character as a CSS hex escape ("\\31 ").
func cssEsc(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString("\\" + strings.ToUpper(strconv.FormatInt(int64(r), 16)) + " ")
	}
	return b.String()
}

// pngWithText is a 1x1 PNG with one tEXt chunk.
func pngWithText(key, text string) []byte {
	chunk := func(typ string, data []byte) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
		return b.Bytes()
	}
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", []byte("\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"))...)
	out = append(out, chunk("tEXt", []byte(key+"\x00"+text))...)
	return append(out, chunk("IEND", nil)...)
}
