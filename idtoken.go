package descopeoidc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// idTokenVerifier checks ID tokens the way OpenID Connect Core 3.1.3.7 orders it: iss (exactly the configured
// issuer), aud (contains the client ID), azp, exp/iat/nbf with leeway, sub, nonce, auth_time (when a max_age was
// requested), and the alg and signature last. Built in New, immutable.
type idTokenVerifier struct {
	keys       *provider
	issuer     string
	clientID   string
	requireAZP bool          // azp must be present (Descope adds it only through a JWT template)
	trustedAud []string      // further audiences the client trusts (the Descope project of an app's client ID)
	leeway     time.Duration // clock skew allowed on exp, iat, nbf and auth_time
	maxAge     time.Duration // > 0: max_age was requested, auth_time is required and must be that recent
	now        func() time.Time
}

// verify checks raw as an ID token; nonce is the one sent with this login ("" after a refresh: not checked).
func (v *idTokenVerifier) verify(ctx context.Context, raw, nonce string) (map[string]any, error) {
	t, err := parseJWS(raw)
	if err != nil {
		return nil, fmt.Errorf("id token: %v", err)
	}
	if err := v.checkClaims(t, nonce); err != nil {
		return nil, fmt.Errorf("id token: %v", err)
	}
	if err := checkSignature(ctx, v.keys, t); err != nil {
		return nil, fmt.Errorf("id token: %w", err) // %w: a JWKS outage must stay errProviderUnavailable (503, not 401)
	}
	return t.claims, nil
}

func (v *idTokenVerifier) checkClaims(t *jws, nonce string) error {
	if isAccessTokenType(t.typ) {
		return fmt.Errorf("typ %s is an access token's (RFC 9068), not an ID token's", shown(t.typ))
	}
	c := t.claims
	if err := checkIssuer(c, []string{v.issuer}); err != nil {
		return err
	}
	aud, err := checkAudience(c, []string{v.clientID})
	if err != nil {
		return err
	}
	if err := v.checkAZP(c, aud); err != nil {
		return err
	}
	now := v.now()
	if err := checkTimes(c, now, v.leeway, true); err != nil {
		return err
	}
	if err := checkSubject(c); err != nil {
		return err
	}
	if nonce != "" {
		if n, _ := c["nonce"].(string); n != nonce {
			return errors.New("nonce mismatch: the token was not issued for this login attempt")
		}
	}
	return v.checkAuthTime(c, now)
}

func (v *idTokenVerifier) checkAZP(c map[string]any, aud []string) error {
	azp, present := c["azp"].(string)
	if v.requireAZP && !present {
		return errors.New("azp claim missing: Descope adds it only when told to; in the Descope console add a JWT template " +
			"with a custom claim \"azp\" whose value is the project ID (or set requireAZP: false)")
	}
	if present && azp != v.clientID {
		return fmt.Errorf("azp mismatch: expected %q, got %s", v.clientID, shown(azp))
	}
	if !present && len(aud) > 1 && !v.othersTrusted(aud) {
		return fmt.Errorf("azp claim missing while the token has %d audiences (expected azp %q)", len(aud), v.clientID)
	}
	return nil
}

// othersTrusted: every audience besides the client ID is one the client trusts. OpenID Connect Core 3.1.3.7 items 3
// and 4: an ID token with audiences the client does not trust is rejected; with several, azp SHOULD be present. A
// Descope OIDC or inbound app's token has aud [projectID, clientID] and no azp: with projectID set, the project is
// trusted (it is the issuer's own project), so such a token passes when requireAZP is false.
func (v *idTokenVerifier) othersTrusted(aud []string) bool {
	for _, a := range aud {
		if a != v.clientID && !contains(v.trustedAud, a) {
			return false
		}
	}
	return true
}

// checkAuthTime: with max_age requested, auth_time is required and no older than max_age (Core 3.1.3.7 item 13).
func (v *idTokenVerifier) checkAuthTime(c map[string]any, now time.Time) error {
	raw, present := c["auth_time"]
	if !present && v.maxAge == 0 {
		return nil
	}
	at, ok := numericDate(raw)
	if !ok {
		return errors.New("auth_time claim missing or not a number (max_age was requested)")
	}
	if v.maxAge > 0 && now.After(at.Add(v.maxAge+v.leeway)) {
		return fmt.Errorf("authentication too old: auth_time %s, max_age %s (now %s)",
			at.UTC().Format(time.RFC3339), v.maxAge, now.UTC().Format(time.RFC3339))
	}
	return nil
}

// isAccessTokenType reports a typ header of an RFC 9068 JWT access token.
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}
