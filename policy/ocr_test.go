package policy

import (
	"testing"

	"dlpguard/classify"
	"dlpguard/inspect"
)

// The default policy on pictures OCR did or did not read (3.3.5, issue 19):
// an unread scan is held, an unread image of 5 MiB or more is held, a
// smaller unread picture without a scanner's signature passes as media, and
// a picture read by OCR is judged by its text alone.
func TestDefaultUnreadPictures(t *testing.T) {
	e, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		part   inspect.Part
		action Action
		rule   string
	}{
		{"scan read by OCR", inspect.Part{Name: "scan.pdf", Type: "application/pdf", Inspected: true, OCR: true, Size: 400 << 10}, Pass, ""},
		{"photo read by OCR", inspect.Part{Name: "a.jpg", Type: "image/jpeg", Media: true, Inspected: true, OCR: true, Size: 8 << 20}, Pass, ""},
		{"unread scanned PDF", inspect.Part{Name: "scan.pdf", Type: "application/pdf", Media: true, UnreadScan: true, Size: 400 << 10}, Hold, "unread-scan-hold"},
		{"unread scanner JPEG", inspect.Part{Name: "scan.jpg", Type: "image/jpeg", Media: true, UnreadScan: true, Size: 300 << 10}, Hold, "unread-scan-hold"},
		{"unread small photo", inspect.Part{Name: "a.jpg", Type: "image/jpeg", Media: true, Size: 3 << 20}, Pass, ""},
		{"unread large photo", inspect.Part{Name: "a.jpg", Type: "image/jpeg", Media: true, Size: 5 << 20}, Hold, "unread-large-image-hold"},
		{"unread large video", inspect.Part{Name: "a.mp4", Type: "video/mp4", Media: true, Size: 50 << 20}, Pass, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := msg("a@example.com")
			tc.part.Attachment = true
			res.Parts = append(res.Parts, tc.part)
			v := e.Decide(res, report(classify.LevelIII), Input{})
			if v.Action != tc.action {
				t.Fatalf("action %s, want %s (rules %+v)", v.Action, tc.action, v.Rules)
			}
			if tc.rule != "" && (len(v.Rules) != 1 || v.Rules[0].ID != tc.rule || v.Rules[0].Clause != "3.3.5") {
				t.Fatalf("rules %+v, want %s (3.3.5)", v.Rules, tc.rule)
			}
		})
	}
}
