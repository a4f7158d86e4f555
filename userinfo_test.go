package descopeoidc

import (
	"errors"
	"strings"
	"testing"
)

func TestParseUserinfo(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantErr     string // "" = ok
		outage      bool
	}{
		{"ok", 200, "application/json", `{"sub":"u1","email":"a@example.com"}`, "", false},
		{"ok with charset", 200, "application/json; charset=utf-8", `{"sub":"u1"}`, "", false},
		{"other subject", 200, "application/json", `{"sub":"u2"}`, "another subject", false},
		{"sub not a string", 200, "application/json", `{"sub":1}`, "no sub", false},
		{"no sub", 200, "application/json", `{"email":"a@example.com"}`, "no sub", false},
		{"array", 200, "application/json", `[{"sub":"u1"}]`, "not a JSON object", false},
		{"null", 200, "application/json", `null`, "not a JSON object", false},
		{"signed", 200, "application/jwt", `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln`, "application/jwt", false},
		{"refused", 401, "application/json", `{"error":"invalid_token"}`, "status 401", false},
		{"forbidden", 403, "", ``, "status 403", false},
		{"outage", 503, "text/html", `<html>`, "status 503", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := parseUserinfo(tc.status, tc.contentType, []byte(tc.body), "u1")
			if tc.wantErr == "" {
				if err != nil || claims["sub"] != "u1" {
					t.Fatalf("claims %v, error %v; want the claims", claims, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || claims != nil {
				t.Fatalf("claims %v, error %v; want an error containing %q", claims, err, tc.wantErr)
			}
			if got := errors.Is(err, errProviderUnavailable); got != tc.outage {
				t.Errorf("outage (503 to the user) = %v, want %v", got, tc.outage)
			}
		})
	}
}

// The access token goes to the userinfo endpoint: it must be https like every other provider endpoint.
func TestUserinfoEndpointMustBeHTTPS(t *testing.T) {
	doc := `{"issuer":"https://idp.example","authorization_endpoint":"https://idp.example/a","token_endpoint":"https://idp.example/t",` +
		`"jwks_uri":"https://idp.example/k","userinfo_endpoint":"http://idp.example/userinfo"}`
	if _, err := parseMetadata([]byte(doc), "https://idp.example", false); err == nil || !strings.Contains(err.Error(), "userinfo_endpoint") {
		t.Errorf("error %v, want userinfo_endpoint refused", err)
	}
	if _, err := parseMetadata([]byte(strings.Replace(doc, "http://idp", "https://idp", 1)), "https://idp.example", false); err != nil {
		t.Errorf("https userinfo_endpoint: %v", err)
	}
}

func FuzzParseUserinfo(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"sub":"u1","email":"a@example.com","roles":["a"]}`))
	f.Add(200, "application/jwt", []byte(`a.b.c`))
	f.Add(500, "", []byte(`{}`))
	f.Add(200, "application/json;;", []byte(`{"sub":"u1"`))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		claims, err := parseUserinfo(status, contentType, body, "u1")
		if err == nil && (claims == nil || claims["sub"] != "u1" || status != 200) {
			t.Fatalf("accepted status %d with claims %v", status, claims)
		}
	})
}
