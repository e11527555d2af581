package download

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"dlpguard/classify"
	"dlpguard/internal/secheaders"
)

//go:embed templates/page.html static/style.css
var assets embed.FS

var pageTmpl = template.Must(template.ParseFS(assets, "templates/page.html"))

type netPrefix = netip.Prefix

func parseNets(list []string) ([]netPrefix, error) {
	var out []netPrefix
	for _, v := range list {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a network or address", v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// clientIP is the peer's address, or, when the peer is a trusted reverse
// proxy, the last address it put in X-Forwarded-For.
func (s *Service) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	for _, p := range s.proxies {
		if p.Contains(peer.Unmap()) {
			xff := r.Header.Values("X-Forwarded-For")
			if len(xff) > 0 {
				parts := strings.Split(xff[len(xff)-1], ",")
				if a, err := netip.ParseAddr(strings.TrimSpace(parts[len(parts)-1])); err == nil {
					return a.String()
				}
			}
			break
		}
	}
	return peer.Unmap().String()
}

// Handler serves the recipients' listener: /d/<token> (the page),
// /d/<token>/code (mail a code), /d/<token>/verify, /d/<token>/f/<n> (a
// file), /d/static/style.css. Nothing else: the console and the API are
// never reachable here.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /d/static/style.css", func(w http.ResponseWriter, r *http.Request) {
		b, _ := assets.ReadFile("static/style.css")
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(b)
	})
	mux.HandleFunc("GET /d/{token}", s.page)
	mux.HandleFunc("POST /d/{token}/code", s.requestCode)
	mux.HandleFunc("POST /d/{token}/verify", s.verify)
	mux.HandleFunc("GET /d/{token}/f/{n}", s.file)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusNotFound, view{Msg: "notfound"})
	})
	return headers(mux)
}

// headers: the console's CSP (no external resource, nothing inline), no
// framing, no referrer (the URL carries the token), no caching.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secheaders.Set(w.Header())
		if !strings.HasPrefix(r.URL.Path, "/d/static/") {
			w.Header().Set("Cache-Control", "no-store")
		}
		// Only the code form is posted: a few bytes.
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		h.ServeHTTP(w, r)
	})
}

// view is what the page template shows.
type view struct {
	EN     bool
	Msg    string // notfound, expired, revoked, locked, usedup, codesent, badcode, nocode, toomany, error
	Token  string
	Link   *Link
	Files  []fileView
	Proven bool
	// Passphrase: the link opens with the officer's passphrase, not a code.
	Passphrase bool
	Expiry     string
	Sender     string
	Lang       string // the other language's query
}

type fileView struct {
	N    int
	Name string
	Size string
}

func (s *Service) lookup(r *http.Request) (string, Link, error) {
	tok := r.PathValue("token")
	if len(tok) < 40 || len(tok) > 64 {
		return tok, Link{}, ErrNotFound
	}
	l, err := s.store.Get(r.Context(), hashToken(tok))
	if err != nil || s.released == nil {
		return tok, l, err
	}
	// A link of a release that has not committed (or never will) does
	// not exist for the recipient (3.3.5).
	ok, err := s.released(r.Context(), l.HoldID)
	if err != nil {
		return tok, Link{}, fmt.Errorf("download: hold %s: %w", l.HoldID, err)
	}
	if !ok {
		return tok, Link{}, ErrNotFound
	}
	return tok, l, nil
}

// SizeText is a file size for people (7.9 KB, 25.0 MB), as the page and
// the notices show it.
func SizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// mask is classify.MaskText: recipients see file names and the sender
// masked as staff do (a number in a file name shows its last four digits).
func mask(s string) string { return classify.MaskText(s) }

func (s *Service) render(w http.ResponseWriter, r *http.Request, status int, v view) {
	v.EN = r.URL.Query().Get("lang") == "en"
	if v.EN {
		v.Lang = "?lang=ja"
	} else {
		v.Lang = "?lang=en"
	}
	if v.Link != nil {
		v.Passphrase = v.Link.PassphraseHash != ""
		v.Expiry = s.Time(v.Link.Expires)
		v.Sender = mask(v.Link.Sender)
		if v.Link.SenderName != "" {
			v.Sender = mask(v.Link.SenderName) + " <" + mask(v.Link.Sender) + ">"
		}
		for i, f := range v.Link.Files {
			v.Files = append(v.Files, fileView{N: i, Name: mask(f.Name), Size: SizeText(f.Size)})
		}
	}
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, v); err != nil {
		s.log.Error("download: page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (s *Service) closedView(w http.ResponseWriter, r *http.Request, l Link) bool {
	var msg string
	switch s.stateOf(l) {
	case stateOpen:
		return false
	case stateExpired:
		msg = "expired"
	case stateRevoked:
		msg = "revoked"
	case stateLocked:
		msg = "locked"
	case stateUsedUp:
		msg = "usedup"
	}
	code := http.StatusGone
	if msg == "locked" {
		code = http.StatusForbidden
	}
	s.render(w, r, code, view{Msg: msg})
	return true
}

const cookieName = "dlpguard_dl"

// proven reports whether the request carries a session proven by a code
// for this very link (another recipient's session is not).
func (s *Service) proven(r *http.Request, l Link) bool {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return false
	}
	exp, ok := l.Sessions[hashSession(c.Value)]
	return ok && s.now().Before(exp)
}

func (s *Service) page(w http.ResponseWriter, r *http.Request) {
	tok, l, ok := s.open(w, r)
	if !ok {
		return
	}
	v := view{Token: tok, Link: &l, Proven: s.proven(r, l)}
	switch r.URL.Query().Get("m") {
	case "codesent", "badcode", "nocode":
		v.Msg = r.URL.Query().Get("m")
	}
	s.render(w, r, http.StatusOK, v)
}

func (s *Service) notFound(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, ErrNotFound) {
		s.log.Error("download: lookup", "err", err)
		s.render(w, r, http.StatusInternalServerError, view{Msg: "error"})
		return
	}
	s.auditLog(r.Context(), "recipient", ActionRefused, "", map[string]any{"reason": "unknown_token", "ip": s.clientIP(r), "ua": r.UserAgent()})
	s.render(w, r, http.StatusNotFound, view{Msg: "notfound"})
}

// open finds the link of the request and answers for it when it is
// unknown or closed; a POST from another site is refused first.
func (s *Service) open(w http.ResponseWriter, r *http.Request) (string, Link, bool) {
	if r.Method == http.MethodPost && !sameOrigin(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return "", Link{}, false
	}
	tok, l, err := s.lookup(r)
	if err != nil {
		s.notFound(w, r, err)
		return "", Link{}, false
	}
	if s.closedView(w, r, l) {
		return "", Link{}, false
	}
	return tok, l, true
}

// sameOrigin refuses cross-site form posts (a page elsewhere making the
// recipient's browser request codes or try them).
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	return true
}

func (s *Service) back(w http.ResponseWriter, r *http.Request, tok, m string) {
	q := "?m=" + m
	if r.URL.Query().Get("lang") == "en" {
		q += "&lang=en"
	}
	http.Redirect(w, r, "/d/"+tok+q, http.StatusSeeOther)
}

// requestCode mails a fresh one-time code to the link's recipient: proof
// that whoever opens the files holds that mailbox (3.3.5).
func (s *Service) requestCode(w http.ResponseWriter, r *http.Request) {
	tok, l, ok := s.open(w, r)
	if !ok {
		return
	}
	if l.PassphraseHash != "" {
		// The officer hands the passphrase over; nothing is mailed.
		s.render(w, r, http.StatusForbidden, view{Token: tok, Link: &l})
		return
	}
	code, err := newCode()
	if err != nil {
		s.render(w, r, http.StatusInternalServerError, view{Msg: "error"})
		return
	}
	ip, ua := s.clientIP(r), r.UserAgent()
	var outcome error // saved with the link: a lock must stick
	l, err = s.store.Update(r.Context(), l.TokenHash, func(l *Link) error {
		if l.CodeRequests >= s.cfg.CodeRequests {
			l.LockedAt, l.CodeHash = s.now().UTC(), ""
			outcome = errTooMany
			return nil
		}
		l.CodeRequests++
		l.CodeHash, l.CodeExpires, l.CodeTries = hashCode(l.TokenHash, code), s.now().Add(s.cfg.CodeTTL).UTC(), 0
		return nil
	})
	if err == nil {
		err = outcome
	}
	details := map[string]any{"recipient": l.Recipient, "ip": ip, "ua": ua}
	if errors.Is(err, errTooMany) {
		details["reason"] = "too_many_requests"
		s.auditLog(r.Context(), "recipient", ActionLocked, l.HoldID, details)
		s.render(w, r, http.StatusForbidden, view{Msg: "locked"})
		return
	}
	if err != nil {
		s.log.Error("download: code", "id", l.HoldID, "err", err)
		s.render(w, r, http.StatusInternalServerError, view{Msg: "error"})
		return
	}
	s.auditLog(r.Context(), "recipient", ActionCodeRequest, l.HoldID, details)
	if err := s.mail(r.Context(), l.HoldID, s.codeMail(l, code)); err != nil {
		s.log.Error("download: code mail not queued", "id", l.HoldID, "err", err)
		s.render(w, r, http.StatusInternalServerError, view{Msg: "error"})
		return
	}
	s.log.Info("download: code mailed", "id", l.HoldID, "to", l.Recipient)
	s.back(w, r, tok, "codesent")
}

func (s *Service) verify(w http.ResponseWriter, r *http.Request) {
	tok, l, ok := s.open(w, r)
	if !ok {
		return
	}
	code := strings.TrimSpace(r.PostFormValue("code"))
	var sess [32]byte
	rand.Read(sess[:])
	sv := base64.RawURLEncoding.EncodeToString(sess[:])
	now := s.now()
	var outcome error // saved with the link: a lock must stick
	l, err := s.store.Update(r.Context(), l.TokenHash, func(l *Link) error {
		// A link of the policy's access passphrase takes the passphrase
		// the officer handed over; the others a mailed code.
		want, got := l.PassphraseHash, hashPassphrase(l.TokenHash, code)
		if want == "" {
			if l.CodeHash == "" || !now.Before(l.CodeExpires) {
				return errNoCode
			}
			want, got = l.CodeHash, hashCode(l.TokenHash, code)
		}
		if !equalHex(want, got) {
			l.CodeTries++
			if l.CodeTries >= s.cfg.CodeTries {
				l.LockedAt, l.CodeHash = now.UTC(), ""
				outcome = errLocked
			}
			return nil
		}
		// One code, one use.
		l.CodeHash, l.CodeTries = "", 0
		if l.Sessions == nil {
			l.Sessions = map[string]time.Time{}
		}
		for k, exp := range l.Sessions {
			if !now.Before(exp) {
				delete(l.Sessions, k)
			}
		}
		l.Sessions[hashSession(sv)] = now.Add(sessionTTL).UTC()
		return nil
	})
	if err == nil {
		err = outcome
	}
	details := map[string]any{"recipient": l.Recipient, "ip": s.clientIP(r), "ua": r.UserAgent()}
	switch {
	case errors.Is(err, errNoCode):
		details["reason"] = "no_code"
		s.auditLog(r.Context(), "recipient", ActionCodeFailure, l.HoldID, details)
		s.back(w, r, tok, "nocode")
		return
	case errors.Is(err, errLocked):
		details["reason"], details["tries"] = "too_many_failures", l.CodeTries
		s.auditLog(r.Context(), "recipient", ActionCodeFailure, l.HoldID, details)
		s.auditLog(r.Context(), "recipient", ActionLocked, l.HoldID, details)
		s.render(w, r, http.StatusForbidden, view{Msg: "locked"})
		return
	case err != nil:
		s.log.Error("download: verify", "id", l.HoldID, "err", err)
		s.render(w, r, http.StatusInternalServerError, view{Msg: "error"})
		return
	}
	if _, ok := l.Sessions[hashSession(sv)]; !ok {
		details["reason"], details["tries"] = "wrong_code", l.CodeTries
		s.auditLog(r.Context(), "recipient", ActionCodeFailure, l.HoldID, details)
		s.back(w, r, tok, "badcode")
		return
	}
	s.auditLog(r.Context(), "recipient", ActionCodeOK, l.HoldID, details)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: sv, Path: "/d/" + tok, HttpOnly: true,
		Secure: s.cfg.SecureCookies || r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL / time.Second)})
	s.back(w, r, tok, "ok")
}

// file streams one file, decrypted segment by segment as it is sent (a
// 25 MB file needs 64 KiB here, not 25 MB), audited with its SHA-256.
func (s *Service) file(w http.ResponseWriter, r *http.Request) {
	_, l, ok := s.open(w, r)
	if !ok {
		return
	}
	ip, ua := s.clientIP(r), r.UserAgent()
	if !s.proven(r, l) {
		// Another recipient's session, or none: the code proves this
		// recipient's mailbox only.
		s.auditLog(r.Context(), "recipient", ActionRefused, l.HoldID, map[string]any{"recipient": l.Recipient, "reason": "no_session", "ip": ip, "ua": ua})
		s.render(w, r, http.StatusForbidden, view{Msg: "nosession"})
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 || n >= len(l.Files) {
		s.render(w, r, http.StatusNotFound, view{Msg: "notfound"})
		return
	}
	f := l.Files[n]
	rc, err := s.store.OpenFile(r.Context(), f.ID)
	if err != nil {
		s.log.Error("download: open file", "id", l.HoldID, "file", f.ID, "err", err)
		s.render(w, r, http.StatusInternalServerError, view{Msg: "error"})
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	h.Set("Content-Length", strconv.FormatInt(f.Size, 10))
	hw := newHashWriter(w)
	_, cerr := io.Copy(hw, rc)
	sum := hw.sum()
	done := cerr == nil && hw.n == f.Size && sum == f.SHA256
	d := Download{At: s.now().UTC(), File: f.Name, SHA256: sum, Bytes: hw.n, IP: ip, UA: ua, Done: done}
	// The record outlives the request: a client that hangs up is logged too.
	ctx := context.WithoutCancel(r.Context())
	first := false
	l, uerr := s.store.Update(ctx, l.TokenHash, func(l *Link) error {
		l.Downloads = append(l.Downloads, d)
		if done && !l.SenderTold && s.cfg.NotifySender {
			l.SenderTold, first = true, true
		}
		return nil
	})
	if uerr != nil {
		s.log.Error("download: record", "id", l.HoldID, "err", uerr)
	}
	details := map[string]any{"recipient": l.Recipient, "file": f.Name, "sha256": sum, "bytes": hw.n,
		"complete": done, "ip": ip, "ua": ua}
	if cerr != nil {
		details["error"] = cerr.Error()
	}
	s.auditLog(ctx, "recipient", ActionDownload, l.HoldID, details)
	s.log.Info("download: file sent", "id", l.HoldID, "to", l.Recipient, "file", f.ID, "complete", done)
	if first {
		if err := s.mail(ctx, l.HoldID, s.senderMail(l, d)); err != nil {
			s.log.Error("download: sender notice not queued", "id", l.HoldID, "err", err)
		}
	}
}

// Message is a notice to one person, Japanese first with English below:
// the review service renders and queues it as its own notices (null
// sender, Auto-Submitted).
type Message struct {
	To                   string
	SubjectJA, SubjectEN string
	JA, EN               string
}

func (s *Service) codeMail(l Link, code string) Message {
	mins := int(s.cfg.CodeTTL / time.Minute)
	return Message{To: l.Recipient, SubjectJA: "ダウンロード確認コード", SubjectEN: "Download confirmation code",
		JA: fmt.Sprintf("ダウンロードの確認コード: %s\n\nこのコードは %d 分間有効です。ダウンロードページに入力してください。\n"+
			"心当たりがない場合は、このメールを破棄してください。\n", code, mins),
		EN: fmt.Sprintf("Your download confirmation code: %s\nIt is valid for %d minutes. Enter it on the download page.\n"+
			"If you did not ask for it, discard this message.\n", code, mins)}
}

func (s *Service) senderMail(l Link, d Download) Message {
	return Message{To: l.Sender, SubjectJA: "【ダウンロード】受信者がファイルを受け取りました（" + l.HoldID + "）", SubjectEN: "Downloaded: " + l.HoldID,
		JA: fmt.Sprintf("保留番号 %s のダウンロードリンクから、宛先 %s がファイルを初めてダウンロードしました。\nファイル: %s\n日時: %s\n",
			l.HoldID, l.Recipient, mask(d.File), s.Time(d.At)),
		EN: fmt.Sprintf("The recipient %s downloaded a file of your released message %s for the first time.\nFile: %s\nAt: %s\n",
			l.Recipient, l.HoldID, mask(d.File), s.Time(d.At))}
}
