package descopeoidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
)

// userinfoClaims fetches the userinfo endpoint (OIDC Core 5.3) with the access token, unless userinfo is never or,
// in auto mode, the provider publishes no userinfo_endpoint.
func (m *Middleware) userinfoClaims(ctx context.Context, accessToken, sub string) (map[string]any, error) {
	mode := m.s.sources.userinfo
	if mode == userinfoNever {
		return nil, nil
	}
	md, err := m.p.metadata(ctx)
	if err != nil {
		return nil, err
	}
	if md.UserinfoEndpoint == "" {
		if mode == userinfoAlways {
			return nil, errors.New("userinfo is always, but the provider publishes no userinfo_endpoint")
		}
		m.logf(levelDebug, "claims missing and the provider publishes no userinfo_endpoint")
		return nil, nil
	}
	return m.tc.userinfo(ctx, md.UserinfoEndpoint, accessToken, sub)
}

// parseUserinfo checks a userinfo answer. A 5xx is an outage (503 to the user, retried); a signed or encrypted
// answer (application/jwt, when the client registered userinfo_signed_response_alg) is refused, not guessed at.
func parseUserinfo(status int, contentType string, body []byte, sub string) (map[string]any, error) {
	if status >= 500 {
		return nil, fmt.Errorf("%w: userinfo endpoint: status %d", errProviderUnavailable, status)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("userinfo endpoint: status %d, want 200 (does the access token allow the openid scope?)", status)
	}
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/jwt" {
		return nil, errors.New("userinfo endpoint: answered a signed or encrypted JWT (application/jwt); " +
			"only JSON userinfo is supported: register the client without userinfo_signed_response_alg")
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil || claims == nil {
		return nil, errors.New("userinfo endpoint: answer is not a JSON object")
	}
	got, _ := claims["sub"].(string)
	if got == "" {
		return nil, errors.New("userinfo endpoint: answer has no sub")
	}
	if got != sub {
		return nil, errors.New("userinfo endpoint: answer is about another subject than the ID token (OIDC Core 5.3.4)")
	}
	return claims, nil
}
