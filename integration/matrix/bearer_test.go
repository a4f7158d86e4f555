package matrix

import (
	"net/http"
	"strings"
)

// scenarioBearer: an API client sends the access token the provider gave it (the client's own code flow, without
// the plugin). A verifiable JWT access token passes with identity headers, a forged identity header is replaced
// and a tampered token gets 401 invalid_token; an opaque access token gets 401 invalid_token (the plugin verifies
// JWTs only).
func scenarioBearer(t T, c *cell) string {
	tok := c.clientTokens(t)
	c.use(t, c.bearerConfig())
	upstream := c.upstream.Load()
	b := c.browser(t)
	api := func(token string) response {
		return b.do(http.MethodGet, "/api/items", map[string]string{
			"Authorization": "Bearer " + token, "Accept": "application/json", "X-Forwarded-User": "mallory",
		})
	}
	if !c.caps.JWTAccessTokens {
		if strings.Count(tok.AccessToken, ".") == 2 {
			t.Fatalf("%s: its access token looks like a JWT, but Capabilities.JWTAccessTokens is false", c.name)
		}
		wantInvalidToken(t, api(tok.AccessToken), "opaque access token")
		if c.upstream.Load() != upstream {
			t.Fatal("an opaque access token reached the upstream")
		}
		return "opaque access tokens (not JWTs): the plugin cannot verify them and answers 401 invalid_token"
	}
	for i := 0; i < 2; i++ {
		r := api(tok.AccessToken)
		if r.status != http.StatusOK {
			t.Fatalf("bearer request %d: status %d (WWW-Authenticate %q), want 200", i, r.status, r.header.Get("WWW-Authenticate"))
		}
		b.wantUser(b.echo("/api/items", map[string]string{"Authorization": "Bearer " + tok.AccessToken}), "bearer request")
	}
	wantInvalidToken(t, api(tok.AccessToken[:len(tok.AccessToken)-4]+"AAAA"), "tampered access token")
	return ""
}

// scenarioIDTokenBearer: an ID token is not an access token (it is for the client, not for APIs): sent as a bearer
// token, it gets 401 invalid_token, with the configuration that lets the provider's access tokens through.
func scenarioIDTokenBearer(t T, c *cell) string {
	tok := c.clientTokens(t)
	c.use(t, c.bearerConfig())
	upstream := c.upstream.Load()
	r := c.browser(t).do(http.MethodGet, "/api/items", map[string]string{"Authorization": "Bearer " + tok.IDToken, "Accept": "application/json"})
	wantInvalidToken(t, r, "the provider's ID token as a bearer token")
	if c.upstream.Load() != upstream {
		t.Fatal("an ID token used as a bearer token reached the upstream")
	}
	return ""
}

func wantInvalidToken(t T, r response, what string) {
	t.Helper()
	if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("%s: status %d WWW-Authenticate %q, want 401 with error=\"invalid_token\"", what, r.status, r.header.Get("WWW-Authenticate"))
	}
}
