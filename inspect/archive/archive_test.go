package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// files holds the archives made by testdata/gen/gen.sh (see
// inspect/testdata/files/README.md for what is in each).
const files = "../testdata/files"

func load(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(files, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func open(t testing.TB, name, typ string) Archive {
	t.Helper()
	b := load(t, name)
	a, err := OpenWith(bytes.NewReader(b), int64(len(b)), typ, Options{Name: filepath.Base(name)})
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	return a
}

func readEntry(t testing.TB, a Archive, i int) (string, error) {
	t.Helper()
	rc, err := a.Open(i)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	return string(b), err
}

const memo = "個人番号 123456789018\r\n"

func TestArchives(t *testing.T) {
	type entry struct {
		name      string
		dir       bool
		encrypted bool
		content   string // "" = not checked
	}
	tests := []struct {
		file, typ string
		entries   []entry
	}{
		{"archive/plain.zip", "application/zip", []entry{
			{name: "readme.txt", content: "readme: no personal data\n"},
			{name: "資料/", dir: true},
			{name: "資料/名簿.xlsx"},
			{name: "資料/メモ.txt", content: memo},
		}},
		{"archive/zipcrypto.zip", "application/zip", []entry{
			{name: "資料/メモ.txt", encrypted: true},
			{name: "readme.txt", encrypted: true},
		}},
		{"archive/aes256.zip", "application/zip", []entry{
			{name: "資料/メモ.txt", encrypted: true},
		}},
		// Names in CP932 without the UTF-8 flag; 表 is 0x95 0x5C, whose
		// second byte is '\' in ASCII.
		{"archive/cp932.zip", "application/zip", []entry{
			{name: "名簿.txt", content: "マイナンバー 176749365367\n"},
			{name: "申請書/", dir: true},
			{name: "申請書/表紙.txt", content: "表紙\n"},
		}},
		{"archive/stored-xlsx.zip", "application/zip", []entry{
			{name: "名簿.xlsx"},
		}},
		{"archive/plain.tar", "application/x-tar", []entry{
			{name: "readme.txt", content: "readme: no personal data\n"},
			{name: "資料/", dir: true},
			{name: "資料/メモ.txt", content: memo},
			{name: "資料/名簿.xlsx"},
		}},
		// A tar.gz is opened as its tar.
		{"archive/plain.tar.gz", "application/gzip", []entry{
			{name: "readme.txt", content: "readme: no personal data\n"},
			{name: "資料/", dir: true},
			{name: "資料/メモ.txt", content: memo},
			{name: "資料/名簿.xlsx"},
		}},
		// A lone gzip: one member, named from the gzip header.
		{"archive/memo.txt.gz", "application/gzip", []entry{
			{name: "memo.txt", content: memo},
		}},
		// Unknown label: found by content.
		{"archive/plain.zip", "application/octet-stream", []entry{
			{name: "readme.txt"}, {name: "資料/", dir: true}, {name: "資料/名簿.xlsx"}, {name: "資料/メモ.txt"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.typ, func(t *testing.T) {
			a := open(t, tt.file, tt.typ)
			got, err := a.Entries(100)
			if err != nil {
				t.Fatalf("Entries: %v", err)
			}
			if len(got) != len(tt.entries) {
				t.Fatalf("Entries = %+v, want %d", got, len(tt.entries))
			}
			for i, w := range tt.entries {
				g := got[i]
				if g.Name != w.name || g.Dir != w.dir || g.Encrypted != w.encrypted {
					t.Errorf("entry %d = %+v, want %+v", i, g, w)
				}
				if w.encrypted {
					if _, err := a.Open(i); !errors.Is(err, ErrEncrypted) {
						t.Errorf("Open(%d) of an encrypted entry: %v, want ErrEncrypted", i, err)
					}
				}
				if w.content != "" {
					s, err := readEntry(t, a, i)
					if err != nil || s != w.content {
						t.Errorf("entry %s = %q, %v; want %q", w.name, s, err, w.content)
					}
				}
			}
		})
	}
}

// TestStreamOpenOrder opens tar.gz members backwards: each Open restarts
// the stream and must still return the right member.
func TestStreamOpenOrder(t *testing.T) {
	a := open(t, "archive/plain.tar.gz", "application/gzip")
	es, err := a.Entries(-1)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(es) - 1; i >= 0; i-- {
		s, err := readEntry(t, a, i)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if es[i].Name == "資料/メモ.txt" && s != memo {
			t.Errorf("entry %d = %q", i, s)
		}
		if es[i].Name == "資料/名簿.xlsx" && (int64(len(s)) != es[i].Size || !strings.HasPrefix(s, "PK\x03\x04")) {
			t.Errorf("xlsx member: %d bytes, want %d", len(s), es[i].Size)
		}
	}
	if _, err := a.Open(len(es)); !errors.Is(err, ErrBadIndex) {
		t.Errorf("Open past the end: %v", err)
	}
}

func TestNestedZip(t *testing.T) {
	a := open(t, "archive/nested.zip", "application/zip")
	es, _ := a.Entries(10)
	if len(es) != 1 || es[0].Name != "inner.zip" {
		t.Fatalf("entries = %+v", es)
	}
	inner, err := readEntry(t, a, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(strings.NewReader(inner), int64(len(inner)), "application/zip")
	if err != nil {
		t.Fatal(err)
	}
	s, err := readEntry(t, b, 0)
	if err != nil || s != "内側のファイル 個人番号 398259791905\n" {
		t.Errorf("inner.zip/inner.txt = %q, %v", s, err)
	}
}

func TestCorruptZip(t *testing.T) {
	// p031's case: the listing is fine, the member's data is not; the
	// error must come out of the read, never as a quiet short read.
	a := open(t, "archive/corrupt.zip", "application/zip")
	es, err := a.Entries(10)
	if err != nil || len(es) != 1 || es[0].Name != "data.txt" {
		t.Fatalf("entries = %+v, %v", es, err)
	}
	_, err = readEntry(t, a, 0)
	if err == nil {
		t.Fatal("reading a member with broken data gave no error")
	}
}

func TestBombDeclared(t *testing.T) {
	// The caller refuses by ratio before reading; the declared sizes must
	// be there for it.
	a := open(t, "archive/bomb.zip", "application/zip")
	es, err := a.Entries(10)
	if err != nil || len(es) != 1 {
		t.Fatalf("entries = %+v, %v", es, err)
	}
	if es[0].Size != 20<<20 || es[0].CompressedSize <= 0 || es[0].Size/es[0].CompressedSize < 1000 {
		t.Errorf("bomb entry = %+v, want 20 MiB at a ratio over 1000", es[0])
	}
	// And a bounded read stops where the caller says.
	rc, err := a.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
	if err != nil || n != 1<<20 {
		t.Errorf("bounded read = %d, %v", n, err)
	}
}

func TestTooManyEntries(t *testing.T) {
	for _, tc := range []struct{ file, typ string }{
		{"archive/plain.zip", "application/zip"},
		{"archive/plain.tar", "application/x-tar"},
		{"archive/plain.tar.gz", "application/gzip"},
	} {
		a := open(t, tc.file, tc.typ)
		es, err := a.Entries(2)
		if !errors.Is(err, ErrTooManyEntries) || len(es) != 2 {
			t.Errorf("%s: Entries(2) = %d entries, %v; want 2 and ErrTooManyEntries", tc.file, len(es), err)
		}
	}
}

func TestUnsupported(t *testing.T) {
	for _, tt := range []struct {
		file, typ, format string
		encrypted         bool
	}{
		{"archive/plain.7z", "application/x-7z-compressed", "7z", false},
		{"archive/encrypted-headers.7z", "application/x-7z-compressed", "7z", true},
		{"archive/plain.7z", "application/zip", "7z", false}, // a 7z named .zip
		{"archive/memo.lzh", "application/octet-stream", "lzh", false},
		{"archive/memo.cab", "application/vnd.ms-cab-compressed", "cab", false},
	} {
		b := load(t, tt.file)
		_, err := Open(bytes.NewReader(b), int64(len(b)), tt.typ)
		var ue *UnsupportedError
		if !errors.As(err, &ue) || !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: error = %v, want UnsupportedError", tt.file, err)
			continue
		}
		if ue.Format != tt.format || ue.HeaderEncrypted != tt.encrypted {
			t.Errorf("%s: %+v, want format %s encrypted %v", tt.file, ue, tt.format, tt.encrypted)
		}
		if f, ok := IsUnsupported(err); !ok || f != tt.format {
			t.Errorf("IsUnsupported = %q, %v", f, ok)
		}
	}
	// RAR signatures (no free RAR writer: the headers are built here, per
	// the RAR 4 and RAR 5 technical notes).
	for _, tt := range []struct {
		name      string
		data      []byte
		encrypted bool
	}{
		{"rar4", []byte("Rar!\x1a\x07\x00\x00\x00\x73\x00\x00\x0d\x00\x00\x00\x00\x00\x00\x00"), false},
		{"rar4 -hp", []byte("Rar!\x1a\x07\x00\x00\x00\x73\x80\x00\x0d\x00\x00\x00\x00\x00\x00\x00"), true},
		{"rar5", []byte("Rar!\x1a\x07\x01\x00\x00\x00\x00\x00\x0a\x01\x05\x00\x00\x00"), false},
		{"rar5 -hp", []byte("Rar!\x1a\x07\x01\x00\x00\x00\x00\x00\x0a\x04\x00\x00\x00\x00"), true},
	} {
		_, err := Open(bytes.NewReader(tt.data), int64(len(tt.data)), "application/x-rar-compressed")
		var ue *UnsupportedError
		if !errors.As(err, &ue) || ue.Format != "rar" || ue.HeaderEncrypted != tt.encrypted {
			t.Errorf("%s: %v (%+v)", tt.name, err, ue)
		}
	}
}

func TestNotArchive(t *testing.T) {
	for _, data := range []string{"", "hello, world", strings.Repeat("x", 600)} {
		if _, err := Open(strings.NewReader(data), int64(len(data)), "text/plain"); !errors.Is(err, ErrNotArchive) {
			t.Errorf("Open(%q…) = %v, want ErrNotArchive", data[:min(len(data), 10)], err)
		}
	}
	if _, err := Open(strings.NewReader("not a zip"), 9, "application/zip"); err == nil {
		t.Error("a non-zip labelled zip opened")
	}
}

func TestGzipNames(t *testing.T) {
	mk := func(hdrName string) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Name = hdrName
		zw.Write([]byte("氏名,個人番号\n"))
		zw.Close()
		return buf.Bytes()
	}
	for _, tt := range []struct{ hdr, outer, want string }{
		{"", "名簿.csv.gz", "名簿.csv"},
		{"", "backup.tgz", "backup.tar"},
		{"", "", "data"},
		{"dir/x.csv", "y.gz", "x.csv"},
		// CP932 bytes in the header as a Japanese Windows tool writes them
		// (compress/gzip hands them over as Latin-1).
		{"\x96\xbc\x95\xeb.csv", "a.gz", "名簿.csv"},
		// UTF-8 bytes, as gzip on Linux writes them.
		{"\xe5\x90\x8d\xe7\xb0\xbf.csv", "a.gz", "名簿.csv"},
	} {
		b := mk(latin1(tt.hdr))
		a, err := OpenWith(bytes.NewReader(b), int64(len(b)), "application/gzip", Options{Name: tt.outer})
		if err != nil {
			t.Fatal(err)
		}
		es, _ := a.Entries(1)
		if len(es) != 1 || es[0].Name != tt.want {
			t.Errorf("gzip %q in %q: entries %+v, want %q", tt.hdr, tt.outer, es, tt.want)
		}
	}
}

// latin1 maps raw bytes to the string compress/gzip's Writer wants (it
// writes Latin-1).
func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

func TestGzipRatio(t *testing.T) {
	// A tar.gz that inflates past the listing bound stops with ErrRatio.
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	tw.WriteHeader(&tar.Header{Name: "zeros.bin", Mode: 0o644, Size: 8 << 20, Typeflag: tar.TypeReg})
	tw.Write(make([]byte, 8<<20))
	tw.WriteHeader(&tar.Header{Name: "after.txt", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.Close()
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(tarBuf.Bytes())
	zw.Close()
	a, err := OpenWith(bytes.NewReader(gz.Bytes()), int64(gz.Len()), "application/gzip", Options{MaxRatio: 10})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Entries(100)
	if !errors.Is(err, ErrRatio) {
		t.Errorf("Entries = %v, want ErrRatio", err)
	}
}

func TestZipUnicodePathExtra(t *testing.T) {
	// Info-ZIP's Unicode Path field (0x7075) names the entry when the raw
	// name is in some other code page.
	raw := "\x96\xbc\x95\xeb.txt" // 名簿.txt in CP932
	want := "別名.txt"
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	extra := []byte{0x75, 0x70, 0, 0, 1, 0, 0, 0, 0}
	extra = append(extra, want...)
	extra[2] = byte(len(extra) - 4)
	crc := crc32IEEE([]byte(raw))
	extra[5], extra[6], extra[7], extra[8] = byte(crc), byte(crc>>8), byte(crc>>16), byte(crc>>24)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: raw, Method: zip.Store, Extra: extra, NonUTF8: true})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	zw.Close()
	a, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "application/zip")
	if err != nil {
		t.Fatal(err)
	}
	es, _ := a.Entries(1)
	if len(es) != 1 || es[0].Name != want {
		t.Errorf("entries = %+v, want %q", es, want)
	}
}

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
