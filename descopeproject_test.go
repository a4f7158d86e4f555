package descopeoidc

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// Issue 19 item 1: a regional project's ID (32 characters or more) derives https://api.<ID[1:5]>.descope.com, as
// Descope's go-sdk baseURLForProjectID does; shorter IDs keep api.descope.com; issuer still wins (custom domains).
func TestProjectIDDerivesRegionalIssuer(t *testing.T) {
	regional := "Peuc12abcdefghijklmnopqrstuvwxyz0" // 33 characters, region "euc1"
	cases := []struct{ id, issuer, want string }{
		{regional, "", "https://api.euc1.descope.com/" + regional},
		{regional[:32], "", "https://api.euc1.descope.com/" + regional[:32]},
		{"P2abcdefghijklmnopqrstuvwxyz01", "", "https://api.descope.com/P2abcdefghijklmnopqrstuvwxyz01"}, // 30
		{regional, "https://auth.example.com/" + regional, "https://auth.example.com/" + regional},
	}
	for _, tc := range cases {
		s := settingsWith(t, func(c *Config) { c.Issuer, c.ClientID, c.ProjectID = tc.issuer, "", tc.id }, "")
		if s.issuer != tc.want || s.clientID != tc.id {
			t.Errorf("projectID %s, issuer %q: derived issuer %q clientID %q, want %q", tc.id, tc.issuer, s.issuer, s.clientID, tc.want)
		}
	}
	settingsWith(t, func(c *Config) { c.ProjectID = "P2%2Fx" }, "projectID")
}

// projectFixture is a middleware whose issuer is a fake provider (a custom domain) for project P2proj.
func projectFixture(t *testing.T, set func(*Config)) (*fakeIdP, *Middleware, string) {
	t.Helper()
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.ProjectID, cfg.ClientID, cfg.AllowBearerTokens = "P2proj", "P2proj", true
	if set != nil {
		set(cfg)
	}
	m, _ := newMW(t, f, cfg)
	u, _ := url.Parse(f.issuer)
	return f, m, u.Scheme + "://" + u.Host
}

// Issue 19 item 2: with projectID, the bare ID, <host>/<ID> and <host>/v1/apps/<ID> on the issuer's host are the
// project's issuers, for bearer tokens (and so the DS cookie) and for the access token read as a claims source;
// the same forms on another host, or for another project, are not.
func TestProjectIssuerForms(t *testing.T) {
	f, m, origin := projectFixture(t, nil)
	now := f.clock.Now().Unix()
	tok := func(iss string) string {
		return signJWT(t, f.signer, map[string]any{"typ": "JWT"},
			map[string]any{"iss": iss, "aud": "P2proj", "sub": testSub, "iat": now, "exp": now + 300, "drn": "DS"})
	}
	for iss, ok := range map[string]bool{
		"P2proj": true, origin + "/P2proj": true, origin + "/v1/apps/P2proj": true, f.issuer: true,
		"https://api.descope.com/v1/apps/P2proj": false, "https://api.descope.com/P2proj": false,
		origin + "/v1/apps/P2other": false, origin + "/v1/apps/P2proj/": false, origin + "/x/P2proj": false,
	} {
		_, err := m.bearerTokens.verify(context.Background(), tok(iss))
		_, cerr := m.verifyClaimsSource(context.Background(), tok(iss))
		if (err == nil) != ok || (cerr == nil) != ok {
			t.Errorf("iss %q: bearer %v, claims source %v; want accepted %v", iss, err, cerr, ok)
		}
	}
}

// Issue 19 item 3: allowMissingAudience accepts a session token without aud from the project's own issuers only,
// never one from acceptedIssuers, and never a token whose aud is present but wrong.
func TestAllowMissingAudience(t *testing.T) {
	claims := func(f *fakeIdP, iss string, aud any) map[string]any {
		now := f.clock.Now().Unix()
		c := map[string]any{"iss": iss, "sub": testSub, "iat": now, "exp": now + 300}
		if aud != nil {
			c["aud"] = aud
		}
		return c
	}
	f, off, _ := projectFixture(t, func(c *Config) { c.AcceptedIssuers = []string{"https://partner.example"} })
	if _, err := off.bearerTokens.verify(context.Background(), signJWT(t, f.signer, nil, claims(f, "P2proj", nil))); err == nil ||
		!strings.Contains(err.Error(), "aud claim is missing") {
		t.Fatalf("without the opt-in a token without aud must be refused, got %v", err)
	}
	f, on, origin := projectFixture(t, func(c *Config) {
		c.AllowMissingAudience, c.AcceptedIssuers = true, []string{"https://partner.example"}
	})
	for _, tc := range []struct {
		iss  string
		aud  any
		want string
	}{
		{"P2proj", nil, ""}, {origin + "/v1/apps/P2proj", nil, ""}, {f.issuer, nil, ""},
		{"https://partner.example", nil, "aud claim is missing"},
		{"P2proj", "other", "audience mismatch"},
	} {
		_, err := on.bearerTokens.verify(context.Background(), signJWT(t, f.signer, nil, claims(f, tc.iss, tc.aud)))
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && !strings.Contains(got, tc.want)) {
			t.Errorf("iss %q aud %v: got %v, want %q", tc.iss, tc.aud, err, tc.want)
		}
	}
	settingsWith(t, func(c *Config) { c.AllowMissingAudience = true }, "allowMissingAudience")
}

// Issue 19 item 7: a Descope OIDC app's ID token has aud [projectID, clientID] and no azp. With projectID set the
// project is a trusted audience: accepted when requireAZP is false; any other extra audience still needs azp.
func TestIDTokenTwoAudiencesOfAnApp(t *testing.T) {
	f, m, _ := projectFixture(t, func(c *Config) { c.ClientID, c.RequireAZP = "app-client", false })
	f.set(func(f *fakeIdP) { f.omitAZP = true })
	now := f.clock.Now().Unix()
	mk := func(aud []any) string {
		return signJWT(t, f.signer, nil, map[string]any{"iss": f.issuer, "aud": aud, "sub": testSub, "iat": now,
			"exp": now + 300, "nonce": "n"})
	}
	if _, err := m.idTokens.verify(context.Background(), mk([]any{"P2proj", "app-client"}), "n"); err != nil {
		t.Errorf("[projectID, clientID] without azp: %v", err)
	}
	_, err := m.idTokens.verify(context.Background(), mk([]any{"other-api", "app-client"}), "n")
	mustContain(t, "untrusted audience", fmt.Sprint(err), "azp claim missing while the token has 2 audiences")
}

// Issue 19 item 6: with projectID and no scopes, the plugin asks for what Descope's web SDK asks for.
func TestProjectIDDefaultScopes(t *testing.T) {
	s := settingsWith(t, func(c *Config) { c.ProjectID = "P2abc" }, "")
	if s.scope != "openid profile email roles descope.custom_claims offline_access" {
		t.Errorf("scope %q", s.scope)
	}
	if s := settingsWith(t, func(c *Config) {}, ""); s.scope != "openid profile email" {
		t.Errorf("without projectID: scope %q", s.scope)
	}
	if s := settingsWith(t, func(c *Config) { c.ProjectID, c.Scopes = "P2abc", []string{"email"} }, ""); s.scope != "openid email" {
		t.Errorf("configured scopes: %q", s.scope)
	}
}
