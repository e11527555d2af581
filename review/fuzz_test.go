package review

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzDelayLink: no link that the service did not sign is accepted, and
// the delay endpoints never fail with a 5xx whatever the path and query.
func FuzzDelayLink(f *testing.F) {
	f.Add("01JABCDEFGHJKMNPQRSTVWXYZ0", "cancel", "1900000000", "00")
	f.Add("x", "send", "-1", "")
	f.Add("../../etc", "cancel", "99999999999999999999", "zz")
	svc := newFuzzService(f)
	h := svc.Handler()
	f.Fuzz(func(t *testing.T, id, action, exp, sig string) {
		if err := svc.checkLink(action, id, exp, sig); err == nil {
			t.Fatalf("unsigned link accepted: %q %q %q %q", id, action, exp, sig)
		}
		req := httptest.NewRequest("POST", "/api/v1/delays/x/cancel", nil)
		q := req.URL.Query()
		q.Set("exp", exp)
		q.Set("sig", sig)
		req.URL.RawQuery = q.Encode()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 || w.Code == http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
	})
}

// FuzzActionBody: any request body gets a JSON answer below 500.
func FuzzActionBody(f *testing.F) {
	f.Add([]byte(`{"reason":"ok"}`))
	f.Add([]byte(`{"reason":`))
	f.Add([]byte(`[]`))
	svc := newFuzzService(f)
	h := svc.Handler()
	tok, err := svc.DB().AddToken(f.Context(), Token{Name: "a", Actor: "a@example.jp", Role: RoleAdmin}, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, p := range []string{"/release", "/reject", "/false-positive"} {
			req := httptest.NewRequest("POST", "/api/v1/holds/NOSUCHID"+p, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code >= 500 || w.Code == http.StatusOK || w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
				t.Fatalf("%s: status %d %q", p, w.Code, w.Body.String())
			}
		}
	})
}

func newFuzzService(f *testing.F) *Service {
	f.Helper()
	dir := f.TempDir()
	st, err := OpenStores(f.Context(), dir, StoreOptions{Logger: logger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	sp, err := openSpool(dir)
	if err != nil {
		f.Fatal(err)
	}
	svc, err := New(Config{DataDir: PathsIn(dir).Review}, Deps{Holds: st.Holds, Audit: st.Audit, Keys: st.Keys, Spool: sp, Logger: logger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { svc.Close() })
	return svc
}
