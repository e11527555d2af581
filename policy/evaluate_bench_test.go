package policy

import (
	"context"
	"strings"
	"testing"
	"time"
)

// BenchmarkEvaluate20K is the relay's per-message cost for the load of
// bench/relay.sh: a 20 KB plain ASCII message like smtp-source's.
func BenchmarkEvaluate20K(b *testing.B) {
	e, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString("From: foo@example.com\r\nTo: bar@example.com\r\nSubject: test\r\nMessage-Id: <1.2@x>\r\n\r\n")
	for sb.Len() < 20480 {
		sb.WriteString("La de da de da 1.\r\nLa de da de da 2.\r\nLa de da de da 3.\r\nLa de da de da 4.\r\n")
	}
	msg := sb.String()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Evaluate(context.Background(), strings.NewReader(msg), Input{Sender: "foo@example.com", Recipients: []string{"bar@example.com"}, Now: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
}
