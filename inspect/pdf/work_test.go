package pdf

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dlpguard/internal/fuzzseed"
)

// Files that ask for far more work than their size (issue 17 item 7:
// FuzzExtract spent over 85 s on one input). Their small forms are
// FuzzExtract seeds (testdata/fuzz/FuzzExtract/slow_*).

// pdfOf writes objects (numbered from 1) with a classic xref.
func pdfOf(objs []string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return b.Bytes()
}

func annotBomb(pages, annots int) []byte {
	kids := strings.Repeat("<</Type/Page/Annots 3 0 R>>", pages)
	arr := "[" + strings.Repeat("4 0 R ", annots) + "]"
	return pdfOf([]string{
		"<</Type/Catalog/Pages 2 0 R>>",
		fmt.Sprintf("<</Type/Pages/Kids [%s]/Count %d>>", kids, pages),
		arr,
		"<</Type/Annot/Subtype/Widget/AP <</N 5 0 R>>>>",
		"<</Length 0>>\nstream\n\nendstream",
	})
}

func formBomb(depth, fan int) []byte {
	// form i draws form i+1 fan times
	objs := []string{"<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids [3 0 R]/Count 1>>",
		"<</Type/Page/Contents 4 0 R/Resources <</XObject <</F 5 0 R>>>>>>", "<</Length 6>>\nstream\n/F Do\n\nendstream"}
	for i := 0; i < depth; i++ {
		content := strings.Repeat("/F Do ", fan)
		next := fmt.Sprintf("/Resources <</XObject <</F %d 0 R>>>>", 6+i)
		if i == depth-1 {
			next = ""
		}
		objs = append(objs, fmt.Sprintf("<</Type/XObject/Subtype/Form/BBox [0 0 1 1]%s/Length %d>>\nstream\n%s\nendstream", next, len(content), content))
	}
	return pdfOf(objs)
}

func sharedContent(pages, size int) []byte {
	kids := strings.Repeat("<</Type/Page/Contents 3 0 R>>", pages)
	content := strings.Repeat("q Q ", size/4)
	return pdfOf([]string{
		"<</Type/Catalog/Pages 2 0 R>>",
		fmt.Sprintf("<</Type/Pages/Kids [%s]/Count %d>>", kids, pages),
		fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(content), content),
	})
}

// TestWorkLimit: each file costs at most WorkPerByte units per byte plus
// WorkBase (a counter, not a clock); one that asks for more is cut there
// and reported incomplete, so the relay holds it. Before the limit, the
// form fan-out of 2.4 KB ran 20 million operators (about 6 s).
func TestWorkLimit(t *testing.T) {
	files := map[string][]byte{
		"form fan-out 12x4":         formBomb(12, 4),
		"form fan-out 12x16":        formBomb(12, 16),
		"3000 pages share 3 KB":     sharedContent(3000, 3000),
		"300 pages x 1000 annots":   annotBomb(300, 1000),
		"3000 pages x 10000 annots": annotBomb(3000, 10000),
	}
	seeds := fuzzseed.Glob(t, "testdata/fuzz/FuzzExtract/slow_*")
	if len(seeds) < 3 {
		t.Fatalf("%d slow seeds", len(seeds))
	}
	for path, data := range seeds {
		files[path] = data
	}
	for name, data := range files {
		r, err := extractBytes(t, data, 1<<20, 1<<20)
		if r == nil {
			t.Fatalf("%s: nil result (%v)", name, err)
		}
		limit := WorkPerByte*int64(len(data)) + WorkBase
		// one step may go past the limit by what it charges at once: a
		// stream of at most maxStreamBytes, charged per 64 bytes
		if r.Work > limit+(1<<20)/64+64 {
			t.Errorf("%s: work %d for %d bytes (limit %d)", name, r.Work, len(data), limit)
		}
		if r.Work > limit && (!r.Incomplete || !strings.Contains(strings.Join(r.Notes, "|"), "work limit")) {
			t.Errorf("%s: over the limit but Incomplete %v, notes %q", name, r.Incomplete, r.Notes)
		}
		t.Logf("%s: %d bytes, work %d (%.1f per byte), incomplete %v", name, len(data), r.Work, float64(r.Work)/float64(len(data)), r.Incomplete)
	}
	// The real files stay far below it.
	real, _ := filepath.Glob(filepath.Join(filesDir, "*.pdf"))
	if len(real) == 0 {
		t.Fatal("no real PDFs")
	}
	for _, name := range real {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := extractBytes(t, data, 64<<20, 64<<20)
		if r == nil || strings.Contains(strings.Join(r.Notes, "|"), "work limit") || r.Work > WorkPerByte*int64(len(data))/4+WorkBase/4 {
			t.Errorf("%s: work %d for %d bytes", name, r.Work, len(data))
		}
	}
}

// TestWriteSlowSeeds rewrites the slow seeds (DLPGUARD_WRITE_SEEDS=1).
func TestWriteSlowSeeds(t *testing.T) {
	if os.Getenv("DLPGUARD_WRITE_SEEDS") == "" {
		t.Skip("set DLPGUARD_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzExtract/slow_*")
	}
	for name, data := range map[string][]byte{
		"slow_form_fanout":    formBomb(12, 4),
		"slow_shared_content": sharedContent(150, 4000),
		"slow_annotations":    annotBomb(40, 1000),
	} {
		seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join("testdata/fuzz/FuzzExtract", name), []byte(seed), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
