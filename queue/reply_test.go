package queue

import (
	"errors"
	"net/textproto"
	"testing"

	"github.com/emersion/go-smtp"
)

func TestResultOf(t *testing.T) {
	u := newUpstream(Config{Upstream: "mx.example:25"}.Defaults(), nil)
	tests := []struct {
		err       error
		permanent bool
		connOK    bool
		status    string
		diag      string
	}{
		{&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}, true, true, "5.1.1", "550 5.1.1 no such user"},
		{&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCodeNotSet, Message: "later"}, false, true, "4.0.0", "451 4.0.0 later"},
		{&smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "closing"}, false, false, "4.3.2", "421 4.3.2 closing"},
		{&smtp.SMTPError{Code: 554, EnhancedCode: smtp.NoEnhancedCode, Message: "line1\nline2"}, true, true, "5.0.0", "554 5.0.0 line1 line2"},
		{errors.New("connection reset"), false, false, "4.4.1", "mx.example:25: connection reset"},
		{smtpErr(&textproto.Error{Code: 452, Msg: "4.2.2 mailbox full"}), false, true, "4.2.2", "452 4.2.2 mailbox full"},
		{smtpErr(&textproto.Error{Code: 530, Msg: "must issue STARTTLS"}), true, true, "5.0.0", "530 5.0.0 must issue STARTTLS"},
	}
	for _, tc := range tests {
		r, ok := u.resultOf(tc.err)
		if r.Permanent != tc.permanent || ok != tc.connOK || r.Status != tc.status || r.Diagnostic() != tc.diag || r.Delivered {
			t.Errorf("resultOf(%v) = %+v ok=%v (diag %q)", tc.err, r, ok, r.Diagnostic())
		}
	}
}

// FuzzReply feeds arbitrary upstream replies through the reply parsing:
// no panic, and only 5yz is ever permanent (RFC 5321 4.2.1).
func FuzzReply(f *testing.F) {
	f.Add(550, "5.1.1 no such user")
	f.Add(451, "4.3.0")
	f.Add(250, "2.0.0 Ok: queued as X")
	f.Add(554, "5.5.5.5 weird")
	f.Add(421, "")
	u := newUpstream(Config{Upstream: "mx.example:25"}.Defaults(), nil)
	f.Fuzz(func(t *testing.T, code int, msg string) {
		r, _ := u.resultOf(smtpErr(&textproto.Error{Code: code, Msg: msg}))
		if r.Permanent != (code >= 500) {
			t.Fatalf("code %d permanent=%v", code, r.Permanent)
		}
		_ = r.Diagnostic()
	})
}
