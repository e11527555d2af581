package review

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"dlpguard/audit"
	"dlpguard/classify"
	"dlpguard/hold"
	"dlpguard/internal/secheaders"
)

// Handler serves the HTTP JSON API:
//
//	GET  /api/v1/holds                      list (status, department, rule, level, age, limit, offset)
//	GET  /api/v1/holds/{id}                 record, verdict, parts, approvers
//	POST /api/v1/holds/{id}/release         {"reason": "...", "encryption": "none", "exception": "EX-…"} (the last two optional)
//	POST /api/v1/holds/{id}/reject          {"reason": "..."}
//	POST /api/v1/holds/{id}/false-positive  {"detector": "...", "location": "...", "reason": "..."}
//	GET  /api/v1/holds/{id}/links           download links of a release by link, with every download
//	POST /api/v1/holds/{id}/links/revoke    {"reason": "..."}: ends them (the sender or an approver)
//	GET  /api/v1/delays/{id}/{cancel|send}  signed link from the sender's notice: a confirmation page
//	POST /api/v1/delays/{id}/{cancel|send}  the same link, confirmed
//	GET  /api/v1/links/{id}/revoke          signed link from the sender's notice of a release by link: a confirmation page
//	POST /api/v1/links/{id}/revoke          the same link, confirmed: every download link of the release revoked
//
// The holds endpoints take "Authorization: Bearer TOKEN" (dlpguard tokens
// add); the delay links are authorised by their signature alone.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/holds", s.auth(s.handleList))
	mux.HandleFunc("GET /api/v1/holds/{id}", s.auth(s.handleShow))
	mux.HandleFunc("POST /api/v1/holds/{id}/release", s.auth(s.handleRelease))
	mux.HandleFunc("POST /api/v1/holds/{id}/reject", s.auth(s.handleReject))
	mux.HandleFunc("POST /api/v1/holds/{id}/false-positive", s.auth(s.handleFalsePositive))
	mux.HandleFunc("GET /api/v1/holds/{id}/links", s.auth(s.handleLinks))
	mux.HandleFunc("POST /api/v1/holds/{id}/links/revoke", s.auth(s.handleRevokeLinks))
	mux.HandleFunc("GET /api/v1/delays/{id}/{action}", s.handleDelayPage)
	mux.HandleFunc("POST /api/v1/delays/{id}/{action}", s.handleDelayAction)
	mux.HandleFunc("GET /api/v1/links/{id}/revoke", s.handleSignedRevokePage)
	mux.HandleFunc("POST /api/v1/links/{id}/revoke", s.handleSignedRevoke)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeErr answers with {"error": {code, message_ja, message_en}}.
func (s *Service) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		s.log.Error("review api", "method", r.Method, "path", r.URL.Path, "err", err)
		e = errf(http.StatusInternalServerError, "internal", "内部エラーが発生しました。", "internal error", err)
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="dlpguard"`)
	}
	writeJSON(w, e.Status, map[string]any{"error": e})
}

func (s *Service) auth(next func(http.ResponseWriter, *http.Request, Actor)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(tok) == "" {
			err := errf(http.StatusUnauthorized, "unauthorized", "認証が必要です（API トークン）。", "authentication required (API token)", nil)
			s.auditRefusedAction(r, err)
			s.writeErr(w, r, err)
			return
		}
		t, err := s.db.Authenticate(r.Context(), strings.TrimSpace(tok))
		if err != nil {
			if errors.Is(err, ErrNoToken) {
				s.log.Warn("review api: invalid token", "remote", r.RemoteAddr, "path", r.URL.Path)
				s.auditLogin(r, "", false)
				err = errf(http.StatusUnauthorized, "invalid_token", "API トークンが無効です。", "invalid API token", err)
				s.auditRefusedAction(r, err)
			}
			s.writeErr(w, r, err)
			return
		}
		s.auditLogin(r, t.Name+"\x00"+t.Actor, true)
		next(w, r, Actor{Address: t.Actor, Role: t.Role, Departments: t.Departments})
	}
}

// auditRefusedAction records an action on a held message refused before
// its actor was known (no or a bad token): every attempt is in the audit
// log with its reason code (bad_token).
func (s *Service) auditRefusedAction(r *http.Request, err error) {
	id := r.PathValue("id")
	if r.Method != http.MethodPost || id == "" {
		return
	}
	action := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	host, _, splitErr := net.SplitHostPort(r.RemoteAddr)
	if splitErr != nil {
		host = r.RemoteAddr
	}
	// Bounded like failed logins: one entry per host, message and action
	// a minute, so that a flood of bad requests cannot flood the log.
	key, now := "action\x00"+host+"\x00"+id+"\x00"+action, s.now()
	s.loginMu.Lock()
	last, seen := s.lastFailed[key]
	if !seen || now.Sub(last) >= time.Minute {
		if len(s.lastFailed) > 10000 {
			clear(s.lastFailed)
		}
		s.lastFailed[key] = now
	}
	s.loginMu.Unlock()
	if seen && now.Sub(last) < time.Minute {
		return
	}
	s.attempt(r.Context(), Actor{}, action, id, err, map[string]any{"remote": host})
}

// auditLogin records API logins: a token's first use and then at most
// hourly (every request would drown the log), and failed attempts at most
// once a minute per remote host.
func (s *Service) auditLogin(r *http.Request, key string, ok bool) {
	now := s.now()
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	s.loginMu.Lock()
	m, every := s.lastLogin, time.Hour
	if !ok {
		m, every, key = s.lastFailed, time.Minute, host
	}
	if last, seen := m[key]; seen && now.Sub(last) < every {
		s.loginMu.Unlock()
		return
	}
	if len(m) > 10000 {
		clear(m) // bounded: a flood of hosts only costs more entries
	}
	m[key] = now
	s.loginMu.Unlock()
	actor, details := "unknown", map[string]any{"remote": host, "result": "ok"}
	if ok {
		name, addr, _ := strings.Cut(key, "\x00")
		actor, details["token"] = addr, name
	} else {
		details["result"] = "invalid token"
	}
	s.auditLog(r.Context(), s.log, actor, audit.Login, "api", details)
}

// parseAge reads "36h", "90m" or "7d".
func parseAge(v string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(d)
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(v)
}

func badRequest(en, ja string) error { return errf(http.StatusBadRequest, "bad_request", ja, en, nil) }

func (s *Service) handleList(w http.ResponseWriter, r *http.Request, a Actor) {
	q := r.URL.Query()
	f := hold.Filter{Rule: q.Get("rule"), Level: hold.Level(q.Get("level"))}
	for _, st := range strings.Split(q.Get("status"), ",") {
		if st = strings.TrimSpace(st); st != "" {
			f.Status = append(f.Status, hold.Status(st))
		}
	}
	if v := q.Get("age"); v != "" {
		d, err := parseAge(v)
		if err != nil || d < 0 {
			s.writeErr(w, r, badRequest("age: want e.g. 24h or 7d", "age の形式が正しくありません（例: 24h、7d）。"))
			return
		}
		f.CreatedBefore = s.now().Add(-d)
	}
	for name, dst := range map[string]*int{"limit": &f.Limit, "offset": &f.Offset} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				s.writeErr(w, r, badRequest(name+": want a number", name+" は数値で指定してください。"))
				return
			}
			*dst = n
		}
	}
	// One rule for lists, shows and actions (Authorize); the scope is
	// its list part.
	f, ok := s.ListScope(a).Filter(f, q.Get("department"))
	if !ok {
		s.writeErr(w, r, errDept)
		return
	}
	page, err := s.holds.List(r.Context(), f)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if page.Records == nil {
		page.Records = []hold.Record{}
	}
	for i := range page.Records {
		// Masked as every view of a message is (issue 11 item 8).
		page.Records[i].Subject, page.Records[i].Reason = classify.MaskText(page.Records[i].Subject), classify.MaskText(page.Records[i].Reason)
	}
	writeJSON(w, http.StatusOK, page)
}

// HoldView is what GET /api/v1/holds/{id} returns.
type HoldView struct {
	hold.Record
	// Approvers are who may decide now, by the policy in force (3.3.5).
	Approvers         []string          `json:"approvers"`
	RequireEncryption bool              `json:"require_encryption"`
	Parts             []hold.Attachment `json:"parts"`
	// Times are the record's times for people, in review.time_zone with
	// the zone shown.
	Times Times `json:"times"`
}

// Times are a record's times written for people (e.g. "2026-12-07 11:02
// JST"); empty when not set.
type Times struct {
	Created   string `json:"created"`
	ExpiresAt string `json:"expires_at"`
	ActedAt   string `json:"acted_at,omitempty"`
	Reminded  string `json:"reminded_at,omitempty"`
}

func (s *Service) view(ctx context.Context, rec hold.Record) HoldView {
	// What staff read (the CLI's hold list/show, the console) is masked
	// the one way every view masks (issue 11 item 8).
	rec.Subject, rec.Reason = classify.MaskText(rec.Subject), classify.MaskText(rec.Reason)
	v := HoldView{Record: rec, Approvers: append([]string{}, s.currentApprovers(ctx, rec)...),
		RequireEncryption: rec.Handling.RequireEncryption || rec.Level == "I" || rec.Level == "II", Parts: rec.Verdict.Attachments,
		Times: Times{Created: s.Time(rec.Created), ExpiresAt: s.Time(rec.ExpiresAt), ActedAt: s.Time(rec.ActedAt), Reminded: s.Time(rec.RemindedAt)}}
	if v.Parts == nil {
		v.Parts = []hold.Attachment{}
	}
	return v
}

func (s *Service) handleShow(w http.ResponseWriter, r *http.Request, a Actor) {
	rec, err := s.get(r.Context(), r.PathValue("id"))
	if err == nil {
		err = s.Authorize(r.Context(), a, rec, OpView)
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(r.Context(), rec))
}

// actionBody is the JSON body of the POST actions.
type actionBody struct {
	Reason   string `json:"reason"`
	Detector string `json:"detector,omitempty"`
	Location string `json:"location,omitempty"`
	ReleaseOptions
}

func readBody(r *http.Request) (actionBody, error) {
	var b actionBody
	data, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return b, err
	}
	if len(strings.TrimSpace(string(data))) > 0 {
		if err := json.Unmarshal(data, &b); err != nil {
			return b, badRequest("body: want JSON {\"reason\": \"...\"}", "本文は JSON {\"reason\": \"...\"} で指定してください。")
		}
	}
	return b, nil
}

func (s *Service) handleRelease(w http.ResponseWriter, r *http.Request, a Actor) {
	b, err := readBody(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	res, err := s.Release(r.Context(), r.PathValue("id"), a, b.Reason, b.ReleaseOptions)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Service) handleReject(w http.ResponseWriter, r *http.Request, a Actor) {
	b, err := readBody(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	rec, err := s.Reject(r.Context(), r.PathValue("id"), a, b.Reason)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(r.Context(), rec))
}

func (s *Service) handleFalsePositive(w http.ResponseWriter, r *http.Request, a Actor) {
	b, err := readBody(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	rec, err := s.MarkFalsePositive(r.Context(), r.PathValue("id"), hold.FalsePositive{Detector: b.Detector, Location: b.Location}, a, b.Reason)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(r.Context(), rec))
}

var delayPage = template.Must(template.New("delay").Parse(`<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>dlpguard</title></head>
<body>
<p>{{.JA}}</p>
<p lang="en">{{.EN}}</p>
{{if .Form}}<form method="post" action="{{.Action}}"><button type="submit">{{.Button}}</button></form>{{end}}
</body></html>
`))

type delayPageData struct {
	JA, EN, Action, Button string
	Form                   bool
}

func (s *Service) delayPageErr(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = errf(http.StatusInternalServerError, "internal", "内部エラーが発生しました。", "internal error", err)
		s.log.Error("review: delay link", "err", err)
	}
	htmlHeaders(w)
	w.WriteHeader(e.Status)
	delayPage.Execute(w, delayPageData{JA: e.JA, EN: e.EN})
}

// htmlHeaders: the sender's link pages (delay, revoke) are served on the
// API mux; they get the console's security headers.
func htmlHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	secheaders.Set(w.Header())
}

func delayAction(a string) (ja, en string, ok bool) {
	switch a {
	case "cancel":
		return "送信を取り消す", "Cancel sending", true
	case "send":
		return "今すぐ送信する", "Send now", true
	}
	return "", "", false
}

// handleDelayPage shows a confirmation: a GET changes nothing, so link
// scanners that fetch every URL in a mail cannot cancel or send.
func (s *Service) handleDelayPage(w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.PathValue("action")
	ja, en, ok := delayAction(action)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if err := s.checkLink(action, id, r.URL.Query().Get("exp"), r.URL.Query().Get("sig")); err != nil {
		s.delayPageErr(w, err)
		return
	}
	htmlHeaders(w)
	w.Header().Set("Cache-Control", "no-store")
	delayPage.Execute(w, delayPageData{JA: "送信待ちのメール " + id + " を" + ja + "場合は、ボタンを押してください。",
		EN: en + ": press the button for message " + id + ".", Action: r.URL.RequestURI(), Button: ja + " / " + en, Form: true})
}

func (s *Service) handleDelayAction(w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.PathValue("action")
	if _, _, ok := delayAction(action); !ok {
		http.NotFound(w, r)
		return
	}
	err := s.checkLink(action, id, r.URL.Query().Get("exp"), r.URL.Query().Get("sig"))
	if err == nil {
		if action == "cancel" {
			err = s.cancelDelayed(r.Context(), id)
		} else {
			err = s.sendDelayed(r.Context(), id, "sender")
		}
	}
	if err != nil {
		s.linkFail(w, r, err)
		return
	}
	ja, en := fmt.Sprintf("メール %s の送信を取り消しました。", id), fmt.Sprintf("Message %s was cancelled.", id)
	if action == "send" {
		ja, en = fmt.Sprintf("メール %s を送信しました。", id), fmt.Sprintf("Message %s was sent.", id)
	}
	linkDone(w, r, map[string]string{"id": id, "action": action, "message_ja": ja, "message_en": en}, ja, en)
}

// linkFail answers a refused or failed link action: JSON to a client
// that asks for it, else the page.
func (s *Service) linkFail(w http.ResponseWriter, r *http.Request, err error) {
	if wantsJSON(r) {
		s.writeErr(w, r, err)
		return
	}
	s.delayPageErr(w, err)
}

// linkDone answers a link action done: v as JSON to a client that asks
// for it, else the page saying ja and en.
func linkDone(w http.ResponseWriter, r *http.Request, v any, ja, en string) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, v)
		return
	}
	htmlHeaders(w)
	delayPage.Execute(w, delayPageData{JA: ja, EN: en})
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}
