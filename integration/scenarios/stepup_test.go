package scenarios

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// on is the browser b continuing on another site e (same host, so the same cookies: one login serves both).
func (b *browser) on(e *env) *browser {
	return &browser{Browser: b.Browser.On(e.srv.URL), t: b.t, env: e}
}

// TestStepUpACR: a route that requires the provider's MFA level sends a password session to the provider with
// acr_values, which asks for the one-time code; back on the same URL the upgraded session passes. An API client
// with the weaker session gets RFC 9470's challenge.
func TestStepUpACR(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		site := newEnv(t, tg, idp, baseConfig(idp))
		admin := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"requiredACR": devidp.ACRMFA}))
		b := site.browser()
		b.mustLogin("/")
		a := b.on(admin)
		api := a.Do(http.MethodGet, "/admin/api", map[string]string{"Accept": "application/json"})
		want := `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="` + devidp.ACRMFA + `"`
		if api.Status != http.StatusUnauthorized || api.Header.Get("WWW-Authenticate") != want {
			t.Fatalf("API with a password session: %d %q, want 401 %q", api.Status, api.Header.Get("WWW-Authenticate"), want)
		}
		authz := a.startLogin("/admin/users?page=2")
		if authz.Query().Get("acr_values") != devidp.ACRMFA {
			t.Fatalf("step-up authorize: acr_values %q, want %q", authz.Query().Get("acr_values"), devidp.ACRMFA)
		}
		if _, err := idp.Login(a.HTTP, authz.String(), devidp.DemoUsername, devidp.DemoPassword); err == nil {
			t.Fatal("the provider let a password alone through acr_values asking for MFA")
		}
		authz = a.startLogin("/admin/users?page=2")
		cb, err := idp.LoginMFA(a.HTTP, authz.String(), devidp.DemoUsername, devidp.DemoPassword)
		if err != nil {
			t.Fatal(err)
		}
		if r := a.Get(cb); r.Status != http.StatusFound || r.Location() != "/admin/users?page=2" {
			t.Fatalf("step-up callback: %d to %q, want 302 back to /admin/users?page=2", r.Status, r.Location())
		}
		if er := a.Echo("/admin/users?page=2", nil); er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
			t.Fatalf("after step-up: upstream user %q", er.Headers["X-Forwarded-User"])
		}
		a.Echo("/admin/api", map[string]string{"Accept": "application/json"})
		b.Echo("/", nil) // the upgraded session serves the rest of the site too
	})
}

// TestStepUpUnreachableIs403: when the provider's answer still does not meet the rule (no login of this provider
// yields amr "hwk"), the browser gets a 403 page at the callback, not another trip to the provider.
func TestStepUpUnreachableIs403(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"requiredAMR": "hwk"}))
		b := e.browser()
		r := b.login("/vault")
		if r.Status != http.StatusForbidden || r.Location() != "" || !strings.Contains(r.Body, "Stronger sign-in required") {
			t.Fatalf("callback: status %d Location %q, want the 403 page", r.Status, r.Location())
		}
		if e.upstream.Load() != 0 || b.sessionCookie() == "" {
			t.Fatalf("upstream %d, session %t: want no upstream call and a session", e.upstream.Load(), b.sessionCookie() != "")
		}
	})
}

// TestStepUpMaxAuthAge: with maxAuthAge, every login asks for max_age; once the authentication is older, a
// navigation is sent to re-authenticate (prompt=login) even though the provider still has a session, and an API
// client gets the max_age challenge.
func TestStepUpMaxAuthAge(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true, SSO: true})
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"maxAuthAge": "2s"}))
		b := e.browser()
		authz := b.startLogin("/pay")
		if authz.Query().Get("max_age") != "2" || authz.Query().Get("prompt") != "" {
			t.Fatalf("first login: max_age %q prompt %q, want 2 and none", authz.Query().Get("max_age"), authz.Query().Get("prompt"))
		}
		if r := b.Get(b.authenticate(authz)); r.Status != http.StatusFound {
			t.Fatalf("callback: %d", r.Status)
		}
		b.Echo("/pay", nil)
		time.Sleep(2100 * time.Millisecond)
		r := b.Do(http.MethodGet, "/pay", map[string]string{"Sec-Fetch-Mode": "cors"})
		want := `Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="2"`
		if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != want {
			t.Fatalf("API after 2s: %d %q, want 401 %q", r.Status, r.Header.Get("WWW-Authenticate"), want)
		}
		authz = b.startLogin("/pay")
		if q := authz.Query(); q.Get("max_age") != "2" || q.Get("prompt") != "login" {
			t.Fatalf("re-authentication: authorize %v, want max_age=2 prompt=login", url.Values(q))
		}
		attempts := idp.Stats().LoginAttempts
		if r := b.Get(b.authenticate(authz)); r.Status != http.StatusFound || r.Location() != "/pay" {
			t.Fatalf("re-authentication callback: %d to %q", r.Status, r.Location())
		}
		if idp.Stats().LoginAttempts != attempts+1 {
			t.Errorf("the provider did not show its form again for prompt=login")
		}
		b.Echo("/pay", nil)
	})
}
