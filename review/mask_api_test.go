package review

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"dlpguard/policy"
	"dlpguard/spool"
)

// TestAPIMasksSubject: the API (and so `dlpguard hold list/show`) shows a
// held message's subject masked the one way the console, the notices and
// scan do (issue 11 item 8): a context-free My Number in the Subject shows
// its last four digits only.
func TestAPIMasksSubject(t *testing.T) {
	f := newFixture(t, "", nil, nil)
	ctx := context.Background()
	from := "user17@city.example.lg.jp"
	raw := []byte("From: " + from + "\r\nTo: a@example.com\r\nSubject: 123456789018\r\n\r\nよろしくお願いします。\r\n")
	v, err := f.pol.Evaluate(ctx, bytes.NewReader(raw), policy.Input{Sender: from, Recipients: []string{"a@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Action != policy.Hold {
		t.Fatalf("verdict %s, want hold", v.Action)
	}
	env := &spool.Envelope{ID: spool.NewID(), From: from, Received: time.Now(), Recipients: spool.PendingRecipients([]string{"a@example.com"})}
	id, err := f.svc.Hold(ctx, env, bytes.NewReader(raw), v)
	if err != nil {
		t.Fatal(err)
	}
	admin := f.token("admin", "admin@city.example.lg.jp", RoleAdmin)
	code, page := f.api("GET", "/api/v1/holds", admin, nil)
	if code != 200 {
		t.Fatalf("list: %d", code)
	}
	code, show := f.api("GET", "/api/v1/holds/"+id, admin, nil)
	if code != 200 || show["subject"] != "********9018" {
		t.Fatalf("show: %d subject %v", code, show["subject"])
	}
	for name, out := range map[string]any{"list": page, "show": show} {
		b, _ := json.Marshal(out)
		if strings.Contains(string(b), "12345678") {
			t.Errorf("%s shows the number: %s", name, b)
		}
	}
}
