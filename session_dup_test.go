package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Issue 18 item 6: two cookies with the session's name (the old host-only one after a cookieDomain change, or one
// planted on a parent domain by a sibling subdomain) made a login loop: the first one counted, was refused, and
// clearing it expired the good one. Now every cookie of that name is tried (bounded), and clearing expires the
// host-only and the Domain variants.

// sessionPair is "<cookieName>=<value>".
func sessionPair(b *browser) string {
	c := b.cookie(defaultCookieName)
	if c == nil {
		b.t.Fatal("no session cookie")
	}
	return c.Name + "=" + c.Value
}

func TestDuplicateSessionCookieNames(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.CookieDomain = "app.example"
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	b.login("/")
	good := sessionPair(b)
	other := newFakeIdP(t) // a session of another deployment: well-formed, sealed with another key
	ocfg := other.config()
	ocfg.SessionSecret = strings.Repeat("x", 32)
	om, _ := newMW(t, other, ocfg)
	ob := newBrowser(t, om)
	ob.login("/")
	foreign := sessionPair(ob)
	for name, header := range map[string]string{
		"garbage first":         defaultCookieName + "=garbage; " + good,
		"foreign session first": foreign + "; " + good,
		"good first":            good + "; " + foreign,
		"with other cookies":    "theme=dark; " + foreign + "; lang=en; " + good,
	} {
		r := b.request(http.MethodGet, "/app")
		r.Header.Set("Cookie", header)
		rec := httptestServe(m, r)
		if rec.Code != http.StatusOK || up.last().Get("X-Forwarded-User") != testSub {
			t.Errorf("%s: status %d, want the good session served", name, rec.Code)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Name == defaultCookieName && c.MaxAge < 0 {
				t.Errorf("%s: the session cookie was expired (Domain %q) although one of them is good", name, c.Domain)
			}
		}
	}
	// None good: a login, and both variants of the cookie are expired.
	r := b.request(http.MethodGet, "/app")
	r.Header.Set("Cookie", foreign+"; "+defaultCookieName+"=garbage")
	rec := httptestServe(m, r)
	if rec.Code != http.StatusFound {
		t.Fatalf("no good session: status %d, want a login", rec.Code)
	}
	variants := map[string]bool{}
	for _, c := range rec.Result().Cookies() {
		if c.Name == defaultCookieName && c.MaxAge < 0 {
			variants[c.Domain] = true
		}
	}
	if !variants[""] || !variants["app.example"] {
		t.Errorf("expired variants %v, want the host-only one and Domain=app.example", variants)
	}
}

// The number of same-name cookies tried is bounded: a header of many bogus ones costs a bounded number of attempts.
func TestDuplicateSessionCookiesBounded(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	b := newBrowser(t, m)
	b.login("/")
	good := sessionPair(b)
	bogus := strings.Repeat(defaultCookieName+"=garbage; ", maxSameNameSessions)
	r := b.request(http.MethodGet, "/app")
	r.Header.Set("Cookie", bogus+good)
	if rec := httptestServe(m, r); rec.Code != http.StatusFound {
		t.Errorf("good session after %d bogus ones: status %d, want a login (not looked at)", maxSameNameSessions, rec.Code)
	}
}

func httptestServe(m *Middleware, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, r)
	return rec
}
