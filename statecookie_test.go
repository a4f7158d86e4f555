package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// loginSetCookies runs a login for target at the fake provider and returns the login redirect, the callback's
// answer and every Set-Cookie line of both.
func loginSetCookies(t *testing.T, b *browser, target string) (start, cb *httptest.ResponseRecorder, lines []string) {
	t.Helper()
	start = b.get(target)
	if start.Code != http.StatusFound {
		t.Fatalf("GET %.40s: status %d, want a login redirect", target, start.Code)
	}
	cb = b.get(b.authorize(start.Header().Get("Location")))
	lines = append(start.Header().Values("Set-Cookie"), cb.Header().Values("Set-Cookie")...)
	return start, cb, lines
}

// TestCookiesFitInBrowsers: every cookie the plugin sets (login state with a long return URL, a chunked session
// with a Domain) is at most 4096 bytes with its attributes; a return URL too long for the login cookie is
// shortened to its path, then to "/", and the login still works.
func TestCookiesFitInBrowsers(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.CookieDomain = "app.example"
	cfg.ForwardHeaders = map[string]string{"X-Name": "name"}
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"name": strings.Repeat("N", 4000)} })
	m, up := newMW(t, f, cfg)
	amps := "/search?" + strings.Repeat("a=1&", 500) // 2,008 bytes: 6 KB of cookie when JSON escapes '&'
	longQuery := "/search?q=" + strings.Repeat("x", 3900)
	longPath := "/" + strings.Repeat("p", 3900)
	cases := []struct{ target, landing string }{{amps, amps}, {longQuery, "/search"}, {longPath, "/"}}
	for _, tc := range cases {
		b := newBrowser(t, m)
		_, cb, lines := loginSetCookies(t, b, tc.target)
		for _, l := range lines {
			if len(l) > maxCookieBytes {
				t.Errorf("target %.20s…: Set-Cookie of %d bytes: %.60s…", tc.target, len(l), l)
			}
		}
		if cb.Code != http.StatusFound || cb.Header().Get("Location") != tc.landing {
			t.Errorf("target %.20s… (%d bytes): callback %d Location %.40q, want 302 to %.40q", tc.target, len(tc.target), cb.Code, cb.Header().Get("Location"), tc.landing)
		}
		before := up.count()
		if rec := b.get(tc.landing); rec.Code != http.StatusOK || up.count() != before+1 {
			t.Errorf("target %.20s…: after login status %d", tc.target, rec.Code)
		}
	}
}

// TestStrictLoginCookies: with cookieSameSite strict the session cookie is Strict but the login cookie is Lax (the
// provider's redirect back is cross-site), and the callback continues from a page of this site (a redirect would
// keep the navigation cross-site and the Strict cookie would not be sent).
func TestStrictLoginCookies(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.CookieSameSite = "strict"
	m, _ := newMW(t, f, cfg)
	b := newBrowser(t, m)
	start, cb, _ := loginSetCookies(t, b, "/docs?a=1&b=2")
	for _, c := range start.Result().Cookies() {
		if c.SameSite != http.SameSiteLaxMode || !strings.HasPrefix(c.Name, "_descopeoidc_state_") {
			t.Errorf("login cookie %s SameSite %v, want Lax", c.Name, c.SameSite)
		}
	}
	sc := setCookies(cb)[m.s.cookieName]
	if sc == nil || sc.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v, want SameSite=Strict", sc)
	}
	body := cb.Body.String()
	if cb.Code != http.StatusOK || !strings.Contains(body, `<meta http-equiv="refresh" content="0;url=/docs?a=1&amp;b=2">`) {
		t.Errorf("callback %d %q, want a page that moves on to /docs?a=1&b=2", cb.Code, body)
	}
}

// TestHostPrefixCookies: a __Host- session cookie (Secure, Path=/, no Domain) with __Secure- login cookies on the
// callback path, which a __Host- name would not allow.
func TestHostPrefixCookies(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.CookieName = "__Host-sid"
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	start, cb, _ := loginSetCookies(t, b, "/x")
	for _, c := range start.Result().Cookies() {
		if !strings.HasPrefix(c.Name, "__Secure-sid_state_") || !c.Secure || c.Domain != "" || c.Path != "/oauth2/callback" {
			t.Errorf("login cookie %+v", c)
		}
	}
	sc := setCookies(cb)["__Host-sid"]
	if cb.Code != http.StatusFound || sc == nil || !sc.Secure || sc.Domain != "" || sc.Path != "/" {
		t.Fatalf("callback %d, session cookie %+v", cb.Code, sc)
	}
	if rec := b.get("/x"); rec.Code != http.StatusOK || up.last().Get("Cookie") != "" {
		t.Errorf("after login: status %d, upstream Cookie %q", rec.Code, up.last().Get("Cookie"))
	}
}
