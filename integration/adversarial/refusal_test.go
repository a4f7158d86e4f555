package adversarial

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/badidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestRefreshRefusedInOtherWords (issue 18 item 7): a provider that refuses a refresh token otherwise than with
// RFC 6749's invalid_grant (Descope's own error envelope with 400 or 404, invalid_request, a bare 401 or 403) ends
// the session: once the tokens have expired the browser is sent to sign in, not answered 503 until sessionMaxAge.
// 429 stays an outage (503).
func TestRefreshRefusedInOtherWords(t *testing.T) {
	t.Parallel()
	answers := map[string]struct {
		status int
		body   string
		want   int
	}{
		"Descope envelope 400": {400, badidp.DescopeRefusal, http.StatusFound},
		"Descope envelope 404": {404, badidp.DescopeRefusal, http.StatusFound},
		"invalid_request":      {400, `{"error":"invalid_request"}`, http.StatusFound},
		"401 without a body":   {401, ``, http.StatusFound},
		"403":                  {403, `{"message":"Forbidden"}`, http.StatusFound},
		"429":                  {429, `{"errorCode":"E130429","errorDescription":"Too many requests"}`, http.StatusServiceUnavailable},
	}
	names := make([]string, 0, len(answers))
	for n := range answers {
		names = append(names, n)
	}
	forEachTargetConcurrently(t, func(t *testing.T, tg harness.Target) {
		warmInterpreter(t, tg)
		each(t, names, func(t *testing.T, name string) {
			a := answers[name]
			idp := refreshingIdP(t, 2) // expiry 2 s after login
			h, up := build(t, tg, baseConfig(idp, nil))
			b := newBrowser(t, h)
			b.mustLogin(idp, "/app")
			loggedIn := time.Now()
			idp.SetRefreshAnswer(a.status, a.body)
			time.Sleep(time.Until(loggedIn.Add(2500 * time.Millisecond))) // expired: the request waits for the refresh
			r := b.get("/app")
			if r.Status != a.want || up.count() != 0 {
				t.Fatalf("refresh answered %d: %s upstream %d, want %d", a.status, r, up.count(), a.want)
			}
			if a.want == http.StatusFound && (!strings.HasPrefix(r.location(), idp.Issuer()+"/authorize?") || !r.sessionCleared()) {
				t.Errorf("refused refresh: Location %.60q cleared %t, want a login and the session cleared", r.location(), r.sessionCleared())
			}
		})
	})
}

// TestRefreshWithoutLifetimeKeepsThePrevious (issue 18 item 15): a refresh answer without expires_in and without an
// ID token gets the lifetime the tokens had before (here 2 s), not a fixed 5 minutes: the session is refreshed again
// when that has passed.
func TestRefreshWithoutLifetimeKeepsThePrevious(t *testing.T) {
	t.Parallel()
	forEachTargetConcurrently(t, func(t *testing.T, tg harness.Target) {
		warmInterpreter(t, tg)
		idp := refreshingIdP(t, 2)
		idp.SetBareRefreshes(true)
		h, _ := build(t, tg, baseConfig(idp, nil))
		b := newBrowser(t, h)
		b.mustLogin(idp, "/app")
		time.Sleep(2500 * time.Millisecond)
		if r := b.get("/app"); r.Status != http.StatusOK || idp.RefreshGrants() != 1 {
			t.Fatalf("first refresh: %s, %d refresh grants", r, idp.RefreshGrants())
		}
		time.Sleep(2500 * time.Millisecond) // the refreshed tokens' 2 s have passed
		if r := b.get("/app"); r.Status != http.StatusOK || idp.RefreshGrants() != 2 {
			t.Errorf("2.5 s after a bare refresh: %s, %d refresh grants; want a second refresh", r, idp.RefreshGrants())
		}
	})
}

// TestDuplicateSessionCookies (issue 18 item 6): a request carrying a stale or planted cookie with the session's name
// before the real one is served by the real one, not sent round a login loop.
func TestDuplicateSessionCookies(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		h, up := build(t, tg, baseConfig(idp, map[string]any{"cookieDomain": appHost}))
		b := newBrowser(t, h)
		b.mustLogin(idp, "/app")
		good := b.cookieHeader("/app")
		other, _ := build(t, tg, baseConfig(idp, map[string]any{"sessionSecret": otherSecret}))
		ob := newBrowser(t, other)
		ob.mustLogin(idp, "/app")
		planted := ob.cookieHeader("/app")
		for _, header := range []string{cookieName + "=stale; " + good, planted + "; " + good} {
			before := up.count()
			if r := serve(t, h, withCookie(navigation(), header)); r.Status != http.StatusOK || up.count() != before+1 || r.sessionCleared() {
				t.Errorf("Cookie %.30q…: %s, cleared %t; want the real session served", header, r, r.sessionCleared())
			}
		}
		r := serve(t, h, withCookie(navigation(), planted+"; "+cookieName+"=stale"))
		variants := map[string]bool{}
		for _, c := range r.Cookies {
			if c.Name == cookieName && c.MaxAge < 0 {
				variants[c.Domain] = true
			}
		}
		if r.Status != http.StatusFound || !variants[""] || !variants[appHost] {
			t.Errorf("no good session: %s, expired variants %v; want a login expiring host-only and Domain=%s", r, variants, appHost)
		}
	})
}
