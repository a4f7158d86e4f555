package descopeoidc

import (
	"strings"
	"time"
)

// refreshExpiry is when the tokens of a refresh answer expire. expires_in, then the new ID token's exp, as at login
// (tokenExpiry); an answer with neither says nothing of the new tokens' lifetime, so the access token's own exp when
// it is a JWT (read, not verified: it came from the token endpoint in the same answer as expires_in would have), else
// the lifetime the tokens had before (prevLifetime seconds; sessions sealed without Issued have none), and only then
// tokenExpiry's 5 minutes.
func refreshExpiry(tr *tokenResponse, idClaims map[string]any, now time.Time, prevLifetime int64) int64 {
	if _, hasExp := idClaims["exp"]; tr.ExpiresIn > 0 || hasExp {
		return tokenExpiry(tr, idClaims, now)
	}
	if exp, ok := jwtExpiry(tr.AccessToken); ok && exp > now.Unix() {
		return exp
	}
	if prevLifetime > 0 {
		return now.Unix() + prevLifetime
	}
	return tokenExpiry(tr, idClaims, now)
}

// jwtExpiry is the exp claim of a compact JWT, without verifying it; false for anything else.
func jwtExpiry(raw string) (int64, bool) {
	if len(raw) > maxTokenSize || strings.Count(raw, ".") != 2 {
		return 0, false
	}
	payload := raw[strings.IndexByte(raw, '.')+1 : strings.LastIndexByte(raw, '.')]
	c := map[string]any{}
	if decodeSegment(payload, &c) != nil {
		return 0, false
	}
	exp, ok := numericDate(c["exp"])
	return exp.Unix(), ok
}
