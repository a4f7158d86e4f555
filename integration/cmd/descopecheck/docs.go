package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// docs are the project's discovery document and JWKS.
type docs struct {
	disc map[string]any
	jwks jose.JSONWebKeySet
}

var client = &http.Client{Timeout: 15 * time.Second}

func getJSON(url string, v any) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

func fetchDocs(issuer string) (*docs, error) {
	d := &docs{disc: map[string]any{}}
	discURL := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	if err := getJSON(discURL, &d.disc); err != nil {
		return nil, fmt.Errorf("discovery (is the project ID right? a custom domain needs OIDC_ISSUER): %v", err)
	}
	jwksURL, _ := d.disc["jwks_uri"].(string)
	if jwksURL == "" {
		return nil, fmt.Errorf("discovery at %s has no jwks_uri", discURL)
	}
	if err := getJSON(jwksURL, &d.jwks); err != nil {
		return nil, fmt.Errorf("JWKS: %v", err)
	}
	return d, nil
}

func (d *docs) str(key string) string {
	switch v := d.disc[key].(type) {
	case string:
		return v
	case []any:
		parts := make([]string, 0, len(v))
		for _, x := range v {
			parts = append(parts, fmt.Sprint(x))
		}
		return strings.Join(parts, " ")
	}
	return "(not published)"
}

func (d *docs) print(out io.Writer, want derived) {
	fmt.Fprintln(out, "\n== The project's discovery document and keys")
	iss := d.str("issuer")
	fmt.Fprintf(out, "issuer:          %s\n", iss)
	if iss != want.issuer {
		fmt.Fprintf(out, "  !! differs from the plugin's issuer %s: the plugin requires them equal; set issuer: %s\n", want.issuer, iss)
	}
	for _, k := range []string{"id_token_signing_alg_values_supported", "authorization_endpoint", "token_endpoint",
		"userinfo_endpoint", "end_session_endpoint", "revocation_endpoint", "jwks_uri", "scopes_supported",
		"claims_supported", "code_challenge_methods_supported"} {
		fmt.Fprintf(out, "%-40s %s\n", k+":", d.str(k))
	}
	if !strings.Contains(" "+d.str("code_challenge_methods_supported")+" ", " S256 ") {
		fmt.Fprintln(out, "  note: S256 not advertised; the plugin always sends PKCE S256")
	}
	for _, k := range d.jwks.Keys {
		fmt.Fprintf(out, "key:             kid %s, %s, alg %s, use %s\n", k.KeyID, keyType(k), k.Algorithm, k.Use)
	}
}

func keyType(k jose.JSONWebKey) string {
	switch k.Key.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "EC"
	case ed25519.PublicKey:
		return "OKP"
	}
	return fmt.Sprintf("%T", k.Key)
}
