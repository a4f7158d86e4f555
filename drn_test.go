package descopeoidc

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Issue 18 item 4: Descope's refresh JWT (drn "DSR") is never a session, an access token or a claims source.
func TestSessionDRNs(t *testing.T) {
	cases := []struct {
		ds   descopeCookie
		want string
	}{
		{descopeCookie{}, "[DS]"},
		{descopeCookie{name: "DS", refresh: "DSR"}, "[DS]"},
		{descopeCookie{name: "sessionToken", refresh: "refreshToken"}, "[DS sessionToken]"},
		{descopeCookie{name: "S", refresh: "DS"}, "[S]"}, // a project whose refresh cookie is named DS
	}
	for _, tc := range cases {
		if got := fmt.Sprint(sessionDRNs(tc.ds)); got != tc.want {
			t.Errorf("sessionDRNs(%+v) = %s, want %s", tc.ds, got, tc.want)
		}
	}
}

func TestDRNPolicyOfTheVerifiers(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.DescopeSessionCookie, cfg.DescopeRefreshCookie = "sessionToken", "refreshToken"
	m, _ := newMW(t, f, cfg)
	now := f.clock.Now().Unix()
	for _, tc := range []struct {
		drn  any // nil: no drn claim
		want string
	}{
		{nil, ""}, {"DS", ""}, {"sessionToken", ""},
		{"DSR", `drn "DSR" is not a Descope session token's`}, {"refreshToken", `drn "refreshToken"`},
		{"", `drn ""`}, {5.0, "drn of type float64"},
	} {
		c := map[string]any{"iss": f.issuer, "aud": testClientID, "sub": testSub, "iat": now, "exp": now + 300}
		if tc.drn != nil {
			c["drn"] = tc.drn
		}
		tok := f.mint(c)
		_, errB := m.bearerTokens.verify(context.Background(), tok)
		_, errC := m.verifyClaimsSource(context.Background(), tok)
		for what, err := range map[string]error{"bearer": errB, "claims source": errC} {
			if tc.want == "" && err != nil {
				t.Errorf("%s, drn %v: %v, want accepted", what, tc.drn, err)
			}
			if tc.want != "" {
				mustContain(t, fmt.Sprintf("%s, drn %v", what, tc.drn), fmt.Sprint(err), tc.want)
			}
		}
	}
}

// On the request paths: a DSR token as bearer gets 401, as the DS cookie starts a login, as the access token of
// the plugin's own login gives no claims.
func TestRefreshJWTIsNoSession(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AllowBearerTokens = true
	cfg.DescopeSessionCookie = "DS"
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	now := f.clock.Now().Unix()
	mint := func(drn string) string {
		c := map[string]any{"iss": f.issuer, "aud": testClientID, "sub": testSub, "iat": now, "exp": now + 3600, "drn": drn}
		return f.mint(c)
	}
	for _, drn := range []string{"DS", "DSR"} {
		r := b.request(http.MethodGet, "/api")
		r.Header.Set("Authorization", "Bearer "+mint(drn))
		r.Header.Set("Accept", "application/json")
		rec := b.do(r)
		if want := map[string]int{"DS": 200, "DSR": 401}[drn]; rec.Code != want {
			t.Errorf("bearer with drn %s: status %d, want %d", drn, rec.Code, want)
		}
		rec = b.do(dsRequest(b, "/app", "DS="+mint(drn)))
		login := rec.Code == http.StatusFound && strings.HasPrefix(rec.Header().Get("Location"), f.url("/authorize"))
		if login != (drn == "DSR") {
			t.Errorf("DS cookie with drn %s: status %d Location %q", drn, rec.Code, rec.Header().Get("Location"))
		}
	}
	if up.count() != 2 {
		t.Errorf("upstream saw %d requests, want the two with drn DS", up.count())
	}

	g := newFakeIdP(t)
	g.set(func(g *fakeIdP) { g.atClaims = map[string]any{"drn": "DSR", "roles": []string{"admin"}} })
	gcfg := g.config()
	gcfg.RequiredRoles = []string{"admin"}
	gm, _ := newMW(t, g, gcfg)
	gb := newBrowser(t, gm)
	gb.login("/")
	g.clock.Advance(time.Second)
	if rec := gb.get("/"); rec.Code != http.StatusForbidden {
		t.Errorf("roles from an access token with drn DSR: status %d, want 403 (not a claims source)", rec.Code)
	}
}
