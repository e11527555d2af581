package mimemsg

import (
	"bytes"
	"context"
	"encoding/base64"
	"math/rand"
	"strings"
	"testing"
)

// BenchmarkSplit: the part list of a 25 MB message (text, a 24 MB base64
// attachment inside a nested multipart), as a release makes it before it
// sends: MB/s of message and memory per split.
func BenchmarkSplit(b *testing.B) {
	data := make([]byte, 18<<20)
	rand.New(rand.NewSource(1)).Read(data)
	enc := base64.StdEncoding.EncodeToString(data)
	var m strings.Builder
	m.WriteString("Subject: x\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n")
	m.WriteString("--i\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat("本文の行です。\r\n", 1000) + "--i--\r\n")
	m.WriteString("--o\r\nContent-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for i := 0; i < len(enc); i += 76 {
		m.WriteString(enc[i:min(i+76, len(enc))] + "\r\n")
	}
	m.WriteString("--o--\r\n")
	msg := []byte(m.String())
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		parts, err := Split(context.Background(), bytes.NewReader(msg), Limits{})
		if err != nil || len(parts) != 4 {
			b.Fatal(len(parts), err)
		}
	}
}
