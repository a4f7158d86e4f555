package providers

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestOIDCProvider starts oidc-provider and checks what the matrix relies on: the exact issuer (no trailing
// slash), the login and consent forms, the client's own tokens, the gate, and each fact its Capabilities state.
func TestOIDCProvider(t *testing.T) {
	p := startLogged(t, "oidc-provider", StartOIDCProvider)
	if p.Issuer() != p.Gate().URL() {
		t.Fatalf("issuer: expected %s, got %s", p.Gate().URL(), p.Issuer())
	}
	d := checkDiscovery(t, p)
	algs, _ := d["id_token_signing_alg_values_supported"].([]any)
	for _, alg := range OIDCProviderAlgs {
		if !slices.Contains(algs, any(alg)) {
			t.Errorf("id_token_signing_alg_values_supported: expected %s in %v", alg, algs)
		}
	}
	checkLogin(t, p, d, newBrowser())

	// Without a resource: an opaque access token, for userinfo, which alone has email and name.
	tok, err := ClientTokens(p, testRedirectURI, nil)
	if err != nil {
		t.Fatalf("ClientTokens: %v", err)
	}
	if tok.RefreshToken == "" || strings.Count(tok.AccessToken, ".") == 2 {
		t.Errorf("tokens without resource: expected a refresh token and an opaque access token, got %+v", tok)
	}
	id := checkIDToken(t, p, tok.IDToken)
	if exp, iat := id["exp"].(float64), id["iat"].(float64); exp-iat != 5 {
		t.Errorf("ID token lifetime: expected TokenTTL 5 s, got %v s", exp-iat)
	}
	ui := userinfo(t, d, tok.AccessToken)
	if u := p.User(); ui["sub"] != u.Subject || ui["email"] != u.Email || ui["name"] != u.Name {
		t.Errorf("userinfo: expected sub/email/name %q/%q/%q, got %v", u.Subject, u.Email, u.Name, ui)
	}
	checkGate(t, p)
}

// TestOIDCProviderJWTAccessToken: with the resource, the access token is an RFC 9068 JWT for the API, userinfo
// refuses it, the ID token carries email and name instead, and a refresh keeps the resource.
func TestOIDCProviderJWTAccessToken(t *testing.T) {
	p := startLogged(t, "oidc-provider", StartOIDCProvider)
	d := rawDiscovery(t, p)
	tok, err := ClientTokens(p, testRedirectURI, p.AccessTokenRequest())
	if err != nil {
		t.Fatalf("ClientTokens with resource: %v", err)
	}
	h, at := jwtParts(t, tok.AccessToken)
	if h["typ"] != "at+jwt" || at["client_id"] != p.ClientID() || at["aud"] != OIDCProviderResource {
		t.Errorf("access token: expected typ at+jwt, client_id %q, aud %q; got header %v, claims %v",
			p.ClientID(), OIDCProviderResource, h, at)
	}
	for _, claim := range []string{"azp", "nonce", "email"} {
		if _, ok := at[claim]; ok {
			t.Errorf("access token: expected no %s, got %v", claim, at[claim])
		}
	}
	if at["iss"] != p.Issuer() || at["sub"] != p.User().Subject {
		t.Errorf("access token iss/sub: expected %q/%q, got %v/%v", p.Issuer(), p.User().Subject, at["iss"], at["sub"])
	}
	if _, id := jwtParts(t, tok.IDToken); id["email"] != p.User().Email || id["name"] != p.User().Name {
		t.Errorf("ID token with a resource access token: expected email %q and name %q, got %v", p.User().Email, p.User().Name, id)
	}
	if st, code, next := refresh(t, p, d, tok.RefreshToken); st != http.StatusOK {
		t.Errorf("refresh: expected 200, got %d %q", st, code)
	} else if _, nat := jwtParts(t, next.AccessToken); nat["aud"] != OIDCProviderResource {
		t.Errorf("refreshed access token: expected aud %q, got %v", OIDCProviderResource, nat["aud"])
	}
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprint(d["userinfo_endpoint"]), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo with the API's access token: expected 401, got %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// TestOIDCProviderIDTokenAlgs: one client per algorithm; Ed25519 and EdDSA are both names it signs under.
func TestOIDCProviderIDTokenAlgs(t *testing.T) {
	p := startLogged(t, "oidc-provider", StartOIDCProvider)
	for _, alg := range OIDCProviderAlgs[1:] {
		v, err := p.WithIDTokenAlg(alg)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := ClientTokens(v, testRedirectURI, nil)
		if err != nil {
			t.Fatalf("%s: ClientTokens: %v", alg, err)
		}
		checkIDToken(t, v, tok.IDToken)
		if err := v.Close(); err != nil || p.proc.exited() {
			t.Fatalf("closing a view: expected the provider to keep running, got %v (exited %v)", err, p.proc.exited())
		}
	}
	if _, err := p.WithIDTokenAlg("HS256"); err == nil {
		t.Error("WithIDTokenAlg(HS256): expected an error")
	}
}

// TestOIDCProviderRefreshRotation: every refresh rotates; reusing a rotated token fails with invalid_grant and
// revokes the grant, so the newest refresh token dies with it.
func TestOIDCProviderRefreshRotation(t *testing.T) {
	p := startLogged(t, "oidc-provider", StartOIDCProvider)
	d := rawDiscovery(t, p)
	tok, err := ClientTokens(p, testRedirectURI, nil)
	if err != nil {
		t.Fatalf("ClientTokens: %v", err)
	}
	st, code, next := refresh(t, p, d, tok.RefreshToken)
	if st != http.StatusOK || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.IDToken == "" {
		t.Fatalf("refresh: expected 200 with a new refresh token and an ID token, got %d %q", st, code)
	}
	if st, code, _ := refresh(t, p, d, tok.RefreshToken); st != http.StatusBadRequest || code != "invalid_grant" {
		t.Errorf("rotated refresh token: expected 400 invalid_grant, got %d %q", st, code)
	}
	if st, code, _ := refresh(t, p, d, next.RefreshToken); st != http.StatusBadRequest || code != "invalid_grant" {
		t.Errorf("newest refresh token after a replay: expected 400 invalid_grant (grant revoked), got %d %q", st, code)
	}
}

// TestOIDCProviderLogout: end_session with id_token_hint asks the signed-in user for confirmation; ConfirmLogout's
// request ends at the registered post_logout_redirect_uri with the state, and the provider's session is gone.
func TestOIDCProviderLogout(t *testing.T) {
	p := startLogged(t, "oidc-provider", StartOIDCProvider)
	d := rawDiscovery(t, p)
	browser := newBrowser()
	tok := exchange(t, p, d, checkLogin(t, p, d, browser))
	q := url.Values{"id_token_hint": {tok.IDToken}, "post_logout_redirect_uri": {p.opts.PostLogoutRedirectURI},
		"client_id": {p.ClientID()}, "state": {"logout-state-0123"}}
	resp, err := browser.Get(fmt.Sprint(d["end_session_endpoint"]) + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `id="op.logoutForm"`) {
		t.Fatalf("end_session: expected 200 with op.logoutForm, got %s: %.300s", resp.Status, page)
	}
	req, err := p.ConfirmLogout(string(page))
	if err != nil {
		t.Fatalf("ConfirmLogout: %v", err)
	}
	noFollow := *browser
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if resp, err = noFollow.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := p.opts.PostLogoutRedirectURI + "?state=logout-state-0123"
	if got := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || got != want {
		t.Errorf("confirmed logout: expected a redirect to %s, got %s %q", want, resp.Status, got)
	}
	// Signed out: the next authorization request shows the login form again.
	logins := 0
	fill := func(u *url.URL, body string, forms []htmlForm) (*htmlForm, error) {
		if formWith(forms, "prompt", "login") != nil {
			logins++
		}
		return p.fill(u, body, forms)
	}
	q = url.Values{"response_type": {"code"}, "client_id": {p.ClientID()}, "redirect_uri": {testRedirectURI},
		"scope": {"openid"}, "state": {"state-after-logout"}}
	if _, err := walkToRedirect(browser, fmt.Sprint(d["authorization_endpoint"])+"?"+q.Encode(), testRedirectURI, fill); err != nil || logins != 1 {
		t.Errorf("login after logout: expected the login form once, got %d (%v)", logins, err)
	}
	if _, err := p.ConfirmLogout("<html>no form</html>"); err == nil {
		t.Error("ConfirmLogout on another page: expected an error")
	}
}
