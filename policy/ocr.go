package policy

import "dlpguard/inspect"

// UseOCR lets the evaluation read images and scanned PDF pages with o (the
// server's inspect.ocr); nil leaves them unread, for the rules on unread
// scans to decide (3.3.5). Call it before the first part.
func (ev *Evaluation) UseOCR(o inspect.OCR) { ev.lim.OCR = o }
