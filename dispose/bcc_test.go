package dispose

import (
	"bufio"
	"bytes"
	"io"
	"net/mail"
	"strings"
	"testing"

	"dlpguard/mimemsg"
)

func TestRewriteHidden(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		hide    []string
		wantTo  []string // addresses left in To ("" for the empty group)
		wantCc  []string
		wantErr bool
	}{
		{"all external hidden",
			"To: a@ext.example, B <b@ext.example>\r\nCc: c@city.example.lg.jp, d@other.example\r\n",
			[]string{"a@ext.example", "B@EXT.example", "d@other.example"},
			nil, []string{"c@city.example.lg.jp"}, false},
		{"internal To kept, Cc emptied",
			"To: x@city.example.lg.jp,\r\n y@ext.example\r\nCc: z@ext.example\r\n",
			[]string{"y@ext.example", "z@ext.example"},
			[]string{"x@city.example.lg.jp"}, nil, false},
		{"encoded display names",
			"To: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <yamada@ext.example>, k@city.example.lg.jp\r\n",
			[]string{"yamada@ext.example"},
			[]string{"k@city.example.lg.jp"}, nil, false},
		{"second To folded into the first",
			"To: a@ext.example\r\nTo: k@city.example.lg.jp, b@ext.example\r\n",
			[]string{"a@ext.example", "b@ext.example"},
			[]string{"k@city.example.lg.jp"}, nil, false},
		{"group syntax",
			"To: team: a@ext.example, k@city.example.lg.jp;\r\n",
			[]string{"a@ext.example"},
			[]string{"k@city.example.lg.jp"}, nil, false},
		{"unparseable address list is an error",
			"To: <<<broken\r\n",
			[]string{"a@ext.example"}, nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := "From: s@city.example.lg.jp\r\n" + tc.header + "Subject: x\r\n\r\nbody line\r\n.. dotted\r\n"
			var out bytes.Buffer
			err := rewriteHidden(&out, strings.NewReader(msg), tc.hide)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error; output:\n%s", out.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m, err := mail.ReadMessage(strings.NewReader(out.String()))
			if err != nil {
				t.Fatalf("output does not parse: %v\n%s", err, out.String())
			}
			check := func(field string, want []string) {
				t.Helper()
				v := m.Header.Get(field)
				if len(want) == 0 {
					if field == "To" && v != "undisclosed-recipients:;" {
						t.Errorf("To = %q, want the empty group", v)
					}
					if field == "Cc" && v != "" {
						t.Errorf("Cc = %q, want none", v)
					}
					return
				}
				list, err := m.Header.AddressList(field)
				if err != nil {
					t.Fatalf("%s %q: %v", field, v, err)
				}
				var got []string
				for _, a := range list {
					got = append(got, a.Address)
				}
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("%s = %v, want %v", field, got, want)
				}
			}
			check("To", tc.wantTo)
			check("Cc", tc.wantCc)
			for _, h := range tc.hide {
				if strings.Contains(strings.ToLower(out.String()), strings.ToLower(h)) {
					t.Errorf("hidden address %s still in the message:\n%s", h, out.String())
				}
			}
			if !strings.HasSuffix(out.String(), "\r\n\r\nbody line\r\n.. dotted\r\n") || m.Header.Get("Subject") != "x" {
				t.Errorf("other header or body changed:\n%s", out.String())
			}
		})
	}
}

// TestRewriteHiddenVerbatim: fields with nothing to hide, and the body,
// leave byte for byte (folding, raw 8-bit display names included); a line
// that ends the header as inspection reads it stays body.
func TestRewriteHiddenVerbatim(t *testing.T) {
	head := "From: s@city.example.lg.jp\r\nTo: \"\x8eR\x93c\" <k@city.example.lg.jp>,\r\n\tm@city.example.lg.jp\r\nCc: x@ext.example\r\nX-Note: kept\r\n"
	msg := head + "\r\nbody\r\n"
	var out bytes.Buffer
	if err := rewriteHidden(&out, strings.NewReader(msg), []string{"x@ext.example"}); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(msg, "Cc: x@ext.example\r\n", "", 1)
	if out.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", out.String(), want)
	}
	msg = "To: x@ext.example\r\nnot a header line\r\nbody\r\n"
	out.Reset()
	if err := rewriteHidden(&out, strings.NewReader(msg), []string{"x@ext.example"}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "To: undisclosed-recipients:;\r\n\r\nnot a header line\r\nbody\r\n" {
		t.Fatalf("malformed header: %q", out.String())
	}
}

// FuzzRewriteHidden: on any input the bcc rewrite fails (and the relay
// holds) or gives a message whose To and Cc, read as inspection reads
// them, name none of the hidden addresses, with the body unchanged.
func FuzzRewriteHidden(f *testing.F) {
	f.Add([]byte("To: a@ext.example, k@city.example.lg.jp\r\nCc: =?UTF-8?B?5bGx55Sw?= <b@ext.example>\r\n\r\nbody\r\n"))
	f.Add([]byte("To: team: a@ext.example;\r\nTo: b@ext.example\r\nbroken line\r\nbody\r\n"))
	f.Add([]byte("Cc: \"a@ext.example\" <k@city.example.lg.jp>\r\n\r\n"))
	hide := []string{"a@ext.example", "b@ext.example"}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		if err := rewriteHidden(&out, bytes.NewReader(in), hide); err != nil {
			return
		}
		br := bufio.NewReader(bytes.NewReader(out.Bytes()))
		h, hr, err := mimemsg.ReadHeader(br, maxRewriteHeader)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range mimemsg.ParseAddressList(append(h.Values("To"), h.Values("Cc")...)) {
			for _, x := range hide {
				if strings.EqualFold(a.Address, x) {
					t.Fatalf("hidden %s left in the output:\n%q", x, out.Bytes())
				}
			}
		}
		body, _ := io.ReadAll(mimemsg.BodyReader(hr, br))
		ibr := bufio.NewReader(bytes.NewReader(in))
		_, ihr, _ := mimemsg.ReadHeader(ibr, maxRewriteHeader)
		inBody, _ := io.ReadAll(mimemsg.BodyReader(ihr, ibr))
		if !bytes.Equal(body, inBody) {
			t.Fatalf("body changed: %q → %q", inBody, body)
		}
	})
}
