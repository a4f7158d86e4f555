package main

import (
	"strings"
	"testing"
)

// Each token shape gets the key it needs, and only tokens of this project are called accepted.
func TestAdvice(t *testing.T) {
	d := derive("P2abc", "https://auth.example.com/P2abc", "")
	cases := []struct {
		name   string
		claims map[string]any
		want   string
	}{
		{"bare iss", map[string]any{"iss": "P2abc", "aud": "P2abc"}, "one of the project's issuers"},
		{"apps iss", map[string]any{"iss": "https://auth.example.com/v1/apps/P2abc", "aud": "P2abc"}, "one of the project's issuers"},
		{"other host", map[string]any{"iss": "https://api.descope.com/P2abc", "aud": "P2abc"}, "is on another host (api.descope.com)"},
		{"other project", map[string]any{"iss": "P2other", "aud": "P2abc"}, "is not this project's"},
		{"no aud", map[string]any{"iss": "P2abc"}, "set allowMissingAudience: true"},
		{"app audiences in an ID token", map[string]any{"iss": "https://auth.example.com/P2abc", "aud": []any{"P2abc", "app"}, "nonce": "n"}, "set clientID: app"},
		{"ID token without azp", map[string]any{"iss": "https://auth.example.com/P2abc", "aud": "P2abc", "nonce": "n"}, "set requireAZP: false, or add a JWT template claim azp"},
		{"ID token from another issuer", map[string]any{"iss": "P2abc", "aud": "P2abc", "nonce": "n"}, "ID tokens must carry exactly the issuer"},
		{"tenantOnly", map[string]any{"iss": "P2abc", "aud": "P2abc", "dct": "T1"}, "tenantOnly JWT schema"},
		{"tenants without dct", map[string]any{"iss": "P2abc", "aud": "P2abc", "tenants": map[string]any{}}, "tenant must name a tenant ID"},
	}
	for _, tc := range cases {
		got := strings.Join(advice(tc.claims, d), "\n")
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: advice lacks %q:\n%s", tc.name, tc.want, got)
		}
	}
	app := derive("P2abc", "https://auth.example.com/P2abc", "app")
	got := strings.Join(advice(map[string]any{"iss": "https://auth.example.com/P2abc", "aud": []any{"P2abc", "app"}, "nonce": "n"}, app), "\n")
	if !strings.Contains(got, "without azp: set requireAZP: false") {
		t.Errorf("app client ID: %s", got)
	}
}
