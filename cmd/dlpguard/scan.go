package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"dlpguard/classify"
	"dlpguard/config"
	"dlpguard/inspect"
	"dlpguard/inspect/ocr"
	"dlpguard/policy"
)

// scanLine is one line of `dlpguard scan --json` (docs/contracts.md).
type scanLine = policy.Summary

// toScanLine is the verdict as staff and scripts see it: the subject,
// attachment names and problems masked the one way every view masks
// (classify.MaskText, issue 11 item 8); the findings' samples come masked
// from classify.
func toScanLine(source string, v *policy.Verdict) scanLine {
	l := v.Summary(source)
	l.Subject = classify.MaskText(l.Subject)
	for i := range l.Attachments {
		l.Attachments[i].Name = classify.MaskText(l.Attachments[i].Name)
		l.Attachments[i].Error = classify.MaskText(l.Attachments[i].Error)
	}
	if l.Problems != nil {
		ps := make([]string, len(l.Problems))
		for i, p := range l.Problems {
			ps[i] = classify.MaskText(p)
		}
		l.Problems = ps
	}
	return l
}

// scanOpts are the flags shared by scan and policy diff.
type scanOpts struct {
	policy   string
	json     bool
	transfer string // --transfer URL: scan plain files as uploads to URL
	config   string // --config FILE: the server's inspect.ocr (and policy.file)
	paths    []string
}

// parseScanArgs accepts flags before, between or after paths; "--" ends
// flags and "-" is standard input.
func parseScanArgs(args []string, allowJSON bool) (scanOpts, error) {
	var o scanOpts
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			o.paths = append(o.paths, args[i+1:]...)
			return o, nil
		case allowJSON && (a == "--json" || a == "-json"):
			o.json = true
		case allowJSON && (a == "--transfer" || a == "-transfer"):
			if i+1 >= len(args) {
				return o, errors.New("--transfer needs a URL")
			}
			i++
			o.transfer = args[i]
		case allowJSON && (strings.HasPrefix(a, "--transfer=") || strings.HasPrefix(a, "-transfer=")):
			o.transfer = a[strings.IndexByte(a, '=')+1:]
		case a == "--policy" || a == "-policy":
			if i+1 >= len(args) {
				return o, errors.New("--policy needs a file")
			}
			i++
			o.policy = args[i]
		case strings.HasPrefix(a, "--policy=") || strings.HasPrefix(a, "-policy="):
			o.policy = a[strings.IndexByte(a, '=')+1:]
		case allowJSON && (a == "--config" || a == "-config"):
			if i+1 >= len(args) {
				return o, errors.New("--config needs a file")
			}
			i++
			o.config = args[i]
		case allowJSON && (strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config=")):
			o.config = a[strings.IndexByte(a, '=')+1:]
		case a == "-h" || a == "--help":
			return o, errHelp
		case len(a) > 1 && a[0] == '-':
			return o, fmt.Errorf("unknown flag %s", a)
		default:
			o.paths = append(o.paths, a)
		}
	}
	return o, nil
}

var errHelp = errors.New("help")

// loadEngine loads --policy FILE or the embedded default.
func loadEngine(path string) (*policy.Engine, error) {
	if path == "" {
		return policy.Default()
	}
	return policy.Load(path)
}

// source is one message to scan: a file, or standard input ("-").
type source struct {
	name string
	path string // "" for stdin
}

// expandSources turns the PATH arguments into messages: a folder means every
// .eml below it, sorted. Errors name the path that could not be read.
func expandSources(paths []string) ([]source, []error) {
	return expandSourcesExt(paths, ".eml")
}

// expandSourcesExt is expandSources with a folder meaning every file whose
// extension is ext ("" = every regular file: uploads are any file).
func expandSourcesExt(paths []string, ext string) ([]source, []error) {
	var out []source
	var errs []error
	for _, p := range paths {
		if p == "-" {
			out = append(out, source{name: "-"})
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !fi.IsDir() {
			out = append(out, source{name: p, path: p})
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, err)
				return nil
			}
			if d.Type().IsRegular() && (ext == "" || strings.EqualFold(filepath.Ext(path), ext)) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
		sort.Strings(found)
		for _, f := range found {
			out = append(out, source{name: f, path: f})
		}
	}
	return out, errs
}

// openSource opens a message for streaming (the relay streams from its
// spool too; memory stays bounded by the inspection limits, not by the
// message size). size is 0 when unknown (stdin): Evaluate counts it.
func openSource(s source, stdin io.Reader) (io.ReadCloser, int64, error) {
	if s.path == "" {
		return io.NopCloser(stdin), 0, nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// evaluateSource opens and evaluates one message.
func evaluateSource(ctx context.Context, eng *policy.Engine, s source, stdin io.Reader, now time.Time, ocr inspect.OCR) (*policy.Verdict, error) {
	r, size, err := openSource(s, stdin)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return eng.Evaluate(ctx, r, policy.Input{Size: size, Now: now, OCR: ocr})
}

// scanConfig reads --config FILE (the server's configuration) or, without
// one, the defaults, and opens OCR as the relay would: an administrator
// sees what the relay would decide on scans too.
func scanConfig(path string, stderr io.Writer) (*config.Config, inspect.OCR, error) {
	cfg := config.Default()
	if path != "" {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return nil, nil, err
		}
	}
	eng, err := ocr.New(cfg.Inspect.OCR.Options(), slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, err
	}
	if eng == nil {
		if cfg.Inspect.OCR.Enabled != "false" {
			fmt.Fprintf(stderr, "dlpguard scan: OCR は使えません（%s または言語データがありません）。画像とスキャンした PDF は読み取られません / OCR unavailable: images and scanned PDFs are not read\n", cfg.Inspect.OCR.Command)
		}
		return cfg, nil, nil
	}
	return cfg, eng, nil
}

// transferLine is a scan line for an upload: the contract's fields plus
// what the upload would get (uploads cannot wait: hold blocks).
type transferLine struct {
	scanLine
	Transfer transferResult `json:"transfer"`
}

type transferResult struct {
	URL     string `json:"url"`
	Host    string `json:"host"`
	Outcome string `json:"outcome"` // "allow" (204) or "block" (403 page)
}

// evaluateTransfer evaluates one plain file as an upload to url.
func evaluateTransfer(ctx context.Context, eng *policy.Engine, s source, stdin io.Reader, url string, now time.Time, ocr inspect.OCR) (*policy.Verdict, *policy.Transfer, error) {
	r, size, err := openSource(s, stdin)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	name := "upload"
	if s.path != "" {
		name = filepath.Base(s.path)
	}
	tr := &policy.Transfer{URL: url, FileName: name}
	tr.Host = policy.TransferHost(tr)
	v, err := eng.Evaluate(ctx, r, policy.Input{Size: size, Now: now, Transfer: tr, OCR: ocr})
	return v, tr, err
}

func runScan(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseScanArgs(args, true)
	if errors.Is(err, errHelp) {
		fmt.Fprintln(stdout, "usage: dlpguard scan [--config FILE] [--policy FILE] [--json] [--transfer URL] PATH...")
		fmt.Fprintln(stdout, "  --config FILE: the server's configuration: its inspect.ocr settings (and its policy.file unless --policy is given)")
		fmt.Fprintln(stdout, "  PATH: .eml file, folder, or - for stdin; with --transfer URL, any file (a folder: every file) scanned as an upload to URL")
		return 0
	}
	if err == nil && o.transfer != "" {
		if u, perr := url.Parse(o.transfer); perr != nil || u.Host == "" {
			err = fmt.Errorf("--transfer %q: want an absolute URL such as https://example.com/upload", o.transfer)
		}
	}
	if err != nil || len(o.paths) == 0 {
		if err == nil {
			err = errors.New("no PATH given")
		}
		fmt.Fprintf(stderr, "dlpguard scan: %v\nusage: dlpguard scan [--policy FILE] [--json] PATH...\n", err)
		return 2
	}
	cfg, ocrEng, err := scanConfig(o.config, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard scan: %v\n", err)
		return 2
	}
	if o.policy == "" && o.config != "" {
		o.policy = cfg.Policy.File
	}
	eng, err := loadEngine(o.policy)
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard scan: %v\n", err)
		return 2
	}
	ext := ".eml"
	if o.transfer != "" {
		ext = ""
	}
	srcs, errs := expandSourcesExt(o.paths, ext)
	status := 0
	for _, e := range errs {
		fmt.Fprintf(stderr, "dlpguard scan: %v\n", e)
		status = 1
	}
	ctx := context.Background()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	now := time.Now()
	for _, s := range srcs {
		if o.transfer != "" {
			v, tr, err := evaluateTransfer(ctx, eng, s, stdin, o.transfer, now, ocrEng)
			if err != nil {
				fmt.Fprintf(stderr, "dlpguard scan: %s: %v\n", s.name, err)
				status = 1
				continue
			}
			tl := transferLine{scanLine: toScanLine(s.name, v), Transfer: transferResult{URL: tr.URL, Host: tr.Host, Outcome: "allow"}}
			if v.TransferBlocks() {
				tl.Transfer.Outcome = "block"
			}
			if o.json {
				if err := enc.Encode(tl); err != nil {
					fmt.Fprintf(stderr, "dlpguard scan: %v\n", err)
					return 1
				}
				continue
			}
			printSummary(stdout, tl.scanLine)
			ja := "通過 (204)"
			if tl.Transfer.Outcome == "block" {
				ja = "停止 (403)"
			}
			fmt.Fprintf(stdout, "  アップロード upload → %s: %s %s\n", tr.URL, ja, tl.Transfer.Outcome)
			continue
		}
		v, err := evaluateSource(ctx, eng, s, stdin, now, ocrEng)
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard scan: %s: %v\n", s.name, err)
			status = 1
			continue
		}
		line := toScanLine(s.name, v)
		if o.json {
			if err := enc.Encode(line); err != nil {
				fmt.Fprintf(stderr, "dlpguard scan: %v\n", err)
				return 1
			}
			continue
		}
		printSummary(stdout, line)
	}
	return status
}

var actionJA = map[string]string{
	"pass": "通過", "bcc": "Bcc変換", "delay": "送信保留（時間）", "hold": "保留", "reject": "拒否",
}

// printSummary writes a readable verdict: Japanese labels with English.
func printSummary(w io.Writer, l scanLine) {
	fmt.Fprintf(w, "%s\n", l.Source)
	fmt.Fprintf(w, "  判定 verdict: %s %s   分類 level: %s\n", actionJA[string(l.Verdict)], l.Verdict, l.Level)
	if l.RequireEncryption {
		fmt.Fprintf(w, "  解除には全添付の暗号化が必要 release requires encryption\n")
	}
	if l.DelayMinutes > 0 {
		fmt.Fprintf(w, "  遅延 delay: %d 分 minutes\n", l.DelayMinutes)
	}
	for _, r := range l.Rules {
		extra := ""
		if r.Exception != "" {
			extra += " 例外 exception " + r.Exception
		}
		if r.Permit != "" {
			extra += " 許可 permit " + r.Permit
		}
		fmt.Fprintf(w, "  規則 rule: %s → %s (条項 clause %s)%s\n    %s\n", r.ID, r.Action, r.Clause, extra, r.Reason)
		if r.ReasonEN != "" {
			fmt.Fprintf(w, "    %s\n", r.ReasonEN)
		}
	}
	for _, f := range l.Findings {
		lv := ""
		if f.Level != "" {
			lv = " level " + string(f.Level)
		}
		fmt.Fprintf(w, "  検出 finding: %s ×%d (%s%s) %s %s\n", f.Detector, f.Count, f.Confidence, lv,
			strings.Join(f.Locations, ", "), strings.Join(f.Samples, " "))
	}
	for _, a := range l.Attachments {
		state := "検査済 inspected"
		switch {
		case a.Encrypted:
			state = "暗号化 encrypted"
		case !a.Inspected:
			state = "未検査 not inspected"
		}
		if a.OCR {
			state += " (OCR)"
		}
		if a.Error != "" {
			state += ": " + a.Error
		}
		fmt.Fprintf(w, "  添付 attachment: %s (%s) %s\n", a.Name, a.Type, state)
	}
	for _, p := range l.Problems {
		fmt.Fprintf(w, "  問題 problem: %s\n", p)
	}
	if len(l.Rules) == 0 {
		fmt.Fprintf(w, "  該当する規則なし no rule fired\n")
	}
}
