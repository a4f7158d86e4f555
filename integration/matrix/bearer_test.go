package matrix

import (
	"net/http"
	"strings"
)

// scenarioBearer: an API client sends the access token the provider gave it (the client's own code flow, without
// the plugin). A verifiable JWT access token passes with identity headers, a forged identity header is replaced
// and a tampered token gets 401 invalid_token; an opaque access token gets 401 invalid_token (the plugin verifies
// JWTs only), and so does one that carries a nonce as ID tokens do (an ID token is never a bearer token), unless
// allowIDTokenShapedBearer accepts such a provider's (dex's) tokens.
func scenarioBearer(t T, c *cell) string {
	tok := c.clientTokens(t)
	c.use(t, c.bearerConfig())
	upstream := c.upstream.Load()
	b := c.browser(t)
	api := func(token string) response {
		return b.Do(http.MethodGet, "/api/items", map[string]string{
			"Authorization": "Bearer " + token, "Accept": "application/json", "X-Forwarded-User": "mallory",
		})
	}
	claims := payload(tok.AccessToken)
	if (claims != nil) != c.caps.JWTAccessTokens {
		t.Fatalf("%s: access token is a JWT = %v, but Capabilities.JWTAccessTokens = %v", c.name, claims != nil, c.caps.JWTAccessTokens)
	}
	if _, ok := claims["nonce"]; ok {
		wantInvalidToken(t, api(tok.AccessToken), "access token with a nonce")
		// The opt-in for such providers (allowIDTokenShapedBearer) lets them through, and a tampered one still fails.
		cfg := c.bearerConfig()
		cfg["allowIDTokenShapedBearer"] = "true"
		c.use(t, cfg)
		wantBearerUser(t, b, api, tok.AccessToken)
		wantInvalidToken(t, api(tok.AccessToken[:len(tok.AccessToken)-4]+"AAAA"), "tampered access token")
		return "its access tokens are ID-token-like (nonce, at_hash): refused as bearer tokens unless allowIDTokenShapedBearer, which lets them (and its ID tokens) through"
	}
	if !c.caps.JWTAccessTokens {
		wantInvalidToken(t, api(tok.AccessToken), "opaque access token")
		if c.upstream.Load() != upstream {
			t.Fatal("an opaque access token reached the upstream")
		}
		return "opaque access tokens (not JWTs): the plugin cannot verify them and answers 401 invalid_token"
	}
	wantBearerUser(t, b, api, tok.AccessToken)
	wantInvalidToken(t, api(tok.AccessToken[:len(tok.AccessToken)-4]+"AAAA"), "tampered access token")
	return ""
}

// scenarioIDTokenBearer: an ID token is not an access token (it is for the client, not for APIs): sent as a bearer
// token, it gets 401 invalid_token, with the configuration that lets the provider's access tokens through.
func scenarioIDTokenBearer(t T, c *cell) string {
	tok := c.clientTokens(t)
	c.use(t, c.bearerConfig())
	upstream := c.upstream.Load()
	r := c.browser(t).Do(http.MethodGet, "/api/items", map[string]string{"Authorization": "Bearer " + tok.IDToken, "Accept": "application/json"})
	wantInvalidToken(t, r, "the provider's ID token as a bearer token")
	if c.upstream.Load() != upstream {
		t.Fatal("an ID token used as a bearer token reached the upstream")
	}
	return ""
}

// wantBearerUser: two API requests with token pass (the second from the plugin's cache) with the user's identity.
func wantBearerUser(t T, b *browser, api func(string) response, token string) {
	t.Helper()
	for i := 0; i < 2; i++ {
		r := api(token)
		if r.Status != http.StatusOK {
			t.Fatalf("bearer request %d: status %d (WWW-Authenticate %q), want 200", i, r.Status, r.Header.Get("WWW-Authenticate"))
		}
		b.wantUser(b.Echo("/api/items", map[string]string{"Authorization": "Bearer " + token}), "bearer request")
	}
}

func wantInvalidToken(t T, r response, what string) {
	t.Helper()
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("%s: status %d WWW-Authenticate %q, want 401 with error=\"invalid_token\"", what, r.Status, r.Header.Get("WWW-Authenticate"))
	}
}
