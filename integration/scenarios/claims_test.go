package scenarios

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// profileHeaders forwards the claims a provider may keep in userinfo only.
var profileHeaders = map[string]any{"X-Forwarded-User": "sub", "X-Forwarded-Email": "email", "X-Forwarded-Name": "name"}

// TestClaimsFromUserinfo: a provider that keeps email and name out of its tokens (OIDC Core 5.4, like
// oidc-provider): the headers are filled from one userinfo request at login.
func TestClaimsFromUserinfo(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true, ProfileInUserinfoOnly: true})
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"forwardHeaders": profileHeaders}))
		er := e.browser().mustLogin("/profile")
		if er.Headers["X-Forwarded-Email"] != devidp.DemoUsername || er.Headers["X-Forwarded-Name"] != "Demo User" {
			t.Errorf("upstream email %q name %q, want them from userinfo", er.Headers["X-Forwarded-Email"], er.Headers["X-Forwarded-Name"])
		}
		if n := idp.Stats().UserinfoRequests; n != 1 {
			t.Errorf("userinfo requests = %d, want 1", n)
		}
		// userinfo: never leaves them missing, and asks nothing
		idp.ResetStats()
		e2 := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"forwardHeaders": profileHeaders, "userinfo": "never"}))
		er = e2.browser().mustLogin("/profile")
		if _, ok := er.Headers["X-Forwarded-Email"]; ok || idp.Stats().UserinfoRequests != 0 {
			t.Errorf("userinfo never: email %q, %d userinfo requests", er.Headers["X-Forwarded-Email"], idp.Stats().UserinfoRequests)
		}
	})
}

// TestRolesFromAccessToken: a Descope project whose ID token has no roles: the roles rule and X-Roles read the
// access (session) token, which verifies against the same keys and issuer; no userinfo request is needed.
func TestRolesFromAccessToken(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true, AuthzInAccessTokenOnly: true})
		cfg := merge(baseConfig(idp), map[string]any{
			"requiredRoles":  "editor",
			"forwardHeaders": map[string]any{"X-Roles": "roles", "X-Tenant": "dct"},
		})
		e := newEnv(t, tg, idp, cfg)
		er := e.browser().mustLogin("/admin")
		if er.Headers["X-Roles"] != "viewer,editor" || er.Headers["X-Tenant"] != devidp.DemoTenant {
			t.Errorf("upstream X-Roles %q X-Tenant %q, want them from the access token", er.Headers["X-Roles"], er.Headers["X-Tenant"])
		}
		if n := idp.Stats().UserinfoRequests; n != 0 {
			t.Errorf("userinfo requests = %d, want 0 (the access token had everything)", n)
		}
		// Without the access token as a source the rule has no roles to go by.
		e2 := newEnv(t, tg, idp, merge(cfg, map[string]any{"claimsFrom": "idToken,userinfo"}))
		b := e2.browser()
		if cb := b.login("/admin"); cb.Status != http.StatusFound {
			t.Fatalf("callback: %d", cb.Status)
		}
		if r := b.Get("/admin"); r.Status != http.StatusForbidden {
			t.Errorf("claimsFrom without accessToken: status %d, want 403", r.Status)
		}
	})
}

// TestUserinfoOfAnotherUserFailsLogin: a userinfo answer about another subject (OIDC Core 5.3.4) ends the login
// without a session; upstream never sees the other user's claims.
func TestUserinfoOfAnotherUserFailsLogin(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		other := devidp.DemoUser()
		other.Username, other.Subject, other.Email = "victim@example.com", "U2victim", "victim@example.com"
		idp := startIDP(t, devidp.Options{AZPClaim: true, ProfileInUserinfoOnly: true,
			Users: []devidp.User{devidp.DemoUser(), other}, UserinfoSubject: other.Subject})
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"forwardHeaders": profileHeaders}))
		b := e.browser()
		r := b.login("/")
		if r.Status != http.StatusUnauthorized || b.sessionCookie() != "" || strings.Contains(r.Body, "victim") {
			t.Fatalf("callback: status %d session %v, want 401, no session, generic page", r.Status, b.sessionCookie() != "")
		}
		if idp.Stats().UserinfoRequests != 1 || e.upstream.Load() != 0 {
			t.Errorf("userinfo requests %d, upstream %d; want 1 and 0", idp.Stats().UserinfoRequests, e.upstream.Load())
		}
	})
}

// TestUserinfoDownMeansNoSession: while userinfo fails, the callback answers 503 with Retry-After and makes no
// session; once it is back a login works.
func TestUserinfoDownMeansNoSession(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true, ProfileInUserinfoOnly: true})
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"forwardHeaders": profileHeaders}))
		idp.SetUserinfoStatus(http.StatusServiceUnavailable)
		b := e.browser()
		r := b.login("/")
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || b.sessionCookie() != "" {
			t.Fatalf("userinfo down: status %d Retry-After %q session %v, want 503, Retry-After, no session",
				r.Status, r.Header.Get("Retry-After"), b.sessionCookie() != "")
		}
		idp.SetUserinfoStatus(http.StatusUnauthorized) // refused: a failed login, not an outage
		if r := e.browser().login("/"); r.Status != http.StatusUnauthorized {
			t.Errorf("userinfo refusing: status %d, want 401", r.Status)
		}
		idp.SetUserinfoStatus(0)
		if er := e.browser().mustLogin("/back"); er.Headers["X-Forwarded-Email"] != devidp.DemoUsername {
			t.Errorf("userinfo back: email %q", er.Headers["X-Forwarded-Email"])
		}
	})
}

// TestClaimsReReadAfterRefresh: the user's roles change at the provider between login and refresh; the refreshed
// session's rule and headers use the new access token's roles.
func TestClaimsReReadAfterRefresh(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true, AuthzInAccessTokenOnly: true, // tokens as in shortLived
			AccessTokenLifetime: 6 * time.Second, IDTokenLifetime: 6 * time.Second})
		e := newEnv(t, tg, idp, merge(refreshConfig(idp), map[string]any{
			"requiredRoles": "viewer", "forwardHeaders": map[string]any{"X-Roles": "roles"},
		}))
		b := e.browser()
		if er := b.mustLogin("/"); er.Headers["X-Roles"] != "viewer,editor" {
			t.Fatalf("at login: X-Roles %q", er.Headers["X-Roles"])
		}
		if err := idp.UpdateUser(devidp.DemoSubject, func(u *devidp.User) { u.Roles = []string{"viewer", "auditor"} }); err != nil {
			t.Fatal(err)
		}
		untilRefreshDue()
		b.refreshNow()
		if er := b.Echo("/refreshed", nil); er.Headers["X-Roles"] != "viewer,auditor" {
			t.Errorf("after refresh: X-Roles %q, want viewer,auditor", er.Headers["X-Roles"])
		}
		if n := idp.Stats().TokenRequests["refresh_token"]; n != 1 {
			t.Fatalf("refresh grants = %d, want 1", n)
		}
		if err := idp.UpdateUser(devidp.DemoSubject, func(u *devidp.User) { u.Roles = []string{"auditor"} }); err != nil {
			t.Fatal(err)
		}
		untilRefreshDue()
		b.refreshNow()
		if r := b.Get("/denied"); r.Status != http.StatusForbidden {
			t.Errorf("after the viewer role was removed and the session refreshed: status %d, want 403", r.Status)
		}
	})
}

// TestUnverifiedEmailAndControlCharacters: an email whose email_verified is false is not forwarded, and a claim
// with an escape character (not a valid header value) is dropped; the request itself is served.
func TestUnverifiedEmailAndControlCharacters(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		u := devidp.DemoUser()
		u.EmailUnverified = true
		u.Name = "Eve\x1b[31m\x7f"
		idp := startIDP(t, devidp.Options{AZPClaim: true, Users: []devidp.User{u}})
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"forwardHeaders": profileHeaders}))
		er := e.browser().mustLogin("/")
		for _, h := range []string{"X-Forwarded-Email", "X-Forwarded-Name"} {
			if v, ok := er.Headers[h]; ok {
				t.Errorf("upstream got %s %q, want it dropped", h, v)
			}
		}
		if er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
			t.Errorf("upstream user %q", er.Headers["X-Forwarded-User"])
		}
	})
}
