package scenarios

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestDescopeSessionCookie: with descopeSessionCookie, the session JWT that Descope's web SDK keeps in DS (iss the
// bare project ID, or the issuer URL) lets the browser in without a plugin login, with the same identity headers
// and rules; DS and DSR never reach upstream; an expired or forged one starts the normal login.
func TestDescopeSessionCookie(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		cfg := merge(baseConfig(idp), map[string]any{
			"descopeSessionCookie": "DS", "acceptedIssuers": devidp.DefaultProjectID,
			"forwardHeaders": map[string]any{"X-Forwarded-User": "sub", "X-Roles": "roles"},
			"requiredRoles":  "viewer",
		})
		e := newEnv(t, tg, idp, cfg)
		for _, urlIssuer := range []bool{false, true} {
			ds, err := idp.SessionJWT(devidp.DemoSubject, 5*time.Minute, urlIssuer)
			if err != nil {
				t.Fatal(err)
			}
			b := e.browser()
			b.SetCookie("DS", ds)
			b.SetCookie("DSR", "the-refresh-jwt")
			b.SetCookie("theme", "dark")
			er := b.Echo("/app", nil)
			if er.Headers["X-Forwarded-User"] != devidp.DemoSubject || er.Headers["X-Roles"] != "viewer,editor" {
				t.Errorf("urlIssuer %t: upstream user %q roles %q", urlIssuer, er.Headers["X-Forwarded-User"], er.Headers["X-Roles"])
			}
			if er.Headers["Cookie"] != "theme=dark" {
				t.Errorf("urlIssuer %t: upstream Cookie %.80q, want theme=dark (no DS, no DSR)", urlIssuer, er.Headers["Cookie"])
			}
			if b.sessionCookie() != "" {
				t.Errorf("urlIssuer %t: a plugin session was made from DS", urlIssuer)
			}
		}
		expired, err := idp.SessionJWT(devidp.DemoSubject, -5*time.Minute, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{expired, expired[:len(expired)-8] + "AAAAAAAA", "garbage"} {
			b := e.browser()
			b.SetCookie("DS", bad)
			r := b.Get("/app")
			if r.Status != http.StatusFound || !strings.HasPrefix(r.Location(), idp.URL()) {
				t.Errorf("bad DS %.12q: status %d Location %q, want the login redirect", bad, r.Status, r.Location())
			}
		}
		// Without the key, DS means nothing: a login starts.
		plain := newEnv(t, tg, idp, baseConfig(idp))
		ds, _ := idp.SessionJWT(devidp.DemoSubject, 5*time.Minute, true)
		b := plain.browser()
		b.SetCookie("DS", ds)
		if r := b.Get("/app"); r.Status != http.StatusFound || plain.upstream.Load() != 0 {
			t.Errorf("descopeSessionCookie off: status %d upstream %d, want a login redirect", r.Status, plain.upstream.Load())
		}
	})
}
