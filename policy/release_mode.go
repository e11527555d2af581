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
	Mode string `yaml:"mode"`
	// Access to a link: code (mailed to the recipient, default) or
	// passphrase (the officer hands it over by another channel).
	Access string                 `yaml:"access"`
	Levels map[string]releaseFile `yaml:"levels"`
}

// AccessPassphrase: the download page wants a passphrase the releasing
// officer hands over by another channel instead of a mailed code.
const AccessPassphrase = "passphrase"

type releaseModes struct {
	def    releaseFile
	rules  map[string]releaseFile
	levels map[string]releaseFile
}

func (c *compiler) releaseMode(r releaseFile, path []any, fld string) releaseFile {
	if r.Mode != "" && !slices.Contains(strictness, r.Mode) {
		c.errf(append(path, "mode"), fld+".mode", "unknown release mode %q (refuse, pgp, link, passphrase)", r.Mode)
		r.Mode = ""
	}
	switch {
	case r.Access == "" || r.Access == "code":
		r.Access = ""
	case r.Access != AccessPassphrase:
		c.errf(append(path, "access"), fld+".access", "unknown access %q (code, passphrase)", r.Access)
		r.Access = ""
	case r.Mode != ReleaseLink:
		c.errf(append(path, "access"), fld+".access", "access is for mode link")
	}
	return releaseFile{Mode: r.Mode, Access: r.Access}
}

func (c *compiler) releaseModes(f *file) releaseModes {
	rm := releaseModes{rules: map[string]releaseFile{}, levels: map[string]releaseFile{}}
	rm.def = c.releaseMode(f.Release, p("release"), "release")
	for l, r := range f.Release.Levels {
		fld := "release.levels." + l
		if !validLevel(classify.Level(l)) {
			c.errf(p("release", "levels", l), fld, "bad level %q (I, II or III)", l)
			continue
		}
		if len(r.Levels) > 0 {
			c.errf(p("release", "levels", l, "levels"), fld+".levels", "levels inside a level")
		}
		rm.levels[l] = c.releaseMode(r, p("release", "levels", l), fld)
	}
	for i, r := range f.Rules {
		fld := fmt.Sprintf("rules[%d].release", i)
		if len(r.Release.Levels) > 0 {
			c.errf(p("rules", i, "release", "levels"), fld+".levels", "a rule's release has a mode only")
		}
		if m := c.releaseMode(r.Release, p("rules", i, "release"), fld); m.Mode != "" && r.ID != "" {
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
	mode, _ := e.ReleaseAccess(ruleIDs, level)
	return mode
}

// ReleaseAccess is ReleaseMode with, for mode link, how recipients open
// the link: "" (a code mailed to them) or AccessPassphrase, when any rule
// of the strictest mode (or the level, or the policy) asks for it.
func (e *Engine) ReleaseAccess(ruleIDs []string, level string) (mode, access string) {
	best := -1
	for _, id := range ruleIDs {
		if i := slices.Index(strictness, e.release.rules[id].Mode); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best >= 0 {
		mode = strictness[best]
		for _, id := range ruleIDs {
			if r := e.release.rules[id]; r.Mode == mode && r.Access != "" {
				access = r.Access
			}
		}
		return mode, access
	}
	if r := e.release.levels[level]; r.Mode != "" {
		return r.Mode, r.Access
	}
	return e.release.def.Mode, e.release.def.Access
}
