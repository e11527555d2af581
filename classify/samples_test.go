package classify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"

	"dlpguard/inspect"
)

type sampleLabel struct {
	File         string  `json:"file"`
	MyNumber     int     `json:"my_number"`
	Level        *string `json:"level"`
	Marking      *string `json:"marking"`
	PersonalList bool    `json:"personal_list"`
	Note         string  `json:"note"`
}

func readLabels(t *testing.T) []sampleLabel {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "samples", "labels.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sampleLabel
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var l sampleLabel
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	if len(out) < 40 {
		t.Fatalf("only %d labels", len(out))
	}
	return out
}

// checkLabel compares a report with a sample's label: the My Number
// count, the personal list, the strongest marking and the level.
func checkLabel(t *testing.T, l sampleLabel, rep Report) {
	t.Helper()
	js, _ := json.Marshal(rep)
	got := 0
	if f := rep.Find(MyNumber); f != nil {
		got = f.Count
		if l.MyNumber > 0 && f.Confidence == Low {
			t.Errorf("%s: my_number confidence low", l.File)
		}
	}
	if got != l.MyNumber {
		t.Errorf("%s (%s): my_number count %d, want %d\n%s", l.File, l.Note, got, l.MyNumber, js)
	}
	if pl := rep.Find(PersonalList) != nil; pl != l.PersonalList {
		t.Errorf("%s (%s): personal_list %v, want %v\n%s", l.File, l.Note, pl, l.PersonalList, js)
	}
	var mk *string
	if f := rep.Find(Marking); f != nil && f.Level != LevelIII {
		s := string(f.Level)
		mk = &s
	}
	if (mk == nil) != (l.Marking == nil) || (mk != nil && *mk != *l.Marking) {
		t.Errorf("%s (%s): marking %v, want %v\n%s", l.File, l.Note, deref(mk), deref(l.Marking), js)
	}
	if l.Level != nil && string(rep.Level) != *l.Level {
		t.Errorf("%s (%s): level %s, want %s\n%s", l.File, l.Note, rep.Level, *l.Level, js)
	}
	assertMasked(t, rep, nil)
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// TestSamplesInspect runs every sample through inspect into a Scanner.
func TestSamplesInspect(t *testing.T) {
	c := mustNew(t, Config{})
	for _, l := range readLabels(t) {
		t.Run(l.File, func(t *testing.T) {
			f, err := os.Open(filepath.Join("..", "testdata", "samples", l.File))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s := c.NewScanner()
			res, err := inspect.Message(context.Background(), f, inspect.DefaultLimits(), s)
			if err != nil {
				t.Fatal(err)
			}
			s.Headers(res.Header.Raw)
			checkLabel(t, l, s.Report())
		})
	}
}

// handSamples are the samples whose readable text is in text parts (no
// office, PDF or archive attachments): decoded here without inspect.
var handSkip = map[string]string{
	"p007_mynumber.eml": "docx", "p008_mynumber.eml": "zip", "p009_mynumber.eml": "docx",
	"p017_personal_list.eml": "xlsx", "p018_personal_list.eml": "pdf", "p027_encrypted.eml": "zip",
	"p028_encrypted.eml": "pdf", "p029_encrypted.eml": "smime", "p031_bad_input.eml": "zip",
}

// TestSamplesHand decodes the text parts of the samples itself (mime,
// quoted-printable, x/text charsets) so that the detectors are tested on
// the real texts independently of inspect.
func TestSamplesHand(t *testing.T) {
	c := mustNew(t, Config{})
	n := 0
	for _, l := range readLabels(t) {
		if handSkip[l.File] != "" {
			continue
		}
		n++
		t.Run(l.File, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "testdata", "samples", l.File))
			if err != nil {
				t.Fatal(err)
			}
			chunks := handExtract(t, raw)
			if len(chunks) == 0 {
				t.Fatal("no text extracted")
			}
			s := c.NewScanner()
			for _, ch := range chunks {
				s.Chunk(ch)
			}
			checkLabel(t, l, s.Report())
		})
	}
	if n < 30 {
		t.Fatalf("only %d samples checked", n)
	}
}

func decodeCharset(b []byte, cs string) string {
	if cs != "" {
		if e, err := htmlindex.Get(cs); err == nil {
			if out, err := e.NewDecoder().Bytes(b); err == nil {
				return string(out)
			}
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func wordDecoder() *mime.WordDecoder {
	return &mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
		e, err := htmlindex.Get(cs)
		if err != nil {
			return nil, err
		}
		return e.NewDecoder().Reader(r), nil
	}}
}

func handExtract(t *testing.T, raw []byte) []inspect.Chunk {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	wd := wordDecoder()
	var out []inspect.Chunk
	if subj, err := wd.DecodeHeader(m.Header.Get("Subject")); err == nil && subj != "" {
		out = append(out, inspect.Chunk{Location: "subject", Kind: inspect.KindSubject, Text: subj})
	}
	for _, h := range []string{"Message-Id", "References"} {
		if v := m.Header.Get(h); v != "" {
			out = append(out, inspect.Chunk{Location: "header:" + h, Kind: inspect.KindHeader, Text: v})
		}
	}
	var walk func(h mail.Header, body io.Reader)
	walk = func(h mail.Header, body io.Reader) {
		mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
		if err != nil {
			mt, params = "text/plain", map[string]string{}
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err != nil {
					return
				}
				walk(mail.Header(p.Header), p)
			}
		}
		var r io.Reader = body
		switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
		case "base64":
			r = newB64(body)
		case "quoted-printable":
			r = quotedprintable.NewReader(body)
		}
		data, _ := io.ReadAll(r)
		name := ""
		if _, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil {
			name = dp["filename"]
		}
		if name == "" {
			name = params["name"]
		}
		if dn, err := wd.DecodeHeader(name); err == nil {
			name = dn
		}
		loc, kind := "body", inspect.KindBody
		if name != "" {
			loc, kind = "attachment:"+name, inspect.KindAttachment
			out = append(out, inspect.Chunk{Location: loc, Kind: inspect.KindFileName, Text: name})
		}
		if !strings.HasPrefix(mt, "text/") {
			return
		}
		text := decodeCharset(data, params["charset"])
		if !utf8.ValidString(text) {
			text = strings.ToValidUTF8(text, "\uFFFD")
		}
		out = append(out, inspect.Chunk{Location: loc, Kind: kind, Table: mt == "text/csv", Text: text})
	}
	walk(m.Header, m.Body)
	return out
}

// newB64 decodes base64 that may span lines.
func newB64(r io.Reader) io.Reader {
	data, _ := io.ReadAll(r)
	clean := bytes.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, data)
	return bytesB64(clean)
}
