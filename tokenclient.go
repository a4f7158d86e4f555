package descopeoidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenClient makes every call to the provider that carries the client's credentials or a user's token: the token
// endpoint (code exchange, refresh), userinfo, introspection and revocation, with the configured client
// authentication (client_secret_basic, client_secret_post, private_key_jwt). New builds it from the settings; the
// endpoints come from discovery (provider.go) unless configured. It is immutable, and answers are read through
// io.LimitReader and parsed by the functions beside each call (parseTokenResponse, parseUserinfo).
type tokenClient struct {
	p                *provider
	http             *http.Client
	clientID         string
	clientSecret     string
	authMethod       string
	assertionAlg     string
	assertionKID     string
	assertionKey     any    // private_key_jwt's signing key
	introspectionURL string // introspectionURL; "" means discovery's introspection_endpoint
	now              func() time.Time
}

// newTokenClient derives the token client from the settings, on the system clock (New gives it the middleware's).
func newTokenClient(s *settings, p *provider) *tokenClient {
	tc := &tokenClient{p: p, http: s.client, clientID: s.clientID, clientSecret: s.clientSecret,
		authMethod: s.authMethod, assertionAlg: s.assertionAlg, assertionKID: s.assertionKID,
		introspectionURL: s.introspect.url, now: time.Now}
	tc.assertionKey = s.assertionKey // on its own: an `any` copied inside a composite literal is a Yaegi hazard
	return tc
}

// exchangeCode redeems an authorization code with its PKCE verifier (RFC 6749 4.1.3, RFC 7636 4.5).
func (tc *tokenClient) exchangeCode(ctx context.Context, code, redirectURI, verifier string) (*tokenResponse, error) {
	return tc.grant(ctx, url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier},
	})
}

// refreshTokens spends a refresh token (RFC 6749 6).
func (tc *tokenClient) refreshTokens(ctx context.Context, refreshToken string) (*tokenResponse, error) {
	return tc.grant(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
}

// grant sends form to discovery's token endpoint.
func (tc *tokenClient) grant(ctx context.Context, form url.Values) (*tokenResponse, error) {
	md, err := tc.p.metadata(ctx)
	if err != nil {
		return nil, err
	}
	return tc.tokenRequest(ctx, md.TokenEndpoint, form)
}

// tokenRequest POSTs a grant to the token endpoint with client authentication and parses the answer, including
// RFC 6749 5.2 error bodies, which some providers send with status 200.
func (tc *tokenClient) tokenRequest(ctx context.Context, endpoint string, form url.Values) (*tokenResponse, error) {
	req, err := tc.authRequest(ctx, endpoint, form)
	if err != nil {
		return nil, err
	}
	resp, err := providerDo(tc.http, req, epToken)
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

// authRequest builds a POST to a provider endpoint with the configured client authentication.
func (tc *tokenClient) authRequest(ctx context.Context, endpoint string, form url.Values) (*http.Request, error) {
	basic := false
	switch tc.authMethod {
	case "client_secret_basic":
		if tc.clientSecret != "" {
			basic = true
		} else {
			form.Set("client_id", tc.clientID) // public client: PKCE only
		}
	case "client_secret_post":
		form.Set("client_id", tc.clientID)
		form.Set("client_secret", tc.clientSecret)
	case "private_key_jwt":
		assertion, err := tc.clientAssertion(endpoint)
		if err != nil {
			return nil, err
		}
		form.Set("client_id", tc.clientID)
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
		req.SetBasicAuth(url.QueryEscape(tc.clientID), url.QueryEscape(tc.clientSecret))
	}
	return req, nil
}

// clientAssertion signs an RFC 7523 client authentication JWT for private_key_jwt.
func (tc *tokenClient) clientAssertion(audience string) (string, error) {
	jti, err := randomString(16)
	if err != nil {
		return "", err
	}
	now := tc.now()
	claims := jwt.MapClaims{
		"iss": tc.clientID, "sub": tc.clientID, "aud": audience, "jti": jti,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(tc.assertionAlg), claims)
	if tc.assertionKID != "" {
		tok.Header["kid"] = tc.assertionKID
	}
	return tok.SignedString(tc.assertionKey)
}

// revoke asks the provider to revoke a token (RFC 7009); failures are only logged.
func (tc *tokenClient) revoke(ctx context.Context, endpoint, token, hint string) error {
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	req, err := tc.authRequest(ctx, endpoint, form)
	if err != nil {
		return err
	}
	resp, err := providerDo(tc.http, req, epRevocation)
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

// userinfo GETs endpoint with the access token as a Bearer credential and returns the claims, checking that
// they are about the ID token's subject (OIDC Core 5.3.4: otherwise they must not be used).
func (tc *tokenClient) userinfo(ctx context.Context, endpoint, accessToken, sub string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, fmt.Errorf("userinfo endpoint: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := providerDo(tc.http, req, epUserinfo)
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo endpoint: %v", errProviderUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo endpoint: reading response: %v", errProviderUnavailable, err)
	}
	if len(body) > maxResponseSize {
		return nil, fmt.Errorf("userinfo endpoint: response larger than %d bytes", maxResponseSize)
	}
	return parseUserinfo(resp.StatusCode, resp.Header.Get("Content-Type"), body, sub)
}

// exchangeIntrospection sends the request and reads the answer (bounded by maxResponseSize and the client's timeout).
func (tc *tokenClient) exchangeIntrospection(req *http.Request) (int, []byte, error) {
	resp, err := providerDo(tc.http, req, epIntrospection)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: introspection endpoint: %v", errProviderUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil || len(body) > maxResponseSize {
		return 0, nil, errors.New("introspection endpoint: unreadable or oversized response")
	}
	return resp.StatusCode, body, nil
}

// introspect POSTs the token to the introspection endpoint with the client's authentication.
func (tc *tokenClient) introspect(ctx context.Context, tok string) (map[string]any, error) {
	endpoint := tc.introspectionURL
	if endpoint == "" {
		md, err := tc.p.metadata(ctx)
		if err != nil {
			return nil, err
		}
		if endpoint = md.IntrospectionEndpoint; endpoint == "" {
			return nil, errors.New("access token is opaque and the provider has no introspection_endpoint (set introspectionURL)")
		}
	}
	req, err := tc.authRequest(ctx, endpoint, url.Values{"token": {tok}, "token_type_hint": {"access_token"}})
	if err != nil {
		return nil, err
	}
	if atomic.AddInt64(&introspections, 1) > maxIntrospections { // introspect.go
		atomic.AddInt64(&introspections, -1)
		return nil, fmt.Errorf("%w: %d introspections already in flight", errProviderUnavailable, maxIntrospections)
	}
	status, body, err := tc.exchangeIntrospection(req)
	atomic.AddInt64(&introspections, -1)
	if err != nil {
		return nil, err
	}
	// 5xx, and 429 (rate limited) or 401/403 (this client refused: its credentials or its right to introspect):
	// none says anything about the token, so it is an outage (503, not cached as "inactive").
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return nil, fmt.Errorf("%w: introspection endpoint refused this client (status %d): check its credentials and its right to introspect",
			errProviderUnavailable, status)
	}
	if status >= 500 || status == http.StatusTooManyRequests {
		return nil, fmt.Errorf("%w: introspection endpoint: status %d", errProviderUnavailable, status)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("introspection endpoint: status %d", status)
	}
	claims := map[string]any{}
	if err := json.Unmarshal(body, &claims); err != nil {
		return nil, errors.New("introspection endpoint: answer is not a JSON object")
	}
	return claims, nil
}
