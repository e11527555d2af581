package keyring

import (
	"bytes"
	"dlpguard/internal/mailtest"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// gpgHome is a throw-away GnuPG home (Debian package gnupg).
type gpgHome struct {
	*mailtest.GPG
	t *testing.T
}

func newGPG(t *testing.T) *gpgHome { return &gpgHome{mailtest.NewGPG(t), t} }

// run runs gpg with an empty passphrase for new keys and fails the test on error.
func (g *gpgHome) run(stdin []byte, args ...string) []byte {
	g.t.Helper()
	return g.Run(stdin, append([]string{"--passphrase", ""}, args...)...)
}

// gen makes a key and returns its fingerprint.
func (g *gpgHome) gen(uid, algo, usage, expire string, extra ...string) string {
	g.t.Helper()
	g.run(nil, append(extra, "--quick-gen-key", uid, algo, usage, expire)...)
	out := g.run(nil, "--with-colons", "--list-keys", uid)
	return primaryFpr(g.t, out)
}

// primaryFpr is the fingerprint on the line after the first "pub" record
// of gpg --with-colons output (subkeys have their own "fpr" lines).
func primaryFpr(t *testing.T, colons []byte) string {
	t.Helper()
	pub := false
	for _, l := range strings.Split(string(colons), "\n") {
		if strings.HasPrefix(l, "pub:") {
			pub = true
		} else if pub && strings.HasPrefix(l, "fpr:") {
			return strings.Split(l, ":")[9]
		}
	}
	t.Fatalf("no fingerprint in %s", colons)
	return ""
}

func openTest(t *testing.T, dir string) *Keyring {
	t.Helper()
	k, err := Open(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func find(keys []Key, fpr string) *Key {
	for i := range keys {
		if keys[i].Fingerprint == fpr {
			return &keys[i]
		}
	}
	return nil
}

func TestGnuPGKeys(t *testing.T) {
	g := newGPG(t)
	good := g.gen("Yamada Taro <Taro.Yamada@Example.JP>", "future-default", "default", "2y")
	signOnly := g.gen("Sign Only <sign@example.jp>", "rsa2048", "sign", "never")
	expired := g.gen("Old Key <old@example.jp>", "future-default", "default", "1y", "--faked-system-time", "20200101T000000")
	revoked := g.gen("Gone <gone@example.jp>", "future-default", "default", "never")
	beforeRevocation := g.run(nil, "--export", revoked) // binary
	rev, err := os.ReadFile(filepath.Join(g.Dir, "openpgp-revocs.d", revoked+".rev"))
	if err != nil {
		t.Fatal(err)
	}
	// gpg guards the stored certificate with a leading ':'.
	g.run(bytes.ReplaceAll(rev, []byte(":-----BEGIN"), []byte("-----BEGIN")), "--import")

	k := openTest(t, t.TempDir())
	// All at once, armored.
	imported, err := k.Import(bytes.NewReader(g.run(nil, "--armor", "--export")))
	if err != nil {
		t.Fatal(err)
	}
	if len(imported) != 4 {
		t.Fatalf("imported %d keys, want 4", len(imported))
	}
	list, err := k.List()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		fpr             string
		addr            string
		usable, revoked bool
		expires         bool
	}{
		{good, "taro.yamada@example.jp", true, false, true},
		{signOnly, "sign@example.jp", false, false, false},
		{expired, "old@example.jp", false, false, true},
		{revoked, "gone@example.jp", false, true, false},
	}
	for _, tc := range tests {
		key := find(list, tc.fpr)
		if key == nil {
			t.Fatalf("%s (%s) not listed", tc.addr, tc.fpr)
		}
		if key.Usable != tc.usable || key.Revoked != tc.revoked || !key.Expires.IsZero() != tc.expires ||
			!slices.Equal(key.Addresses, []string{tc.addr}) || key.Created.IsZero() {
			t.Errorf("%s: %+v", tc.addr, key)
		}
		el, err := k.Lookup(strings.ToUpper(tc.addr))
		if err != nil {
			t.Fatal(err)
		}
		if (len(el) == 1) != tc.usable {
			t.Errorf("Lookup(%s): %d keys, usable %v", tc.addr, len(el), tc.usable)
		}
	}
	if key := find(list, good); key.Algorithm != "eddsa" || !strings.Contains(key.UserIDs[0], "Yamada Taro") {
		t.Errorf("good key %+v", key)
	}
	// Re-importing the copy exported before the revocation (binary this
	// time) must not bring the key back.
	if _, err := k.Import(bytes.NewReader(beforeRevocation)); err != nil {
		t.Fatal(err)
	}
	if el, _ := k.Lookup("gone@example.jp"); len(el) != 0 {
		t.Fatal("revoked key usable again after importing an old copy")
	}
	keys, missing, err := k.ForRecipients([]string{"<taro.yamada@example.jp>", "old@example.jp", "nobody@example.com", "Taro.Yamada@EXAMPLE.JP"})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !slices.Equal(missing, []string{"old@example.jp", "nobody@example.com"}) {
		t.Fatalf("ForRecipients: %d keys, missing %v", len(keys), missing)
	}
}

// goKey makes a key with go-crypto; cfg decides algorithm and lifetime.
func goKey(t *testing.T, name, email string, cfg *packet.Config) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", email, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func armored(t *testing.T, e *openpgp.Entity, private bool) []byte {
	t.Helper()
	var b bytes.Buffer
	typ := openpgp.PublicKeyType
	if private {
		typ = openpgp.PrivateKeyType
	}
	w, err := armor.Encode(&b, typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	if private {
		err = e.SerializePrivate(w, nil)
	} else {
		err = e.Serialize(w)
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	return b.Bytes()
}

func TestGoCryptoKeysAndStorage(t *testing.T) {
	dir := t.TempDir()
	k := openTest(t, dir)
	ed := goKey(t, "Suzuki Hanako", "hanako@city.example.lg.jp", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	rsa := goKey(t, "RSA", "rsa@city.example.lg.jp", &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048})
	old := goKey(t, "Old", "old@city.example.lg.jp", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, KeyLifetimeSecs: 3600,
		Time: func() time.Time { return time.Now().Add(-48 * time.Hour) },
	})
	// A secret key: only the public part may be stored.
	if _, err := k.Import(bytes.NewReader(armored(t, ed, true))); err != nil {
		t.Fatal(err)
	}
	var bin bytes.Buffer
	rsa.Serialize(&bin)
	old.Serialize(&bin)
	if got, err := k.Import(&bin); err != nil || len(got) != 2 {
		t.Fatalf("binary import: %v %v", got, err)
	}
	for _, e := range []*openpgp.Entity{ed, rsa, old} {
		p := filepath.Join(dir, fingerprint(e)+".pgp")
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", p, fi, err)
		}
		b, _ := os.ReadFile(p)
		el, err := openpgp.ReadKeyRing(bytes.NewReader(b))
		if err != nil || el[0].PrivateKey != nil {
			t.Fatalf("%s: stored a private key or unreadable: %v", p, err)
		}
	}
	// A second handle (another process) sees the keys, and later changes.
	k2 := openTest(t, dir)
	if el, _ := k2.Lookup("HANAKO@city.example.lg.jp"); len(el) != 1 {
		t.Fatal("key not found from a second handle")
	}
	if el, _ := k2.Lookup("old@city.example.lg.jp"); len(el) != 0 {
		t.Fatal("expired go-crypto key usable")
	}
	if list, _ := k2.List(); len(list) != 3 || list[0].Addresses[0] != "hanako@city.example.lg.jp" {
		t.Fatalf("list %+v", list)
	}
	removed, err := k.Remove(strings.ToLower(fingerprint(rsa)))
	if err != nil || len(removed) != 1 || removed[0].Fingerprint != fingerprint(rsa) {
		t.Fatalf("remove by fingerprint: %v %v", removed, err)
	}
	if _, err := k.Remove("Hanako@City.Example.LG.JP"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Remove("nobody@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove unknown: %v", err)
	}
	if list, _ := k2.List(); len(list) != 1 || list[0].Fingerprint != fingerprint(old) {
		t.Fatalf("second handle after removals: %+v", list)
	}
	// Reopen: what is on disk is what we have.
	if list, _ := openTest(t, dir).List(); len(list) != 1 {
		t.Fatalf("after reopen: %+v", list)
	}
}

// A user ID the owner revoked (an address they no longer use) does not
// select the key, though the key's other address still does.
func TestRevokedUserID(t *testing.T) {
	g := newGPG(t)
	fpr := g.gen("Kato <kato@old.example.jp>", "future-default", "default", "never")
	g.run(nil, "--quick-add-uid", fpr, "Kato <kato@new.example.jp>")
	g.run(nil, "--quick-revoke-uid", fpr, "Kato <kato@old.example.jp>")
	k := openTest(t, t.TempDir())
	// gpg dates the revocation a second after the user ID's signature so
	// that it sorts after it: within the same second it is "in the future".
	k.SetClock(func() time.Time { return time.Now().Add(time.Minute) })
	if _, err := k.Import(bytes.NewReader(g.run(nil, "--export", fpr))); err != nil {
		t.Fatal(err)
	}
	if el, _ := k.Lookup("kato@new.example.jp"); len(el) != 1 {
		t.Fatal("valid user ID not found")
	}
	if el, _ := k.Lookup("kato@old.example.jp"); len(el) != 0 {
		t.Fatal("revoked user ID selects the key")
	}
}

func TestImportGarbage(t *testing.T) {
	k := openTest(t, t.TempDir())
	for _, in := range []string{"", "hello", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"} {
		if _, err := k.Import(strings.NewReader(in)); err == nil {
			t.Errorf("Import(%q) succeeded", in)
		}
	}
	if list, _ := k.List(); len(list) != 0 {
		t.Fatalf("garbage stored: %v", list)
	}
}

// A corrupt key file does not hide the others.
func TestCorruptFile(t *testing.T) {
	dir := t.TempDir()
	k := openTest(t, dir)
	e := goKey(t, "A", "a@example.jp", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if _, err := k.Import(bytes.NewReader(armored(t, e, false))); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "0000000000000000000000000000000000000000.pgp"), []byte("junk"), 0o600)
	k2 := openTest(t, dir)
	if el, _ := k2.Lookup("a@example.jp"); len(el) != 1 {
		t.Fatal("good key hidden by a corrupt file")
	}
}

func FuzzImport(f *testing.F) {
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Add([]byte{0x99, 0x00, 0x0d, 0x04})
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := Open(t.TempDir(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		keys, err := k.Import(bytes.NewReader(data))
		if err != nil && len(keys) > 0 {
			list, _ := k.List()
			if len(list) < len(keys) {
				t.Fatalf("reported %d imported, %d stored", len(keys), len(list))
			}
		}
	})
}
