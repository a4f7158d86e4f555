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

// TestExcludedPathsSegmentParamsAndBackslash (issue 18 item 1): servlet containers drop ";..." from each segment
// before resolving dot segments, Windows-style upstreams read "\" as "/": a segment that is "." or ".." before its
// ';' and any '\' (literal or %3B/%5C, either case, repeated) make a path not excluded. A ';' parameter on an
// ordinary segment keeps it excluded.
func TestExcludedPathsSegmentParamsAndBackslash(t *testing.T) {
	m := sessionMW(t, func(c *Config) { c.ExcludedPaths = []string{"/public", "/assets/", `^/img/.*$`} })
	cases := map[string]bool{
		"/public/..;/admin": false, "/public/..;jsessionid=x/admin": false, "/public/..;a;b/admin": false,
		"/public/.;/x": false, "/public/..;": false, "/public/.;x": false, "/public/;x/../admin": false,
		"/public/..;/..;/admin": false, "/public/a/..;/..;/admin": false, "/public/;/admin": false,
		`/public/..\admin`: false, `/public\..\admin`: false, `/public/x\y`: false, `/assets/..\..\admin`: false,
		"/assets/..;/admin": false, "/img/..;/admin": false, `/img/..\admin`: false,
		"/public/a;jsessionid=x/b": true, "/public/site.js;v=2": true, "/assets/x;y": true,
	}
	for path, want := range cases {
		if got := m.s.excluded.match(path); got != want {
			t.Errorf("excluded(%q) = %v, want %v", path, got, want)
		}
	}
	// encoded forms arrive decoded in r.URL.Path (%3B, %3b, %5C, %5c, %2e): through ServeHTTP, none reaches upstream
	up := &upstream{}
	m.next = up
	for _, uri := range []string{"/public/..%3B/admin", "/public/..%3b/admin", "/public/..%5Cadmin", "/public/..%5cadmin",
		"/public/%2e%2e%3Bjsessionid=x/admin", "/public/%2E%2E%3b/%2e%2e;/admin", "/public/..;/admin"} {
		r := httptest.NewRequest(http.MethodGet, uri, nil)
		r.Header.Set("Accept", "application/json")
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, r)
		if rec.Code != http.StatusUnauthorized || up.count() != 0 {
			t.Errorf("GET %s: status %d, upstream calls %d; want 401 and none", uri, rec.Code, up.count())
		}
	}
}
