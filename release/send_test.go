package release

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"dlpguard/mimemsg"
)

const sendMsg = "From: =?UTF-8?B?5bGx55Sw?= <taro@example.jp>\r\nTo: =?UTF-8?B?6Yi05pyo?= <Taro@Example.JP>\r\n" +
	"Subject: =?UTF-8?B?54Wn5LyaIDEyMzQ1Njc4OTAxOA==?=\r\nX-Note: 123456789018\r\nMessage-ID: <m1@example.jp>\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nご確認ください。\r\n" +
	"--b\r\nContent-Type: text/csv\r\nContent-Description: 123456789018\r\nContent-Disposition: attachment; filename=a.csv\r\n\r\nx,y\r\n--b--\r\n"

func opener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

func treeOf(t *testing.T, b []byte) []mimemsg.Part {
	t.Helper()
	p, err := mimemsg.Split(context.Background(), bytes.NewReader(b), mimemsg.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSendRefusals: class I/II leaves unencrypted only under an 8.4
// exception in force; a stored message whose tree is not the inspected
// one, or one not wholly inspected, is refused with its reason code, and
// nothing is written.
func TestSendRefusals(t *testing.T) {
	f := newFixture(t)
	in := []byte(sendMsg)
	tree := treeOf(t, in)
	other := treeOf(t, []byte(strings.Replace(sendMsg, "x,y", "x,z", 1)))
	valid := func(id string) bool { return id == "EX-2026-007" }
	for _, c := range []struct {
		name string
		so   SendOptions
		code string
	}{
		{"none for class I", SendOptions{Level: "I", Encryption: "none", Parts: tree, PartsComplete: true}, CodeEncryptionRequired},
		{"none for class II", SendOptions{Level: "II", Encryption: "none", Parts: tree, PartsComplete: true}, CodeEncryptionRequired},
		{"none when the verdict requires it", SendOptions{Level: "III", RequireEncryption: true, Encryption: "none", Parts: tree, PartsComplete: true}, CodeEncryptionRequired},
		{"unknown exception", SendOptions{Level: "I", Encryption: "none", Exception: "EX-0", ExceptionValid: valid, Parts: tree, PartsComplete: true}, CodeUnknownException},
		{"exception without a policy", SendOptions{Level: "I", Encryption: "none", Exception: "EX-2026-007", Parts: tree, PartsComplete: true}, CodeUnknownException},
		{"bad mode", SendOptions{Level: "III", Encryption: "zip", Parts: tree, PartsComplete: true}, CodeBadEncryption},
		{"changed attachment", SendOptions{Level: "I", Parts: other, PartsComplete: true}, CodeContentMismatch},
		{"changed, class III", SendOptions{Level: "III", Parts: other, PartsComplete: true}, CodeContentMismatch},
		{"part missing", SendOptions{Level: "I", Parts: append(slices.Clone(tree), mimemsg.Part{Path: "1.3"}), PartsComplete: true}, CodeContentMismatch},
		{"not wholly inspected", SendOptions{Level: "I", Parts: tree}, CodeNotInspected},
	} {
		var out bytes.Buffer
		_, err := Send(context.Background(), &out, opener(in), f.opts("taro@example.jp"), c.so)
		var rf *Refusal
		if !errors.As(err, &rf) || rf.Code != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
		if out.Len() != 0 {
			t.Errorf("%s: output written", c.name)
		}
	}
}

// TestSendPlain: class III, or class I under an exception in force, is
// sent as it is, the exception named in the result; a hold without a tree
// (recorded before trees were kept) is not compared and says so.
func TestSendPlain(t *testing.T) {
	f := newFixture(t)
	in := []byte(sendMsg)
	tree := treeOf(t, in)
	for _, c := range []struct {
		name      string
		so        SendOptions
		exception string
		checked   bool
	}{
		{"class III", SendOptions{Level: "III", Parts: tree, PartsComplete: true}, "", true},
		{"class III, none", SendOptions{Level: "III", Encryption: "none", Parts: tree, PartsComplete: true}, "", true},
		{"class I under 8.4", SendOptions{Level: "I", Encryption: "none", Exception: "EX-2026-007",
			ExceptionValid: func(id string) bool { return id == "EX-2026-007" }, Parts: tree, PartsComplete: true}, "EX-2026-007", true},
		{"no tree recorded", SendOptions{Level: "III"}, "", false},
	} {
		var out bytes.Buffer
		res, err := Send(context.Background(), &out, opener(in), f.opts("taro@example.jp"), c.so)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !bytes.Equal(out.Bytes(), in) || res.Method != "none" || res.Exception != c.exception || res.PartsChecked != c.checked {
			t.Errorf("%s: %+v", c.name, res)
		}
	}
}

// TestProtectedHeaders: the fields with findings leave only inside the
// encryption: a neutral (configurable) Subject, addresses without their
// display names, other fields removed, also from the parts' headers; the
// originals, decoded, open with GnuPG; the rest of the header stays.
func TestProtectedHeaders(t *testing.T) {
	f := newFixture(t)
	in := []byte(sendMsg)
	o := f.opts("taro@example.jp")
	o.BodyHasFindings = true
	o.ProtectHeaders = FieldsWithFindings([]string{"subject", "header:X-Note", "header:to", "header:Content-Description", "body", "attachment:a.csv"})
	if !slices.Equal(o.ProtectHeaders, []string{"Subject", "X-Note", "To", "Content-Description"}) {
		t.Fatalf("fields %q", o.ProtectHeaders)
	}
	o.Subject = "【暗号化】お知らせ"
	var out bytes.Buffer
	res, err := Send(context.Background(), &out, opener(in), o, SendOptions{Level: "I", Parts: treeOf(t, in), PartsComplete: true})
	if err != nil {
		t.Fatal(err)
	}
	sent := out.Bytes()
	if bytes.Contains(sent, []byte("123456789018")) || bytes.Contains(sent, []byte("6Yi05pyo")) || bytes.Contains(sent, []byte("X-Note")) ||
		bytes.Contains(sent, []byte("Content-Description")) {
		t.Fatalf("a protected field left in clear:\n%s", sent)
	}
	h, _ := leaves(t, sent)
	if s, _ := h.Subject(); s != o.Subject {
		t.Errorf("subject %q", s)
	}
	if h.Get("To") != "<Taro@Example.JP>" || h.Get("Message-Id") != "<m1@example.jp>" || !strings.Contains(h.Get("From"), "=?UTF-8?B?5bGx55Sw?=") {
		t.Errorf("header: To %q, Message-ID %q, From %q", h.Get("To"), h.Get("Message-Id"), h.Get("From"))
	}
	if !slices.Equal(res.ProtectedHeaders, []string{"To", "Subject", "X-Note"}) || !res.PartsChecked || res.Method != "public-key" {
		t.Errorf("result %+v", res)
	}
	_, parts := leaves(t, sent)
	var file []byte
	for _, p := range parts {
		if p.name == headerFileName+".pgp" {
			file = p.body
		}
	}
	plain, err := f.taro.Decrypt(file, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Subject: 照会 123456789018\r\n", "X-Note: 123456789018\r\n", "To: 鈴木 <Taro@Example.JP>\r\n", "3.3.5"} {
		if !strings.Contains(string(plain), want) {
			t.Errorf("protected header file lacks %q:\n%s", want, plain)
		}
	}
}

// TestProtectedHeadersBareMessage: a message with no MIME fields at all
// (text/plain by default) and no key for its recipient: with a passphrase,
// the protected Subject opens without a key; the body is encrypted too.
func TestProtectedHeadersBareMessage(t *testing.T) {
	f := newFixture(t)
	in := []byte("From: a@example.jp\r\nSubject: 123456789018\r\n\r\nplain body\r\n")
	o := f.opts("nokey@example.org")
	o.Mode, o.BodyHasFindings, o.ProtectHeaders = PassphraseWithoutKey, true, []string{"Subject"}
	var out bytes.Buffer
	res, err := Send(context.Background(), &out, opener(in), o, SendOptions{Level: "II", Parts: treeOf(t, in), PartsComplete: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != "passphrase" || bytes.Contains(out.Bytes(), []byte("123456789018")) || bytes.Contains(out.Bytes(), []byte("plain body")) {
		t.Fatalf("method %s, output:\n%s", res.Method, out.Bytes())
	}
	h, parts := leaves(t, out.Bytes())
	if s, _ := h.Subject(); s != DefaultSubject {
		t.Errorf("subject %q", s)
	}
	opened := map[string]string{}
	for _, p := range parts {
		if strings.HasSuffix(p.name, ".pgp") {
			plain, err := f.other.Decrypt(p.body, res.Passphrase)
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			opened[p.name] = string(plain)
		}
	}
	if !strings.Contains(opened[headerFileName+".pgp"], "Subject: 123456789018\r\n") || opened["本文.txt.pgp"] != "plain body\r\n" {
		t.Fatalf("opened %q", opened)
	}
}

// TestProtectedContentField: a descriptive Content- field of the message's
// own header that carried a finding is protected like any other field; one
// only in a part is removed there and the header is left alone.
func TestProtectedContentField(t *testing.T) {
	f := newFixture(t)
	in := []byte("Subject: s\r\nContent-Type: text/plain\r\nContent-Description: 123456789018\r\n\r\nbody\r\n")
	o := f.opts("taro@example.jp")
	o.BodyHasFindings, o.ProtectHeaders = true, []string{"Content-Description"}
	out, res := rewrite(t, in, o)
	if bytes.Contains(out, []byte("123456789018")) || !slices.Equal(res.ProtectedHeaders, []string{"Content-Description"}) {
		t.Fatalf("result %+v, output:\n%s", res, out)
	}
	h, _ := leaves(t, out)
	if s, _ := h.Subject(); s != "s" {
		t.Errorf("subject %q changed", s)
	}
	in = []byte(sendMsg)
	out, res = rewrite(t, in, o)
	if bytes.Contains(out, []byte("Content-Description")) || len(res.ProtectedHeaders) != 0 {
		t.Fatalf("result %+v, output:\n%s", res, out)
	}
	for _, p := range res.Parts {
		if p.Kind == "header" {
			t.Errorf("a header file without protected fields: %+v", p)
		}
	}
}
