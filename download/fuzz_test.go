package download

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzHandler: whatever path, token, code or header a client sends, the
// handler answers without a panic, never serves a file without a session,
// and never answers 200 for a token it did not issue.
func FuzzHandler(f *testing.F) {
	for _, s := range []string{"/d/x", "/d/" + strings.Repeat("A", 43), "/d/" + strings.Repeat("A", 43) + "/f/0",
		"/d/static/style.css", "/console/", "/d/../console", "/d/%00/f/-1"} {
		f.Add(s, "12345678", "GET")
		f.Add(s, "", "POST")
	}
	e := newEnv(f)
	link, _ := e.publish("a@example.org", strings.NewReader("secret"))
	tok := link[strings.LastIndex(link, "/")+1:]
	h := e.svc.Handler()
	f.Fuzz(func(t *testing.T, path, code, method string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t") || (method != "GET" && method != "POST") {
			return
		}
		path = strings.ReplaceAll(path, "{tok}", tok)
		req, err := http.NewRequest(method, "http://dl.test"+path, strings.NewReader(url.Values{"code": {code}}.Encode()))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if strings.Contains(w.Body.String(), "secret") {
			t.Fatalf("%s %s: the file without a session", method, path)
		}
		if w.Code == 200 && !strings.Contains(path, tok) && !strings.HasPrefix(path, "/d/static/") {
			t.Fatalf("%s %s: 200 for a token not issued", method, path)
		}
	})
}
