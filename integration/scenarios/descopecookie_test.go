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
			b.setCookie("DS", ds)
			b.setCookie("DSR", "the-refresh-jwt")
			b.setCookie("theme", "dark")
			er := b.echo("/app", nil)
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
			b.setCookie("DS", bad)
			r := b.get("/app")
			if r.status != http.StatusFound || !strings.HasPrefix(r.location(), idp.URL()) {
				t.Errorf("bad DS %.12q: status %d Location %q, want the login redirect", bad, r.status, r.location())
			}
		}
		// Without the key, DS means nothing: a login starts.
		plain := newEnv(t, tg, idp, baseConfig(idp))
		ds, _ := idp.SessionJWT(devidp.DemoSubject, 5*time.Minute, true)
		b := plain.browser()
		b.setCookie("DS", ds)
		if r := b.get("/app"); r.status != http.StatusFound || plain.upstream.Load() != 0 {
			t.Errorf("descopeSessionCookie off: status %d upstream %d, want a login redirect", r.status, plain.upstream.Load())
		}
	})
}
