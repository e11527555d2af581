package policy

import (
	"context"
	"fmt"
	"io"

	"dlpguard/classify"
	"dlpguard/inspect"
)

// Evaluation is the one way content is evaluated (inspect → classify →
// policy, 3.3.5): every part given to it is inspected under the policy's
// limits into one classifier scan, so that the verdict is on the whole (a
// list split over two files is still a list), then Decide gives the
// verdict. Engine.Evaluate is an Evaluation of one message or file (the
// relay through package dispose, `dlpguard scan`); the ICAP service gives
// it every file and form field of an upload.
type Evaluation struct {
	e   *Engine
	sc  *classify.Scanner
	lim inspect.Limits
	res inspect.Result
	n   int64 // bytes read
}

// NewEvaluation starts an evaluation under the engine's limits; tempDir,
// if not empty, is where inspection spills large parts.
func (e *Engine) NewEvaluation(tempDir string) *Evaluation {
	ev := &Evaluation{e: e, sc: e.classifier.NewScanner(), lim: e.limits}
	if tempDir != "" {
		ev.lim.TempDir = tempDir
	}
	ev.res.Header.Raw = map[string][]string{}
	return ev
}

// Limits are the inspection limits in force for this evaluation.
func (ev *Evaluation) Limits() inspect.Limits { return ev.lim }

// Message inspects a whole RFC 5322 message: its parts, and its header
// fields for markings (a sensitivity label is classified from the decoded
// fields, not from the text stream). Call it at most once, first.
func (ev *Evaluation) Message(ctx context.Context, r io.Reader) error {
	cr := &countingReader{r: r}
	res, err := inspect.Message(ctx, cr, ev.lim, ev.sc)
	ev.n += cr.n
	if err != nil {
		return err
	}
	ev.res = *res
	if ev.res.Header.Raw == nil {
		ev.res.Header.Raw = map[string][]string{}
	}
	ev.sc.Headers(ev.res.Header.Raw)
	return nil
}

// File inspects one file (or form field) named name.
func (ev *Evaluation) File(ctx context.Context, name string, r io.Reader) error {
	cr := &countingReader{r: r}
	pr, err := inspect.File(ctx, name, cr, ev.lim, ev.sc)
	ev.n += cr.n
	if pr != nil {
		ev.res.Parts = append(ev.res.Parts, pr.Parts...)
		ev.res.Problems = append(ev.res.Problems, pr.Problems...)
		ev.res.Incomplete = ev.res.Incomplete || pr.Incomplete
		ev.res.TextBytes += pr.TextBytes
	}
	return err
}

// Problem records something that kept content from being inspected (an
// unreadable encoding, a limit): the verdict then fails closed.
func (ev *Evaluation) Problem(format string, args ...any) {
	ev.res.Problems = append(ev.res.Problems, fmt.Sprintf(format, args...))
	ev.res.Incomplete = true
}

// Decide ends the evaluation with the verdict. in.Size 0 is the number of
// bytes read. The Evaluation must not be used afterwards.
func (ev *Evaluation) Decide(in Input) *Verdict {
	if in.Size == 0 {
		in.Size = ev.n
	}
	rep := ev.sc.Report()
	ev.e.classifier.Release(ev.sc)
	ev.sc = nil
	res := ev.res
	return ev.e.Decide(&res, rep, in)
}

// Discard ends an evaluation without a verdict (its input failed).
func (ev *Evaluation) Discard() {
	if ev.sc != nil {
		ev.e.classifier.Release(ev.sc)
		ev.sc = nil
	}
}
