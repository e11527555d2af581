package classify

import (
	"fmt"
	"math/rand"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"

	"dlpguard/inspect"
)

// benchText builds a realistic mix of about size bytes: mostly prose, with
// small tables of amounts and dates, name/address/phone lines, receipt
// numbers, markings and hard negatives, and a few real hits. other is the
// share (in %) of non-prose pieces: 4 is the regular mix, 16 a digit-heavy
// worst case, 0 prose only (a hit is still added).
func benchText(japanese bool, other int, size int) string {
	rng := rand.New(rand.NewSource(42))
	jaProse := []string{
		"いつもお世話になっております。", "次回の会議資料を送付いたしますので、ご確認ください。",
		"本件につきましては、関係各課と調整のうえ改めてご連絡いたします。",
		"市民まつりの開催にあたり、会場の設営と警備の体制について検討しました。",
		"令和7年度の予算要求にかかる資料を取りまとめましたので共有します。",
		"ご不明な点がございましたら担当までお問い合わせください。",
		"広報わかばの原稿を添付します。修正箇所は赤字で示しています。",
		"庁舎改修工事の工程表を更新しました。第3期工事は来月から始まります。",
		"先日の打合せでいただいたご意見を踏まえ、案を修正しました。",
		"よろしくお願いいたします。",
	}
	enProse := []string{
		"Please find attached the minutes of the meeting held on Tuesday. ",
		"The server maintenance window starts at 22:00 and ends at 02:00 the next day. ",
		"See https://www.example.com/docs/guide/section-4.html?id=20261125 for details. ",
		"Order 4711 was shipped on 2026-11-20; the invoice total was 12,480 JPY. ",
		"Contact support@example.com if the problem persists. ",
		"2026-11-25T10:15:32Z INFO request id=7f3a9c1e latency=12ms status=200 bytes=5120\n",
		"The quick brown fox jumps over the lazy dog near the river bank. ",
		"We reviewed the proposal and agreed to move forward with the second option. ",
		"Thank you for your patience while we investigate the issue.\n",
		"Let me know whether the revised schedule works for your team. ",
	}
	names := []string{"山田　太郎", "佐藤　花子", "鈴木　一郎", "高橋　明美", "田中　健一"}
	var b strings.Builder
	hits := 0
	if other == 0 {
		b.WriteString("個人番号 1234 5678 9018 の確認をお願いします。\n")
		hits++
	}
	for b.Len() < size {
		k := rng.Intn(100)
		if k >= other {
			if japanese {
				b.WriteString(jaProse[rng.Intn(len(jaProse))])
				if rng.Intn(4) == 0 {
					b.WriteString("\n")
				}
			} else {
				b.WriteString(enProse[rng.Intn(len(enProse))])
			}
			continue
		}
		switch k % 4 {
		case 0:
			// a small table of amounts and dates
			for r := 0; r < 5; r++ {
				fmt.Fprintf(&b, "%d\t%d,%03d円\t2026/%02d/%02d\n", r+1, rng.Intn(900)+1, rng.Intn(1000), rng.Intn(12)+1, rng.Intn(28)+1)
			}
		case 1:
			fmt.Fprintf(&b, "%s 東京都若葉市本町%d丁目%d番%d号 TEL 042-5%02d-%04d\n", names[rng.Intn(len(names))], rng.Intn(5)+1, rng.Intn(30)+1, rng.Intn(20)+1, rng.Intn(100), rng.Intn(10000))
		case 2:
			fmt.Fprintf(&b, "受付番号 %012d 注文 %d 件\n", rng.Int63n(1e12), rng.Intn(100))
		case 3:
			if hits < size/50000 && rng.Intn(2) == 0 {
				b.WriteString("個人番号 1234 5678 9018 の確認をお願いします。\n")
				hits++
			} else if japanese {
				b.WriteString("【取扱注意】秘書課の重要性の高い案件について\n")
			} else {
				b.WriteString("Message-ID: <20261125101532.123456789018@mail.example.com>\n")
			}
		}
	}
	return b.String()
}

// cpuTime is the CPU time this process has used: the machine is shared,
// so MB per CPU-second is the per-core figure that wall time hides.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration, bytes int) {
	if d := cpuTime() - start; d > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/d.Seconds()/1e6, "MB/cpu-s")
	}
}

func benchScanner(b *testing.B, japanese bool, other int) {
	text := benchText(japanese, other, 4<<20)
	c := mustNew(b, Config{})
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	defer func() { reportCPU(b, start, len(text)) }()
	s := c.NewScanner()
	for i := 0; i < b.N; i++ {
		s.Reset()
		// 64 KiB chunks, as inspect hands them over
		for off := 0; off < len(text); off += 64 << 10 {
			end := min(off+64<<10, len(text))
			s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Text: text[off:end]})
		}
		rep := s.Report()
		if f := rep.Find(MyNumber); f == nil || f.Confidence != High {
			b.Fatal("the My Numbers were not found")
		}
	}
}

func BenchmarkScanJapanese(b *testing.B)      { benchScanner(b, true, 4) }
func BenchmarkScanASCII(b *testing.B)         { benchScanner(b, false, 4) }
func BenchmarkScanJapaneseDense(b *testing.B) { benchScanner(b, true, 16) }
func BenchmarkScanASCIIDense(b *testing.B)    { benchScanner(b, false, 16) }
func BenchmarkScanJapaneseProse(b *testing.B) { benchScanner(b, true, 0) }
func BenchmarkScanASCIIProse(b *testing.B)    { benchScanner(b, false, 0) }

// naive is the baseline: NFKC copy of the whole text, dash folding, then
// one Go regexp per detector, each match validated.
type naive struct{ res []*regexp.Regexp }

func newNaive() *naive {
	pats := []string{
		`(?:^|[^0-9])([0-9]{4}[ .-]?[0-9]{4}[ .-]?[0-9]{4})(?:[^0-9]|$)`,                                           // my_number
		`(?:^|[^0-9])([1-9][0-9]{12})(?:[^0-9]|$)`,                                                                 // corporate
		`(?:^|[^0-9])([0-9]{11})(?:[^0-9]|$)`,                                                                      // resident
		`(?:^|[^0-9])([0-9]{4})[ -]?([0-9]{6})(?:[^0-9]|$)`,                                                        // pension
		`(?:^|[^A-Za-z0-9])([A-Za-z]{2}[0-9]{7})(?:[^A-Za-z0-9]|$)`,                                                // passport
		`(?:^|[^0-9])([0-9](?:[ -]?[0-9]){12,18})(?:[^0-9]|$)`,                                                     // card
		`(?:口座番号|普通|当座)[^0-9]{0,10}([0-9]{7})`,                                                                     // bank
		`0[6789]0[ -]?[0-9]{4}[ -]?[0-9]{4}|\(?0[1-9][0-9]{0,3}\)?[ -]?[0-9]{1,4}[ -]?[0-9]{4}`,                    // phone
		`(〒|郵便番号[:： ]?)[ ]?([0-9]{3})-?([0-9]{4})`,                                                                 // postal
		`(東京都|北海道|(?:京都|大阪)府|[^\s]{2,3}県)[^\s]{1,12}?[市区町村郡][^\s]{0,12}?[0-9]+(?:丁目|番地?|号|-)`,                      // address
		`(明治|大正|昭和|平成|令和|[MTSHR])[ ]?([0-9]{1,2}|元)[ ]?(?:年|[./-])[ ]?([0-9]{1,2})[ ]?(?:月|[./-])[ ]?([0-9]{1,2})`, // birth
		`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`,                                                           // email
		`重要性[ ]?(?:I{1,3}|IV|[1-4])|機密性[1-3]|極秘|[【\[(]秘[】\])]|部外秘|社外秘|取扱注意|関係者限り`,                                  // marking
		`生年月日|誕生日|個人番号|マイナンバー|基礎年金番号|住民票コード|パスポート|旅券|運転免許`,                                                         // keywords
	}
	n := &naive{}
	for _, p := range pats {
		n.res = append(n.res, regexp.MustCompile(p))
	}
	return n
}

func (n *naive) scan(text string) int {
	t := norm.NFKC.String(text)
	t = strings.Map(func(r rune) rune {
		if isDash(r) {
			return '-'
		}
		return r
	}, t)
	found := 0
	for i, re := range n.res {
		for _, m := range re.FindAllStringSubmatchIndex(t, -1) {
			if i == 0 && m[2] >= 0 {
				if ValidMyNumber(digitsOnly(t[m[2]:m[3]])) {
					found++
				}
				continue
			}
			found++
		}
	}
	return found
}

func benchNaive(b *testing.B, japanese bool) {
	text := benchText(japanese, 4, 4<<20)
	n := newNaive()
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	start := cpuTime()
	defer func() { reportCPU(b, start, len(text)) }()
	for i := 0; i < b.N; i++ {
		if n.scan(text) == 0 {
			b.Fatal("baseline found nothing")
		}
	}
}

func BenchmarkBaselineJapanese(b *testing.B) { benchNaive(b, true) }
func BenchmarkBaselineASCII(b *testing.B)    { benchNaive(b, false) }
