// Package ocr reads the text in pictures — scanned forms, photographed cards,
// image-only PDF pages — with Tesseract, so that a scan is not a blind spot
// of the guard (対策基準 3.3.5: what leaves by mail is inspected, whatever
// its form).
//
// Tesseract runs as a separate process per job (no cgo in the relay): the
// picture goes to its standard input, the text comes back on its standard
// output. Every job is bounded: the pixel count is checked from the file's
// header before anything is decoded (an image bomb never reaches Tesseract),
// the child gets an address-space limit (prlimit) and a time limit, and at
// most Concurrency jobs run at once. A job that cannot be done returns an
// error saying why; the caller reports the picture as not inspected and the
// policy decides (fail closed).
package ocr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Errors that say why a picture was not read. They are wrapped with detail;
// test with errors.Is.
var (
	ErrTooLarge    = errors.New("ocr: image too large")
	ErrUnsupported = errors.New("ocr: unsupported image format")
	ErrTimeout     = errors.New("ocr: time limit reached")
	ErrTooManyPage = errors.New("ocr: too many pages")
	ErrFailed      = errors.New("ocr: tesseract failed")
)

// Config is the inspect.ocr section of the server configuration.
type Config struct {
	// Enabled is "auto" (on when Command and the languages are found),
	// "true" (on; a missing command stops the start) or "false".
	Enabled   string
	Command   string // Tesseract's path or name in $PATH
	Languages string // Tesseract's -l, e.g. "jpn+eng"
	// MaxPages bounds the pages read by OCR in one file (a multi-page TIFF,
	// the image-only pages of a PDF); a file with more is not fully read.
	MaxPages int
	// MaxPixels bounds width×height of one picture, checked before it is
	// decoded.
	MaxPixels int64
	// Timeout bounds one Tesseract job (one page); the inspection's own
	// deadline bounds it too.
	Timeout time.Duration
	// Concurrency is the number of Tesseract processes at once.
	Concurrency int
	// MaxMemory is the address-space limit of one Tesseract process
	// (prlimit --as); 0: none.
	MaxMemory int64
}

// DefaultConfig is what an empty inspect.ocr section means.
func DefaultConfig() Config {
	return Config{
		Enabled:     "auto",
		Command:     "tesseract",
		Languages:   "jpn+eng",
		MaxPages:    20,
		MaxPixels:   40_000_000, // A3 at 400 dpi is 31 Mpx
		Timeout:     60 * time.Second,
		Concurrency: max(1, runtime.NumCPU()/2),
		MaxMemory:   2 << 30,
	}
}

// Engine runs OCR jobs. It is safe for concurrent use; its zero value is not
// usable (use New).
type Engine struct {
	cfg     Config
	path    string // resolved Tesseract
	prlimit string // resolved prlimit, "" when absent
	sem     chan struct{}
	log     *slog.Logger
	cache   *cache // text of image files seen lately (signature logos)
	metrics *metrics
}

// New checks the configuration and finds Tesseract. It returns (nil, nil)
// when OCR is off: Enabled is "false", or "auto" and Tesseract or one of the
// languages is missing (logged). With Enabled "true" a missing command or
// language is an error, so that the relay does not start believing it reads
// scans that it does not.
func New(cfg Config, log *slog.Logger) (*Engine, error) {
	def := DefaultConfig()
	if log == nil {
		log = slog.Default()
	}
	if cfg.Enabled == "" {
		cfg.Enabled = def.Enabled
	}
	if cfg.Command == "" {
		cfg.Command = def.Command
	}
	if cfg.Languages == "" {
		cfg.Languages = def.Languages
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = def.MaxPages
	}
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = def.MaxPixels
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = def.Timeout
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = def.Concurrency
	}
	if cfg.MaxMemory < 0 {
		cfg.MaxMemory = 0
	}
	switch cfg.Enabled {
	case "false":
		return nil, nil
	case "auto", "true":
	default:
		return nil, fmt.Errorf("ocr: enabled: %q is not auto, true or false", cfg.Enabled)
	}
	off := func(err error) (*Engine, error) {
		if cfg.Enabled == "true" {
			return nil, err
		}
		log.Warn("OCR off: images and image-only PDF pages are not read (the policy decides)", "reason", err.Error())
		return nil, nil
	}
	path, err := exec.LookPath(cfg.Command)
	if err != nil {
		return off(fmt.Errorf("ocr: command %q not found: %w", cfg.Command, err))
	}
	if err := checkLanguages(path, cfg.Languages); err != nil {
		return off(err)
	}
	e := &Engine{cfg: cfg, path: path, sem: make(chan struct{}, cfg.Concurrency), log: log, cache: newCache(cacheEntries)}
	if cfg.MaxMemory > 0 {
		if p, err := exec.LookPath("prlimit"); err == nil {
			e.prlimit = p
		} else {
			log.Warn("OCR: prlimit not found: Tesseract runs without a memory limit", "err", err)
		}
	}
	return e, nil
}

// checkLanguages asks Tesseract which traineddata it has.
func checkLanguages(path, langs string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--list-langs").CombinedOutput()
	if err != nil {
		return fmt.Errorf("ocr: %s --list-langs: %w", path, err)
	}
	have := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		have[l] = true
	}
	for _, l := range strings.Split(langs, "+") {
		if !have[l] {
			return fmt.Errorf("ocr: language %q not installed for %s (Debian: tesseract-ocr-%s)", l, path, strings.ReplaceAll(l, "_", "-"))
		}
	}
	return nil
}

// Config returns the configuration in force, defaults applied.
func (e *Engine) Config() Config { return e.cfg }

// MaxPages is the most pages read by OCR in one file.
func (e *Engine) MaxPages() int { return e.cfg.MaxPages }

// MaxPixels is the largest picture read.
func (e *Engine) MaxPixels() int64 { return e.cfg.MaxPixels }

// CheckSize refuses a picture of w×h pixels over MaxPixels, before it is
// decoded.
func (e *Engine) CheckSize(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: %d×%d pixels", ErrUnsupported, w, h)
	}
	if int64(w)*int64(h) > e.cfg.MaxPixels {
		return fmt.Errorf("%w: %d×%d pixels, over max_pixels %d", ErrTooLarge, w, h, e.cfg.MaxPixels)
	}
	return nil
}

// ReadFile reads the text of an image file: JPEG, PNG, GIF, BMP, WebP or
// TIFF (every page of a multi-page TIFF, at most MaxPages). It returns the
// text of each page.
func (e *Engine) ReadFile(ctx context.Context, data []byte) ([]string, error) {
	// The same picture comes back in message after message (the logo in
	// a signature, a letterhead): it is read once.
	key := sha256.Sum256(data)
	if pages, ok := e.cache.get(key); ok {
		return pages, nil
	}
	pages, err := e.readFile(ctx, data)
	if err == nil {
		e.cache.put(key, pages)
	}
	e.metrics.observe(err)
	return pages, err
}

func (e *Engine) readFile(ctx context.Context, data []byte) ([]string, error) {
	if isTIFF(data) {
		pages, err := tiffPages(data, e.cfg.MaxPages+1)
		if err != nil {
			return nil, fmt.Errorf("%w: TIFF: %v", ErrUnsupported, err)
		}
		if len(pages) > e.cfg.MaxPages {
			return nil, fmt.Errorf("%w: TIFF with more than max_pages %d pages", ErrTooManyPage, e.cfg.MaxPages)
		}
		for i, p := range pages {
			if err := e.CheckSize(p.w, p.h); err != nil {
				return nil, fmt.Errorf("TIFF page %d: %w", i+1, err)
			}
		}
		if len(pages) > 1 {
			// Each page is read on its own (prepared like any picture):
			// the file with that page's directory first.
			var out []string
			for i, p := range pages {
				t, err := e.readOne(ctx, tiffPageFirst(data, p))
				if err != nil {
					return out, fmt.Errorf("TIFF page %d: %w", i+1, err)
				}
				out = append(out, t)
			}
			return out, nil
		}
	}
	t, err := e.readOne(ctx, data)
	if err != nil {
		return nil, err
	}
	return []string{t}, nil
}

// readOne reads a one-page image file. The slot is taken before the
// picture is decoded, so that Concurrency bounds the decoded pictures in
// memory as well as the Tesseract processes.
func (e *Engine) readOne(ctx context.Context, data []byte) (string, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	if err := e.CheckSize(cfg.Width, cfg.Height); err != nil {
		return "", err
	}
	release, err := e.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return e.read(ctx, img)
}

// ReadImage reads the text of a decoded picture (a PDF page's image): it is
// made grayscale, small pictures are enlarged, and it goes to Tesseract.
func (e *Engine) ReadImage(ctx context.Context, img image.Image) (string, error) {
	release, err := e.acquire(ctx)
	if err != nil {
		e.metrics.observe(err)
		return "", err
	}
	defer release()
	t, err := e.read(ctx, img)
	e.metrics.observe(err)
	return t, err
}

// acquire waits for a free slot (bounded concurrency) as long as ctx
// allows.
func (e *Engine) acquire(ctx context.Context) (release func(), err error) {
	if ctx.Err() == nil {
		select {
		case e.sem <- struct{}{}:
			return func() { <-e.sem }, nil
		case <-ctx.Done():
		}
	}
	return nil, fmt.Errorf("%w: the inspection's time ran out waiting for a free OCR slot", ErrTimeout)
}

// minSide is the height (or width) under which a picture holds no legible
// text: tracking pixels, spacers, icons. It is read as having none, without
// starting Tesseract.
const minTextSide = 12

// read prepares a picture and reads it; the caller holds a slot.
func (e *Engine) read(ctx context.Context, img image.Image) (string, error) {
	b := img.Bounds()
	if err := e.CheckSize(b.Dx(), b.Dy()); err != nil {
		return "", err
	}
	if b.Dx() < minTextSide || b.Dy() < minTextSide {
		return "", nil
	}
	return e.run(ctx, pgm(prepare(img, e.cfg.MaxPixels)))
}

// run gives one picture to Tesseract and returns its text; the caller
// holds a slot.
func (e *Engine) run(ctx context.Context, input []byte) (string, error) {
	timeout := e.cfg.Timeout
	jctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// --psm 3: automatic page segmentation, which also corrects a slight
	// skew of a scan; preserve_interword_spaces keeps Japanese text from
	// being spread out with spaces. OMP_THREAD_LIMIT=1: one core per job,
	// so that Concurrency is the real bound.
	args := []string{"stdin", "stdout", "-l", e.cfg.Languages, "--psm", "3",
		"-c", "preserve_interword_spaces=1"}
	name := e.path
	if e.prlimit != "" {
		args = append([]string{fmt.Sprintf("--as=%d", e.cfg.MaxMemory), "--", e.path}, args...)
		name = e.prlimit
	}
	cmd := exec.CommandContext(jctx, name, args...)
	cmd.Env = childEnv()
	cmd.Stdin = bytes.NewReader(input)
	var out limitedBuffer
	out.max = 8 << 20
	var stderr limitedBuffer
	stderr.max = 4 << 10
	cmd.Stdout, cmd.Stderr = &out, &stderr
	// Its own process group, killed whole on timeout; killed too if the
	// relay dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err := cmd.Run()
	if jctx.Err() != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%w: the inspection's time ran out during OCR", ErrTimeout)
		}
		return "", fmt.Errorf("%w: tesseract ran longer than %s", ErrTimeout, timeout)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %v: %s", ErrFailed, err, firstLine(stderr.String()))
	}
	e.metrics.job(time.Since(start))
	e.log.Debug("OCR job done", "bytes_in", len(input), "took", time.Since(start))
	return Clean(out.String()), nil
}

// limitedBuffer keeps at most max bytes and drops the rest (a child's output
// never grows the relay's memory without bound).
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.Len(); room > 0 {
		l.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "Estimating resolution") {
			return l
		}
	}
	return "no message"
}

// boxedDigits are four or more single digits with single spaces between:
// one digit a box.
var boxedDigits = regexp.MustCompile(`(?:^|\b)\d(?: \d){3,}\b`)

// Clean makes Tesseract's text readable for the detectors: valid UTF-8,
// no form feeds, and digits read one per box ("3 1 4 1 5 9 …", a form
// field) joined into the number they are. Other spaces stay: between
// digits the detectors know 1234 5678 9018, and between Japanese words
// they separate a family name from a given name (山田 太郎) or one cell
// from the next. Tesseract, told to preserve_interword_spaces, does not
// spread Japanese out with spaces.
func Clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\f", "\n")
	return boxedDigits.ReplaceAllStringFunc(s, func(m string) string {
		return strings.Join(strings.Fields(m), "")
	})
}

// cellGap separates the cells of a table as Tesseract lays it out: a run of
// two or more spaces (preserve_interword_spaces keeps the gap between
// columns) or a vertical rule read as '|'.
var cellGap = regexp.MustCompile(`\s*\|\s*|  +`)

// Table returns the text as a table (cells separated by tabs, rows by
// newlines) when it looks like one — a scanned list of people: at least
// three lines of three or more cells; ok is false otherwise. Detectors read
// a table by its columns (a column labelled 氏名 is names), which is what
// makes the rows of a scanned list countable as personal records.
func Table(text string) (table string, ok bool) {
	lines := strings.Split(text, "\n")
	rows := 0
	var b strings.Builder
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		cells := cellGap.Split(l, -1)
		if len(cells) >= 3 {
			rows++
		}
		b.WriteString(strings.Join(cells, "\t"))
		b.WriteByte('\n')
	}
	if rows < 3 {
		return "", false
	}
	return b.String(), true
}

// childEnv is Tesseract's environment: what it needs and nothing of the
// relay's (never $DLPGUARD_HOLD_KEY or a password).
func childEnv() []string {
	env := []string{"OMP_THREAD_LIMIT=1", "LC_ALL=C.UTF-8"}
	for _, k := range []string{"PATH", "TESSDATA_PREFIX", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
