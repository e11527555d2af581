package policy

import (
	"fmt"
	"slices"

	"dlpguard/classify"
)

// How a held message of class I/II leaves when it is released (3.3.5
// "暗号化又はパスワード設定等"), set per rule or per level:
//
//	rules:
//	  - id: personal-list-hold
//	    release: {mode: link}
//	release:
//	  mode: pgp                 # every level without its own
//	  levels: {I: {mode: link}}
//
// The policy decides; the releasing officer cannot pick another way.
// Where several rules matched, the strictest mode counts; a rule's mode
// comes before its level's.
const (
	// ReleaseRefuse: not released by mail at all (only under an 8.4
	// exception, unencrypted, or not).
	ReleaseRefuse = "refuse"
	// ReleasePGP: OpenPGP to the recipients' public keys; a recipient
	// without one refuses the release (review.no_key does not apply).
	ReleasePGP = "pgp"
	// ReleaseLink: the files leave the mail; each recipient fetches them
	// from the download page with a code mailed to them.
	ReleaseLink = "link"
	// ReleasePassphrase: OpenPGP, with a passphrase the officer hands
	// over by another channel for recipients without a key.
	ReleasePassphrase = "passphrase"
)

// strictness orders the modes, strictest first.
var strictness = []string{ReleaseRefuse, ReleasePGP, ReleaseLink, ReleasePassphrase}

type releaseFile struct {
	Mode   string                 `yaml:"mode"`
	Levels map[string]releaseFile `yaml:"levels"`
}

type releaseModes struct {
	def    string
	rules  map[string]string
	levels map[string]string
}

func (c *compiler) releaseMode(m string, path []any, fld string) string {
	if m != "" && !slices.Contains(strictness, m) {
		c.errf(path, fld, "unknown release mode %q (refuse, pgp, link, passphrase)", m)
		return ""
	}
	return m
}

func (c *compiler) releaseModes(f *file) releaseModes {
	rm := releaseModes{rules: map[string]string{}, levels: map[string]string{}}
	rm.def = c.releaseMode(f.Release.Mode, p("release", "mode"), "release.mode")
	for l, r := range f.Release.Levels {
		fld := "release.levels." + l
		if !validLevel(classify.Level(l)) {
			c.errf(p("release", "levels", l), fld, "bad level %q (I, II or III)", l)
			continue
		}
		if len(r.Levels) > 0 {
			c.errf(p("release", "levels", l, "levels"), fld+".levels", "levels inside a level")
		}
		rm.levels[l] = c.releaseMode(r.Mode, p("release", "levels", l, "mode"), fld+".mode")
	}
	for i, r := range f.Rules {
		fld := fmt.Sprintf("rules[%d].release", i)
		if len(r.Release.Levels) > 0 {
			c.errf(p("rules", i, "release", "levels"), fld+".levels", "a rule's release has a mode only")
		}
		if m := c.releaseMode(r.Release.Mode, p("rules", i, "release", "mode"), fld+".mode"); m != "" && r.ID != "" {
			rm.rules[r.ID] = m
		}
	}
	return rm
}

// ReleaseMode is how a message held by these rules, of this level, leaves
// (3.3.5): the strictest mode of the rules that name one, else the
// level's, else the policy's; "" when the policy names none (then
// review.no_key decides for recipients without a key).
func (e *Engine) ReleaseMode(ruleIDs []string, level string) string {
	best := -1
	for _, id := range ruleIDs {
		if i := slices.Index(strictness, e.release.rules[id]); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best >= 0 {
		return strictness[best]
	}
	if m := e.release.levels[level]; m != "" {
		return m
	}
	return e.release.def
}
