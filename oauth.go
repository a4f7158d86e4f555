package descopeoidc

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// errInvalidGrant marks an RFC 6749 invalid_grant answer: the code or refresh token is no good (any more).
var errInvalidGrant = errors.New("invalid_grant")

// tokenResponse is the part of an RFC 6749 5.1 token response the plugin uses.
type tokenResponse struct {
	AccessToken  string
	RefreshToken string
	IDToken      string
	ExpiresIn    int64
}

func parseTokenResponse(status int, body []byte) (*tokenResponse, error) {
	if tokenOutage(status) { // 5xx, 429, 408: tokenerrors.go
		return nil, fmt.Errorf("%w: token endpoint: status %d", errProviderUnavailable, status)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		if status >= 400 {
			return nil, tokenError(status, nil) // a bare 4xx is a refusal
		}
		return nil, fmt.Errorf("token endpoint: status %d, body is not JSON", status)
	}
	if err := tokenError(status, doc); err != nil { // refused, outage or the client's fault: tokenerrors.go
		return nil, err
	}
	tr := &tokenResponse{}
	tr.AccessToken, _ = doc["access_token"].(string)
	tr.RefreshToken, _ = doc["refresh_token"].(string)
	tr.IDToken, _ = doc["id_token"].(string)
	switch v := doc["expires_in"].(type) {
	case float64:
		tr.ExpiresIn = int64(v)
	case string:
		tr.ExpiresIn, _ = strconv.ParseInt(v, 10, 64)
	}
	if tr.AccessToken == "" {
		return nil, errors.New("token endpoint: response has no access_token")
	}
	if tt, _ := doc["token_type"].(string); tt != "" && !strings.EqualFold(tt, "bearer") && !strings.EqualFold(tt, "dpop") {
		return nil, fmt.Errorf("token endpoint: unexpected token_type %q", truncate(tt, 32))
	}
	return tr, nil
}

// truncate shortens s to at most n bytes plus an ellipsis, cutting before a UTF-8 sequence, never inside one.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) { // at most 3 steps back
		n--
	}
	return s[:n] + "…"
}

// loadPrivateKey reads a PEM private key (PKCS#8, PKCS#1 or SEC 1) and picks the signing algorithm for it.
func loadPrivateKey(path string) (any, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("cannot read %q: %v", path, err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, "", fmt.Errorf("%q holds no PEM block", path)
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%q: %v", path, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, "RS256", nil
	case *ecdsa.PrivateKey:
		switch k.Curve.Params().Name {
		case "P-256":
			return k, "ES256", nil
		case "P-384":
			return k, "ES384", nil
		}
		return nil, "", fmt.Errorf("%q: unsupported EC curve %s", path, k.Curve.Params().Name)
	case ed25519.PrivateKey:
		return k, "EdDSA", nil
	}
	return nil, "", fmt.Errorf("%q: unsupported key type %T", path, key)
}
