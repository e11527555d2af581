package release_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"dlpguard/keyring"
	"dlpguard/release"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Releasing a held message: every attachment encrypted for the recipient's
// key from the keyring; the proof lists what was sent.
func Example() {
	dir, _ := os.MkdirTemp("", "keys")
	defer os.RemoveAll(dir)
	kr, _ := keyring.Open(dir, slog.New(slog.DiscardHandler))
	e, _ := openpgp.NewEntity("Taro", "", "taro@example.jp", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	var pub bytes.Buffer
	e.Serialize(&pub)
	kr.Import(&pub)

	msg := "From: sato@city.example.lg.jp\r\nTo: taro@example.jp\r\nSubject: list\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--b\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=\"名簿.csv\"\r\n\r\nname,address\r\n--b--\r\n"
	var out bytes.Buffer
	res, err := release.Rewrite(context.Background(), &out, strings.NewReader(msg), release.Options{
		Recipients: []string{"taro@example.jp"},
		Keys:       kr,
		Mode:       release.RefuseWithoutKey,
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Method)
	for _, p := range res.Parts {
		fmt.Printf("%s %s %q\n", p.Kind, p.Action, p.SentName)
	}
	_, err = release.Rewrite(context.Background(), &out, strings.NewReader(msg), release.Options{
		Recipients: []string{"taro@example.jp", "nokey@example.org"}, Keys: kr, Logger: slog.New(slog.DiscardHandler)})
	fmt.Println(err)
	// Output:
	// public-key
	// body unchanged ""
	// attachment encrypted "名簿.csv.pgp"
	// release: no usable OpenPGP key for nokey@example.org
}
