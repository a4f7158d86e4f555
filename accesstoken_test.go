package descopeoidc

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// The access-token (bearer) verifier on its own: issuers, audiences, clients by azp or client_id, typ, and never an
// ID token.
func TestAccessTokenVerifierPolicy(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	now := f.clock.Now().Unix()
	base := &accessTokenVerifier{keys: m.p, issuers: []string{f.issuer, "P2project"}, audiences: []string{testClientID, "api"},
		clients: []string{testClientID}, leeway: time.Minute, now: f.clock.Now}
	strictClients := *base
	strictClients.clients, strictClients.requireClient = []string{"frontend", "cli"}, true
	idShaped := *base // allowIDTokenShapedBearer
	idShaped.idTokenShaped = true
	claims := func(changes map[string]any) map[string]any {
		c := map[string]any{"iss": f.issuer, "aud": "api", "sub": testSub, "iat": now, "exp": now + 300}
		for k, v := range changes {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	cases := []struct {
		name   string
		v      *accessTokenVerifier
		header map[string]any
		claims map[string]any
		want   string // error substring; empty = valid
	}{
		{"RFC 9068 token", base, map[string]any{"typ": "at+jwt"}, claims(map[string]any{"client_id": testClientID}), ""},
		{"typ application/at+jwt", base, map[string]any{"typ": "application/at+jwt"}, claims(nil), ""},
		{"Descope session token: typ JWT, bare project ID as iss, no azp", base, nil, claims(map[string]any{"iss": "P2project"}), ""},
		{"no typ", base, map[string]any{"typ": nil}, claims(nil), ""},
		{"typ of an ID token", base, map[string]any{"typ": "id_token+jwt"}, claims(nil), `typ "id_token+jwt" refused`},
		{"typ logout token", base, map[string]any{"typ": "logout+jwt"}, claims(nil), "refused"},
		{"ID token (nonce)", base, nil, claims(map[string]any{"nonce": "n"}), "an ID token is not a bearer token"},
		{"ID token (at_hash)", base, nil, claims(map[string]any{"at_hash": "x"}), "has a at_hash claim"},
		{"dex-shaped access token (nonce, at_hash) refused by default", base, nil, claims(map[string]any{"nonce": "n", "at_hash": "h"}), "has a nonce claim"},
		{"allowIDTokenShapedBearer: nonce and at_hash pass", &idShaped, nil, claims(map[string]any{"nonce": "n", "at_hash": "h"}), ""},
		{"allowIDTokenShapedBearer: c_hash still refused", &idShaped, nil, claims(map[string]any{"nonce": "n", "c_hash": "c"}), "has a c_hash claim"},
		{"allowIDTokenShapedBearer: audience still checked", &idShaped, nil, claims(map[string]any{"nonce": "n", "aud": "other-api"}), "audience mismatch"},
		{"allowIDTokenShapedBearer: typ still checked", &idShaped, map[string]any{"typ": "id_token+jwt"}, claims(nil), "refused"},
		{"other issuer", base, nil, claims(map[string]any{"iss": "https://evil.example"}), "issuer mismatch: expected one of"},
		{"issuer with a slash added", base, nil, claims(map[string]any{"iss": f.issuer + "/"}), "issuer mismatch"},
		{"audience not accepted", base, nil, claims(map[string]any{"aud": "other-api"}), "audience mismatch"},
		{"azp of another client", base, nil, claims(map[string]any{"azp": "other"}), `azp mismatch: expected one of ["` + testClientID + `"], got "other"`},
		{"client_id of another client", base, nil, claims(map[string]any{"client_id": "other"}), "client_id mismatch"},
		{"client_id not a string", base, nil, claims(map[string]any{"client_id": 5}), "got of type float64"},
		{"azp ok, client_id wrong", base, nil, claims(map[string]any{"azp": testClientID, "client_id": "x"}), "client_id mismatch"},
		{"bearerClients: client_id listed", &strictClients, nil, claims(map[string]any{"client_id": "cli"}), ""},
		{"bearerClients: azp listed", &strictClients, nil, claims(map[string]any{"azp": "frontend"}), ""},
		{"bearerClients: none present", &strictClients, nil, claims(nil), "neither azp nor client_id"},
		{"bearerClients: the default client no longer", &strictClients, nil, claims(map[string]any{"azp": testClientID}), "azp mismatch"},
		{"expired", base, nil, claims(map[string]any{"exp": now - 61}), "token expired"},
		{"iat missing", base, nil, claims(map[string]any{"iat": nil}), "iat claim missing"},
		{"sub missing", base, nil, claims(map[string]any{"sub": nil}), "sub claim missing"},
		{"crit", base, map[string]any{"crit": []string{"b64"}}, claims(nil), "crit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.v.verify(context.Background(), signJWT(t, f.signer, tc.header, tc.claims))
			if tc.want == "" {
				if err != nil || got["sub"] != testSub {
					t.Fatalf("verify: %v (claims %v)", err, got)
				}
				return
			}
			mustContain(t, "error", fmt.Sprint(err), tc.want)
		})
	}
	// The signature is checked last, and a bad one is refused.
	tok := signJWT(t, newTestKey(t, "RS256", "k1", 1), nil, claims(nil))
	_, err := base.verify(context.Background(), tok)
	mustContain(t, "foreign key", fmt.Sprint(err), "bad signature")
}

func TestAccessTokenVerifierFromConfig(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AllowBearerTokens = true
	cfg.AcceptedIssuers = []string{"https://other.example", f.issuer}
	m, _ := newMW(t, f, cfg)
	v := m.bearerTokens
	if fmt.Sprint(v.issuers) != fmt.Sprint([]string{f.issuer, "https://other.example"}) || v.requireClient ||
		fmt.Sprint(v.clients) != "["+testClientID+"]" || fmt.Sprint(v.audiences) != "["+testClientID+"]" {
		t.Errorf("defaults: issuers %q clients %q (required %v) audiences %q", v.issuers, v.clients, v.requireClient, v.audiences)
	}
	d := CreateConfig()
	d.ProjectID, d.SessionSecret, d.BearerClients = "P2abc", testSessionKey, []string{"cli"}
	h, err := New(context.Background(), &upstream{}, d, "descope")
	if err != nil {
		t.Fatal(err)
	}
	dv := h.(*Middleware).bearerTokens
	if fmt.Sprint(dv.issuers) != "[https://api.descope.com/P2abc P2abc https://api.descope.com/v1/apps/P2abc]" || !dv.requireClient || fmt.Sprint(dv.clients) != "[cli]" {
		t.Errorf("Descope: issuers %q clients %q (required %v)", dv.issuers, dv.clients, dv.requireClient)
	}
	forgetProvider("https://api.descope.com/P2abc")
}

// The claims-source policy reads the access token of our own token response: signature, iss and exp only.
func TestClaimsSourceVerifier(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AcceptedIssuers = []string{"P2project"}
	m, _ := newMW(t, f, cfg)
	now := f.clock.Now().Unix()
	ctx := context.Background()
	at := map[string]any{"iss": "P2project", "aud": "https://api.example", "exp": now + 300,
		"roles": []string{"admin"}, "tenants": map[string]any{"T1": map[string]any{"roles": []string{"viewer"}}}}
	got, err := m.verifyClaimsSource(ctx, f.mint(at))
	if err != nil || fmt.Sprint(got["roles"]) != "[admin]" {
		t.Fatalf("claims source: %v (claims %v)", err, got)
	}
	if _, err := m.verifyClaimsSource(ctx, "opaque-token-value"); !errors.Is(err, errNotJWT) {
		t.Errorf("opaque token: err = %v, want errNotJWT", err)
	}
	at["iss"] = "https://evil.example"
	_, err = m.verifyClaimsSource(ctx, f.mint(at))
	mustContain(t, "other issuer", fmt.Sprint(err), "issuer mismatch")
	at["iss"], at["exp"] = f.issuer, now-120
	_, err = m.verifyClaimsSource(ctx, f.mint(at))
	mustContain(t, "expired", fmt.Sprint(err), "token expired")
	at["exp"] = now + 300
	_, err = m.verifyClaimsSource(ctx, signJWT(t, newTestKey(t, "RS256", "k1", 1), nil, at))
	mustContain(t, "foreign key", fmt.Sprint(err), "bad signature")
}

// TestAllowIDTokenShapedBearerSetting: the opt-in is off by default, works only with allowBearerTokens (New fails
// naming the key otherwise) and reaches the bearer verifier.
func TestAllowIDTokenShapedBearerSetting(t *testing.T) {
	if s := settingsWith(t, func(c *Config) { c.AllowBearerTokens = true }, ""); s.bearerIDTokenShaped {
		t.Error("allowIDTokenShapedBearer is on by default")
	}
	settingsWith(t, func(c *Config) { c.AllowIDTokenShapedBearer = true }, "allowIDTokenShapedBearer")
	s := settingsWith(t, func(c *Config) { c.AllowBearerTokens, c.AllowIDTokenShapedBearer = true, true }, "")
	if !s.bearerIDTokenShaped {
		t.Fatal("allowIDTokenShapedBearer: true was not derived")
	}
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AllowBearerTokens, cfg.AllowIDTokenShapedBearer = true, true
	m, _ := newMW(t, f, cfg)
	if !m.bearerTokens.idTokenShaped {
		t.Error("the bearer verifier built by New does not allow ID-token-shaped access tokens")
	}
}
