package scenarios

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestSilentReauth: a session that ends (short tokens, no refresh token) is renewed with prompt=none while the
// provider's session lives, without its login form; once the provider's session is gone, its login_required answer
// leads straight to the interactive login (no error page), and after it to the page the user asked for.
func TestSilentReauth(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true, SSO: true, AccessTokenLifetime: 2 * time.Second,
			IDTokenLifetime: 2 * time.Second})
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"silentReauth": "true", "scopes": "openid,profile,email"}))
		b := e.browser()
		b.mustLogin("/docs")
		time.Sleep(2100 * time.Millisecond)
		authz := b.startLogin("/docs?page=2")
		if authz.Query().Get("prompt") != "none" {
			t.Fatalf("ended session: prompt %q, want none", authz.Query().Get("prompt"))
		}
		cb, err := idp.Login(b.HTTP, authz.String(), "nobody", "no-password") // the form must not be needed
		if err != nil {
			t.Fatal(err)
		}
		if r := b.Get(cb); r.Status != http.StatusFound || r.Location() != "/docs?page=2" {
			t.Fatalf("silent callback: %d to %q, want 302 to /docs?page=2", r.Status, r.Location())
		}
		b.Echo("/docs?page=2", nil)
		if st := idp.Stats(); st.LoginAttempts != 1 || st.SSOLogins != 1 {
			t.Fatalf("provider: %d form logins, %d SSO logins; want 1 and 1", st.LoginAttempts, st.SSOLogins)
		}

		idp.ExpireSSO()
		time.Sleep(2100 * time.Millisecond)
		authz = b.startLogin("/docs")
		cb, err = idp.Login(b.HTTP, authz.String(), "nobody", "no-password")
		if err != nil {
			t.Fatal(err)
		}
		r := b.Get(cb) // error=login_required: straight on to the interactive login
		if r.Status != http.StatusFound || !startsWith(r.Location(), idp.URL()) {
			t.Fatalf("login_required: %d to %q, want 302 to the provider (no error page)", r.Status, r.Location())
		}
		authz, _ = url.Parse(r.Location())
		if authz.Query().Get("prompt") != "" {
			t.Fatalf("fallback login: prompt %q, want none set", authz.Query().Get("prompt"))
		}
		if r := b.Get(b.authenticate(authz)); r.Status != http.StatusFound || r.Location() != "/docs" {
			t.Fatalf("interactive callback: %d to %q, want 302 to /docs", r.Status, r.Location())
		}
		b.Echo("/docs", nil)
		if st := idp.Stats(); st.LoginAttempts != 2 || st.SilentErrors != 1 {
			t.Errorf("provider: %d form logins, %d silent errors; want 2 and 1", st.LoginAttempts, st.SilentErrors)
		}
	})
}

func startsWith(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }
