package matrix

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// scenarioLogin: the redirect to the provider carries every parameter of a code flow with PKCE, the provider's login
// comes back to the callback, the browser lands on the URL it asked for, the upstream sees the user and none of the
// plugin's cookies, and a forged identity header is replaced.
func scenarioLogin(t T, c *cell) string {
	c.use(t, nil)
	b := c.browser(t)
	authz := b.startLogin("/echo/page?x=1&y=two")
	checkAuthorize(t, c, authz)
	cb := b.Get(b.authenticate(authz))
	if cb.Status != http.StatusFound || cb.Location() != "/echo/page?x=1&y=two" {
		t.Fatalf("callback: status %d Location %q, want 302 to /echo/page?x=1&y=two (body %q)", cb.Status, cb.Location(), cb.Body)
	}
	if b.session() == "" {
		t.Fatal("no session cookie after the callback")
	}
	er := b.Echo("/echo/page?x=1&y=two", map[string]string{"X-Forwarded-User": "mallory"})
	b.wantUser(er, "after login")
	if strings.Contains(er.Headers["Cookie"], sessionCookie) {
		t.Errorf("upstream Cookie %q carries the plugin's cookies", er.Headers["Cookie"])
	}
	if er.Query != "x=1&y=two" {
		t.Errorf("upstream query %q, want x=1&y=two", er.Query)
	}
	return ""
}

// checkAuthorize checks the authorization request against the provider's discovery and the plugin's settings.
func checkAuthorize(t T, c *cell, authz *url.URL) {
	t.Helper()
	q := authz.Query()
	want := map[string]string{
		"response_type": "code", "client_id": c.p.ClientID(), "redirect_uri": c.site.URL + callbackPath,
		"code_challenge_method": "S256",
	}
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("authorize %s = %q, want %q", k, got, v)
		}
	}
	scope := " " + q.Get("scope") + " "
	for _, s := range c.p.Scopes() {
		if !strings.Contains(scope, " "+s+" ") {
			t.Errorf("authorize scope %q lacks %q", q.Get("scope"), s)
		}
	}
	for _, k := range []string{"state", "nonce"} {
		if len(q.Get(k)) < 22 { // 128 bits in base64url
			t.Errorf("authorize %s = %q: missing or shorter than 128 bits", k, q.Get(k))
		}
	}
	if ch, err := base64.RawURLEncoding.DecodeString(q.Get("code_challenge")); err != nil || len(ch) != 32 {
		t.Errorf("authorize code_challenge = %q, want base64url of a SHA-256 digest", q.Get("code_challenge"))
	}
	if q.Get("state") == q.Get("nonce") {
		t.Errorf("authorize state and nonce are the same value %q", q.Get("state"))
	}
}

// scenarioReuse: once signed in, requests are served from the session cookie without asking the provider.
func scenarioReuse(t T, c *cell) string {
	c.use(t, nil)
	b := c.browser(t)
	b.mustLogin("/first")
	before := c.p.Gate().Requests.Load()
	for i := 0; i < 3; i++ {
		b.wantUser(b.Echo("/again", nil), "request with the session")
	}
	if n := c.p.Gate().Requests.Load() - before; n != 0 {
		t.Fatalf("%d requests reached the provider while the session was reused, want 0", n)
	}
	return ""
}

// scenarioUserinfo: email and name headers are filled, also for a provider that releases them only from userinfo
// (which its ID token is checked for, so that the note states a fact).
func scenarioUserinfo(t T, c *cell) string {
	u := c.p.User()
	inIDToken := idTokenHas(t, c.codeFlow(t, nil).IDToken, "email") // asked for as the plugin asks
	if inIDToken == c.caps.ClaimsInUserinfoOnly {
		t.Fatalf("%s: email in the ID token = %v, but Capabilities.ClaimsInUserinfoOnly = %v", c.name, inIDToken, c.caps.ClaimsInUserinfoOnly)
	}
	c.use(t, map[string]any{"forwardHeaders": map[string]any{
		"X-Forwarded-User": "sub", "X-Forwarded-Email": "email", "X-Forwarded-Name": "name",
	}})
	er := c.browser(t).mustLogin("/me")
	for h, want := range map[string]string{"X-Forwarded-Email": u.Email, "X-Forwarded-Name": u.Name} {
		if want != "" && er.Headers[h] != want {
			t.Errorf("upstream %s = %q, want %q", h, er.Headers[h], want)
		}
	}
	if c.caps.ClaimsInUserinfoOnly {
		return "its ID token carries no email or name (OIDC Core 5.4: scope claims come from userinfo once an access token is issued)"
	}
	return ""
}

// idTokenHas reports whether the (unverified) payload of the JWT tok has claim.
func idTokenHas(t T, tok, claim string) bool {
	t.Helper()
	claims := payload(tok)
	if claims == nil {
		t.Fatalf("ID token is not a JWS with a JSON payload: %.20q…", tok)
	}
	_, ok := claims[claim]
	return ok
}

// payload is the unverified payload of a JWS, nil when tok is not one (an opaque or encrypted token).
func payload(tok string) map[string]any {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	claims := map[string]any{}
	if err != nil || json.Unmarshal(raw, &claims) != nil {
		return nil
	}
	return claims
}
