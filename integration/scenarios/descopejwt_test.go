package scenarios

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestDescopeRefreshJWTIsNoSession (issue 18 item 4): Descope's refresh JWT (drn "DSR": weeks long, still valid at the
// gateway after the SDK's logout) is refused as a bearer token (401) and as the DS cookie (the login starts), where
// the session JWT (drn "DS") of the same user passes.
func TestDescopeRefreshJWTIsNoSession(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{
			"descopeSessionCookie": "DS", "acceptedIssuers": devidp.DefaultProjectID, "allowBearerTokens": "true",
		}))
		ds, err1 := idp.SessionJWT(devidp.DemoSubject, 5*time.Minute, false)
		dsr, err2 := idp.RefreshJWT(devidp.DemoSubject, 5*time.Minute, false)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		api := map[string]string{"Accept": "application/json"}
		for _, tc := range []struct {
			name string
			tok  string
			ok   bool
		}{{"DS", ds, true}, {"DSR", dsr, false}} {
			b := e.browser()
			api["Authorization"] = "Bearer " + tc.tok
			r := b.Do(http.MethodGet, "/api", api)
			if (r.Status == http.StatusOK) != tc.ok || (!tc.ok && r.Status != http.StatusUnauthorized) {
				t.Errorf("bearer %s: status %d, want ok=%t (401 when refused)", tc.name, r.Status, tc.ok)
			}
			b = e.browser()
			b.SetCookie("DS", tc.tok)
			r = b.Get("/app")
			login := r.Status == http.StatusFound && strings.HasPrefix(r.Location(), idp.URL())
			if login == tc.ok || (tc.ok && r.Status != http.StatusOK) {
				t.Errorf("DS cookie holding the %s JWT: status %d Location %q, want ok=%t", tc.name, r.Status, r.Location(), tc.ok)
			}
		}
		if n := e.upstream.Load(); n != 2 {
			t.Errorf("upstream saw %d requests, want 2 (the session JWT's)", n)
		}
	})
}

// TestDescopeCookieForwardAccessToken (issue 18 item 11): with descopeSessionCookie and forwardAccessToken, the
// request served by its DS cookie reaches upstream with the session JWT as Authorization: Bearer.
func TestDescopeCookieForwardAccessToken(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{
			"descopeSessionCookie": "DS", "acceptedIssuers": devidp.DefaultProjectID, "forwardAccessToken": "true",
		}))
		ds, err := idp.SessionJWT(devidp.DemoSubject, 5*time.Minute, false)
		if err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		b.SetCookie("DS", ds)
		for i := 0; i < 2; i++ { // verified, then cached
			er := b.Echo("/app", nil)
			if er.Headers["Authorization"] != "Bearer "+ds || er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
				t.Errorf("request %d: upstream Authorization %.30q user %q, want the DS JWT as bearer", i,
					er.Headers["Authorization"], er.Headers["X-Forwarded-User"])
			}
		}
	})
}
