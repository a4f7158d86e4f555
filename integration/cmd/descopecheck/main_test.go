package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/providers"
)

// The check, offline, against devidp's descope-strict profile: the session token and the ID token of a real code
// flow are explained with the keys they need, and nothing secret (signature, access key) is printed.
func TestCheckAgainstDescopeStrict(t *testing.T) {
	p, err := providers.StartDevIDPStrict(providers.Options{RedirectURI: "https://127.0.0.1:1/oauth2/callback", TokenTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tok, err := providers.ClientTokens(p, "https://127.0.0.1:1/oauth2/callback", nil)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DESCOPE_PROJECT_ID": devidp.DefaultProjectID, "DESCOPE_ACCESS_KEY": "very-secret-access-key"}
	check := func(token string) string {
		var out bytes.Buffer
		args := []string{"-issuer", p.Issuer(), "-client-id", p.ClientID(), "-token"}
		if err := run(args, strings.NewReader(token+"\n"), &out, func(k string) string { return env[k] }); err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
		s := out.String()
		sig := token[strings.LastIndex(token, ".")+1:]
		if strings.Contains(s, sig[:20]) || strings.Contains(s, "very-secret-access-key") || strings.Contains(s, devidp.DemoUsername) {
			t.Errorf("the output shows a signature, the access key or a profile claim:\n%s", s)
		}
		return s
	}
	session := check(tok.AccessToken)
	for _, want := range []string{
		"issuer:          " + p.Issuer(), "verifies with the project's key", "a session token",
		`iss "` + devidp.DefaultProjectID + `" is one of the project's issuers`, "set allowMissingAudience: true",
		"tenantOnly JWT schema", "DESCOPE_ACCESS_KEY is set (not shown)", "token_endpoint:",
	} {
		if !strings.Contains(session, want) {
			t.Errorf("session token check lacks %q:\n%s", want, session)
		}
	}
	id := check(tok.IDToken)
	for _, want := range []string{"an ID token", "without azp: set requireAZP: false", "no auth_time in the ID token"} {
		if !strings.Contains(id, want) {
			t.Errorf("ID token check lacks %q:\n%s", want, id)
		}
	}
}
