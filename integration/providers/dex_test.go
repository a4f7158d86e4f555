package providers

import (
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
)

// TestDex starts dex and checks what the matrix relies on: the exact issuer, the login forms, the client's own
// tokens, the gate, and each fact its Capabilities state.
func TestDex(t *testing.T) {
	p := startLogged(t, "dex", StartDex)
	if p.Issuer() != p.Gate().URL()+"/dex" {
		t.Fatalf("issuer: expected %s/dex, got %s", p.Gate().URL(), p.Issuer())
	}
	d := checkDiscovery(t, p)
	checkLogin(t, p, d, newBrowser())

	tok, err := ClientTokens(p, testRedirectURI, nil)
	if err != nil {
		t.Fatalf("ClientTokens: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatalf("ClientTokens: expected a refresh token with %v", p.Scopes())
	}
	id := checkIDToken(t, p, tok.IDToken)
	if exp, iat := id["exp"].(float64), id["iat"].(float64); exp-iat != 5 {
		t.Errorf("ID token lifetime: expected TokenTTL 5 s, got %v s", exp-iat)
	}

	// The access token is a JWT shaped like the ID token: aud = client ID, the authorization request's nonce.
	h, at := jwtParts(t, tok.AccessToken)
	if at["aud"] != p.Capabilities().AccessTokenAudience || at["nonce"] != "client-tokens-nonce-0123456789" {
		t.Errorf("access token aud/nonce: expected %q/the request's nonce, got %v/%v", p.ClientID(), at["aud"], at["nonce"])
	}
	if _, typ := h["typ"]; typ || h["alg"] != "RS256" {
		t.Errorf("access token header: expected RS256 without typ, got %v", h)
	}
	// ... with the ID token's claim names, but for c_hash (the code's hash, in the code exchange's ID token only).
	if got, want := claimNames(at), claimNames(id); got+" c_hash" != want {
		t.Errorf("access token claims: expected the ID token's %s without c_hash, got %s", want, got)
	}
	if ui := userinfo(t, d, tok.AccessToken); ui["sub"] != p.User().Subject || ui["email"] != p.User().Email {
		t.Errorf("userinfo: expected sub %q and email %q, got %v", p.User().Subject, p.User().Email, ui)
	}
	checkGate(t, p)
}

// TestDexRefreshRotation pins dex's rotation: every refresh returns a new refresh token, and the previous one is
// dead at once (dex's default reuse interval is 0): 400 invalid_request.
func TestDexRefreshRotation(t *testing.T) {
	p := startLogged(t, "dex", StartDex)
	d := rawDiscovery(t, p)
	tok, err := ClientTokens(p, testRedirectURI, nil)
	if err != nil {
		t.Fatalf("ClientTokens: %v", err)
	}
	st, code, next := refresh(t, p, d, tok.RefreshToken)
	if st != http.StatusOK || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.IDToken == "" {
		t.Fatalf("refresh: expected 200 with a new refresh token and an ID token, got %d %q (rotated: %v)",
			st, code, next.RefreshToken != tok.RefreshToken)
	}
	if st, code, _ := refresh(t, p, d, tok.RefreshToken); st != http.StatusBadRequest || code != "invalid_request" {
		t.Errorf("previous refresh token: expected 400 invalid_request, got %d %q", st, code)
	}
	if st, code, _ := refresh(t, p, d, next.RefreshToken); st != http.StatusOK {
		t.Errorf("current refresh token: expected 200, got %d %q", st, code)
	}
}

func TestDexSubject(t *testing.T) {
	// dex's own encoding of IDTokenSubject{UserId: "1234", ConnId: "local"}: 0a 04 "1234" 12 05 "local".
	if got := dexSubject("1234", "local"); got != "CgQxMjM0EgVsb2NhbA" {
		t.Errorf("dexSubject: expected CgQxMjM0EgVsb2NhbA, got %s", got)
	}
}

// TestDexPortTaken: when the port picked for dex is taken before dex binds it, StartDex tries another.
func TestDexPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	picks := 0
	dexAddr = func() (string, error) {
		picks++
		if picks == 1 {
			return taken.Addr().String(), nil
		}
		return freeLoopbackAddr()
	}
	defer func() { dexAddr = freeLoopbackAddr }()
	p := startLogged(t, "dex", StartDex)
	if picks != 2 {
		t.Errorf("expected a second port after the taken one, got %d picks", picks)
	}
	checkDiscovery(t, p)
}

// claimNames are a token's claim names, sorted, space-separated, with c_hash last (for comparisons).
func claimNames(claims map[string]any) string {
	var names []string
	for k := range claims {
		if k != "c_hash" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	if _, ok := claims["c_hash"]; ok {
		names = append(names, "c_hash")
	}
	return strings.Join(names, " ")
}
