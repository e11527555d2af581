package inspect

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// msg builds a multipart/mixed message from parts (header block, body).
func msg(parts ...[2]string) []byte {
	var b bytes.Buffer
	b.WriteString("From: a@example.com\r\nSubject: limits\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"LIM\"\r\n\r\n")
	for _, p := range parts {
		b.WriteString("--LIM\r\n" + p[0] + "\r\n" + p[1] + "\r\n")
	}
	b.WriteString("--LIM--\r\n")
	return b.Bytes()
}

func textPart(s string) [2]string {
	return [2]string{"Content-Type: text/plain; charset=utf-8\r\n", s}
}

func b64Attachment(name string, data []byte) [2]string {
	enc := base64.StdEncoding.EncodeToString(data)
	var lines strings.Builder
	for len(enc) > 76 {
		lines.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	lines.WriteString(enc)
	return [2]string{"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\nContent-Transfer-Encoding: base64\r\n", lines.String()}
}

func zipOf(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func run(t *testing.T, raw []byte, lim Limits) (*Result, *collect) {
	t.Helper()
	var c collect
	res, err := Message(context.Background(), bytes.NewReader(raw), lim, &c)
	if err != nil {
		t.Fatal(err)
	}
	return res, &c
}

func TestLimits(t *testing.T) {
	small := func(f func(*Limits)) Limits {
		l := DefaultLimits()
		f(&l)
		return l
	}
	t.Run("MaxParts", func(t *testing.T) {
		var parts [][2]string
		for i := 0; i < 50; i++ {
			parts = append(parts, textPart(fmt.Sprintf("part %d", i)))
		}
		res, _ := run(t, msg(parts...), small(func(l *Limits) { l.MaxParts = 10 }))
		if !res.Incomplete || !hasProblem(res, "MaxParts") || len(res.Parts) > 10 {
			t.Errorf("%d parts, problems %q", len(res.Parts), res.Problems)
		}
	})
	t.Run("MaxDepth", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("Subject: deep\r\n")
		for i := 0; i < 200; i++ {
			fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"d%d\"\r\n\r\n--d%d\r\n", i, i)
		}
		b.WriteString("Content-Type: text/plain\r\n\r\ndeep text\r\n")
		res, col := run(t, []byte(b.String()), small(func(l *Limits) { l.MaxDepth = 5 }))
		if !res.Incomplete || !hasProblem(res, "MaxDepth") || strings.Contains(col.text(""), "deep text") {
			t.Errorf("problems %q text %q", res.Problems, col.text(""))
		}
	})
	t.Run("MaxPartBytes", func(t *testing.T) {
		big := bytes.Repeat([]byte("0123456789abcdef"), 100<<10) // 1.6 MB
		res, col := run(t, msg(b64Attachment("big.txt", big), textPart("after the big one")), small(func(l *Limits) { l.MaxPartBytes = 1 << 20 }))
		p := findPart(res, "big.txt")
		if p == nil || p.Inspected || !strings.Contains(p.Reason, "MaxPartBytes") || !res.Incomplete {
			t.Errorf("big part: %s", dumpParts(res))
		}
		if !strings.Contains(col.text("body"), "after the big one") {
			t.Error("the part after an over-limit part was not read")
		}
	})
	t.Run("MaxDecodedBytes", func(t *testing.T) {
		half := bytes.Repeat([]byte("x"), 600<<10)
		res, _ := run(t, msg(b64Attachment("a.txt", half), b64Attachment("b.txt", half)), small(func(l *Limits) { l.MaxDecodedBytes = 1 << 20 }))
		a, b := findPart(res, "a.txt"), findPart(res, "b.txt")
		if a == nil || !a.Inspected || b == nil || b.Inspected || !hasProblem(res, "MaxDecodedBytes") {
			t.Errorf("decoded limit: %s", dumpParts(res))
		}
	})
	t.Run("MaxTextBytes", func(t *testing.T) {
		long := strings.Repeat("あいうえお", 20<<10) // 300 KB
		res, col := run(t, msg(textPart(long)), small(func(l *Limits) { l.MaxTextBytes = 100 << 10 }))
		if res.TextBytes > 100<<10 || !res.Incomplete || !hasProblem(res, "MaxTextBytes") {
			t.Errorf("TextBytes %d problems %q", res.TextBytes, res.Problems)
		}
		for _, ch := range col.chunks {
			if !validUTF8(ch.Text) {
				t.Error("cut inside a character")
			}
		}
	})
	t.Run("MaxHeaderBytes", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("Subject: big header\r\n")
		for i := 0; i < 5000; i++ {
			fmt.Fprintf(&b, "X-Filler-%d: %s\r\n", i, strings.Repeat("y", 60))
		}
		b.WriteString("\r\nbody after a huge header 123\r\n")
		res, col := run(t, []byte(b.String()), small(func(l *Limits) { l.MaxHeaderBytes = 16 << 10 }))
		if !hasProblem(res, "MaxHeaderBytes") || !res.Incomplete || !strings.Contains(col.text("body"), "body after a huge header") {
			t.Errorf("problems %q text %q", res.Problems, col.text("body"))
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		// A deadline already past: reported, not an error.
		res, _ := run(t, msg(textPart("x")), small(func(l *Limits) { l.Timeout = time.Nanosecond }))
		if !res.Incomplete || !hasProblem(res, "timed out") {
			t.Errorf("timeout: %q", res.Problems)
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res, err := Message(ctx, bytes.NewReader(msg(textPart("x"))), DefaultLimits(), nil)
		if !errors.Is(err, context.Canceled) || res == nil || !res.Incomplete {
			t.Errorf("cancelled ctx: %v %+v", err, res)
		}
	})
	t.Run("ZipBomb", func(t *testing.T) {
		// 64 MiB of zeros deflate to ~64 KiB: ratio ~1000.
		z := zipOf(t, map[string][]byte{"zeros.bin": make([]byte, 64<<20), "ok.txt": []byte("fine 42")})
		res, col := run(t, msg(b64Attachment("bomb.zip", z)), DefaultLimits())
		m := findPart(res, "bomb.zip/zeros.bin")
		if m == nil || m.Inspected || !strings.Contains(m.Reason, "compression ratio") || !res.Incomplete {
			t.Errorf("bomb: %s", dumpParts(res))
		}
		if !strings.Contains(col.text(""), "fine 42") {
			t.Error("the other member of the bomb archive was not read")
		}
	})
	t.Run("GzipBomb", func(t *testing.T) {
		// gzip declares no size: the ratio is checked while reading.
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Name = "zeros.txt"
		zw.Write(make([]byte, 64<<20))
		zw.Close()
		res, _ := run(t, msg(b64Attachment("zeros.txt.gz", gz.Bytes())), DefaultLimits())
		bad := false
		for _, p := range res.Parts {
			if strings.Contains(p.Reason, "compression ratio") && !p.Inspected {
				bad = true
			}
		}
		if !bad || !res.Incomplete {
			t.Errorf("gzip bomb: %s", dumpParts(res))
		}
	})
	t.Run("NestedArchives", func(t *testing.T) {
		inner := []byte("innermost 1234")
		for i := 0; i < 6; i++ {
			inner = zipOf(t, map[string][]byte{fmt.Sprintf("l%d.zip", i): inner})
		}
		res, col := run(t, msg(b64Attachment("nest.zip", inner)), small(func(l *Limits) { l.MaxDepth = 4 }))
		if !res.Incomplete || strings.Contains(col.text(""), "innermost") {
			t.Errorf("nesting: %s", dumpParts(res))
		}
		res, col = run(t, msg(b64Attachment("nest.zip", inner)), DefaultLimits())
		if res.Incomplete || !strings.Contains(col.text(""), "innermost 1234") {
			t.Errorf("nesting within limits: %s", dumpParts(res))
		}
	})
	t.Run("MaxArchiveEntries", func(t *testing.T) {
		files := map[string][]byte{}
		for i := 0; i < 30; i++ {
			files[fmt.Sprintf("f%02d.txt", i)] = []byte("x")
		}
		res, _ := run(t, msg(b64Attachment("many.zip", zipOf(t, files))), small(func(l *Limits) { l.MaxArchiveEntries = 10 }))
		p := findPart(res, "many.zip")
		if p == nil || p.Inspected || !strings.Contains(p.Reason, "MaxArchiveEntries") || !res.Incomplete {
			t.Errorf("entries: %s", dumpParts(res))
		}
	})
	t.Run("SpillToDisk", func(t *testing.T) {
		// Over memSpill: buffered in a temp file, read to the end, removed.
		dir := t.TempDir()
		big := append(bytes.Repeat([]byte("data,"), (memSpill+1<<20)/5), []byte("\n末尾 987654321098\n")...)
		res, col := run(t, msg(b64Attachment("big.csv", big)), small(func(l *Limits) { l.TempDir = dir }))
		if p := findPart(res, "big.csv"); p == nil || !p.Inspected || p.Size != int64(len(big)) {
			t.Errorf("big: %s", dumpParts(res))
		}
		if !strings.Contains(col.text(""), "末尾 987654321098") {
			t.Error("end of a spilled part not read")
		}
		left, _ := os.ReadDir(dir)
		if len(left) != 0 {
			t.Errorf("temp files left: %v", left)
		}
	})
}

func hasProblem(res *Result, s string) bool {
	return strings.Contains(strings.Join(res.Problems, "\n"), s)
}

// TestChunks: long texts arrive in chunks of at most chunkSize, cut on rune
// boundaries, that put together give the text back.
func TestChunks(t *testing.T) {
	long := strings.Repeat("個人番号あいう12", 30000) + "END"
	res, col := run(t, msg(textPart(long)), DefaultLimits())
	var b strings.Builder
	n := 0
	for _, ch := range col.chunks {
		if ch.Location != "body" {
			continue
		}
		n++
		if len(ch.Text) > chunkSize+2 || !validUTF8(ch.Text) {
			t.Errorf("chunk of %d bytes, valid=%v", len(ch.Text), validUTF8(ch.Text))
		}
		b.WriteString(ch.Text)
	}
	if n < 5 || !strings.Contains(b.String(), long) {
		t.Errorf("%d chunks; text rebuilt %d bytes of %d", n, b.Len(), len(long))
	}
	if res.TextBytes < int64(len(long)) {
		t.Errorf("TextBytes %d", res.TextBytes)
	}
}

// TestFileEntry: File reads an upload by content, whatever its name.
func TestFileEntry(t *testing.T) {
	var c collect
	res, err := File(context.Background(), "report.bin", strings.NewReader("氏名,個人番号\n山田,123456789012\n"), DefaultLimits(), &c)
	if err != nil {
		t.Fatal(err)
	}
	p := findPart(res, "report.bin")
	if p == nil || !p.Inspected || p.Type != "text/csv" || !tableAt(&c, "attachment:report.bin") {
		t.Errorf("%s", dumpParts(res))
	}
	// A forwarded message sent as a plain file, alone and inside a ZIP.
	eml := []byte("From: x@example.com\r\nTo: y@example.com\r\nSubject: =?UTF-8?B?56eY?=\r\nMessage-ID: <1@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n中の本文 123456789012\r\n")
	for _, c := range []struct {
		name string
		data []byte
		loc  string
	}{
		{"old.bin", eml, "attachment:old.bin"},
		{"mails.zip", zipOf(t, map[string][]byte{"old.eml": eml}), "attachment:mails.zip/old.eml"},
	} {
		var c2 collect
		res, err := File(context.Background(), c.name, bytes.NewReader(c.data), DefaultLimits(), &c2)
		if err != nil || res.Incomplete || !strings.Contains(c2.text(c.loc), "中の本文 123456789012") || !strings.Contains(c2.text(c.loc), "秘") {
			t.Errorf("%s: %v %q %s", c.name, err, c2.text(""), dumpParts(res))
		}
	}
	// A CSV carried in HTML as a data: URI is read; an inline image is media.
	csv := base64.StdEncoding.EncodeToString([]byte("氏名,個人番号\n山田,123456789012\n"))
	html := `<p>see <a href="data:text/csv;base64,` + csv + `">list</a><img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="></p>`
	var c4 collect
	res, err = File(context.Background(), "page.html", strings.NewReader(html), DefaultLimits(), &c4)
	if err != nil || !strings.Contains(c4.text("attachment:page.html/data-uri-1.csv"), "山田,123456789012") {
		t.Errorf("data: URI: %q %s", c4.text(""), dumpParts(res))
	}
	if p := findPart(res, "page.html/data-uri-2.png"); p == nil || !p.Media || res.Incomplete {
		t.Errorf("data: image: %s", dumpParts(res))
	}
	// Text that mimetype takes for a message, but whose "header" is data.
	var c3 collect
	res, err = File(context.Background(), "note.txt", strings.NewReader("Date: 2026/06/01\nName: 山田太郎\nMyNumber: 123456789012\n\nmemo\n"), DefaultLimits(), &c3)
	if err != nil || !strings.Contains(c3.text(""), "MyNumber: 123456789012") {
		t.Errorf("header-like text not read as text: %q %s", c3.text(""), dumpParts(res))
	}
	res, err = File(context.Background(), "blob", bytes.NewReader([]byte{0, 1, 2, 3, 0xff, 0xfe, 7, 8, 0, 0, 9}), DefaultLimits(), nil)
	if err != nil || !res.Incomplete || res.Parts[0].Inspected {
		t.Errorf("unknown binary: %v %s", err, dumpParts(res))
	}
}

// errAfter fails reading after n bytes.
type errAfter struct {
	r io.Reader
}

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, errors.New("disk on fire")
	}
	return n, err
}

func TestReadError(t *testing.T) {
	_, err := Message(context.Background(), &errAfter{bytes.NewReader(msg(textPart("x")))}, DefaultLimits(), nil)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("read error not returned: %v", err)
	}
}

// TestFailClosed: what cannot be read is reported, never passed as read.
func TestFailClosed(t *testing.T) {
	t.Run("reader panic", func(t *testing.T) {
		w, cancel := newWalker(context.Background(), DefaultLimits(), nil)
		defer cancel()
		p := Part{Name: "x.pdf", Type: "application/pdf", Inspected: true}
		w.guard(&p, func() { panic("bad reader") })
		if p.Inspected || !strings.Contains(p.Reason, "bad reader") {
			t.Errorf("%+v", p)
		}
	})
	t.Run("broken multipart/encrypted", func(t *testing.T) {
		raw := "Subject: e\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=e\r\n\r\n--e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--e--\r\n"
		res, _ := run(t, []byte(raw), DefaultLimits())
		if p := findPart(res, "encrypted.asc"); p == nil || !p.Encrypted || !res.Incomplete {
			t.Errorf("%s", dumpParts(res))
		}
	})
	t.Run("legacy office and unknown binary", func(t *testing.T) {
		ole := append([]byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}, make([]byte, 1024)...)
		res, _ := run(t, msg(b64Attachment("old.doc", ole), b64Attachment("x.lzh", []byte("\x00\x01-lh5-garbage\x00\x00\x00"))), DefaultLimits())
		for _, n := range []string{"old.doc", "x.lzh"} {
			if p := findPart(res, n); p == nil || p.Inspected || p.Reason == "" {
				t.Errorf("%s: %+v", n, p)
			}
		}
		if !res.Incomplete {
			t.Error("not Incomplete")
		}
	})
	t.Run("x-uuencode transfer encoding", func(t *testing.T) {
		body := "begin 644 a.txt\r\n" + uuLine([]byte("uu 123456789012")) + "`\r\nend\r\n"
		res, col := run(t, msg([2]string{"Content-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\nContent-Transfer-Encoding: x-uuencode\r\n", body}), DefaultLimits())
		if !strings.Contains(col.text("attachment:a.txt"), "uu 123456789012") || res.Incomplete {
			t.Errorf("%q %s", col.text(""), dumpParts(res))
		}
	})
	t.Run("message/partial", func(t *testing.T) {
		res, _ := run(t, msg([2]string{"Content-Type: message/partial; id=\"x\"; number=1; total=2\r\n", "Subject: part\r\n\r\nhalf"}), DefaultLimits())
		n := 0
		for _, p := range res.Parts {
			if p.Type == "message/partial" && !p.Inspected {
				n++
			}
		}
		if n != 1 || !res.Incomplete {
			t.Errorf("%s", dumpParts(res))
		}
	})
}

// TestHostileHeaders: header values built to make a naive parser quadratic
// are read in linear time (the test finishing is the check; it has no
// timing assertion).
func TestHostileHeaders(t *testing.T) {
	big := func(unit string) string { return strings.Repeat(unit, (900<<10)/len(unit)) }
	for name, v := range map[string]string{
		"encoded-word starts": big("=?a?B?"),
		"charset starts":      big("=?abc"),
		"params":              big("a;"),
		"quoted params":       big(`a="x"`),
		"angle brackets":      big("<"),
	} {
		raw := "Subject: " + v + "\r\nTo: " + v + "\r\nContent-Type: text/plain; " + v + "\r\nContent-Disposition: attachment; " + v + "\r\n\r\nbody\r\n"
		res, _ := run(t, []byte(raw), DefaultLimits())
		if len(res.Parts) != 1 {
			t.Errorf("%s: %s", name, dumpParts(res))
		}
	}
}

// uuLine encodes up to 45 bytes as one uuencoded line.
func uuLine(b []byte) string {
	out := []byte{byte(32 + len(b))}
	for i := 0; i < len(b); i += 3 {
		var c [3]byte
		copy(c[:], b[i:])
		for _, v := range []byte{c[0] >> 2, (c[0]&3)<<4 | c[1]>>4, (c[1]&15)<<2 | c[2]>>6, c[2] & 63} {
			if v == 0 {
				out = append(out, '`')
			} else {
				out = append(out, 32+v)
			}
		}
	}
	return string(out) + "\r\n"
}

// TestMultipartEdges: an inner boundary that starts with the outer one, a
// boundary line with trailing white space, bare LF line ends, and a
// preamble and epilogue that are hidden by clients but scanned.
func TestMultipartEdges(t *testing.T) {
	raw := "Subject: edges\nContent-Type: multipart/mixed; boundary=a\n\npreamble 111111111111\n--a \n" +
		"Content-Type: multipart/alternative; boundary=a-b\n\n--a-b\nContent-Type: text/plain\n\ninner text\n--a-b--\n" +
		"--a\nContent-Type: text/plain\n\nouter text\n--a--\nepilogue 222222222222\n"
	res, col := run(t, []byte(raw), DefaultLimits())
	body := col.text("body")
	if !strings.Contains(body, "inner text") || !strings.Contains(body, "outer text") || res.Incomplete {
		t.Errorf("%q %s", body, dumpParts(res))
	}
	// Decision (red team): the preamble and epilogue are hidden by clients
	// but leave with the message, so they are scanned as body text, each
	// as its own paragraph (never glued to a part's text).
	for _, s := range []string{"\n\npreamble 111111111111", "\n\nepilogue 222222222222"} {
		if !strings.Contains(body, s) {
			t.Errorf("preamble or epilogue not scanned apart (%q): %q", s, body)
		}
	}
	if strings.Contains(body, "--a") {
		t.Errorf("boundary in text: %q", body)
	}
}
