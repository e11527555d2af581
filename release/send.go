package release

import (
	"context"
	"errors"
	"fmt"
	"io"

	"dlpguard/mimemsg"
)

// Reason codes of a Refusal, for the audit log and the API.
const (
	// CodeContentMismatch: the stored message's MIME tree is not the one
	// inspected (a part added, removed or changed).
	CodeContentMismatch = "content_mismatch"
	// CodeNotInspected: the inspection did not read the whole tree (a
	// limit or a timeout), so nothing vouches for what would be sent.
	CodeNotInspected = "not_inspected"
	// CodeEncryptionRequired: "encryption none" for class I/II content
	// without an 8.4 exception.
	CodeEncryptionRequired = "encryption_required"
	// CodeUnknownException: the named exception is not in force for this
	// message (not in the policy, expired, or not for its sender and
	// recipients).
	CodeUnknownException = "unknown_exception"
	// CodeBadEncryption: an encryption mode Send does not know.
	CodeBadEncryption = "bad_encryption"
)

// Refusal is why Send sends nothing. Code is one of the Code constants.
type Refusal struct {
	Code   string
	Detail string
}

func (r *Refusal) Error() string { return "release refused (" + r.Code + "): " + r.Detail }

// SendOptions are what Send adds to Options.
type SendOptions struct {
	// Level of the held message ("I", "II", "III") and the verdict's
	// RequireEncryption: class I/II content leaves only encrypted (3.3.5).
	Level             string
	RequireEncryption bool
	// Encryption is what the releasing officer asks for: "" (what the
	// level needs) or "none" (send as it is: class III, or class I/II
	// under Exception).
	Encryption string
	// Exception is the ID of the 8.4 exception under which class I/II
	// content is sent unencrypted; ExceptionValid says whether it is in
	// force for this message (the policy's; nil: none is).
	Exception      string
	ExceptionValid func(id string) bool
	// Parts and PartsComplete are the MIME tree as inspected
	// (hold.Verdict). Nil Parts: a hold recorded before trees were kept;
	// it is not compared (Result.PartsChecked is false).
	Parts         []mimemsg.Part
	PartsComplete bool
}

// Send writes to w the message to release, read by open (called once to
// compare the stored message with the inspected tree, once to send it):
// refused (*Refusal) when its tree differs from the inspected one or when
// the encryption asked for is not allowed; else encrypted by Rewrite when
// its level needs it, or copied as it is. On error, what was written to w
// must be discarded.
func Send(ctx context.Context, w io.Writer, open func() (io.ReadCloser, error), opts Options, so SendOptions) (*Result, error) {
	// 3.3.5: information of class I and II sent by e-mail is encrypted.
	encrypt := so.RequireEncryption || so.Level == "I" || so.Level == "II"
	exception := ""
	switch so.Encryption {
	case "":
	case "none":
		if encrypt {
			if so.Exception == "" {
				return nil, &Refusal{Code: CodeEncryptionRequired, Detail: fmt.Sprintf("class %s content leaves only encrypted (3.3.5); sending it unencrypted needs an 8.4 exception", so.Level)}
			}
			// 8.4: an exception the CISO approved, in force for this
			// sender and these recipients, named in the audit entry.
			if so.ExceptionValid == nil || !so.ExceptionValid(so.Exception) {
				return nil, &Refusal{Code: CodeUnknownException, Detail: fmt.Sprintf("exception %q is not in force for this message", so.Exception)}
			}
			encrypt, exception = false, so.Exception
		}
	default:
		return nil, &Refusal{Code: CodeBadEncryption, Detail: fmt.Sprintf("unknown encryption %q", so.Encryption)}
	}
	checked, err := checkTree(ctx, open, opts.Limits, so)
	if err != nil {
		return nil, err
	}
	r, err := open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if !encrypt {
		if _, err := io.Copy(w, mimemsg.ContextReader(ctx, r)); err != nil {
			return nil, fmt.Errorf("release %s: %w", opts.MessageID, err)
		}
		return &Result{Method: "none", Parts: []Part{}, PartsChecked: checked, Exception: exception}, nil
	}
	res, err := Rewrite(ctx, w, r, opts)
	if err != nil {
		return nil, err
	}
	res.PartsChecked = checked
	return res, nil
}

// checkTree splits the stored message as inspection did and compares the
// trees (3.3.5: what is released is what was inspected).
func checkTree(ctx context.Context, open func() (io.ReadCloser, error), lim mimemsg.Limits, so SendOptions) (bool, error) {
	if so.Parts == nil {
		return false, nil
	}
	if !so.PartsComplete {
		return false, &Refusal{Code: CodeNotInspected, Detail: "the inspection did not read the whole message (a limit or a timeout)"}
	}
	r, err := open()
	if err != nil {
		return false, err
	}
	defer r.Close()
	got, err := mimemsg.Split(ctx, r, lim)
	if errors.Is(err, mimemsg.ErrTooManyParts) {
		return false, &Refusal{Code: CodeContentMismatch, Detail: "the stored message has more parts than were inspected"}
	}
	if err != nil {
		return false, fmt.Errorf("release: reading the stored message: %w", err)
	}
	if m := mimemsg.Compare(so.Parts, got); m != nil {
		return false, &Refusal{Code: CodeContentMismatch, Detail: fmt.Sprintf("part %s of the stored message is not the part inspected (%s)", m.Path, m.What)}
	}
	return true, nil
}
