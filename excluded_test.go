package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestExcludedPathsMatchSegments: a configured path opens itself and what is below it, never a longer sibling;
// a trailing slash opens only below; "^" entries are regular expressions; unclean paths are never excluded.
func TestExcludedPathsMatchSegments(t *testing.T) {
	m := sessionMW(t, func(c *Config) {
		c.ExcludedPaths = []string{"/public", "/assets/", `^/img/[a-z]+\.png$`, "/.well-known/acme-challenge"}
	})
	cases := map[string]bool{
		"/public": true, "/public/": true, "/public/a/b": true,
		"/public-admin/users": false, "/publicity": false, "/public.json": false,
		"/assets/": true, "/assets/app.js": true, "/assets": false, "/assetsx/a": false,
		"/img/logo.png": true, "/img/logo.png/x": false,
		"/.well-known/acme-challenge/tok": true,
		"/public/../admin":                false, "/public/./x": false, "/public//admin": false, "/public/..": false, "/assets/.": false,
		"/img/../img/x.png": false,
		"/":                 false, "/admin": false,
	}
	for path, want := range cases {
		if got := m.s.excluded.match(path); got != want {
			t.Errorf("excluded(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestExcludedPathsStripCredentials: an excluded request reaches upstream without the plugin's cookies and without
// the client's Authorization header (unless keepAuthorizationHeader).
func TestExcludedPathsStripCredentials(t *testing.T) {
	for _, keep := range []bool{false, true} {
		m := sessionMW(t, func(c *Config) { c.ExcludedPaths, c.KeepAuthorizationHeader = []string{"/public"}, keep })
		up := &upstream{}
		m.next = up
		r := httptest.NewRequest(http.MethodGet, "/public/x", nil)
		r.Header.Set("Authorization", "Bearer forged")
		r.Header.Set("Cookie", `_descopeoidc=s; q="v"`)
		m.ServeHTTP(httptest.NewRecorder(), r)
		h := up.last()
		if up.count() != 1 || h.Get("Cookie") != `q="v"` || (h.Get("Authorization") != "") != keep {
			t.Errorf("keep=%v: upstream calls %d Cookie %q Authorization %q", keep, up.count(), h.Get("Cookie"), h.Get("Authorization"))
		}
	}
}
