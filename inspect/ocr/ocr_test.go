package ocr

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// testEngine opens the real Tesseract. It skips only where Tesseract is
// absent and the run is not CI: in CI (CI=true) a missing Tesseract fails.
func testEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	if _, err := exec.LookPath("tesseract"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("tesseract not installed in CI (.ci/run installs tesseract-ocr, tesseract-ocr-jpn): %v", err)
		}
		t.Skip("tesseract not installed (apt-get install tesseract-ocr tesseract-ocr-jpn tesseract-ocr-jpn-vert)")
	}
	cfg.Enabled = "true"
	e, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var nonDigits = regexp.MustCompile(`[^0-9]`)

// The pictures of testdata/gen/gen.sh, read by the real Tesseract: the
// numbers and the list are found, the negatives carry no identifier.
func TestReadFile(t *testing.T) {
	e := testEngine(t, Config{})
	for _, tc := range []struct {
		file  string
		pages int
		want  []string // substrings of the text (spaces removed)
		// digits: strings of digits that must appear in the text with
		// everything but digits removed
		digits []string
		// noDigits: no run of this many digits (a negative)
		noDigits int
	}{
		{file: "form-scan.jpg", pages: 1, want: []string{"個人番号", "申請書"}, digits: []string{"314159265352"}},
		{file: "card-photo.jpg", pages: 1, want: []string{"個人番号"}, digits: []string{"271828182840"}},
		{file: "namelist-scan.tif", pages: 2, want: []string{"名簿", "佐藤"}, digits: []string{"09012345678"}},
		{file: "map.png", pages: 1, want: []string{"市役所"}, noDigits: 10},
	} {
		t.Run(tc.file, func(t *testing.T) {
			pages, err := e.ReadFile(context.Background(), readTestdata(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(pages) != tc.pages {
				t.Fatalf("%d pages, want %d", len(pages), tc.pages)
			}
			all := strings.Join(pages, "\n")
			flat := strings.Join(strings.Fields(all), "")
			for _, w := range tc.want {
				if !strings.Contains(flat, w) {
					t.Errorf("text lacks %q:\n%s", w, all)
				}
			}
			digits := nonDigits.ReplaceAllString(all, "")
			for _, d := range tc.digits {
				if !strings.Contains(digits, d) {
					t.Errorf("digits lack %s:\n%s", d, all)
				}
			}
			if tc.noDigits > 0 {
				if m := regexp.MustCompile(`\d{` + strings.Repeat("", 0) + itoa(tc.noDigits) + `,}`).FindString(strings.ReplaceAll(all, " ", "")); m != "" {
					t.Errorf("negative has a %d-digit run %q", len(m), m)
				}
			}
		})
	}
}

func itoa(n int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+n/10)) + string(rune('0'+n%10)))
}

// An image bomb — a huge pixel count in a small file — is refused from its
// header, before it is decoded, and Tesseract is never started: the command
// here is a script that leaves a mark when run.
func TestImageBombNeverReachesTesseract(t *testing.T) {
	dir := t.TempDir()
	mark := filepath.Join(dir, "ran")
	script := fakeTesseract(t, dir, "touch "+mark)
	e, err := New(Config{Enabled: "true", Command: script, MaxPixels: 50_000_000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"png 100000x100000":  pngHeader(100000, 100000),
		"tiff 3 pages, huge": tiffHeader(3, 60000, 60000),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.ReadFile(context.Background(), data)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err %v, want ErrTooLarge", err)
			}
			if _, err := os.Stat(mark); err == nil {
				t.Fatal("Tesseract was started for an image bomb")
			}
		})
	}
}

// A job that runs past its time limit is killed and reported (fail closed),
// and so is one whose caller's deadline (the inspection's) passes first.
func TestTimeout(t *testing.T) {
	script := fakeTesseract(t, t.TempDir(), "exec sleep 60")
	e, err := New(Config{Enabled: "true", Command: script, Timeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	png := readTestdata(t, "map.png")
	if _, err := e.ReadFile(context.Background(), png); !errors.Is(err, ErrTimeout) {
		t.Fatalf("job over its timeout: err %v, want ErrTimeout", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = e.ReadFile(ctx, png)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "inspection") {
		t.Fatalf("inspection deadline: err %v, want ErrTimeout naming the inspection", err)
	}
}

// enabled: auto without Tesseract is off (nil, no error); enabled: true is
// an error that names the command; an unknown value is refused.
func TestNewEnabled(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-tesseract")
	for _, tc := range []struct {
		enabled string
		wantNil bool
		wantErr string
	}{
		{"auto", true, ""},
		{"false", true, ""},
		{"true", true, "not found"},
		{"yes", true, "not auto, true or false"},
	} {
		t.Run(tc.enabled, func(t *testing.T) {
			e, err := New(Config{Enabled: tc.enabled, Command: missing}, nil)
			if (e == nil) != tc.wantNil {
				t.Fatalf("engine %v", e)
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"個人番号 3 1 4 1 5 9 2 6 5 3 5 2": "個人番号 314159265352",
		"個人番号 2718 2818 2840":          "個人番号 2718 2818 2840",
		"昭和 60 年 4 月 1 日":              "昭和 60 年 4 月 1 日",
		"1 2 3":                        "1 2 3",
		"page\fnext":                   "page\nnext",
		"佐藤 太郎 090-1234-5678":          "佐藤 太郎 090-1234-5678",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

// The memory limit is applied to the child: Tesseract under a 64 MiB
// address space cannot even load its libraries, and the job fails (the
// picture is then reported unread) instead of growing without bound.
func TestMemoryLimit(t *testing.T) {
	e := testEngine(t, Config{MaxMemory: 64 << 20})
	if e.prlimit == "" {
		t.Skip("prlimit not installed (util-linux)")
	}
	_, err := e.ReadFile(context.Background(), readTestdata(t, "map.png"))
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("err %v, want ErrFailed under a 64 MiB limit", err)
	}
}

// At most Concurrency Tesseract processes run at once: the command here
// takes a lock directory and leaves a mark when it finds it taken.
func TestConcurrency(t *testing.T) {
	dir := t.TempDir()
	lock, overlap := filepath.Join(dir, "lock"), filepath.Join(dir, "overlap")
	script := fakeTesseract(t, dir, "cat >/dev/null\nmkdir "+lock+" 2>/dev/null || touch "+overlap+"\nsleep 0.2\nrmdir "+lock+" 2>/dev/null\necho text")
	e, err := New(Config{Enabled: "true", Command: script, Concurrency: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	png := readTestdata(t, "map.png")
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := e.ReadFile(context.Background(), png)
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(overlap); err == nil {
		t.Fatal("two Tesseract processes ran at once with concurrency 1")
	}
}

// fakeTesseract writes a stand-in command into dir that lists jpn and eng
// and otherwise runs body: for what the real one cannot be made to do on
// demand (hang, be counted).
func fakeTesseract(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "tesseract")
	script := "#!/bin/sh\n[ \"$1\" = --list-langs ] && { echo jpn; echo eng; exit 0; }\n" + body + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// gray gives the same values on its fast paths as color.GrayModel.
func TestGrayFastPaths(t *testing.T) {
	r := image.NewRGBA(image.Rect(3, 5, 13, 9))
	n := image.NewNRGBA(r.Bounds())
	for y := r.Bounds().Min.Y; y < r.Bounds().Max.Y; y++ {
		for x := r.Bounds().Min.X; x < r.Bounds().Max.X; x++ {
			c := color.RGBA{uint8(x * 20), uint8(y * 30), uint8(x * y), 255}
			r.Set(x, y, c)
			n.Set(x, y, c)
		}
	}
	for _, img := range []image.Image{r, n} {
		g := gray(img)
		b := img.Bounds()
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				want := color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
				if got := g.GrayAt(x, y).Y; got != want {
					t.Fatalf("%T at %d,%d: %d, want %d", img, x, y, got, want)
				}
			}
		}
	}
}

// A picture seen before is not read again (the logo of every signature),
// and a picture too small to hold text never starts Tesseract.
func TestCacheAndTinyPictures(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	script := fakeTesseract(t, dir, "cat >/dev/null\necho x >> "+count+"\necho 市役所")
	e, err := New(Config{Enabled: "true", Command: script}, nil)
	if err != nil {
		t.Fatal(err)
	}
	png := readTestdata(t, "map.png")
	for range 3 {
		pages, err := e.ReadFile(context.Background(), png)
		if err != nil || len(pages) != 1 || !strings.Contains(pages[0], "市役所") {
			t.Fatalf("pages %q err %v", pages, err)
		}
	}
	if b, _ := os.ReadFile(count); strings.Count(string(b), "x") != 1 {
		t.Fatalf("Tesseract ran %d times for one picture read 3 times", strings.Count(string(b), "x"))
	}
	var pixel bytes.Buffer
	gif.Encode(&pixel, image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.White}), nil)
	pages, err := e.ReadFile(context.Background(), pixel.Bytes())
	if err != nil || len(pages) != 1 || pages[0] != "" {
		t.Fatalf("tracking pixel: pages %q err %v", pages, err)
	}
	if b, _ := os.ReadFile(count); strings.Count(string(b), "x") != 1 {
		t.Fatal("Tesseract started for a 1×1 picture")
	}
}

// Tesseract gets a minimal environment: one thread, and nothing of the
// relay's secrets.
func TestChildEnvironment(t *testing.T) {
	t.Setenv("DLPGUARD_HOLD_KEY", "secret-key-material")
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	script := fakeTesseract(t, dir, "cat >/dev/null\nenv > "+out+"\necho ok")
	e, err := New(Config{Enabled: "true", Command: script}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ReadFile(context.Background(), readTestdata(t, "map.png")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "secret-key-material") || !strings.Contains(string(b), "OMP_THREAD_LIMIT=1") {
		t.Fatalf("child environment:\n%s", b)
	}
}

// The outcomes are counted for operations (/metrics).
func TestMetrics(t *testing.T) {
	script := fakeTesseract(t, t.TempDir(), "cat >/dev/null\necho text")
	e, err := New(Config{Enabled: "true", Command: script, MaxPixels: 1_000_000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := e.Register(reg); err != nil {
		t.Fatal(err)
	}
	e.ReadFile(context.Background(), readTestdata(t, "map.png"))
	e.ReadFile(context.Background(), pngHeader(5000, 5000))
	e.ReadFile(context.Background(), []byte("not a picture"))
	got := map[string]float64{}
	var jobs uint64
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "dlpguard_ocr_pages_total":
				got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			case "dlpguard_ocr_seconds":
				jobs = m.GetHistogram().GetSampleCount()
			}
		}
	}
	for outcome, want := range map[string]float64{"read": 1, "too_large": 1, "unsupported": 1, "timeout": 0} {
		if got[outcome] != want {
			t.Errorf("%s: %v, want %v (all %v)", outcome, got[outcome], want, got)
		}
	}
	if jobs != 1 {
		t.Errorf("dlpguard_ocr_seconds: %d jobs, want 1", jobs)
	}
}
