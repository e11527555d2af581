package inspect

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dlpguard/mimemsg"
)

// TestTreeAsSplit: the tree the walker records is the list mimemsg.Split
// makes of the same bytes, for every sample message of the project and for
// the odd structures below (release compares the two, 3.3.5).
func TestTreeAsSplit(t *testing.T) {
	var files []string
	for _, dir := range []string{"testdata", filepath.Join("..", "testdata"), filepath.Join("..", "redteam")} {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".eml") {
				files = append(files, p)
			}
			return nil
		})
	}
	if len(files) < 40 {
		t.Fatalf("only %d sample messages found", len(files))
	}
	cases := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cases[f] = b
	}
	for name, raw := range map[string]string{
		"single":             "Subject: a\r\n\r\nbody\r\n",
		"no header end":      "Subject: a\r\nnot a field line\r\nbody\r\n",
		"nested":             "Content-Type: multipart/mixed; boundary=a\r\n\r\npre\r\n--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b--\r\n--a\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--a--\r\nepilogue 123\r\n",
		"missing final":      "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\nx\r\n--a\r\nContent-Disposition: attachment; filename=\"b.txt\"\r\n\r\ny\r\n",
		"boundary not found": "Content-Type: multipart/mixed; boundary=zz\r\n\r\njust text\r\n",
		"no boundary":        "Content-Type: multipart/mixed\r\n\r\njust text\r\n",
		"encrypted":          "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=e\r\n\r\n--e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--e\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nplain\r\n--x--\r\n--e--\r\n",
		"signed":             "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=s\r\n\r\n--s\r\nContent-Type: text/plain\r\n\r\nsigned text\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\nsig\r\n--s--\r\n",
		"digest":             "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: in\r\n\r\ninner\r\n--d--\r\n",
		"inline rfc822":      "Content-Type: message/rfc822\r\n\r\nSubject: in\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nx\r\n--q--\r\n",
	} {
		cases[name] = []byte(raw)
	}
	for name, raw := range cases {
		res, err := Message(context.Background(), bytes.NewReader(raw), Limits{}, nil)
		if err != nil {
			t.Errorf("%s: inspect: %v", name, err)
			continue
		}
		split, err := mimemsg.Split(context.Background(), bytes.NewReader(raw), mimemsg.Limits{})
		if err != nil {
			t.Errorf("%s: split: %v", name, err)
			continue
		}
		if !res.TreeComplete || len(res.Tree) == 0 {
			t.Errorf("%s: tree incomplete (%d entries)", name, len(res.Tree))
		}
		if m := mimemsg.Compare(split, res.Tree); m != nil {
			t.Errorf("%s: %v\ninspect: %+v\nsplit:   %+v", name, m, res.Tree, split)
		}
	}
	// The root's body hash covers everything after the header.
	raw := cases["nested"]
	res, _ := Message(context.Background(), bytes.NewReader(raw), Limits{}, nil)
	if len(res.Tree) != 5 || res.Tree[0].Path != "1" || res.Tree[4].Path != "1.2" || res.Tree[4].Type != "application/pdf" ||
		res.Tree[2].Path != "1.1.1" || res.Tree[0].Size != int64(len(raw)-bytes.Index(raw, []byte("\r\n\r\n"))-4) {
		t.Errorf("nested tree: %+v", res.Tree)
	}
}
