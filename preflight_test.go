package descopeoidc

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// leakyUpstream answers any method like GET (a method-agnostic handler): it honours method overrides, reads the body,
// sets a cookie and writes protected content, and records what it saw.
type leakyUpstream struct {
	method, body string
	override     bool
}

func (u *leakyUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.method = r.Method
	for name := range r.Header {
		if strings.Contains(strings.ToLower(name), "method") && !strings.HasPrefix(name, "Access-Control") {
			u.override = true
		}
	}
	b, _ := io.ReadAll(r.Body)
	u.body = string(b)
	w.Header().Set("Access-Control-Allow-Origin", "https://spa.example")
	w.Header().Set("Access-Control-Allow-Methods", "GET, PUT")
	w.Header().Add("Vary", "Origin")
	w.Header().Set("Set-Cookie", "upstream_session=secret; Path=/")
	w.Header().Set("X-Internal", "leak")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"secret":"protected content"}`)
}

// TestPreflightPassesOnlyCORS (issue 18 item 5): with allowPreflight, a preflight goes upstream without its body and
// without method-override headers (any spelling), and only the status and the Access-Control-*/Vary headers come
// back: no body, no Set-Cookie, no other header. Before, all of it went through both ways.
func TestPreflightPassesOnlyCORS(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AllowPreflight = true
	m, _ := newMW(t, f, cfg)
	up := &leakyUpstream{}
	m.next = up
	r := httptest.NewRequest(http.MethodOptions, appOrigin+"/api/items", strings.NewReader(`{"delete":"all"}`))
	r.Header.Set("Origin", "https://spa.example")
	r.Header.Set("Access-Control-Request-Method", "PUT")
	r.Header.Set("X-HTTP-Method-Override", "DELETE")
	r.Header["X-Http-Method"] = []string{"DELETE"}
	r.Header["X_http_method_override"] = []string{"DELETE"}
	r.Header.Set("X-Method-Override", "DELETE")
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, r)
	if up.method != http.MethodOptions || up.body != "" || up.override {
		t.Errorf("upstream saw method %s, body %q, a method-override header %v; want OPTIONS, none, false", up.method, up.body, up.override)
	}
	h := rec.Header()
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("answer %d with %d body bytes (%q), want 200 and none", rec.Code, rec.Body.Len(), rec.Body.String())
	}
	if h.Get("Access-Control-Allow-Origin") != "https://spa.example" || h.Get("Access-Control-Allow-Methods") != "GET, PUT" || h.Get("Vary") != "Origin" {
		t.Errorf("CORS headers lost: %v", h)
	}
	for _, leaked := range []string{"Set-Cookie", "X-Internal", "Content-Type"} {
		if v := h.Get(leaked); v != "" {
			t.Errorf("%s: %q came back from upstream", leaked, v)
		}
	}
}

// TestPreflightUpstreamSilentOr204: an upstream that writes nothing gives 200, one that answers 204 gives 204.
func TestPreflightUpstreamSilentOr204(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AllowPreflight = true
	m, _ := newMW(t, f, cfg)
	for want, next := range map[int]http.Handler{
		http.StatusOK:        http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		http.StatusNoContent: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }),
	} {
		m.next = next
		r := httptest.NewRequest(http.MethodOptions, appOrigin+"/api/items", nil)
		r.Header.Set("Origin", "https://spa.example")
		r.Header.Set("Access-Control-Request-Method", "PUT")
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, r)
		if rec.Code != want {
			t.Errorf("status %d, want %d", rec.Code, want)
		}
	}
}
