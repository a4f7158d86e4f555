package providers

import (
	"strings"
	"testing"
	"time"
)

// TestStarters: every provider starts behind its gate, publishes exactly its Issuer, runs the client's own code
// flow (with a refresh token), counts the grant at the gate, and is unreachable while the gate is down.
func TestStarters(t *testing.T) {
	for name, start := range Starters {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const redirect = "https://127.0.0.1:1/oauth2/callback"
			p, err := start(Options{RedirectURI: redirect, PostLogoutRedirectURI: "https://127.0.0.1:1/bye", TokenTTL: 30 * time.Second})
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			defer p.Close()
			if !strings.HasPrefix(p.Issuer(), p.Gate().URL()) {
				t.Fatalf("issuer %q is not behind the gate %q", p.Issuer(), p.Gate().URL())
			}
			d, err := Discover(p)
			if err != nil || d.Issuer != p.Issuer() {
				t.Fatalf("discovery: issuer %q (err %v), want exactly %q", d.Issuer, err, p.Issuer())
			}
			tok, err := ClientTokens(p, redirect, nil)
			if err != nil {
				t.Fatalf("client code flow: %v", err)
			}
			if tok.IDToken == "" || tok.AccessToken == "" || tok.RefreshToken == "" {
				t.Fatalf("tokens: id %v access %v refresh %v, want all three", tok.IDToken != "", tok.AccessToken != "", tok.RefreshToken != "")
			}
			if n := p.Gate().Grants("authorization_code"); n != 1 {
				t.Fatalf("gate counted %d authorization_code grants, want 1", n)
			}
			p.Gate().Down()
			if _, err := Discover(p); err == nil || !strings.Contains(err.Error(), "503") {
				t.Fatalf("discovery while down: %v, want 503", err)
			}
			p.Gate().Up()
			if _, err := Discover(p); err != nil {
				t.Fatalf("discovery after up: %v", err)
			}
		})
	}
}

// TestLoginWrongPassword: a login form that comes back (wrong credentials) is an error naming the page, not a loop.
func TestLoginWrongPassword(t *testing.T) {
	const redirect = "https://127.0.0.1:1/oauth2/callback"
	p, err := StartExampleOP(Options{RedirectURI: redirect})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.(*exampleOP).user.Password = "wrong"
	_, err = ClientTokens(p, redirect, nil)
	if err == nil || !strings.Contains(err.Error(), "POST "+p.Gate().URL()+"/login/username: 200") {
		t.Fatalf("login with a wrong password: %v, want an error naming the login page that came back", err)
	}
}
