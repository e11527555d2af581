package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"dlpguard/mimemsg"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"dlpguard/keyring"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// fixture: two recipients, one with a GnuPG-made key, one with a
// go-crypto-made key; each has a GnuPG home with the secret key.
type fixture struct {
	kr         *keyring.Keyring
	taro, hana *gpgHome // secret keys of taro@ and hanako@
	other      *gpgHome // no key at all
	logs       *bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{taro: newGPG(t), hana: newGPG(t), other: newGPG(t), logs: &bytes.Buffer{}}
	f.taro.Gen("Yamada Taro <Taro@Example.JP>")
	e, err := openpgp.NewEntity("Suzuki Hanako", "", "hanako@partner.example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var sec bytes.Buffer
	w, _ := armor.Encode(&sec, openpgp.PrivateKeyType, nil)
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f.hana.Run(sec.Bytes(), "--import")
	f.kr, err = keyring.Open(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.kr.Import(bytes.NewReader(f.taro.Export())); err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	e.Serialize(&pub)
	if _, err := f.kr.Import(&pub); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) opts(rcpts ...string) Options {
	return Options{
		Recipients: rcpts,
		Keys:       f.kr,
		MessageID:  "test",
		Logger:     slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// The tests read messages with go-message, decoding the transfer encoding
// only, so that bytes are the original file's: mimemsg imports
// go-message/charset, which would convert text parts to UTF-8.
func init() { message.CharsetReader = nil }

// leaf is one non-multipart part, decoded (transfer encoding only).
type leaf struct {
	header message.Header
	name   string
	ctype  string
	body   []byte
}

func leaves(t *testing.T, raw []byte) (mail.Header, []leaf) {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) {
		t.Fatalf("read message: %v", err)
	}
	var out []leaf
	var walk func(e *message.Entity)
	walk = func(e *message.Entity) {
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					return
				}
				if err != nil && !message.IsUnknownCharset(err) {
					t.Fatalf("next part: %v", err)
				}
				walk(p)
			}
		}
		b, err := io.ReadAll(e.Body)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		ah := mail.AttachmentHeader{Header: e.Header}
		name, _ := ah.Filename()
		ct, _, _ := e.Header.ContentType()
		out = append(out, leaf{header: e.Header, name: name, ctype: ct, body: b})
	}
	walk(e)
	return mail.Header{Header: e.Header}, out
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rewrite(t *testing.T, in []byte, o Options) ([]byte, *Result) {
	t.Helper()
	var out bytes.Buffer
	res, err := Rewrite(context.Background(), &out, bytes.NewReader(in), o)
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), res
}

var keptHeaders = []string{"From", "To", "Cc", "Subject", "Date", "Message-Id"}

func checkHeadersKept(t *testing.T, in, out []byte) {
	t.Helper()
	hin, _ := leaves(t, in)
	hout, _ := leaves(t, out)
	for _, k := range keptHeaders {
		if hin.Get(k) != hout.Get(k) {
			t.Errorf("header %s: %q → %q", k, hin.Get(k), hout.Get(k))
		}
	}
}

func TestPublicKeyRelease(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		file      string
		inspected []Inspected
		findings  bool
		// encrypted: original name → sent name; unchanged: names
		encrypted map[string]string
		unchanged []string
		bodyMoved bool
	}{
		{file: "p017_personal_list.eml", inspected: []Inspected{{Name: "要支援者名簿.xlsx"}},
			encrypted: map[string]string{"要支援者名簿.xlsx": "要支援者名簿.xlsx.pgp"}},
		{file: "p018_personal_list.eml", inspected: []Inspected{{Name: "民生委員名簿.pdf"}},
			encrypted: map[string]string{"民生委員名簿.pdf": "民生委員名簿.pdf.pgp"}},
		{file: "p027_encrypted.eml", inspected: []Inspected{{Name: "report.zip", Encrypted: true}},
			encrypted: map[string]string{}, unchanged: []string{"report.zip"}},
		{file: "p029_encrypted.eml", inspected: []Inspected{{Name: "smime.p7m", Encrypted: true}},
			encrypted: map[string]string{}, unchanged: []string{"smime.p7m"}},
		{file: "p001_mynumber.eml", findings: true,
			encrypted: map[string]string{"本文.txt": "本文.txt.pgp"}, bodyMoved: true},
		{file: "p018_personal_list.eml", findings: true, inspected: []Inspected{{Name: "民生委員名簿.pdf"}},
			encrypted: map[string]string{"本文.txt": "本文.txt.pgp", "民生委員名簿.pdf": "民生委員名簿.pdf.pgp"}, bodyMoved: true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s findings=%v", tc.file, tc.findings), func(t *testing.T) {
			in := readSample(t, tc.file)
			o := f.opts("taro@example.jp", "Hanako@partner.example.com")
			o.Inspected, o.BodyHasFindings = tc.inspected, tc.findings
			out, res := rewrite(t, in, o)
			checkHeadersKept(t, in, out)
			_, inParts := leaves(t, in)
			_, outParts := leaves(t, out)
			orig := map[string][]byte{}
			var bodies [][]byte
			for _, p := range inParts {
				if p.name != "" {
					orig[p.name] = p.body
				} else if p.ctype == "text/plain" || p.ctype == "text/html" {
					bodies = append(bodies, p.body)
				}
			}
			if tc.bodyMoved {
				orig["本文.txt"] = bodies[0]
			}
			got := map[string]bool{}
			for _, p := range outParts {
				if p.name == "" {
					if tc.bodyMoved {
						// The only unnamed part left is the cover note.
						if !strings.Contains(string(p.body), "個人情報") || !strings.Contains(string(p.body), "3.3.5") ||
							!strings.Contains(string(p.body), "personal information") {
							t.Errorf("cover note: %s", p.body)
						}
						if strings.Index(string(p.body), "個人情報") > strings.Index(string(p.body), "personal information") {
							t.Error("cover note: Japanese must come first")
						}
					}
					continue
				}
				got[p.name] = true
				origName, isEnc := "", false
				for o, s := range tc.encrypted {
					if s == p.name {
						origName, isEnc = o, true
					}
				}
				switch {
				case isEnc:
					if p.ctype != "application/octet-stream" {
						t.Errorf("%s: type %s", p.name, p.ctype)
					}
					for _, g := range []*gpgHome{f.taro, f.hana} {
						plain, err := g.Decrypt(p.body, "")
						if err != nil {
							t.Fatalf("%s: gpg: %v", p.name, err)
						}
						if !bytes.Equal(plain, orig[origName]) {
							t.Fatalf("%s: decrypts to %d bytes, want the %d original bytes", p.name, len(plain), len(orig[origName]))
						}
					}
					if bytes.Contains(out, orig[origName][:min(40, len(orig[origName]))]) {
						t.Errorf("%s: plaintext visible in the output", origName)
					}
				case slices.Contains(tc.unchanged, p.name):
					if !bytes.Equal(p.body, orig[p.name]) {
						t.Errorf("%s: changed", p.name)
					}
				default:
					t.Errorf("unexpected part %q", p.name)
				}
			}
			for _, s := range tc.encrypted {
				if !got[s] {
					t.Errorf("missing %s; have %v", s, got)
				}
			}
			// Proof: one entry per part, hashes as claimed.
			if len(tc.encrypted) > 0 && (res.Method != "public-key" || len(res.Fingerprints) != 2) ||
				len(tc.encrypted) == 0 && (res.Method != "none" || len(res.Fingerprints) != 0) {
				t.Errorf("method %s, %d fingerprints", res.Method, len(res.Fingerprints))
			}
			for _, p := range res.Parts {
				if p.Kind == "body" && !tc.bodyMoved {
					continue
				}
				name := p.Name
				if o, ok := orig[name]; !ok || p.OriginalSHA256 != sum(o) || p.OriginalSize != int64(len(o)) {
					t.Errorf("proof for %q: %+v", name, p)
				}
				for _, q := range outParts {
					if q.name == p.SentName && p.SentSHA256 != sum(q.body) {
						t.Errorf("sent hash for %q does not match what is sent", p.SentName)
					}
				}
			}
			if res.Passphrase != "" {
				t.Error("passphrase set in public-key mode")
			}
		})
	}
}

// The already-encrypted zip passes byte for byte: header and encoded body.
func TestEncryptedZipByteIdentical(t *testing.T) {
	f := newFixture(t)
	in := readSample(t, "p027_encrypted.eml")
	o := f.opts("taro@example.jp")
	o.Inspected = []Inspected{{Name: "report.zip", Encrypted: true}}
	out, res := rewrite(t, in, o)
	i := bytes.Index(in, []byte("Content-Type: application/zip"))
	j := bytes.LastIndex(in, []byte("\n--"))
	if i < 0 || j < i {
		t.Fatal("sample changed")
	}
	if !bytes.Contains(out, in[i:j]) {
		t.Fatal("the encrypted zip part is not byte-identical in the output")
	}
	var zp *Part
	for k := range res.Parts {
		if res.Parts[k].Name == "report.zip" {
			zp = &res.Parts[k]
		}
	}
	if zp == nil || zp.Action != "unchanged" || zp.OriginalSHA256 != zp.SentSHA256 || zp.OriginalSize == 0 {
		t.Fatalf("proof %+v", zp)
	}
	// Listed twice (a plaintext twin with the same name): encrypted.
	o.Inspected = []Inspected{{Name: "report.zip", Encrypted: true}, {Name: "report.zip"}}
	_, res = rewrite(t, in, o)
	for _, p := range res.Parts {
		if p.Name == "report.zip" && p.Action != "encrypted" {
			t.Fatal("a name listed twice passed unchanged")
		}
	}
}

// Japanese file names in the forms Japanese mailers write survive, and
// the .pgp names read back with go-message (as Outlook reads them).
func TestJapaneseFilenames(t *testing.T) {
	f := newFixture(t)
	in := readSample(t, "japanese_names.eml")
	out, res := rewrite(t, in, f.opts("taro@example.jp"))
	want := []string{"見積書.pdf.pgp", "住民名簿.csv.pgp", "議事録.docx.pgp", "申請書.xlsx.pgp"}
	_, parts := leaves(t, out)
	var names []string
	for _, p := range parts {
		if p.name != "" {
			names = append(names, p.name)
		}
	}
	if !slices.Equal(names, want) {
		t.Fatalf("names %q, want %q", names, want)
	}
	for _, p := range res.Parts {
		if p.Kind == "attachment" && p.SentName != p.Name+".pgp" {
			t.Errorf("proof names %q → %q", p.Name, p.SentName)
		}
	}
	// The Shift_JIS CSV decrypts to its original (Shift_JIS) bytes.
	for _, p := range parts {
		if p.name == "住民名簿.csv.pgp" {
			plain, err := f.taro.Decrypt(p.body, "")
			if err != nil {
				t.Fatal(err)
			}
			// The bytes inspection read: its lenient quoted-printable
			// decoder keeps the sample's \r\r\n line ends.
			_, rawBody, _ := bytes.Cut(in[bytes.Index(in, []byte("Content-Type: text/csv")):], []byte("\r\n\r\n"))
			rawBody, _, _ = bytes.Cut(rawBody, []byte("\r\n--b1"))
			want, _ := io.ReadAll(mimemsg.DecodeTransfer("quoted-printable", bytes.NewReader(rawBody)))
			if !bytes.Equal(plain, want) || !bytes.Contains(want, []byte("\x8e\x81\x96\xbc,")) {
				t.Fatalf("csv: %q, want %q", plain, want)
			}
		}
	}
	// The name inside the OpenPGP literal data packet is the original.
	for _, p := range parts {
		if p.name == "見積書.pdf.pgp" {
			if err := os.WriteFile(filepath.Join(f.taro.Dir, "x"), p.body, 0o600); err != nil {
				t.Fatal(err)
			}
			lp, _ := f.taro.Cmd(nil, "--passphrase", "", "--list-packets", filepath.Join(f.taro.Dir, "x"))
			if !strings.Contains(string(lp), "name=\"\\xe8\\xa6\\x8b") && !strings.Contains(string(lp), "見積書.pdf") {
				t.Errorf("literal packet name: %s", lp)
			}
		}
	}
}

func TestAlternativeBodyMoved(t *testing.T) {
	f := newFixture(t)
	in := readSample(t, "alternative.eml")
	o := f.opts("taro@example.jp")
	o.BodyHasFindings = true
	out, res := rewrite(t, in, o)
	checkHeadersKept(t, in, out)
	if bytes.Contains(out, []byte("1234 5678")) || bytes.Contains(out, []byte("PGJvZHk+")) {
		t.Fatal("body text visible after the move")
	}
	_, parts := leaves(t, out)
	var names []string
	cover := 0
	for _, p := range parts {
		if p.name != "" {
			names = append(names, p.name)
		} else if strings.Contains(string(p.body), "個人情報") {
			cover++
		}
	}
	if cover != 1 || !slices.Equal(names, []string{"本文.txt.pgp", "本文.html.pgp", "資料.pdf.pgp"}) {
		t.Fatalf("cover notes %d, names %q", cover, names)
	}
	for _, p := range parts {
		if p.name == "本文.html.pgp" {
			plain, err := f.taro.Decrypt(p.body, "")
			if err != nil || !strings.Contains(string(plain), "<b>個人番号</b>") {
				t.Fatalf("html body: %q %v", plain, err)
			}
		}
	}
	if len(res.Parts) != 3 {
		t.Fatalf("proof parts %d", len(res.Parts))
	}
}

var passphraseRE = regexp.MustCompile(`^[2-9a-hjkmnp-z]{5}(-[2-9a-hjkmnp-z]{5}){4}$`)

func TestPassphraseMode(t *testing.T) {
	f := newFixture(t)
	in := readSample(t, "p018_personal_list.eml")
	o := f.opts("taro@example.jp", "nokey@example.org")
	o.Mode = PassphraseWithoutKey
	o.BodyHasFindings = true
	out, res := rewrite(t, in, o)
	if res.Method != "passphrase" || !passphraseRE.MatchString(res.Passphrase) || len(res.Fingerprints) != 0 {
		t.Fatalf("method %s passphrase %q", res.Method, res.Passphrase)
	}
	proof, _ := json.Marshal(res) // what goes into the audit log
	for _, where := range [][]byte{out, f.logs.Bytes(), proof} {
		if bytes.Contains(where, []byte(res.Passphrase)) || bytes.Contains(where, []byte(strings.ReplaceAll(res.Passphrase, "-", ""))) {
			t.Fatal("passphrase written into the message or the log")
		}
	}
	_, inParts := leaves(t, in)
	_, parts := leaves(t, out)
	n := 0
	for _, p := range parts {
		if !strings.HasSuffix(p.name, ".pgp") {
			if p.name == "" && strings.Contains(string(p.body), "パスワード") {
				continue // the cover note says a password is coming
			}
			t.Fatalf("part %q not encrypted", p.name)
		}
		n++
		// The recipient without a key decrypts with the passphrase only.
		plain, err := f.other.Decrypt(p.body, res.Passphrase)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		if !slices.ContainsFunc(inParts, func(l leaf) bool { return bytes.Equal(l.body, plain) }) {
			t.Fatalf("%s: plaintext does not match any original part", p.name)
		}
		if _, err := f.other.Decrypt(p.body, "wrong-passphrase"); err == nil {
			t.Fatal("decrypted with a wrong passphrase")
		}
		if lp, _ := f.other.Cmd(nil, "--passphrase", res.Passphrase, "--list-packets", filepath.Join(f.other.Dir, "in.pgp")); !hasLine(lp, "cipher 9") || !hasLine(lp, "s2k 3") {
			t.Errorf("%s: not AES-256 with iterated S2K:\n%s", p.name, lp)
		}
	}
	if n != 2 {
		t.Fatalf("%d encrypted parts, want body and pdf", n)
	}
	a, _ := NewPassphrase()
	b, _ := NewPassphrase()
	if a == b || !passphraseRE.MatchString(a) {
		t.Fatalf("passphrases %q %q", a, b)
	}
}

func TestRefuseWithoutKey(t *testing.T) {
	f := newFixture(t)
	in := readSample(t, "p018_personal_list.eml")
	var out bytes.Buffer
	_, err := Rewrite(context.Background(), &out, bytes.NewReader(in),
		f.opts("taro@example.jp", "nokey@example.org", "other@example.net"))
	var mk *MissingKeyError
	if !errors.As(err, &mk) || !slices.Equal(mk.Recipients, []string{"nokey@example.org", "other@example.net"}) {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(err.Error(), "nokey@example.org") || !strings.Contains(err.Error(), "other@example.net") {
		t.Fatalf("error text %q", err)
	}
	if out.Len() != 0 {
		t.Fatal("output written although refused")
	}
}

// A message whose structure cannot be read is refused, never sent half
// rewritten or in the clear.
func TestMalformedRefused(t *testing.T) {
	f := newFixture(t)
	in := readSample(t, "p018_personal_list.eml")
	cut := in[:bytes.LastIndex(in, []byte("\n--"))] // no closing boundary
	cut = cut[:len(cut)-200]
	var out bytes.Buffer
	if _, err := Rewrite(context.Background(), &out, bytes.NewReader(cut), f.opts("taro@example.jp")); err == nil {
		t.Fatal("truncated multipart accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Rewrite(ctx, &out, bytes.NewReader(in), f.opts("taro@example.jp")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestTruncateName(t *testing.T) {
	long := strings.Repeat("あ", 100) // 300 bytes
	got := truncateName(long, 255)
	if len(got) != 255 || !strings.HasPrefix(long, got) {
		t.Fatalf("%d bytes", len(got))
	}
	if got := truncateName(long, 254); len(got) != 252 {
		t.Fatalf("254 → %d bytes, want 252 (rune boundary)", len(got))
	}
	if truncateName("a.pdf", 255) != "a.pdf" {
		t.Fatal("short name changed")
	}
}

// Types that say "encrypted" pass only when the content agrees.
func TestEncryptedByType(t *testing.T) {
	f := newFixture(t)
	var armored bytes.Buffer
	aw, _ := armor.Encode(&armored, "PGP MESSAGE", nil)
	keys, _, _ := f.kr.ForRecipients([]string{"taro@example.jp"})
	pw, err := openpgp.Encrypt(aw, keys, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(pw, "already encrypted by the sender")
	pw.Close()
	aw.Close()
	head := "From: a@city.example.lg.jp\r\nTo: taro@example.jp\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
	pgpMIME := head + "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"e\"\r\n\r\n" +
		"--e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n" +
		"--e\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\r\n" + armored.String() + "\r\n--e--\r\n"
	fakePGPMIME := strings.Replace(pgpMIME, armored.String(), "氏名 山田太郎 住所 東京都", 1)
	extraPart := strings.Replace(pgpMIME, "\r\n--e--\r\n",
		"\r\n--e\r\nContent-Type: text/plain\r\n\r\n氏名 山田太郎 住所 東京都\r\n--e--\r\n", 1)
	fakeLeaf := head + "Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
		"--m\r\nContent-Type: application/pgp-encrypted; name=\"list.csv\"\r\n\r\n氏名,住所\r\n山田太郎,東京都\r\n" +
		"--m\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + base64Std("氏名,住所 plain text pretending to be S/MIME") + "\r\n--m--\r\n"
	tests := []struct {
		name      string
		in        string
		unchanged bool
	}{
		{"real PGP/MIME", pgpMIME, true},
		{"PGP/MIME with plaintext inside", fakePGPMIME, false},
		{"PGP/MIME with a plaintext part added", extraPart, false},
		{"plaintext labelled as encrypted", fakeLeaf, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := f.opts("taro@example.jp")
			out, _ := rewrite(t, []byte(tc.in), o)
			if strings.Contains(tc.in, "multipart/encrypted") && !bytes.Contains(out, []byte("multipart/encrypted")) {
				t.Fatal("PGP/MIME structure lost")
			}
			if tc.unchanged {
				if !bytes.Contains(out, []byte(tc.in[len(head):][strings.Index(tc.in[len(head):], "\r\n\r\n"):])) {
					t.Fatalf("PGP/MIME body changed:\n%s", out)
				}
				return
			}
			for _, secret := range []string{"山田太郎", base64Std("氏名,住所 plain text pretending to be S/MIME")[:20]} {
				if bytes.Contains(out, []byte(secret)) {
					t.Fatalf("plaintext %q passed:\n%s", secret, out)
				}
			}
		})
	}
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// The RFC 9580 preset round-trips through go-crypto (GnuPG does not read
// SEIPDv2, so this preset is for recipients known to have newer tools).
func TestRFC9580Preset(t *testing.T) {
	e, err := openpgp.NewEntity("n", "", "n@example.jp", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	in := readSample(t, "p018_personal_list.eml")
	_, inParts := leaves(t, in)
	for _, mode := range []string{"public-key", "passphrase"} {
		t.Run(mode, func(t *testing.T) {
			o := Options{Recipients: []string{"n@example.jp"}, Keys: staticKeys{e}, Preset: RFC9580,
				Logger: slog.New(slog.DiscardHandler)}
			if mode == "passphrase" {
				o.Keys, o.Mode = missingAll{}, PassphraseWithoutKey
			}
			out, res := rewrite(t, in, o)
			if res.Method != mode {
				t.Fatalf("method %s", res.Method)
			}
			_, parts := leaves(t, out)
			for _, p := range parts {
				if !strings.HasSuffix(p.name, ".pgp") {
					continue
				}
				prompt := func(keys []openpgp.Key, symmetric bool) ([]byte, error) {
					return []byte(res.Passphrase), nil
				}
				md, err := openpgp.ReadMessage(bytes.NewReader(p.body), openpgp.EntityList{e}, prompt, nil)
				if err != nil {
					t.Fatal(err)
				}
				plain, err := io.ReadAll(md.UnverifiedBody)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(plain, inParts[1].body) {
					t.Fatal("plaintext differs")
				}
				if md.LiteralData.FileName != "民生委員名簿.pdf" {
					t.Fatalf("literal name %q", md.LiteralData.FileName)
				}
			}
		})
	}
}

type missingAll struct{}

func (missingAll) ForRecipients(r []string) (openpgp.EntityList, []string, error) { return nil, r, nil }

// A message that is one attachment (no multipart) keeps its headers and
// becomes the .pgp; a plain body without findings passes byte for byte.
func TestSinglePart(t *testing.T) {
	f := newFixture(t)
	head := "From: a@city.example.lg.jp\r\nTo: taro@example.jp\r\nCc: c@example.jp\r\nSubject: =?UTF-8?B?6LOH5paZ?=\r\n" +
		"Date: Tue, 01 Apr 2025 10:00:00 +0900\r\nMessage-ID: <one@city.example.lg.jp>\r\nX-Custom: kept\r\nMIME-Version: 1.0\r\n"
	pdf := []byte("%PDF-1.4 single part\n")
	att := head + "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(pdf) + "\r\n"
	out, res := rewrite(t, []byte(att), f.opts("taro@example.jp"))
	checkHeadersKept(t, []byte(att), out)
	h, parts := leaves(t, out)
	if h.Get("X-Custom") != "kept" || len(parts) != 1 || parts[0].name != "a.pdf.pgp" {
		t.Fatalf("single attachment: %q %v", h.Get("X-Custom"), parts)
	}
	if plain, err := f.taro.Decrypt(parts[0].body, ""); err != nil || !bytes.Equal(plain, pdf) {
		t.Fatalf("decrypt: %v", err)
	}
	if res.Parts[0].OriginalSHA256 != sum(pdf) {
		t.Fatal("proof hash")
	}
	// A boundary longer than RFC 2046 allows is read, and replaced.
	long := strings.Repeat("b", 80)
	lb := head + "Content-Type: multipart/mixed; boundary=\"" + long + "\"\r\n\r\n--" + long +
		"\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n\r\n" +
		string(pdf) + "\r\n--" + long + "--\r\n"
	out, _ = rewrite(t, []byte(lb), f.opts("taro@example.jp"))
	if _, parts = leaves(t, out); len(parts) != 1 || parts[0].name != "a.pdf.pgp" || bytes.Contains(out, []byte(long)) {
		t.Fatalf("long boundary:\n%s", out)
	}
	// Stray characters in base64 (seen from some mailers) are skipped.
	enc := base64.StdEncoding.EncodeToString(pdf)
	damaged := strings.Replace(att, enc, enc[:8]+"!\t"+enc[8:16]+" \r\n"+enc[16:], 1)
	out, _ = rewrite(t, []byte(damaged), f.opts("taro@example.jp"))
	if _, parts = leaves(t, out); len(parts) != 1 {
		t.Fatal("damaged base64")
	}
	if plain, err := f.taro.Decrypt(parts[0].body, ""); err != nil || !bytes.Equal(plain, pdf) {
		t.Fatalf("damaged base64: %q %v", plain, err)
	}
	// A text attachment whose disposition does not parse is still an
	// attachment: encrypted, not passed as a body.
	bad := head + "Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--m\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: attachment; filename=\"住所録.txt\r\n\r\n" +
		"山田太郎 東京都\r\n--m\r\nContent-Type: text/plain\r\nContent-Disposition: inline; filename*0=\"x\r\n\r\n" +
		"鈴木花子 大阪府\r\n--m--\r\n"
	out, _ = rewrite(t, []byte(bad), f.opts("taro@example.jp"))
	if bytes.Contains(out, []byte("山田太郎")) || bytes.Contains(out, []byte("鈴木花子")) || !bytes.Contains(out, []byte("hello")) {
		t.Fatalf("malformed dispositions:\n%s", out)
	}
	// Two Content-Type fields: readers disagree on which counts, so the
	// part leaves encrypted whatever it is.
	dup := head + "Content-Type: text/plain\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n" +
		"Content-Type: text/csv\r\nContent-Disposition: attachment; filename=a.csv\r\n\r\n山田太郎,東京都\r\n--m--\r\n"
	out, _ = rewrite(t, []byte(dup), f.opts("taro@example.jp"))
	if bytes.Contains(out, []byte("山田太郎")) {
		t.Fatalf("duplicate Content-Type:\n%s", out)
	}
	body := head + "Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\x1b$B$3$s$K$A$O\x1b(B\r\n"
	out, res = rewrite(t, []byte(body), f.opts("taro@example.jp"))
	if !bytes.HasSuffix(out, []byte(body[len(head):])) || res.Method != "none" {
		t.Fatalf("plain body changed:\n%s", out)
	}
}
