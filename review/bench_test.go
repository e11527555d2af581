package review

import (
	"bytes"
	"context"
	"testing"
	"time"

	"dlpguard/policy"
	"dlpguard/spool"
)

// BenchmarkHold measures Service.Hold: the encrypted, fsynced hold store
// write, the audit entry and the queued notices (sender and approvers),
// which the relay waits for before its 250.
func BenchmarkHold(b *testing.B) {
	f := newFixture(b, b.TempDir(), nil, nil)
	raw := readSample(b, "p017_personal_list.eml")
	v, err := f.pol.Evaluate(context.Background(), bytes.NewReader(raw), policy.Input{Sender: sender17, Recipients: []string{rcpt17}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		env := &spool.Envelope{ID: spool.NewID(), From: sender17, Received: time.Now(),
			Recipients: []spool.Recipient{{Address: rcpt17, Status: spool.Pending}}}
		if _, err := f.svc.Hold(context.Background(), env, bytes.NewReader(raw), v); err != nil {
			b.Fatal(err)
		}
	}
}
