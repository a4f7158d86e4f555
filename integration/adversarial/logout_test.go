package adversarial

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestLogoutCSRF: a cross-site GET shows a confirmation and does not log out; a cross-origin POST is refused.
func TestLogoutCSRF(t *testing.T) {
	o := newOutcomes(t)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		h, _ := build(t, tg, baseConfig(idp, nil))
		b := newBrowser(t, h)
		b.mustLogin(idp, "/app")
		stillIn := func(t *testing.T) {
			t.Helper()
			if r := b.get("/app"); r.Status != http.StatusOK {
				t.Fatalf("logged out by a cross-site request: %s", r)
			}
		}
		logout := func(method string, hdr http.Header) response {
			return b.send(appRequest(method, "/oauth2/logout", hdr))
		}
		t.Run("cross-site GET", func(t *testing.T) {
			r := logout(http.MethodGet, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Sec-Fetch-Mode": {"navigate"}})
			if r.Status != http.StatusOK || !strings.Contains(r.Body, `method="post"`) || r.sessionCleared() || r.location() != "" {
				t.Errorf("%s cleared=%v", r, r.sessionCleared())
			}
			stillIn(t)
			o.record(tg.Name(), "logout cross-site GET", fmt.Sprintf("status=%d cleared=%v", r.Status, r.sessionCleared()))
		})
		t.Run("GET without Sec-Fetch-Site (old browser, <img>)", func(t *testing.T) {
			r := logout(http.MethodGet, http.Header{"Accept": {"image/*"}})
			if r.Status != http.StatusOK || r.sessionCleared() {
				t.Errorf("%s cleared=%v", r, r.sessionCleared())
			}
			stillIn(t)
			o.record(tg.Name(), "logout GET no fetch metadata", fmt.Sprintf("status=%d cleared=%v", r.Status, r.sessionCleared()))
		})
		for _, origin := range []string{"https://evil.example", "null", "http://app.example", "https://app.example.evil.example"} {
			origin := origin
			t.Run("cross-origin POST "+origin, func(t *testing.T) {
				r := logout(http.MethodPost, http.Header{"Origin": {origin}, "Sec-Fetch-Site": {"cross-site"}})
				if r.Status != http.StatusForbidden || r.sessionCleared() {
					t.Errorf("%s cleared=%v", r, r.sessionCleared())
				}
				stillIn(t)
				o.record(tg.Name(), "logout POST "+origin, fmt.Sprintf("status=%d cleared=%v", r.Status, r.sessionCleared()))
			})
		}
		t.Run("other method", func(t *testing.T) {
			r := logout(http.MethodPut, http.Header{"Origin": {appOrigin}})
			if r.Status != http.StatusMethodNotAllowed || r.sessionCleared() {
				t.Errorf("%s", r)
			}
			stillIn(t)
		})
		t.Run("same-origin POST logs out", func(t *testing.T) {
			r := logout(http.MethodPost, http.Header{"Origin": {appOrigin}, "Sec-Fetch-Site": {"same-origin"}})
			if r.Status != http.StatusSeeOther || !r.sessionCleared() {
				t.Fatalf("%s cleared=%v", r, r.sessionCleared())
			}
			loc, _ := url.Parse(r.location())
			if !strings.HasPrefix(r.location(), idp.Issuer()+"/end_session?") || loc.Query().Get("post_logout_redirect_uri") != appOrigin+"/" || loc.Query().Get("id_token_hint") == "" {
				t.Errorf("logout redirect %q", r.location())
			}
			if after := b.get("/app"); after.Status != http.StatusFound {
				t.Errorf("still logged in after logout: %s", after)
			}
			o.record(tg.Name(), "logout same-origin POST", fmt.Sprintf("status=%d cleared=%v", r.Status, r.sessionCleared()))
		})
	})
}

// TestSessionReplayAfterLogout: logout clears the browser's cookie and ends the session in this process, at every
// instance serving it (another router of the same middleware shares the session registry): a copy of the cookie is
// refused there too. Another Traefik process (a replica) knows nothing of it without Redis or sessionRevalidate:
// SECURITY.md, and e2e's TestReplicas.
func TestSessionReplayAfterLogout(t *testing.T) {
	t.Parallel()
	o := newOutcomes(t)
	forEachTargetConcurrently(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		idp.SetExpiresIn(3) // no refresh token: the session ends with the access token
		h, up := build(t, tg, baseConfig(idp, nil))
		b := newBrowser(t, h)
		b.mustLogin(idp, "/app")
		stolen := b.cookieHeader("/app")
		r := b.send(appRequest(http.MethodPost, "/oauth2/logout", http.Header{"Origin": {appOrigin}}))
		if r.Status != http.StatusSeeOther || !r.sessionCleared() {
			t.Fatalf("logout: %s", r)
		}
		if rest := sessionCookies(b); len(rest) != 0 {
			t.Errorf("the browser still holds the session cookie after logout")
		}
		replay := serve(t, h, withCookie(navigation(), stolen))
		if replay.Status != http.StatusFound || up.count() != 0 {
			t.Errorf("a replayed cookie after logout at the instance that logged it out gives %s, upstream %d; want a login", replay, up.count())
		}
		hOther, upOther := build(t, tg, baseConfig(idp, nil)) // another router with the same middleware, same process
		other := serve(t, hOther, withCookie(navigation(), stolen))
		if other.Status != http.StatusFound || upOther.count() != 0 || !other.sessionCleared() {
			t.Errorf("replay at another router of this process after logout: %s, upstream %d; want a login", other, upOther.count())
		}
		o.record(tg.Name(), "replay after logout", fmt.Sprintf("logout=%d replay=%d otherRouter=%d", r.Status, replay.Status, other.Status))
	})
}
