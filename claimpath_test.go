package descopeoidc

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestParseClaimPath(t *testing.T) {
	cases := []struct {
		in   string
		want []string // nil: an error
	}{
		{"sub", []string{"sub"}},
		{"tenants.T1.roles", []string{"tenants", "T1", "roles"}},
		{"/https:~1~1example.com~1roles", []string{"https://example.com/roles"}},
		{"/tenants/T1/roles", []string{"tenants", "T1", "roles"}},
		{"/a.b/c", []string{"a.b", "c"}},
		{"/x~0y", []string{"x~y"}},
		{"/~01", []string{"~1"}}, // RFC 6901: ~1 is decoded before ~0, so "~01" is "~1", not "/"
		{"/a~2b", nil},
		{"/~~01", nil}, // a lone "~" before "~0": found by FuzzClaimPath (removing "~0" first left a valid-looking "~1")
		{"/a~", nil},
		{"/", nil},
		{"/a//b", nil},
		{"a..b", nil},
		{".a", nil},
		{"a.", nil},
		{"", nil},
		{strings.Repeat("a.", maxClaimPathSegments) + "a", nil},
	}
	for _, tc := range cases {
		got, err := parseClaimPath("forwardHeaders.X-Test", tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%q: accepted as %q", tc.in, got)
			} else if !strings.HasPrefix(err.Error(), "forwardHeaders.X-Test: ") {
				t.Errorf("%q: error %q does not name the key", tc.in, err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%q: got %q (%v), want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestClaimPathErrorsNameTheKey(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.ForwardHeaders = map[string]string{"X-Roles": "https://example.com/roles..x"}
	_, err := New(context.Background(), &upstream{}, cfg, "t")
	mustContain(t, "forwardHeaders", fmt.Sprint(err), "forwardHeaders.X-Roles: claim path")
	cfg = f.config()
	cfg.ClaimRules = []ClaimRule{{Claim: "ok"}, {Claim: "/a~x", Equals: []string{"1"}}}
	cfg.ClaimRules[0].Equals = []string{"1"}
	_, err = New(context.Background(), &upstream{}, cfg, "t")
	mustContain(t, "claimRules", fmt.Sprint(err), "claimRules[1].claim: JSON Pointer")
}

// A namespaced claim (a key with dots and slashes, as Auth0 and Descope templates write them) is addressed with a JSON
// Pointer in forwardHeaders and claimRules alike.
func TestNamespacedClaimByJSONPointer(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AllowBearerTokens = true
	cfg.ForwardHeaders = map[string]string{"X-Forwarded-User": "sub", "X-Roles": "/https:~1~1example.com~1roles"}
	cfg.ClaimRules = []ClaimRule{{Claim: "/https:~1~1example.com~1org/name", Equals: []string{"acme"}}}
	m, up := newMW(t, f, cfg)
	now := f.clock.Now().Unix()
	c := map[string]any{"iss": f.issuer, "aud": testClientID, "sub": testSub, "iat": now, "exp": now + 300,
		"https://example.com/roles": []string{"admin", "dev"}, "https://example.com/org": map[string]any{"name": "acme"}}
	rec := serve(m, bearerRequest(f.mint(c)))
	if rec.Code != 200 || up.last().Get("X-Roles") != "admin,dev" {
		t.Fatalf("status %d, X-Roles %q", rec.Code, up.last().Get("X-Roles"))
	}
	c["https://example.com/org"] = map[string]any{"name": "other"}
	if rec := serve(m, bearerRequest(f.mint(c))); rec.Code != 403 {
		t.Errorf("claim rule through a JSON Pointer: status %d, want 403", rec.Code)
	}
}
