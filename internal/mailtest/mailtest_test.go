package mailtest

import (
	"net/smtp"
	"strings"
	"testing"
)

func TestUpstreamRecords(t *testing.T) {
	u := StartUpstream(t)
	msg := "Subject: x\r\n\r\nhello\r\n"
	if err := smtp.SendMail(u.Addr, nil, "a@x.example", []string{"b@y.example", "c@z.example"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if got := u.To("c@z.example"); len(got) != 1 || got[0].From != "a@x.example" || !strings.HasSuffix(string(got[0].Data), "hello\r\n") {
		t.Fatalf("To: %+v", got)
	}
	if len(u.To("nobody@example")) != 0 || len(u.All()) != 1 {
		t.Fatalf("All: %+v", u.All())
	}
}

func TestGPGRoundTrip(t *testing.T) {
	g := NewGPG(t)
	g.Gen("Test <t@example.com>")
	if !strings.Contains(string(g.Export()), "BEGIN PGP PUBLIC KEY BLOCK") {
		t.Fatal("no public key exported")
	}
	ct := g.Run([]byte("secret"), "--encrypt", "--recipient", "t@example.com", "--trust-model", "always")
	pt, err := g.Decrypt(ct, "")
	if err != nil || string(pt) != "secret" {
		t.Fatalf("decrypt: %q %v", pt, err)
	}
}
