// Package console is the web console security staff use to review held
// messages (clause 3.3.5: class I and II information leaves only with the
// permission of the sender's information-security manager) and
// administrators use to watch how the rules behave.
//
// Pages are rendered on the server with html/template, in Japanese first
// with an English switch; CSS and the little JavaScript there is are
// embedded, so the Content-Security-Policy is default-src 'self' with no
// inline script. Accounts are local (console.db, argon2id, lockout);
// sessions are server-side with a CSRF token per session. Every decision
// goes through review.Service (Release, Reject, MarkFalsePositive), which
// enforces the authorisation rules and audits — a bulk decision too, one
// call per message (bulk.go); the console audits sign-ins, sign-outs and
// audit-log exports (audit.go). Everything shown from a message is masked
// by classify.MaskText, the one masking of every view (issue 11 item 8).
package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"dlpguard/audit"
	"dlpguard/classify"
	"dlpguard/hold"
	"dlpguard/internal/secheaders"
	"dlpguard/policy"
	"dlpguard/review"
	"dlpguard/spool"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config of the console.
type Config struct {
	// DataDir holds console.db (the accounts).
	DataDir string
	// Prefix is where the console is mounted (default "/console").
	Prefix string
	// SecureCookies marks cookies Secure even when the request did not
	// come over TLS here (TLS ends at a proxy in front).
	SecureCookies bool
	// SessionIdle ends a session after this long without a request
	// (default 30 minutes); SessionMax after this long anyway (12 hours).
	SessionIdle time.Duration
	SessionMax  time.Duration
	// LoginDelay is waited after a wrong password (default 1s).
	LoginDelay time.Duration
	// MaxFailures and Lockout: after MaxFailures wrong passwords in a row
	// the account is locked for Lockout (defaults 5 and 15 minutes).
	MaxFailures int
	Lockout     time.Duration
}

// Deps are the services the console works with.
type Deps struct {
	Review *review.Service // decisions and their authorisation
	Holds  hold.Store      // lists and contents
	Audit  *audit.Log      // history, sign-ins
	// Policy is the policy in force with its file and reload state; may
	// be nil (the rules page then shows statistics only).
	Policy *policy.Holder
	// Spool is the relay's spool, for the delivery page; may be nil.
	Spool  *spool.Store
	Logger *slog.Logger
	Now    func() time.Time
	// Directory signs staff in by a bind to the city's directory beside
	// the local accounts; may be nil.
	Directory DirectoryAuth
}

// Console is the web console.
type Console struct {
	cfg    Config
	d      Deps
	users  *Users
	log    *slog.Logger
	now    func() time.Time
	pages  map[string]*template.Template
	static http.Handler

	mu       sync.Mutex
	sessions map[string]*session
	dirFail  dirFailures
}

type session struct {
	id       string
	username string
	csrf     string
	created  time.Time
	last     time.Time
	// dirUser is the account of a directory sign-in (no local row).
	dirUser *User
}

// New opens the account database in cfg.DataDir and parses the pages.
func New(cfg Config, d Deps) (*Console, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("console: no data folder")
	}
	if d.Review == nil || d.Holds == nil || d.Audit == nil {
		return nil, errors.New("console: review service, hold store and audit log are required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/console"
	}
	cfg.Prefix = "/" + strings.Trim(cfg.Prefix, "/")
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 30 * time.Minute
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 12 * time.Hour
	}
	if cfg.LoginDelay == 0 {
		cfg.LoginDelay = time.Second
	}
	c := &Console{cfg: cfg, d: d, log: d.Logger, now: d.Now, sessions: map[string]*session{}}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	u, err := openUsers(context.Background(), cfg.DataDir, d.Holds)
	if err != nil {
		return nil, err
	}
	if cfg.MaxFailures > 0 {
		u.MaxFailures = cfg.MaxFailures
	}
	if cfg.Lockout > 0 {
		u.Lockout = cfg.Lockout
	}
	c.users = u
	if c.pages, err = parsePages(c.funcs()); err != nil {
		u.Close()
		return nil, err
	}
	sub, _ := fs.Sub(staticFS, "static")
	c.static = http.StripPrefix(cfg.Prefix+"/static/", http.FileServerFS(sub))
	return c, nil
}

// Users is the account database (for the CLI and tests).
func (c *Console) Users() *Users { return c.users }

// Close closes the account database.
func (c *Console) Close() error { return c.users.Close() }

// funcs are the pages' template functions. Times are written in the
// review service's zone (review.time_zone, Asia/Tokyo by default) with the
// zone shown, as notices and the CLI write them.
func (c *Console) funcs() template.FuncMap {
	return template.FuncMap{
		"fmtTime": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return c.d.Review.Time(t)
		},
		"mask":      classify.MaskText,
		"maskLoose": classify.MaskTextLoose,
		"join":      strings.Join,
		"bytes":     humanBytes,
		"add":       func(a, b int) int { return a + b },
		"list":      func(s ...string) []string { return s },
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func parsePages(funcs template.FuncMap) (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		out[base] = t
	}
	return out, nil
}

// Handler serves the console; mount it at Config.Prefix ("/console/").
func (c *Console) Handler() http.Handler {
	p := c.cfg.Prefix
	mux := http.NewServeMux()
	mux.Handle("GET "+p+"/static/", c.static)
	mux.HandleFunc("GET "+p+"/login", c.handleLoginPage)
	mux.HandleFunc("POST "+p+"/login", c.handleLogin)
	mux.HandleFunc("POST "+p+"/logout", c.authed(c.handleLogout, false))
	mux.HandleFunc("GET "+p+"/{$}", c.authed(func(w http.ResponseWriter, r *http.Request, pg *page) {
		http.Redirect(w, r, p+"/holds", http.StatusSeeOther)
	}, false))
	mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, p+"/", http.StatusSeeOther) })
	mux.HandleFunc("GET "+p+"/holds", c.authed(c.handleList, false))
	mux.HandleFunc("GET "+p+"/holds/{id}", c.authed(c.handleDetail, false))
	mux.HandleFunc("POST "+p+"/bulk/{action}", c.authed(c.handleBulk, false))
	mux.HandleFunc("POST "+p+"/holds/{id}/release", c.authed(c.handleRelease, false))
	mux.HandleFunc("POST "+p+"/holds/{id}/reject", c.authed(c.handleReject, false))
	mux.HandleFunc("POST "+p+"/holds/{id}/false-positive", c.authed(c.handleFalsePositive, false))
	mux.HandleFunc("POST "+p+"/holds/{id}/links/revoke", c.authed(c.handleRevokeLinks, false))
	mux.HandleFunc("GET "+p+"/history", c.authed(c.handleHistory, false))
	mux.HandleFunc("GET "+p+"/audit", c.authed(c.handleAudit, true))
	mux.HandleFunc("GET "+p+"/audit.csv", c.authed(c.handleAuditExport("csv"), true))
	mux.HandleFunc("GET "+p+"/audit.json", c.authed(c.handleAuditExport("json"), true))
	mux.HandleFunc("GET "+p+"/rules", c.authed(c.handleRules, true))
	mux.HandleFunc("GET "+p+"/delivery", c.authed(c.handleDelivery, true))
	return securityHeaders(mux)
}

// securityHeaders: no inline script, no framing, no referrer (hold IDs
// are in URLs), no caching of pages with message content.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secheaders.Set(w.Header())
		if !strings.Contains(r.URL.Path, "/static/") {
			w.Header().Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

const (
	sessionCookie = "dlpguard_session"
	loginCookie   = "dlpguard_login"
	langCookie    = "dlpguard_lang"
)

func (c *Console) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: c.cfg.Prefix + "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.cfg.SecureCookies || r.TLS != nil}
}

// lang: ?lang=en or ?lang=ja switches and is remembered in a cookie.
func (c *Console) lang(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "ja" {
		http.SetCookie(w, c.cookie(r, langCookie, l, 365*24*3600))
		return l
	}
	if ck, err := r.Cookie(langCookie); err == nil && ck.Value == "en" {
		return "en"
	}
	return "ja"
}

// page is what every template gets.
type page struct {
	Lang   string
	Title  string
	Nav    string
	P      string // prefix
	User   *User
	CSRF   string
	Data   any
	Notice string
	Error  string
	// LangURL is this page in the other language (query kept).
	LangURL string
	sess    *session
	actor   review.Actor
}

// T translates key into the page's language.
func (p *page) T(key string) string { return tr(p.Lang, key) }

// Admin reports whether the signed-in person is an administrator.
func (p *page) Admin() bool { return p.User != nil && p.User.Role == RoleAdmin }

func (c *Console) newPage(w http.ResponseWriter, r *http.Request) *page {
	pg := &page{Lang: c.lang(w, r), P: c.cfg.Prefix}
	q := r.URL.Query()
	if pg.Lang == "en" {
		q.Set("lang", "ja")
	} else {
		q.Set("lang", "en")
	}
	pg.LangURL = r.URL.Path + "?" + q.Encode()
	return pg
}

func (c *Console) render(w http.ResponseWriter, status int, name string, pg *page) {
	t := c.pages[name]
	if t == nil {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout.html", pg); err != nil {
		c.log.Error("console: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// fail renders an error page with the status.
func (c *Console) fail(w http.ResponseWriter, pg *page, status int, msg string) {
	pg.Title = pg.T("error")
	pg.Error = msg
	c.render(w, status, "error", pg)
}

// failErr renders a review refusal (403, 404, 409 …) with its text.
func (c *Console) failErr(w http.ResponseWriter, r *http.Request, pg *page, err error) {
	var e *review.Error
	if errors.As(err, &e) {
		msg := e.JA
		if pg.Lang == "en" {
			msg = e.EN
		}
		c.fail(w, pg, e.Status, msg)
		return
	}
	c.log.Error("console", "path", r.URL.Path, "err", err)
	c.fail(w, pg, http.StatusInternalServerError, pg.T("internal"))
}

// session returns the live session of the request, or nil.
func (c *Console) session(r *http.Request) *session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[ck.Value]
	if s == nil {
		return nil
	}
	if now.Sub(s.last) > c.cfg.SessionIdle || now.Sub(s.created) > c.cfg.SessionMax {
		delete(c.sessions, s.id)
		return nil
	}
	s.last = now
	return s
}

// authed checks the session (anonymous → the sign-in page), the account
// (disabled since → signed out), the CSRF token of every POST and, for
// adminOnly pages, the role; the handler gets the page with the actor.
func (c *Console) authed(next func(http.ResponseWriter, *http.Request, *page), adminOnly bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pg := c.newPage(w, r)
		s := c.session(r)
		if s == nil {
			if r.Method == http.MethodPost {
				c.fail(w, pg, http.StatusForbidden, pg.T("session_expired"))
				return
			}
			http.Redirect(w, r, c.cfg.Prefix+"/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		var u User
		var err error
		if s.dirUser != nil {
			u = *s.dirUser
			u.Disabled = c.dirSessionGone(r.Context(), s.dirUser)
		} else {
			u, err = c.users.Get(r.Context(), s.username)
		}
		if err != nil || u.Disabled {
			c.endSession(s.id)
			http.Redirect(w, r, c.cfg.Prefix+"/login", http.StatusSeeOther)
			return
		}
		pg.User, pg.CSRF, pg.sess = &u, s.csrf, s
		pg.actor = review.Actor{Address: u.Email, Role: u.Role, Departments: u.Departments}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil || !tokenEqual(r.PostForm.Get("csrf"), s.csrf) {
				c.log.Warn("console: CSRF token missing or wrong", "user", u.Username, "path", r.URL.Path, "remote", r.RemoteAddr)
				c.fail(w, pg, http.StatusForbidden, pg.T("csrf"))
				return
			}
		}
		if adminOnly && u.Role != RoleAdmin {
			c.fail(w, pg, http.StatusForbidden, pg.T("forbidden"))
			return
		}
		next(w, r, pg)
	}
}

func tokenEqual(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (c *Console) endSession(id string) {
	c.mu.Lock()
	delete(c.sessions, id)
	c.mu.Unlock()
}

// safeNext keeps a redirect after sign-in inside the console.
func (c *Console) safeNext(next string) string {
	if strings.HasPrefix(next, c.cfg.Prefix+"/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") &&
		!strings.HasPrefix(next, c.cfg.Prefix+"/login") {
		return next
	}
	return c.cfg.Prefix + "/holds"
}

func urlQueryEscape(s string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "#", "%23", " ", "%20", "?", "%3F", "=", "%3D").Replace(s)
}

type loginData struct {
	Username, Next, Token string
}

func (c *Console) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	pg := c.newPage(w, r)
	if c.session(r) != nil {
		http.Redirect(w, r, c.safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.loginForm(w, r, pg, http.StatusOK, "", "")
}

// loginForm shows the sign-in form with a fresh login CSRF token, bound
// to a cookie (double submit): a foreign site cannot sign a browser in to
// an account of its choosing.
func (c *Console) loginForm(w http.ResponseWriter, r *http.Request, pg *page, status int, username, msg string) {
	tok := randomToken()
	http.SetCookie(w, c.cookie(r, loginCookie, tok, 3600))
	pg.Title, pg.Error = pg.T("signin"), msg
	pg.Data = loginData{Username: username, Next: c.safeNext(r.FormValue("next")), Token: tok}
	c.render(w, status, "login", pg)
}

func (c *Console) handleLogin(w http.ResponseWriter, r *http.Request) {
	pg := c.newPage(w, r)
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		c.fail(w, pg, http.StatusBadRequest, pg.T("error"))
		return
	}
	ck, err := r.Cookie(loginCookie)
	if err != nil || !tokenEqual(ck.Value, r.PostForm.Get("csrf")) {
		c.log.Warn("console: sign-in without a valid login token", "remote", r.RemoteAddr)
		c.loginForm(w, r, pg, http.StatusForbidden, r.PostForm.Get("username"), pg.T("csrf"))
		return
	}
	username := normUser(r.PostForm.Get("username"))
	u, err := c.authenticate(r.Context(), username, r.PostForm.Get("password"))
	if err != nil {
		c.audit(r.Context(), username, "login-failed", map[string]any{"remote": r.RemoteAddr, "error": err.Error()})
		c.log.Warn("console: sign-in failed", "user", username, "remote", r.RemoteAddr, "err", err)
		// A short pause makes guessing slow; the lockout makes it futile.
		select {
		case <-time.After(c.cfg.LoginDelay):
		case <-r.Context().Done():
		}
		msg := pg.T("bad_login")
		if errors.Is(err, ErrLocked) {
			msg = pg.T("locked")
		} else if errors.Is(err, ErrNoRole) {
			msg = pg.T("no_role")
		} else if errors.Is(err, ErrDirectoryDown) {
			msg = pg.T("directory_down")
			c.log.Error("console: sign-in", "user", username, "err", err)
		} else if !errors.Is(err, ErrBadLogin) && !errors.Is(err, ErrDisabled) {
			c.log.Error("console: sign-in", "user", username, "err", err)
		}
		status := http.StatusUnauthorized
		if errors.Is(err, ErrLocked) {
			status = http.StatusTooManyRequests
		}
		c.loginForm(w, r, pg, status, username, msg)
		return
	}
	// A new session ID on every sign-in (no fixation).
	now := c.now()
	s := &session{id: randomToken(), username: u.Username, csrf: randomToken(), created: now, last: now}
	if u.Source == "directory" {
		s.dirUser = &u
	}
	c.mu.Lock()
	// Forget abandoned sessions here, so that the table stays small
	// without a sweeper goroutine.
	for id, old := range c.sessions {
		if now.Sub(old.last) > c.cfg.SessionIdle || now.Sub(old.created) > c.cfg.SessionMax {
			delete(c.sessions, id)
		}
	}
	c.sessions[s.id] = s
	c.mu.Unlock()
	http.SetCookie(w, c.cookie(r, sessionCookie, s.id, 0))
	http.SetCookie(w, c.cookie(r, loginCookie, "", -1))
	details := map[string]any{"user": u.Username, "remote": r.RemoteAddr}
	if u.Source != "" {
		details["source"], details["role"], details["departments"] = u.Source, u.Role, u.Departments
	}
	c.audit(r.Context(), u.Email, audit.Login, details)
	c.log.Info("console: signed in", "user", u.Username, "remote", r.RemoteAddr)
	http.Redirect(w, r, c.safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

func (c *Console) handleLogout(w http.ResponseWriter, r *http.Request, pg *page) {
	c.endSession(pg.sess.id)
	http.SetCookie(w, c.cookie(r, sessionCookie, "", -1))
	c.audit(r.Context(), pg.User.Email, "logout", map[string]any{"user": pg.User.Username})
	http.Redirect(w, r, c.cfg.Prefix+"/login", http.StatusSeeOther)
}

// audit appends a console entry (sign-in, sign-out); a failure is logged:
// the audit log's own alarms cover it.
func (c *Console) audit(ctx context.Context, actor, action string, details map[string]any) {
	if actor == "" {
		actor = "anonymous"
	}
	if _, err := c.d.Audit.Append(ctx, actor, action, "console", details); err != nil {
		c.log.Error("console: audit", "action", action, "err", err)
	}
}
