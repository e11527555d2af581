package main

import (
	"dlpguard/inspect"
	"dlpguard/inspect/ocr"
)

// ocrInput keeps a nil engine a nil interface (OCR off), not a typed nil.
func ocrInput(e *ocr.Engine) inspect.OCR {
	if e == nil {
		return nil
	}
	return e
}
