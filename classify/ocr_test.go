package classify

import (
	"testing"

	"dlpguard/inspect"
)

// Text read by OCR: a valid My Number keeps its confidence (check digit),
// other findings are one step lower than in typed text.
func TestOCRConfidence(t *testing.T) {
	c := mustNew(t, Config{})
	for _, tc := range []struct {
		name, text, detector string
		typed, ocr           Confidence
	}{
		{"my number with keyword", "個人番号 3141 5926 5352", MyNumber, High, High},
		{"phone", "電話番号 090-1234-5678 山田様", PhoneNumber, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typed := c.ScanText("attachment:form.pdf", inspect.KindAttachment, tc.text).Find(tc.detector)
			ocr := c.ScanText("attachment:form.pdf/page 1 (OCR)", inspect.KindAttachment, tc.text).Find(tc.detector)
			if typed == nil || ocr == nil {
				t.Fatalf("%s not found: typed %v, OCR %v", tc.detector, typed, ocr)
			}
			want := tc.typed
			if want == "" {
				want = typed.Confidence
			}
			if typed.Confidence != want {
				t.Fatalf("typed: %s, want %s", typed.Confidence, want)
			}
			wantOCR := tc.ocr
			if wantOCR == "" {
				wantOCR = map[Confidence]Confidence{High: Medium, Medium: Low, Low: Low}[typed.Confidence]
			}
			if ocr.Confidence != wantOCR {
				t.Fatalf("OCR: %s, want %s (typed %s)", ocr.Confidence, wantOCR, typed.Confidence)
			}
			if len(ocr.Locations) == 0 || ocr.Locations[0] != "attachment:form.pdf/page 1 (OCR)" {
				t.Fatalf("OCR locations %v", ocr.Locations)
			}
		})
	}
}
