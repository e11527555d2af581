package hold

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// TestRemindDueOnce: a held message is returned by RemindDue once, when
// its expiry falls before the given time; decided messages never.
func TestRemindDueOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		c := newClock()
		s := b.open(t, c)
		defer s.Close()
		for _, id := range []string{"a", "b", "decided"} {
			if _, err := s.Put(ctx, sample(id, "福祉課", "I", "r"), bytes.NewReader(content(100))); err != nil {
				t.Fatal(err)
			}
			c.add(time.Hour)
		}
		if _, err := s.Reject(ctx, "decided", "boss", "no"); err != nil {
			t.Fatal(err)
		}
		now := c.now()
		for _, step := range []struct {
			before time.Time
			want   []string
		}{
			{now.Add(DefaultHoldFor - 4*time.Hour), nil},                // none expires that early
			{now.Add(DefaultHoldFor - 2*time.Hour), []string{"a", "b"}}, // a and b expire by then
			{now.Add(DefaultHoldFor), nil},                              // each once
		} {
			got, err := s.RemindDue(ctx, step.before, now)
			if err != nil {
				t.Fatal(err)
			}
			if g := ids(got); len(g) != len(step.want) || (len(g) > 0 && (g[0] != step.want[0] || g[1] != step.want[1])) {
				t.Fatalf("RemindDue(%s) = %v, want %v", step.before, g, step.want)
			}
		}
		rec, err := s.Get(ctx, "a")
		if err != nil || !rec.RemindedAt.Equal(now) {
			t.Fatalf("reminded at %v %v", rec.RemindedAt, err)
		}
	})
}

// TestSetHandling: the review service's facts travel with the record and
// survive a reopen; an unknown ID is ErrNotFound.
func TestSetHandling(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		c := newClock()
		s := b.open(t, c)
		r := sample("h", "福祉課", "II", "r")
		r.Handling = Handling{Approvers: []string{"kacho@city.example.lg.jp"}, RequireEncryption: true, EightBitMIME: true}
		if _, err := s.Put(ctx, r, bytes.NewReader(content(10))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetHandling(ctx, "h", Handling{Approvers: []string{"x@city.example.lg.jp"}, SMTPUTF8: true, ReasonsEN: map[string]string{"r": "held"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetHandling(ctx, "nope", Handling{}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown ID: %v", err)
		}
		s.Close()
		s = b.open(t, c)
		defer s.Close()
		got, err := s.Get(ctx, "h")
		if err != nil || got.Handling.Approvers[0] != "x@city.example.lg.jp" || !got.Handling.SMTPUTF8 || got.Handling.RequireEncryption || got.Handling.ReasonsEN["r"] != "held" {
			t.Fatalf("handling after reopen: %+v %v", got.Handling, err)
		}
	})
}
