package archive

import (
	"bytes"
	"io"
	"testing"
	"unicode/utf8"
)

// FuzzArchive opens any bytes as each supported type, lists them and reads
// every member (bounded): no panic, no hang, valid UTF-8 names.
func FuzzArchive(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzArchive, the generated archives.
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range []string{"application/zip", "application/gzip", "application/x-tar", "application/octet-stream"} {
			a, err := OpenWith(bytes.NewReader(data), int64(len(data)), typ, Options{Name: "x.gz", MaxRatio: 100})
			if err != nil {
				continue
			}
			es, _ := a.Entries(64)
			for i, e := range es {
				if !utf8.ValidString(e.Name) {
					t.Errorf("%s: entry %d name %q is not UTF-8", typ, i, e.Name)
				}
				rc, err := a.Open(i)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
				rc.Close()
			}
		}
	})
}
