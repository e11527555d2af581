package policy

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Channels a rule may be limited to (when.channel).
const (
	ChannelMail     = "mail"     // an SMTP message through the relay (or `scan` of an .eml)
	ChannelTransfer = "transfer" // an upload through the web proxy (ICAP) or `scan --transfer`
)

// transferCond are a rule's conditions on the way out: mail or transfer,
// and for transfers the destination host (9.2: 約款による外部サービス).
type transferCond struct {
	channel   string   // "" = both
	dest      []string // the upload's host matches one (deny-lists of consumer storage)
	destNotIn []string // the upload's host matches none (allow-lists of approved services)
}

// compileTransfer validates when.channel, when.destination and
// when.destination_not_in.
func (c *compiler) compileTransfer(w *whenFile, wat func(k ...any) []any, wf string) transferCond {
	var t transferCond
	switch ch := strings.ToLower(strings.TrimSpace(w.Channel)); ch {
	case "", ChannelMail, ChannelTransfer:
		t.channel = ch
	default:
		c.errf(wat("channel"), wf+"channel", "unknown channel %q (mail or transfer)", w.Channel)
	}
	hosts := func(list []string, key string) []string {
		var out []string
		for i, h := range list {
			n := normHostPattern(h)
			if n == "" || strings.ContainsAny(n, "@/ \t<>:") {
				c.errf(wat(key, i), fmt.Sprintf("%s%s[%d]", wf, key, i), "bad host pattern %q (e.g. dropbox.com, *.dropbox.com)", h)
				continue
			}
			if n == "*" {
				c.warnf(wat(key, i), fmt.Sprintf("%s%s[%d]", wf, key, i), "host pattern %q matches every destination", h)
			}
			out = append(out, n)
		}
		return out
	}
	t.dest = hosts(w.Destination, "destination")
	t.destNotIn = hosts(w.DestinationNotIn, "destination_not_in")
	if (len(t.dest) > 0 || len(t.destNotIn) > 0) && t.channel == ChannelMail {
		c.errf(wat("channel"), wf+"channel", "destination conditions apply to transfers only; this rule can never fire")
	}
	if len(t.dest) > 0 || len(t.destNotIn) > 0 {
		t.channel = ChannelTransfer
	}
	return t
}

// matches reports whether a message (tr == nil) or an upload meets the
// rule's channel and destination conditions.
func (t transferCond) matches(tr *Transfer) bool {
	switch t.channel {
	case ChannelMail:
		return tr == nil
	case ChannelTransfer:
		if tr == nil {
			return false
		}
	}
	if len(t.dest) == 0 && len(t.destNotIn) == 0 {
		return true
	}
	host := TransferHost(tr)
	if len(t.dest) > 0 && !anyDomain(t.dest, host) {
		return false
	}
	// An upload whose host is unknown is outside every allow-list.
	if len(t.destNotIn) > 0 && host != "" && anyDomain(t.destNotIn, host) {
		return false
	}
	return true
}

// TransferHost is the destination host of an upload, lower-case, without
// port or trailing dot: Host when given, else the URL's host.
func TransferHost(t *Transfer) string {
	if t == nil {
		return ""
	}
	h := t.Host
	if h == "" {
		if u, err := url.Parse(t.URL); err == nil {
			h = u.Host
		}
	}
	return normHost(h)
}

func normHost(h string) string {
	h = strings.TrimSpace(h)
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimPrefix(strings.TrimSuffix(h, "]"), "[")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

func normHostPattern(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

// TransferBlocks reports whether an upload with this verdict is blocked.
// Uploads cannot wait for an approver, so hold and delay block like reject
// (3.3.5: the permission must come first); bcc has no recipients to
// rewrite and passes.
func (v *Verdict) TransferBlocks() bool {
	if v == nil {
		return true
	}
	switch v.Action {
	case Pass, Bcc:
		return false
	}
	return true
}

// transferText is the rule's reason for staff: transfer_message for an
// upload when the rule has one (a mail text such as "held until approved"
// would mislead: an upload is blocked, not kept), else message.
func (r *rule) transferText(t *Transfer) (ja, en string) {
	ja, en = r.ja, r.en
	if t == nil {
		return ja, en
	}
	if r.tja != "" {
		ja = r.tja
	}
	if r.ten != "" {
		en = r.ten
	}
	return ja, en
}
