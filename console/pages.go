package console

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"dlpguard/classify"
	"dlpguard/hold"
	"dlpguard/inspect"
	"dlpguard/policy"
	"dlpguard/review"
	"dlpguard/spool"
)

const pageSize = 50

// listQuery is the filter form of the list and history pages.
type listQuery struct {
	Department, Rule, Level, Age, Status string
	// Search: words that must each match the hold ID, the sender, a
	// recipient or the (masked) subject.
	Search string
	Offset int
}

func (q listQuery) url(base string, offset int) string {
	v := url.Values{}
	for k, s := range map[string]string{"department": q.Department, "rule": q.Rule, "level": q.Level, "age": q.Age, "status": q.Status, "q": q.Search} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if offset > 0 {
		v.Set("offset", strconv.Itoa(offset))
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}

// parseAge reads "36h", "90m" or "7d" (as the API does).
func parseAge(v string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(d)
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(v)
}

// filterFor builds the hold filter of a query, limited to what the actor
// may see: approvers only their departments (the same rule as the API).
func (c *Console) filterFor(pg *page, q listQuery) (hold.Filter, bool) {
	f := hold.Filter{Rule: q.Rule, Level: hold.Level(q.Level), Limit: pageSize, Offset: q.Offset}
	if q.Age != "" {
		if d, err := parseAge(q.Age); err == nil && d >= 0 {
			f.CreatedBefore = c.now().Add(-d)
		}
	}
	if q.Department != "" {
		f.Departments = []string{q.Department}
	}
	if pg.User.Role != RoleAdmin {
		if q.Department == "" {
			f.Departments = pg.User.Departments
		} else if !slices.Contains(pg.User.Departments, q.Department) {
			return f, false
		}
		if len(f.Departments) == 0 {
			return f, false
		}
	}
	return f, true
}

func readQuery(r *http.Request) listQuery {
	q := r.URL.Query()
	lq := listQuery{Department: q.Get("department"), Rule: q.Get("rule"), Level: q.Get("level"), Age: q.Get("age"), Status: q.Get("status"),
		Search: strings.TrimSpace(q.Get("q"))}
	if n, err := strconv.Atoi(q.Get("offset")); err == nil && n > 0 {
		lq.Offset = n
	}
	return lq
}

type row struct {
	hold.Record
	Rules string
	Own   bool
}

type listData struct {
	Q listQuery
	// Bulk: the page offers selecting rows for one decision (held
	// messages, not the history).
	Bulk bool
	// SearchCut: the search looked at the newest maxSearched records only.
	SearchCut   bool
	Rows        []row
	Total       int
	ByLevel     map[string]int
	From, To    int
	PrevURL     string
	NextURL     string
	Departments []string
	RuleIDs     []string
	Statuses    []string
}

func (c *Console) rows(pg *page, recs []hold.Record) []row {
	out := make([]row, 0, len(recs))
	for _, rec := range recs {
		ids := make([]string, 0, len(rec.Verdict.Rules))
		for _, ru := range rec.Verdict.Rules {
			ids = append(ids, ru.ID)
		}
		rec.Subject = classify.MaskText(rec.Subject)
		out = append(out, row{Record: rec, Rules: strings.Join(ids, ", "), Own: sameAddr(rec.Envelope.From, pg.User.Email)})
	}
	return out
}

func sameAddr(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b)) && strings.TrimSpace(a) != ""
}

func (c *Console) ruleIDs() []string {
	if c.d.Policy != nil {
		if e := c.d.Policy.Engine(); e != nil {
			return e.RuleIDs()
		}
	}
	return nil
}

// handleList: 保留一覧, the held messages the person may act on, newest
// first, with counts per level.
func (c *Console) handleList(w http.ResponseWriter, r *http.Request, pg *page) {
	c.listPage(w, r, pg, "holds", []hold.Status{hold.Held})
}

// handleHistory: 履歴, decided messages with the same filters.
func (c *Console) handleHistory(w http.ResponseWriter, r *http.Request, pg *page) {
	st := []hold.Status{hold.Released, hold.Rejected, hold.Expired}
	if s := r.URL.Query().Get("status"); s == string(hold.Released) || s == string(hold.Rejected) || s == string(hold.Expired) {
		st = []hold.Status{hold.Status(s)}
	}
	c.listPage(w, r, pg, "history", st)
}

func (c *Console) listPage(w http.ResponseWriter, r *http.Request, pg *page, name string, status []hold.Status) {
	q := readQuery(r)
	pg.Nav, pg.Title = name, pg.T(name+"_title")
	d := listData{Q: q, ByLevel: map[string]int{}, RuleIDs: c.ruleIDs(), Statuses: []string{"released", "rejected", "expired"},
		Bulk: name == "holds"}
	if pg.User.Role != RoleAdmin {
		d.Departments = pg.User.Departments
	} else {
		// An administrator picks from the policy's departments (a typo in
		// a free-text box would show an empty list, not an error).
		d.Departments = c.departments(q.Department)
	}
	f, ok := c.filterFor(pg, q)
	if !ok {
		// Another department's list: refused, like its messages.
		c.fail(w, pg, http.StatusForbidden, pg.T("forbidden"))
		return
	}
	f.Status = status
	var res hold.Page
	var err error
	if q.Search != "" {
		res, d.SearchCut, err = c.search(r.Context(), f, q.Search, d.ByLevel)
	} else {
		res, err = c.d.Holds.List(r.Context(), f)
		for _, l := range []string{"I", "II", "III"} {
			lf := f
			lf.Level, lf.Limit, lf.Offset = hold.Level(l), 1, 0
			if p, err := c.d.Holds.List(r.Context(), lf); err == nil {
				d.ByLevel[l] = p.Total
			}
		}
	}
	if err != nil {
		c.failErr(w, r, pg, err)
		return
	}
	d.Rows, d.Total = c.rows(pg, res.Records), res.Total
	d.From, d.To = q.Offset+1, q.Offset+len(res.Records)
	base := pg.P + "/" + name
	if q.Offset > 0 {
		d.PrevURL = q.url(base, max(q.Offset-pageSize, 0))
	}
	if q.Offset+len(res.Records) < res.Total {
		d.NextURL = q.url(base, q.Offset+pageSize)
	}
	pg.Data = d
	c.render(w, http.StatusOK, name, pg)
}

// maxSearched bounds the records one search reads (newest first): the
// records are encrypted at rest, so sender, recipients and subject are
// matched here, not in SQL.
const maxSearched = 10000

// search returns the page of records under f (the person's departments,
// status, rule, level, age) whose ID, sender, recipients or masked subject
// contain every word of query (case folded), and counts them per level.
// The subject is matched as shown, masked: a search for digits cannot find
// out the hidden part of an identifier.
func (c *Console) search(ctx context.Context, f hold.Filter, query string, byLevel map[string]int) (hold.Page, bool, error) {
	words := strings.Fields(strings.ToLower(query))
	off, limit := f.Offset, f.Limit
	var matched []hold.Record
	cut := false
	for scanned := 0; ; {
		f.Offset, f.Limit = scanned, 1000
		p, err := c.d.Holds.List(ctx, f)
		if err != nil {
			return hold.Page{}, false, err
		}
		for _, rec := range p.Records {
			if matchesSearch(rec, words) {
				matched = append(matched, rec)
				byLevel[string(rec.Level)]++
			}
		}
		scanned += len(p.Records)
		if len(p.Records) < 1000 || scanned >= p.Total {
			break
		}
		if scanned >= maxSearched {
			cut = true
			break
		}
	}
	page := hold.Page{Total: len(matched), Offset: off, Limit: limit, Records: []hold.Record{}}
	if off < len(matched) {
		page.Records = matched[off:min(off+limit, len(matched))]
	}
	return page, cut, nil
}

func matchesSearch(rec hold.Record, words []string) bool {
	hay := strings.ToLower(strings.Join(append([]string{rec.ID, rec.Envelope.From, classify.MaskText(rec.Subject)}, rec.Envelope.Recipients...), "\n"))
	for _, w := range words {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

// departments are the policy's departments, and the one asked for if the
// policy (reloaded since) no longer names it.
func (c *Console) departments(selected string) []string {
	var out []string
	if c.d.Policy != nil {
		if e := c.d.Policy.Engine(); e != nil {
			out = e.DepartmentNames()
		}
	}
	if selected != "" && !slices.Contains(out, selected) {
		out = append(out, selected)
	}
	return out
}

// textBlock is the readable text of one location, identifiers masked.
type textBlock struct {
	Location string
	Text     string
	// Records: a personal list was found here, so every field below the
	// headings is masked (classify.MaskRecords).
	Records bool
}

type findingView struct {
	hold.Finding
	FP bool
}

type ruleView struct {
	hold.Rule
	Clauses []Clause
}

type partView struct {
	Name, Type, Reason string
	Size               int64
	Encrypted          bool
	Inspected          bool
	Attachment         bool
	Known              bool // Size and Attachment are known (re-inspected)
}

type detailData struct {
	Rec        hold.Record
	View       review.HoldView
	Rules      []ruleView
	Findings   []findingView
	Parts      []partView
	Headers    [][2]string
	Text       []textBlock
	Truncated  bool
	TextErr    string
	CanAct     bool
	Own        bool
	IsHeld     bool
	Result     *review.ReleaseResult
	ResultNote string

	// Links of a release by link, with their downloads (links.go).
	Links     []review.LinkView
	LinksOpen bool
}

// maxShownText bounds the text shown on the detail page.
const maxShownText = 256 << 10

// textSink collects the extracted text per location, up to a bound.
type textSink struct {
	blocks []textBlock
	n      int
	cut    bool
}

func (s *textSink) Chunk(ch inspect.Chunk) {
	if ch.Kind == inspect.KindFileName {
		return
	}
	if s.n >= maxShownText {
		s.cut = true
		return
	}
	t := ch.Text
	if s.n+len(t) > maxShownText {
		// Cut off a number the bound splits, too: the part before the cut
		// would be masked as a number of its own and show other digits
		// than the whole number's last four.
		t = strings.TrimRightFunc(strings.ToValidUTF8(t[:maxShownText-s.n], ""), func(r rune) bool {
			return unicode.IsDigit(r) || strings.ContainsRune("-‐‑‒–—―−ー－﹣ 　.．/／_\u200b\u200c\u200d\u2060\ufeff\u00ad", r)
		})
		s.cut = true
	}
	s.n += len(t)
	if k := len(s.blocks); k > 0 && s.blocks[k-1].Location == ch.Location {
		s.blocks[k-1].Text += t
		return
	}
	s.blocks = append(s.blocks, textBlock{Location: ch.Location, Text: t})
}

// readable decrypts the content, inspects it as the relay did and returns
// its text, headers and parts, every identifier masked before it leaves
// this function.
func (c *Console) readable(ctx context.Context, id string, d *detailData) error {
	rc, err := c.d.Holds.Content(ctx, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	lim := inspect.Limits{}
	if c.d.Policy != nil {
		if e := c.d.Policy.Engine(); e != nil {
			lim = e.Limits()
		}
	}
	var sink textSink
	res, err := inspect.Message(ctx, rc, lim, &sink)
	if err != nil {
		return err
	}
	// One masking for every view (classify/mask.go), and a personal
	// list's names and addresses masked whole where it was found.
	lists := map[string]bool{}
	for _, f := range d.Rec.Verdict.Findings {
		if f.Detector == classify.PersonalList {
			for _, l := range f.Locations {
				lists[l] = true
			}
		}
	}
	for i := range sink.blocks {
		b := &sink.blocks[i]
		if lists[b.Location] {
			b.Text, b.Records = classify.MaskRecords(b.Text), true
		} else {
			b.Text = classify.MaskText(b.Text)
		}
	}
	d.Text, d.Truncated = sink.blocks, sink.cut
	for _, k := range []string{"From", "To", "Cc", "Subject", "Date", "Message-Id", "Reply-To"} {
		for _, v := range res.Header.Raw[k] {
			d.Headers = append(d.Headers, [2]string{k, classify.MaskText(v)})
		}
	}
	d.Parts = d.Parts[:0]
	for _, p := range res.Parts {
		name := p.Name
		if name == "" {
			name = "(本文 body)"
		}
		d.Parts = append(d.Parts, partView{Name: classify.MaskText(name), Type: p.Type, Reason: p.Reason, Size: p.Size,
			Encrypted: p.Encrypted, Inspected: p.Inspected, Attachment: p.Attachment, Known: true})
	}
	return nil
}

// detail gathers the detail page of a held message the actor may view.
func (c *Console) detail(ctx context.Context, pg *page, id string) (*detailData, error) {
	if err := c.d.Review.Can(ctx, pg.actor, id, review.OpView); err != nil {
		return nil, err
	}
	v, err := c.d.Review.ConsoleView(ctx, id)
	if err != nil {
		return nil, err
	}
	rec := v.Record
	rec.Subject, rec.Reason = classify.MaskText(rec.Subject), classify.MaskText(rec.Reason)
	v.Approvers = uniqueFold(v.Approvers)
	d := &detailData{Rec: rec, View: v, IsHeld: rec.Status == hold.Held}
	d.Own = sameAddr(rec.Envelope.From, pg.User.Email)
	d.CanAct = d.IsHeld && c.d.Review.Can(ctx, pg.actor, id, review.OpDecide) == nil
	for _, ru := range rec.Verdict.Rules {
		ru.Reason = classify.MaskText(ru.Reason)
		d.Rules = append(d.Rules, ruleView{Rule: ru, Clauses: clausesOf(ru.Clause)})
	}
	for _, f := range rec.Verdict.Findings {
		fv := findingView{Finding: f}
		fv.Samples = maskAll(f.Samples)
		fv.Contexts = maskAll(f.Contexts)
		fv.Locations = maskAll(f.Locations)
		for _, fp := range rec.FalsePositives {
			if fp.Detector == f.Detector {
				fv.FP = true
			}
		}
		d.Findings = append(d.Findings, fv)
	}
	for _, a := range rec.Verdict.Attachments {
		d.Parts = append(d.Parts, partView{Name: classify.MaskText(a.Name), Type: a.Type, Encrypted: a.Encrypted, Inspected: a.Inspected, Reason: a.Error, Attachment: true})
	}
	if rec.Status == hold.Released {
		c.linksOf(ctx, pg, d)
	}
	if err := c.readable(ctx, id, d); err != nil {
		c.log.Warn("console: content not readable", "id", id, "err", err)
		d.TextErr = err.Error()
		if errors.Is(err, hold.ErrPurged) {
			d.TextErr = "purged"
		}
	}
	return d, nil
}

// uniqueFold drops repeated addresses (the hold-time and current
// approvers overlap).
func uniqueFold(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		k := strings.ToLower(strings.TrimSpace(s))
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}

func maskAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = classify.MaskText(s)
	}
	return out
}

// viewErr hides other departments' messages behind a 404, so that an
// approver cannot probe which IDs exist.
func viewErr(err error) error {
	var e *review.Error
	if errors.As(err, &e) && e.Code == "wrong_department" {
		return &review.Error{Status: http.StatusNotFound, Code: "not_found", JA: "保留メッセージが見つかりません。", EN: "no such held message", Err: err}
	}
	return err
}

func (c *Console) handleDetail(w http.ResponseWriter, r *http.Request, pg *page) {
	id := r.PathValue("id")
	d, err := c.detail(r.Context(), pg, id)
	if err != nil {
		c.failErr(w, r, pg, viewErr(err))
		return
	}
	pg.Nav, pg.Title, pg.Data = "holds", pg.T("detail_title"), d
	c.render(w, http.StatusOK, "detail", pg)
}

// afterAction shows the detail page again with the outcome; the release
// passphrase appears only in this one response (3.3.5: it goes to the
// recipient by another channel).
func (c *Console) afterAction(w http.ResponseWriter, r *http.Request, pg *page, id, note string, res *review.ReleaseResult) {
	d, err := c.detail(r.Context(), pg, id)
	if err != nil {
		c.failErr(w, r, pg, viewErr(err))
		return
	}
	d.Result, d.ResultNote = res, note
	pg.Nav, pg.Title, pg.Data, pg.Notice = "holds", pg.T("detail_title"), d, pg.T(note)
	c.render(w, http.StatusOK, "detail", pg)
}

func (c *Console) handleRelease(w http.ResponseWriter, r *http.Request, pg *page) {
	id := r.PathValue("id")
	res, err := c.d.Review.Release(r.Context(), id, pg.actor, r.PostForm.Get("reason"))
	if err != nil {
		c.log.Warn("console: release refused", "id", id, "user", pg.User.Username, "err", err)
		c.failErr(w, r, pg, viewErr(err))
		return
	}
	note := "released"
	if res.Status != "released" {
		note = "approved_wait"
	}
	c.log.Info("console: release", "id", id, "user", pg.User.Username, "status", res.Status)
	c.afterAction(w, r, pg, id, note, res)
}

func (c *Console) handleReject(w http.ResponseWriter, r *http.Request, pg *page) {
	id := r.PathValue("id")
	if _, err := c.d.Review.Reject(r.Context(), id, pg.actor, r.PostForm.Get("reason")); err != nil {
		c.log.Warn("console: reject refused", "id", id, "user", pg.User.Username, "err", err)
		c.failErr(w, r, pg, viewErr(err))
		return
	}
	c.log.Info("console: reject", "id", id, "user", pg.User.Username)
	c.afterAction(w, r, pg, id, "rejected", nil)
}

func (c *Console) handleFalsePositive(w http.ResponseWriter, r *http.Request, pg *page) {
	id := r.PathValue("id")
	fp := hold.FalsePositive{Detector: r.PostForm.Get("detector"), Location: r.PostForm.Get("location")}
	if _, err := c.d.Review.MarkFalsePositive(r.Context(), id, fp, pg.actor, r.PostForm.Get("reason")); err != nil {
		c.failErr(w, r, pg, viewErr(err))
		return
	}
	c.afterAction(w, r, pg, id, "fp_done", nil)
}

// RuleStat is how one rule behaved over the hold store.
type RuleStat struct {
	ID                                       string
	Holds, Held, Released, Rejected, Expired int
	FalsePositives                           int
}

type rulesData struct {
	Stats        []RuleStat
	FPByDetector []struct {
		Detector string
		N        int
	}
	PolicyFile string
	Version    string
	YAML       string
	ReloadAt   time.Time
	ReloadErr  string
	Scanned    int
}

// RuleStats walks every hold record (pages of 1000) and counts per rule
// the holds, their outcome and the false-positive marks of the messages
// it held; and the marks per detector.
func RuleStats(ctx context.Context, hs hold.Store) ([]RuleStat, map[string]int, int, error) {
	by := map[string]*RuleStat{}
	fps := map[string]int{}
	n := 0
	for off := 0; ; off += 1000 {
		p, err := hs.List(ctx, hold.Filter{Limit: 1000, Offset: off})
		if err != nil {
			return nil, nil, n, err
		}
		for _, rec := range p.Records {
			n++
			for _, fp := range rec.FalsePositives {
				fps[fp.Detector]++
			}
			seen := map[string]bool{}
			for _, ru := range rec.Verdict.Rules {
				if seen[ru.ID] {
					continue
				}
				seen[ru.ID] = true
				s := by[ru.ID]
				if s == nil {
					s = &RuleStat{ID: ru.ID}
					by[ru.ID] = s
				}
				s.Holds++
				switch rec.Status {
				case hold.Held:
					s.Held++
				case hold.Released:
					s.Released++
				case hold.Rejected:
					s.Rejected++
				case hold.Expired:
					s.Expired++
				}
				s.FalsePositives += len(rec.FalsePositives)
			}
		}
		if len(p.Records) < 1000 || off+len(p.Records) >= p.Total {
			break
		}
	}
	out := make([]RuleStat, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Holds != out[j].Holds {
			return out[i].Holds > out[j].Holds
		}
		return out[i].ID < out[j].ID
	})
	return out, fps, n, nil
}

func (c *Console) handleRules(w http.ResponseWriter, r *http.Request, pg *page) {
	stats, fps, n, err := RuleStats(r.Context(), c.d.Holds)
	if err != nil {
		c.failErr(w, r, pg, err)
		return
	}
	d := rulesData{Stats: stats, Scanned: n}
	for det, k := range fps {
		d.FPByDetector = append(d.FPByDetector, struct {
			Detector string
			N        int
		}{det, k})
	}
	sort.Slice(d.FPByDetector, func(i, j int) bool { return d.FPByDetector[i].N > d.FPByDetector[j].N })
	if h := c.d.Policy; h != nil {
		d.PolicyFile, d.Version = h.Path(), h.Version()
		at, rerr := h.LastReload()
		d.ReloadAt = at
		if rerr != nil {
			d.ReloadErr = rerr.Error()
		}
		if d.PolicyFile == "" {
			d.YAML = string(policy.DefaultYAML())
		} else if b, err := readLimited(d.PolicyFile, 1<<20); err == nil {
			d.YAML = string(b)
		} else {
			d.YAML = err.Error()
		}
	}
	pg.Nav, pg.Title, pg.Data = "rules", pg.T("rules_title"), d
	c.render(w, http.StatusOK, "rules", pg)
}

func readLimited(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

type deferredRow struct {
	ID, From    string
	Received    time.Time
	NextAttempt time.Time
	Recipients  []spool.Recipient
}

type deliveryData struct {
	QueueLen int
	Deferred []deferredRow
	Shown    int
	Err      string
}

// maxDeferredShown bounds the envelopes read for one delivery page.
const maxDeferredShown = 500

func (c *Console) handleDelivery(w http.ResponseWriter, r *http.Request, pg *page) {
	var d deliveryData
	if c.d.Spool != nil {
		ids, err := c.d.Spool.List(spool.AreaQueue)
		if err != nil {
			d.Err = err.Error()
		}
		d.QueueLen = len(ids)
		for _, id := range ids {
			if len(d.Deferred) >= maxDeferredShown {
				break
			}
			env, err := c.d.Spool.Envelope(spool.AreaQueue, id)
			if err != nil {
				continue // delivered and removed meanwhile
			}
			var pend []spool.Recipient
			for _, rc := range env.Recipients {
				if rc.Status == spool.Pending && (rc.Attempts > 0 || rc.LastError != "") {
					rc.LastError = classify.MaskText(rc.LastError)
					pend = append(pend, rc)
				}
			}
			if len(pend) > 0 {
				d.Deferred = append(d.Deferred, deferredRow{ID: env.ID, From: env.From, Received: env.Received, NextAttempt: env.NextAttempt, Recipients: pend})
			}
		}
		sort.Slice(d.Deferred, func(i, j int) bool { return d.Deferred[i].Received.After(d.Deferred[j].Received) })
	}
	pg.Nav, pg.Title, pg.Data = "delivery", pg.T("delivery_title"), d
	c.render(w, http.StatusOK, "delivery", pg)
}
