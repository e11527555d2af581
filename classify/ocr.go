package classify

// Text read by OCR is located "attachment:scan.pdf/page 2 (OCR)" by inspect.
// OCR misreads (a 1 for a 7, an 8 for a B), so what is found there is one
// step less certain — unless a check digit holds: a misread number almost
// never keeps a valid check digit, so a valid My Number next to 個人番号 on
// a scanned form is as certain as typed text, and still a reject (3.3.5, 4).
const ocrSuffix = " (OCR)"

// ocrConfidence is the confidence of a value d found in OCR text.
func ocrConfidence(d int, v []byte, conf Confidence) Confidence {
	var valid bool
	switch d {
	case dMyNumber:
		valid = ValidMyNumber(string(v))
	case dCorporate:
		valid = ValidCorporateNumber(string(v))
	case dCard:
		valid = ValidLuhn(string(v))
	case dDL:
		valid = validDriversLicense(string(v))
	}
	if valid {
		return conf
	}
	switch conf {
	case High:
		return Medium
	default:
		return Low
	}
}
