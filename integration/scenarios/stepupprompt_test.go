package scenarios

import (
	"net/http"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestStepUpAMRAsksForNewLogin (issue 18 item 8): requiredAMR has no authorization parameter, so a session that falls
// short is sent with prompt=login; the provider, which still has the browser's session (SSO), shows its form again
// instead of answering at once with the same authentication. A prompt in the middleware's own authParams wins.
func TestStepUpAMRAsksForNewLogin(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true, SSO: true})
		site := newEnv(t, tg, idp, baseConfig(idp))
		vault := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"requiredAMR": "mfa"}))
		b := site.browser()
		b.mustLogin("/")
		v := b.on(vault)
		authz := v.startLogin("/vault")
		if p := authz.Query()["prompt"]; len(p) != 1 || p[0] != "login" {
			t.Fatalf("step-up for amr: authorize prompt %q, want login", p)
		}
		before := idp.Stats()
		cb := v.authenticate(authz)
		after := idp.Stats()
		if after.LoginAttempts != before.LoginAttempts+1 || after.SSOLogins != before.SSOLogins {
			t.Errorf("provider form posts %d->%d, SSO answers %d->%d: want the form shown again, no SSO answer",
				before.LoginAttempts, after.LoginAttempts, before.SSOLogins, after.SSOLogins)
		}
		// A password alone still has no mfa: the 403 page, after the user was asked.
		if r := v.Get(cb); r.Status != http.StatusForbidden || !strings.Contains(r.Body, "Stronger sign-in required") {
			t.Errorf("callback: status %d, want the 403 page", r.Status)
		}

		own := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{
			"requiredAMR": "mfa", "authParams": map[string]any{"prompt": "consent"},
		}))
		if p := b.on(own).startLogin("/vault").Query()["prompt"]; len(p) != 1 || p[0] != "consent" {
			t.Errorf("authParams prompt consent: authorize prompt %q, want consent alone", p)
		}
	})
}
