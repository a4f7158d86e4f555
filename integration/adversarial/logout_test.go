package adversarial

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

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

// TestSessionReplayAfterLogout documents the limit of stateless sessions (SECURITY.md): logout clears the browser's
// cookie and ends the session in the instance that handled it, but a copy of the cookie stays valid at other
// instances until the session ends (here: the tokens' expiry, 3s).
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
		loggedInAt := time.Now()
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
		hOther, upOther := build(t, tg, baseConfig(idp, nil)) // another replica / router with the same secret
		if r := serve(t, hOther, withCookie(navigation(), stolen)); r.Status != http.StatusOK || upOther.count() != 1 {
			t.Errorf("replay on another instance: %s", r)
		}
		time.Sleep(time.Until(loggedInAt.Add(4500 * time.Millisecond)))
		before := upOther.count()
		late := serve(t, hOther, withCookie(navigation(), stolen)) // the instance that still accepted it
		if late.Status != http.StatusFound || upOther.count() != before || late.sessionSet() || !late.sessionCleared() {
			t.Errorf("replay after the session ended: %s, upstream +%d", late, upOther.count()-before)
		}
		o.record(tg.Name(), "replay after logout", fmt.Sprintf("logout=%d replay=%d afterExpiry=%d", r.Status, replay.Status, late.Status))
	})
}
