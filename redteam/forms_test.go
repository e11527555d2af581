package redteam

import (
	"os"
	"path/filepath"
	"testing"

	"dlpguard/policy"
)

// TestFormFiles (issue 12): official forms made by LibreOffice
// (testdata/gen/src/form.fods, digits.fods; inspect/testdata/files/office)
// with a My Number one digit per cell, beside and under a 個人番号 label,
// are rejected; a survey of single-digit answers without any label passes.
func TestFormFiles(t *testing.T) {
	e, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	const odsType = "application/vnd.oasis.opendocument.spreadsheet"
	file := func(name, ctype string) func(*testing.T) []byte {
		return func(t *testing.T) []byte {
			b, err := os.ReadFile(filepath.Join("..", "inspect", "testdata", "files", "office", name))
			if err != nil {
				t.Fatal(err)
			}
			return withAttachment("届出書の送付", ctype, name, b)
		}
	}
	cases := []rtCase{
		{"form xlsx one digit per cell", reject, file("form.xlsx", xlsxType)},
		{"form ods one digit per cell", reject, file("form.ods", odsType)},
		{"survey xlsx single digits", pass, file("digits.xlsx", xlsxType)},
		{"survey ods single digits", pass, file("digits.ods", odsType)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, e, c) })
	}
}
