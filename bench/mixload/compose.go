package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/text/encoding/japanese"
)

// attachment kinds of the mix, with their share of messages. Most city mail
// carries nothing or one small document; a few carry a long report, a big
// table or a zip of several files (what a section sends a contractor).
var mix = []struct {
	weight int
	files  []string
}{
	{30, nil},
	{14, []string{"notice.pdf"}},
	{10, []string{"minutes-short.pdf"}},
	{10, []string{"notice.docx"}},
	{8, []string{"budget-small.xlsx"}},
	{6, []string{"budget-small.csv"}},
	{6, []string{"minutes-long.docx", "notice.pdf"}},
	{5, []string{"minutes-long.pdf"}},
	{4, []string{"資料一式.zip"}},
	{3, []string{"budget-large.xlsx"}},
	{2, []string{"minutes-book.pdf"}},
	{2, []string{"budget-large.csv", "budget-large.xlsx", "minutes-book.pdf"}},
}

var subjects = []string{
	"窓口受付時間の変更について",
	"地域公共交通会議の資料送付",
	"令和8年度 予算執行状況のご報告",
	"打ち合わせ日程のご相談",
	"Re: 委託業務の進め方について",
	"イベント会場の下見について",
	"広報紙3月号の原稿",
	"Fwd: 研修のご案内",
}

var openings = []string{
	"いつもお世話になっております。\n市民課の山田です。",
	"お疲れさまです。企画課の佐藤です。",
	"株式会社みらい設計\n鈴木様\n\nいつも大変お世話になっております。\n都市計画課の田中です。",
}

var paragraphs = []string{
	"先日ご依頼のありました資料をお送りします。内容をご確認のうえ、ご不明な点がございましたらお知らせください。",
	"来週の打ち合わせですが、12月10日（木）14時からでいかがでしょうか。会場は本庁舎3階の第1会議室を予定しています。",
	"予算の執行状況について、11月末時点の集計がまとまりましたので共有します。消耗品費の執行率がやや高くなっています。",
	"広報紙の原稿は、今月20日までに広報課へ提出をお願いします。写真を掲載する場合は、掲載の同意を得ているかご確認ください。",
	"コミュニティバスの時刻表改正について、自治会への説明会を1月中旬に開催する方向で調整しています。",
	"研修の参加者は各課1名までとなります。申込みは庁内掲示板の申込フォームからお願いします。",
}

var closings = []string{
	"よろしくお願いいたします。",
	"以上、取り急ぎご連絡まで。",
	"お手数をおかけしますが、よろしくお願いします。",
}

const signature = "--\n○○市 市民課 窓口係\n電話 0123-45-6789（内線 2101）\n"

// compose writes n messages built from the files in -files into -out.
func compose(args []string) error {
	fs := flag.NewFlagSet("compose", flag.ExitOnError)
	files := fs.String("files", "", "folder of the attachments (bench/mix/gen.sh makes it)")
	out := fs.String("out", "", "folder for the .eml files")
	n := fs.Int("n", 300, "messages")
	seed := fs.Uint64("seed", 1, "random seed (the same seed gives the same corpus)")
	from := fs.String("from", "bench@city.example.lg.jp", "sender")
	to := fs.String("to", "user@example.com", "recipient")
	fs.Parse(args)
	if *files == "" || *out == "" {
		return fmt.Errorf("compose: -files and -out are needed")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(*seed, 15))
	cache := map[string][]byte{}
	total := 0
	for _, m := range mix {
		total += m.weight
	}
	var sizes []int
	for i := range *n {
		pick := rng.IntN(total)
		var att []string
		for _, m := range mix {
			if pick < m.weight {
				att = m.files
				break
			}
			pick -= m.weight
		}
		var parts []attachment
		for _, name := range att {
			b, ok := cache[name]
			if !ok {
				var err error
				if b, err = os.ReadFile(filepath.Join(*files, name)); err != nil {
					return fmt.Errorf("compose: %w (run bench/mix/gen.sh)", err)
				}
				cache[name] = b
			}
			parts = append(parts, attachment{name, b})
		}
		msg := message(rng, i, *from, *to, parts)
		sizes = append(sizes, len(msg))
		if err := os.WriteFile(filepath.Join(*out, fmt.Sprintf("%04d.eml", i)), msg, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "mixload compose: %d messages in %s, %s\n", *n, *out, sizeSummary(sizes))
	return nil
}

// big writes one message of about -size bytes: a short body and the
// attachments of -files round robin (PDF, XLSX, DOCX, CSV, ZIP), for the
// memory measurement (bench/rss.sh).
func big(args []string) error {
	fs := flag.NewFlagSet("big", flag.ExitOnError)
	files := fs.String("files", "", "folder of the attachments (bench/mix/gen.sh makes it)")
	out := fs.String("out", "", "the .eml file to write")
	size := fs.Int("size", 24<<20, "size of the message in bytes (below the relay's max_message_size)")
	fs.Parse(args)
	if *files == "" || *out == "" {
		return fmt.Errorf("big: -files and -out are needed")
	}
	order := []string{"minutes-book.pdf", "budget-large.xlsx", "minutes-long.docx", "budget-large.csv",
		"資料一式.zip", "notice.pdf", "minutes-long.pdf", "budget-small.xlsx"}
	var att []attachment
	total := 0
	for i := 0; ; i++ {
		name := order[i%len(order)]
		b, err := os.ReadFile(filepath.Join(*files, name))
		if err != nil {
			return fmt.Errorf("big: %w (run bench/mix/gen.sh)", err)
		}
		if total+len(b)*4/3+4096 > *size {
			break
		}
		total += len(b)*4/3 + 300
		ext := filepath.Ext(name)
		att = append(att, attachment{fmt.Sprintf("%s-%02d%s", strings.TrimSuffix(name, ext), i, ext), b})
	}
	msg := message(rand.New(rand.NewPCG(1, 15)), 0, "bench@city.example.lg.jp", "user@example.com", att)
	if err := os.WriteFile(*out, msg, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "mixload big: %s, %d bytes, %d attachments\n", *out, len(msg), len(att))
	return nil
}

type attachment struct {
	name string
	data []byte
}

// message builds one mail: a Japanese body in ISO-2022-JP (as most
// Japanese mail programs still send) or UTF-8, often a reply quoting the
// earlier messages, and the attachments.
func message(rng *rand.Rand, i int, from, to string, att []attachment) []byte {
	iso := rng.IntN(2) == 0
	subject := subjects[rng.IntN(len(subjects))]
	var body strings.Builder
	body.WriteString(openings[rng.IntN(len(openings))] + "\n\n")
	for range 1 + rng.IntN(3) {
		body.WriteString(paragraphs[rng.IntN(len(paragraphs))] + "\n\n")
	}
	body.WriteString(closings[rng.IntN(len(closings))] + "\n\n" + signature)
	// Replies quote the history, one level deeper per earlier message.
	// Mail without attachments is mostly such a thread (what staff send
	// most), 20-40 KB of quoted text.
	// A thread goes on until the message reaches its size: 20 KB at least
	// (the range), up to 40 KB for mail without attachments.
	depth, size := 0, 20<<10
	switch {
	case len(att) == 0:
		depth, size = 10+rng.IntN(12), 20<<10+rng.IntN(20<<10)
	case rng.IntN(2) == 0:
		depth = 1 + rng.IntN(12)
	}
	for _, a := range att {
		size -= len(a.data) * 4 / 3
	}
	if depth > 0 || body.Len() < size {
		subject = "Re: " + strings.TrimPrefix(subject, "Re: ")
		quoted := body.String()
		for d := 0; d < depth || len(quoted) < size; d++ {
			var q strings.Builder
			fmt.Fprintf(&q, "\n2026年11月%d日 10:%02d 企画課 佐藤 <sato@city.example.lg.jp>:\n", 28-d%28, d%60)
			for _, l := range strings.Split(quoted, "\n") {
				q.WriteString("> " + l + "\n")
			}
			quoted = paragraphs[rng.IntN(len(paragraphs))] + "\n\n" + closings[0] + "\n" + q.String()
		}
		body.WriteString(quoted)
	}
	text := strings.ReplaceAll(body.String(), "\n", "\r\n")

	var b bytes.Buffer
	date := time.Date(2026, 12, 7, 9, 0, 0, 0, time.FixedZone("JST", 9*3600)).Add(time.Duration(i) * time.Minute)
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", mime.BEncoding.Encode("UTF-8", "市民課 山田")+" <"+from+">")
	hdr("To", to)
	hdr("Date", date.Format(time.RFC1123Z))
	hdr("Message-ID", fmt.Sprintf("<mix-%d-%d@city.example.lg.jp>", i, date.Unix()))
	if iso {
		hdr("Subject", encodeISO2022JP(subject))
	} else {
		hdr("Subject", mime.BEncoding.Encode("UTF-8", subject))
	}
	hdr("MIME-Version", "1.0")
	boundary := fmt.Sprintf("=_mix_%08x", rng.Uint32())
	if len(att) > 0 {
		hdr("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
		b.WriteString("\r\n--" + boundary + "\r\n")
	}
	if iso {
		enc, err := japanese.ISO2022JP.NewEncoder().String(text)
		if err != nil {
			panic(err) // the texts above are all JIS X 0208
		}
		hdr("Content-Type", "text/plain; charset=ISO-2022-JP")
		hdr("Content-Transfer-Encoding", "7bit")
		b.WriteString("\r\n" + enc + "\r\n")
	} else {
		hdr("Content-Type", "text/plain; charset=UTF-8")
		hdr("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		w := quotedprintable.NewWriter(&b)
		w.Write([]byte(text))
		w.Close()
		b.WriteString("\r\n")
	}
	for _, a := range att {
		b.WriteString("--" + boundary + "\r\n")
		hdr("Content-Type", contentType(a.name)+`; name="`+mime.QEncoding.Encode("UTF-8", a.name)+`"`)
		hdr("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.name}))
		hdr("Content-Transfer-Encoding", "base64")
		b.WriteString("\r\n")
		enc := base64.StdEncoding.EncodeToString(a.data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	if len(att) > 0 {
		b.WriteString("--" + boundary + "--\r\n")
	}
	return b.Bytes()
}

// encodeISO2022JP is RFC 2047 "B" encoding of ISO-2022-JP text.
func encodeISO2022JP(s string) string {
	enc, err := japanese.ISO2022JP.NewEncoder().String(s)
	if err != nil {
		panic(err)
	}
	return "=?ISO-2022-JP?B?" + base64.StdEncoding.EncodeToString([]byte(enc)) + "?="
}

func contentType(name string) string {
	switch filepath.Ext(name) {
	case ".pdf":
		return "application/pdf"
	case ".docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case ".csv":
		return "text/csv"
	case ".zip":
		return "application/zip"
	}
	return "application/octet-stream"
}
