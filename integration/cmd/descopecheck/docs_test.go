package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// Discovery values print as strings or space-joined lists; keys by type, never their material.
func TestDocsHelpers(t *testing.T) {
	d := &docs{disc: map[string]any{"issuer": "https://x", "scopes_supported": []any{"openid", "email"}}}
	if d.str("issuer") != "https://x" || d.str("scopes_supported") != "openid email" || d.str("nope") != "(not published)" {
		t.Errorf("str: %q %q %q", d.str("issuer"), d.str("scopes_supported"), d.str("nope"))
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if got := keyType(jose.JSONWebKey{Key: &k.PublicKey}); got != "EC" {
		t.Errorf("keyType: %q", got)
	}
	if err := getJSON("http://127.0.0.1:1/none", &map[string]any{}); err == nil {
		t.Error("unreachable: want an error")
	}
}
