package descopeoidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
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

// tokenRequest POSTs a grant to the token endpoint with client authentication and parses the answer, including
// RFC 6749 5.2 error bodies, which some providers send with status 200.
func (m *Middleware) tokenRequest(ctx context.Context, endpoint string, form url.Values) (*tokenResponse, error) {
	req, err := m.authRequest(ctx, endpoint, form)
	if err != nil {
		return nil, err
	}
	resp, err := m.s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: token endpoint: %v", errProviderUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("token endpoint: reading response: %v", err)
	}
	if len(body) > maxResponseSize {
		return nil, fmt.Errorf("token endpoint: response larger than %d bytes", maxResponseSize)
	}
	return parseTokenResponse(resp.StatusCode, body)
}

func parseTokenResponse(status int, body []byte) (*tokenResponse, error) {
	if status >= 500 {
		return nil, fmt.Errorf("%w: token endpoint: status %d", errProviderUnavailable, status)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("token endpoint: status %d, body is not JSON", status)
	}
	if code, _ := doc["error"].(string); code != "" {
		desc, _ := doc["error_description"].(string)
		if code == "invalid_grant" {
			return nil, fmt.Errorf("token endpoint: %w: %q", errInvalidGrant, truncate(desc, 200))
		}
		return nil, fmt.Errorf("token endpoint: status %d, error %q: %q", status, truncate(code, 64), truncate(desc, 200))
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("token endpoint: status %d", status)
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

// authRequest builds a POST to a provider endpoint with the configured client authentication.
func (m *Middleware) authRequest(ctx context.Context, endpoint string, form url.Values) (*http.Request, error) {
	basic := false
	switch m.s.authMethod {
	case "client_secret_basic":
		if m.s.clientSecret != "" {
			basic = true
		} else {
			form.Set("client_id", m.s.clientID) // public client: PKCE only
		}
	case "client_secret_post":
		form.Set("client_id", m.s.clientID)
		form.Set("client_secret", m.s.clientSecret)
	case "private_key_jwt":
		assertion, err := m.clientAssertion(endpoint)
		if err != nil {
			return nil, err
		}
		form.Set("client_id", m.s.clientID)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		// RFC 6749 2.3.1: client_id and secret are form-urlencoded before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(m.s.clientID), url.QueryEscape(m.s.clientSecret))
	}
	return req, nil
}

// clientAssertion signs an RFC 7523 client authentication JWT for private_key_jwt.
func (m *Middleware) clientAssertion(audience string) (string, error) {
	jti, err := randomString(16)
	if err != nil {
		return "", err
	}
	now := m.now()
	claims := jwt.MapClaims{
		"iss": m.s.clientID, "sub": m.s.clientID, "aud": audience, "jti": jti,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(m.s.assertionAlg), claims)
	if m.s.assertionKID != "" {
		tok.Header["kid"] = m.s.assertionKID
	}
	return tok.SignedString(m.s.assertionKey)
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

// revoke asks the provider to revoke a token (RFC 7009); failures are only logged.
func (m *Middleware) revoke(ctx context.Context, endpoint, token, hint string) error {
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	req, err := m.authRequest(ctx, endpoint, form)
	if err != nil {
		return err
	}
	resp, err := m.s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseSize))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revocation endpoint: status %d", resp.StatusCode)
	}
	return nil
}
