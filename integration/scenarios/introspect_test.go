package scenarios

import (
	"net/http"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik-descope/descopeoidc/integration/providers"
)

// TestOpaqueAccessTokens: panva's oidc-provider issues an opaque access token when no resource indicator is asked
// for; the plugin introspects it (RFC 7662) at the provider's introspection_endpoint with the client's own
// credentials, lets it through with the identity of the answer, and caches it; a made-up or revoked token gets 401.
func TestOpaqueAccessTokens(t *testing.T) {
	p, err := providers.StartOIDCProvider(providers.Options{RedirectURI: "https://127.0.0.1:1/oauth2/callback"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		tok, err := providers.ClientTokens(p, "https://127.0.0.1:1/oauth2/callback", nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(tok.AccessToken, ".") == 2 {
			t.Fatalf("oidc-provider issued a JWT access token without a resource indicator: %.20q", tok.AccessToken)
		}
		cfg := merge(p.PluginConfig(), map[string]any{
			"issuer": p.Issuer(), "clientID": p.ClientID(), "clientSecret": p.ClientSecret(), "sessionSecret": sessionSecret,
			"allowBearerTokens": "true", "introspectionCacheTTL": "1m",
		})
		e := newEnv(t, tg, nil, cfg)
		c := e.browser()
		api := func(token string) response {
			return c.Do(http.MethodGet, "/api/items", map[string]string{"Authorization": "Bearer " + token, "Accept": "application/json",
				"X-Forwarded-User": "mallory"})
		}
		for i := 0; i < 3; i++ {
			er := c.Echo("/api/items", map[string]string{"Authorization": "Bearer " + tok.AccessToken, "X-Forwarded-User": "mallory"})
			if er.Headers["X-Forwarded-User"] != p.User().Subject {
				t.Fatalf("opaque token, request %d: upstream user %q, want %q", i, er.Headers["X-Forwarded-User"], p.User().Subject)
			}
		}
		for _, bad := range []string{"made-up-opaque-token", tok.AccessToken + "x", tok.RefreshToken} {
			if bad == "" {
				continue
			}
			if r := api(bad); r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("token %.8q…: status %d WWW-Authenticate %q, want 401 invalid_token", bad, r.Status, r.Header.Get("WWW-Authenticate"))
			}
		}
		if n := e.upstream.Load(); n != 3 {
			t.Errorf("upstream saw %d requests, want 3", n)
		}
	})
}

// TestOpaqueAccessTokensDevIDP: the Descope-shaped provider with opaque access tokens (zitadel's introspection):
// the token the plugin's own login received, forwarded upstream, passes as a bearer token at an API middleware
// through introspection; an altered one gets 401.
func TestOpaqueAccessTokensDevIDP(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true, OpaqueAccessTokens: true})
		web := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"forwardAccessToken": "true"}))
		er := web.browser().mustLogin("/")
		at := strings.TrimPrefix(er.Headers["Authorization"], "Bearer ")
		if at == "" || strings.Count(at, ".") == 2 {
			t.Fatalf("forwarded access token %.20q: want an opaque token", at)
		}
		api := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"allowBearerTokens": "true"}))
		c := api.browser()
		for i := 0; i < 2; i++ {
			got := c.Echo("/api/items", map[string]string{"Authorization": "Bearer " + at, "X-Forwarded-User": "mallory"})
			if got.Headers["X-Forwarded-User"] != devidp.DemoSubject {
				t.Fatalf("opaque bearer request %d: user %q", i, got.Headers["X-Forwarded-User"])
			}
		}
		r := c.Do(http.MethodGet, "/api/items", map[string]string{"Authorization": "Bearer " + at + "x", "Accept": "application/json"})
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("altered opaque token: status %d, want 401", r.Status)
		}
	})
}
