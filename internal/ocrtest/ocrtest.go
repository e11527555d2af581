// Package ocrtest opens the real Tesseract for tests: where it is absent a
// test is skipped, except in CI (CI=true), where its absence is a failure
// (.ci/run installs tesseract-ocr, -jpn and -jpn-vert).
package ocrtest

import (
	"os"
	"os/exec"
	"testing"

	"dlpguard/inspect/ocr"
)

// Require skips t (fails it in CI) when Tesseract is not installed.
func Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("tesseract"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("tesseract not installed in CI (.ci/run installs it): %v", err)
		}
		t.Skip("tesseract not installed (apt-get install tesseract-ocr tesseract-ocr-jpn tesseract-ocr-jpn-vert)")
	}
}

// Engine is an OCR engine on the real Tesseract with cfg (Enabled is set to
// true).
func Engine(t testing.TB, cfg ocr.Config) *ocr.Engine {
	t.Helper()
	Require(t)
	cfg.Enabled = "true"
	e, err := ocr.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
