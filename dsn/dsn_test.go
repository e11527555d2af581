package dsn

import (
	"bufio"
	"bytes"
	"io"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// parsed is a notification read back with go-message.
type parsed struct {
	header     mail.Header
	reportType string
	human      string
	statusType string
	perMessage textproto.MIMEHeader
	perRcpt    []textproto.MIMEHeader
	headerType string
	headers    string
}

func parse(t testing.TB, msg []byte) parsed {
	t.Helper()
	e, err := message.Read(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("read notification: %v\n%s", err, msg)
	}
	var p parsed
	p.header = mail.Header{Header: e.Header}
	mt, params, err := e.Header.ContentType()
	if err != nil || mt != "multipart/report" {
		t.Fatalf("content type %q %v", mt, err)
	}
	p.reportType = params["report-type"]
	mr := e.MultipartReader()
	var parts []*message.Entity
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		body, err := io.ReadAll(part.Body)
		if err != nil {
			t.Fatalf("part body: %v", err)
		}
		part.Body = bytes.NewReader(body)
		parts = append(parts, part)
	}
	if len(parts) != 3 {
		t.Fatalf("got %d parts, want 3", len(parts))
	}
	body := func(e *message.Entity) string {
		b, _ := io.ReadAll(e.Body)
		return string(b)
	}
	p.human = body(parts[0])
	if mt, params, _ := parts[0].Header.ContentType(); mt != "text/plain" || !strings.EqualFold(params["charset"], "utf-8") {
		t.Errorf("first part %s %v, want text/plain utf-8", mt, params)
	}
	p.statusType, _, _ = parts[1].Header.ContentType()
	blocks := strings.Split(strings.ReplaceAll(body(parts[1]), "\r\n", "\n"), "\n\n")
	for i, blk := range blocks {
		if strings.TrimSpace(blk) == "" {
			continue
		}
		h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(strings.TrimSpace(blk) + "\n\n"))).ReadMIMEHeader()
		if err != nil {
			t.Fatalf("status block %d: %v\n%s", i, err, blk)
		}
		if i == 0 {
			p.perMessage = h
		} else {
			p.perRcpt = append(p.perRcpt, h)
		}
	}
	p.headerType, _, _ = parts[2].Header.ContentType()
	p.headers = body(parts[2])
	return p
}

const origHeaders = "From: =?UTF-8?B?5bGx55Sw?= <yamada@city.example.lg.jp>\r\n" +
	"To: a@example.com, b@example.com\r\n" +
	"Subject: =?UTF-8?B?5Lya6K2w6LOH5paZ?=\r\n" +
	"Message-ID: <orig-1@city.example.lg.jp>\r\n" +
	"\r\n"

func TestBuild(t *testing.T) {
	arrival := time.Date(2026, 11, 20, 9, 30, 0, 0, time.FixedZone("JST", 9*3600))
	last := arrival.Add(5 * 24 * time.Hour)
	tests := []struct {
		name       string
		report     Report
		subject    string
		statusType string
		wantUTF8   bool
		rcpt       []map[string]string // per recipient: field → want substring
		human      []string
	}{
		{
			name: "permanent",
			report: Report{ReportingMTA: "relay.city.example.lg.jp", To: "yamada@city.example.lg.jp", QueueID: "01ABC",
				Arrival: arrival, Headers: []byte(origHeaders),
				Recipients: []Recipient{{Address: "a@example.com", Action: Failed, Status: "5.1.1",
					Diagnostic: "550 5.1.1 <a@example.com>: no such user", RemoteMTA: "upstream.example", LastAttempt: last}}},
			subject:    "配信不能通知",
			statusType: "message/delivery-status",
			rcpt: []map[string]string{{"Final-Recipient": "rfc822; a@example.com", "Action": "failed", "Status": "5.1.1",
				"Diagnostic-Code": "smtp; 550 5.1.1 <a@example.com>: no such user", "Remote-Mta": "dns; upstream.example",
				"Last-Attempt-Date": "Wed, 25 Nov 2026"}},
			human: []string{"配送できませんでした", "a@example.com", "could not be delivered", "受付ID: 01ABC", "no such user"},
		},
		{
			name: "gave up, two recipients",
			report: Report{ReportingMTA: "relay", To: "yamada@city.example.lg.jp", QueueID: "01ABD", Arrival: arrival,
				Headers: []byte(origHeaders),
				Recipients: []Recipient{
					{Address: "a@example.com", Action: Failed, Status: "5.4.7", Diagnostic: "451 4.3.0 try later", GaveUp: true, LastAttempt: last},
					{Address: "b@example.com", Action: Failed, Status: "5.4.7", GaveUp: true, LastAttempt: last},
				}},
			subject:    "配信不能通知",
			statusType: "message/delivery-status",
			rcpt: []map[string]string{
				{"Final-Recipient": "rfc822; a@example.com", "Action": "failed", "Status": "5.4.7", "Diagnostic-Code": "smtp; 451 4.3.0 try later"},
				{"Final-Recipient": "rfc822; b@example.com", "Action": "failed", "Status": "5.4.7"},
			},
			human: []string{"再送の期限を過ぎた", "retry period expired", "b@example.com"},
		},
		{
			name: "delayed",
			report: Report{ReportingMTA: "relay", To: "yamada@city.example.lg.jp", QueueID: "01ABE", Arrival: arrival,
				Headers: []byte(origHeaders),
				Recipients: []Recipient{{Address: "a@example.com", Action: Delayed, Status: "4.4.1",
					Diagnostic: "421 4.4.1 busy", WillRetryUntil: last}}},
			subject:    "配信遅延通知",
			statusType: "message/delivery-status",
			rcpt:       []map[string]string{{"Action": "delayed", "Status": "4.4.1", "Will-Retry-Until": "2026"}},
			human:      []string{"配送が遅れています", "keeps retrying"},
		},
		{
			name: "SMTPUTF8 recipient, raw UTF-8 headers",
			report: Report{ReportingMTA: "relay", To: "山田@city.example.lg.jp", QueueID: "01ABF", Arrival: arrival,
				Headers: []byte("Subject: 会議資料\r\nFrom: 山田@city.example.lg.jp\r\n\r\n"),
				Recipients: []Recipient{{Address: "田中@example.jp", Action: Failed, Status: "5.6.7",
					Diagnostic: "upstream lacks SMTPUTF8"}}},
			subject:    "配信不能通知",
			statusType: "message/global-delivery-status",
			wantUTF8:   true,
			rcpt:       []map[string]string{{"Final-Recipient": "utf-8; 田中@example.jp", "Status": "5.6.7"}},
			human:      []string{"SMTPUTF8", "国際化メールアドレス"},
		},
		{
			name: "SMTPUTF8 recipient, ASCII sender",
			report: Report{ReportingMTA: "relay", To: "yamada@city.example.lg.jp", QueueID: "01ABG", Arrival: arrival,
				Headers:    []byte(origHeaders),
				Recipients: []Recipient{{Address: "田中@example.jp", Action: Failed, Status: "5.6.7"}}},
			subject:    "配信不能通知",
			statusType: "message/global-delivery-status",
			wantUTF8:   false,
			rcpt:       []map[string]string{{"Final-Recipient": "utf-8; 田中@example.jp", "Status": "5.6.7"}},
			human:      []string{"田中@example.jp"},
		},
		{
			name: "hostile values",
			report: Report{ReportingMTA: "relay\r\nBcc: x@evil", To: "<y@example.com>\r\nBcc: evil@example.com", QueueID: "../../id\r\n",
				Headers:    []byte("Subject: x\nX-Bare: lf\n\n"),
				Recipients: []Recipient{{Address: "a@example.com\r\nX-Injected: 1", Action: "bogus", Status: "9.9", Diagnostic: "550 nope\r\nX-Injected: 2\x00\xff"}}},
			subject:    "配信不能通知",
			statusType: "message/delivery-status",
			rcpt:       []map[string]string{{"Action": "failed", "Status": "5.0.0", "Diagnostic-Code": "550 nope X-Injected: 2"}},
			human:      []string{"a@example.com"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, needUTF8, err := tc.report.Build()
			if err != nil {
				t.Fatal(err)
			}
			if needUTF8 != tc.wantUTF8 {
				t.Errorf("utf8Needed = %v, want %v", needUTF8, tc.wantUTF8)
			}
			for i, line := range strings.Split(string(msg), "\r\n") {
				if len(line) > 998 {
					t.Errorf("line %d longer than 998", i)
				}
				if strings.Contains(line, "\n") || strings.Contains(line, "\r") {
					t.Errorf("bare CR/LF in line %d", i)
				}
			}
			p := parse(t, msg)
			if p.reportType != "delivery-status" {
				t.Errorf("report-type %q", p.reportType)
			}
			subj, err := p.header.Subject()
			if err != nil || !strings.HasPrefix(subj, tc.subject) {
				t.Errorf("subject %q (%v), want prefix %q", subj, err, tc.subject)
			}
			if got := p.header.Get("Auto-Submitted"); got != "auto-replied" {
				t.Errorf("Auto-Submitted %q", got)
			}
			if p.header.Get("Bcc") != "" || p.header.Get("X-Injected") != "" {
				t.Errorf("header injection: %v", p.header.Header)
			}
			// Japanese first, English below.
			ja, en := strings.Index(p.human, "お送りになったメール"), strings.Index(p.human, "Your message")
			if ja < 0 || en < 0 || ja > en {
				t.Errorf("human text not Japanese-then-English (ja=%d en=%d):\n%s", ja, en, p.human)
			}
			if strings.Contains(strings.ReplaceAll(p.human, "\r\n", ""), "\n") {
				t.Errorf("human text has bare LF line ends (RFC 2045 6.8 wants CRLF)")
			}
			for _, w := range tc.human {
				if !strings.Contains(p.human, w) {
					t.Errorf("human text lacks %q:\n%s", w, p.human)
				}
			}
			if p.statusType != tc.statusType {
				t.Errorf("status part type %q, want %q", p.statusType, tc.statusType)
			}
			if !strings.HasPrefix(p.perMessage.Get("Reporting-MTA"), "dns; ") {
				t.Errorf("Reporting-MTA %q", p.perMessage.Get("Reporting-MTA"))
			}
			if !tc.report.Arrival.IsZero() && p.perMessage.Get("Arrival-Date") == "" {
				t.Errorf("no Arrival-Date")
			}
			if len(p.perRcpt) != len(tc.rcpt) {
				t.Fatalf("%d recipient blocks, want %d", len(p.perRcpt), len(tc.rcpt))
			}
			for i, want := range tc.rcpt {
				for k, v := range want {
					if got := p.perRcpt[i].Get(k); !strings.Contains(got, v) {
						t.Errorf("recipient %d %s = %q, want it to contain %q", i, k, got, v)
					}
				}
				if p.perRcpt[i].Get("X-Injected") != "" {
					t.Errorf("injected field in status block")
				}
			}
			if p.headerType != "text/rfc822-headers" {
				t.Errorf("third part %q", p.headerType)
			}
			flat := func(s string) string { return strings.NewReplacer("\r", "", "\n", "").Replace(s) }
			if strings.TrimSpace(p.headers) == "" || flat(p.headers) != flat(string(tc.report.Headers)) {
				t.Errorf("headers part %q does not match the original %q", p.headers, tc.report.Headers)
			}
		})
	}
}

func TestBuildNoRecipients(t *testing.T) {
	if _, _, err := (&Report{To: "a@b"}).Build(); err != ErrNoRecipients {
		t.Fatalf("err = %v", err)
	}
}

func TestHeaderSection(t *testing.T) {
	long := "X-Long: " + strings.Repeat("a", 10000) + "\r\n"
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"crlf", "A: 1\r\nB: 2\r\n\r\nsecret body\r\n", 0, "A: 1\r\nB: 2\r\n\r\n"},
		{"lf", "A: 1\nB: 2\n\nsecret body\n", 0, "A: 1\nB: 2\n\n"},
		{"no body", "A: 1\r\nB: 2\r\n", 0, "A: 1\r\nB: 2\r\n"},
		{"overlong line kept", long + "\r\nbody", 0, long + "\r\n"},
		{"cut at line", "A: 1\r\nB: 22222222\r\n\r\nbody", 10, "A: 1\r\n"},
		{"empty", "", 0, ""},
		{"body only", "\r\nbody", 0, "\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := HeaderSection(strings.NewReader(tc.in), tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzBuild checks that any input gives a notification that parses back,
// has exactly three parts and never carries the original body.
func FuzzBuild(f *testing.F) {
	f.Add("yamada@city.example.lg.jp", "a@example.com", "550 5.1.1 no such user", "5.1.1", "Subject: x\r\n\r\nBODY-SECRET", false)
	f.Add("", "田中@example.jp", "", "", "Subject: 会議\r\n\r\n", true)
	f.Add("a\r\nb", "c\x00d", "\xff\xfe", "4.", "\r\n\r\n", false)
	f.Fuzz(func(t *testing.T, to, rcpt, diag, status, msg string, delayed bool) {
		hdr, err := HeaderSection(strings.NewReader(msg), 4096)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(hdr), "BODY-SECRET") && strings.Contains(msg, "\n\nBODY-SECRET") && !strings.Contains(msg[:strings.Index(msg, "\n\nBODY-SECRET")], "BODY-SECRET") {
			t.Fatalf("body leaked into header section")
		}
		a := Failed
		if delayed {
			a = Delayed
		}
		out, _, err := (&Report{ReportingMTA: "relay", To: to, QueueID: "X", Headers: hdr,
			Recipients: []Recipient{{Address: rcpt, Action: a, Status: status, Diagnostic: diag}}}).Build()
		if err != nil {
			t.Fatal(err)
		}
		p := parse(t, out)
		if len(p.perRcpt) != 1 {
			t.Fatalf("%d recipient blocks", len(p.perRcpt))
		}
		if got := p.perRcpt[0].Get("Action"); got != string(a) {
			t.Fatalf("Action %q, want %q", got, a)
		}
	})
}
