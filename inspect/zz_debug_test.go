package inspect

import (
	"os"
	"path/filepath"
	"testing"
)

func TestZZDump(t *testing.T) {
	if os.Getenv("A2DUMP") == "" {
		t.Skip()
	}
	files, _ := filepath.Glob(os.Getenv("A2DUMP"))
	for _, f := range files {
		res, col := inspectFile(t, f, DefaultLimits())
		t.Logf("== %s incomplete=%v subj=%q %s", filepath.Base(f), res.Incomplete, res.Header.Subject, dumpParts(res))
		for _, c := range col.chunks {
			s := c.Text
			if len(s) > 150 {
				s = s[:150]
			}
			t.Logf("   [%s %s t=%v] %q", c.Location, c.Kind, c.Table, s)
		}
	}
}

func TestZZDumpFiles(t *testing.T) {
	if os.Getenv("A2FILES") == "" {
		t.Skip()
	}
	files, _ := filepath.Glob(os.Getenv("A2FILES"))
	for _, f := range files {
		fh, _ := os.Open(f)
		var col collect
		res, err := File(t.Context(), filepath.Base(f), fh, DefaultLimits(), &col)
		fh.Close()
		t.Logf("== %s err=%v incomplete=%v %s", filepath.Base(f), err, res.Incomplete, dumpParts(res))
		for _, c := range col.chunks {
			s := c.Text
			if len(s) > 100 {
				s = s[:100]
			}
			t.Logf("   [%s %s t=%v] %q", c.Location, c.Kind, c.Table, s)
		}
	}
}
