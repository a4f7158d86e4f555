package descopeoidc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// accessTokenVerifier checks bearer tokens sent to the API (allowBearerTokens): a JWT access token of this provider
// for one of the accepted audiences and clients, and never an ID token. Built in New, immutable.
//
// Descope's session token is its OAuth access token: typ JWT, no azp or client_id unless a JWT template adds them, and
// iss the bare project ID unless a template makes it the URL; with projectID set, both issuers are accepted.
type accessTokenVerifier struct {
	keys          *provider
	issuers       []string // the issuer, acceptedIssuers, and the bare projectID when set
	audiences     []string // bearerAudiences, default the client ID
	clients       []string // bearerClients, default the client ID: azp or client_id, when present, must be one of them
	requireClient bool     // bearerClients was configured: azp or client_id must be present
	noAudIssuers  []string // allowMissingAudience: tokens of these issuers (the project's own) may have no aud
	drns          []string // the drn values of a Descope session token (drn.go)
	idTokenShaped bool     // allowIDTokenShapedBearer: nonce and at_hash are allowed (dex); c_hash still refuses
	leeway        time.Duration
	now           func() time.Time
}

// idTokenMarkers mark an ID token (OpenID Connect Core 2, 3.1.3.6, 3.3.2.11); an access token has none of them.
// Some providers build their access tokens like ID tokens (dex: the login's nonce and an at_hash): with
// allowIDTokenShapedBearer only idTokenShapedMarkers refuse, so such a provider's ID tokens for an accepted audience
// (dex's: aud = the client ID) pass as bearer tokens too; the README names that risk.
var (
	idTokenMarkers       = []string{"nonce", "at_hash", "c_hash"}
	idTokenShapedMarkers = []string{"c_hash"} // only an ID token from an authorization response has it
)

// verify checks raw as a bearer access token and returns its claims.
func (v *accessTokenVerifier) verify(ctx context.Context, raw string) (map[string]any, error) {
	t, err := parseJWS(raw)
	if err != nil {
		return nil, fmt.Errorf("access token: %v", err)
	}
	if err := v.checkClaims(t); err != nil {
		return nil, fmt.Errorf("access token: %v", err)
	}
	if err := checkSignature(ctx, v.keys, t); err != nil {
		return nil, fmt.Errorf("access token: %w", err)
	}
	return t.claims, nil
}

func (v *accessTokenVerifier) checkClaims(t *jws) error {
	if !bearerTypeAllowed(t.typ) {
		return fmt.Errorf("typ %s refused (expected none, JWT, at+jwt or application/at+jwt)", shown(t.typ))
	}
	c := t.claims
	markers := idTokenMarkers
	if v.idTokenShaped {
		markers = idTokenShapedMarkers
	}
	for _, name := range markers {
		if _, present := c[name]; present {
			return fmt.Errorf("has a %s claim: an ID token is not a bearer token", name)
		}
	}
	if err := checkIssuer(c, v.issuers); err != nil {
		return err
	}
	if err := checkDRN(c, v.drns); err != nil {
		return err
	}
	if err := v.checkAudience(c); err != nil {
		return err
	}
	if err := v.checkClient(c); err != nil {
		return err
	}
	if err := checkTimes(c, v.now(), v.leeway, true); err != nil {
		return err
	}
	return checkSubject(c)
}

// checkAudience: aud must name one of the accepted audiences; with allowMissingAudience a token from one of the
// project's own issuers may have no aud at all (Descope's session tokens of older projects: the session-JWT
// documentation lists no aud). An aud that is present is always checked.
func (v *accessTokenVerifier) checkAudience(c map[string]any) error {
	if _, present := c["aud"]; !present && len(v.noAudIssuers) > 0 {
		if iss, _ := c["iss"].(string); contains(v.noAudIssuers, iss) {
			return nil
		}
	}
	_, err := checkAudience(c, v.audiences)
	return err
}

// checkClient: every client claim present (azp, client_id of RFC 9068) must name an accepted client; with
// bearerClients configured, one of them must be present.
func (v *accessTokenVerifier) checkClient(c map[string]any) error {
	found := false
	for _, name := range []string{"azp", "client_id"} {
		raw, present := c[name]
		if !present {
			continue
		}
		id, ok := raw.(string)
		if !ok || !contains(v.clients, id) {
			return fmt.Errorf("%s mismatch: expected one of %q, got %s", name, v.clients, quoteAny(raw))
		}
		found = true
	}
	if v.requireClient && !found {
		return fmt.Errorf("neither azp nor client_id present (bearerClients requires one of %q)", v.clients)
	}
	return nil
}

// bearerTypeAllowed: no typ, JWT (Descope, most providers) or RFC 9068's at+jwt; anything else (an ID token typed
// as such, a logout token, a JWT of another kind) is refused. Media types compare case-insensitively (RFC 7515 4.1.9).
func bearerTypeAllowed(typ string) bool {
	return typ == "" || strings.EqualFold(typ, "JWT") || isAccessTokenType(typ)
}

// claimsSourceVerifier is the lenient policy for reading claims (Descope's roles, permissions, tenants, dct) from the
// OAuth access token of the plugin's own token response: that token came straight from the token endpoint over TLS
// to this client, so it need not be addressed to the client. Built in New, immutable.
type claimsSourceVerifier struct {
	keys    *provider
	issuers []string // as for bearer tokens: the issuer, acceptedIssuers, the bare projectID
	drns    []string // the drn values of a Descope session token (drn.go)
	leeway  time.Duration
	now     func() time.Time
}

// errNotJWT says an access token is opaque: there are no claims to read from it, which is not an error of the token.
var errNotJWT = errors.New("access token is not a JWT")

// verify returns the claims of the access token raw from our own token response, when it is a JWT signed by the
// provider's keys (the same JWKS and allowed algorithms as ID tokens), its iss is an accepted issuer and it has not
// expired, and it is not a Descope refresh JWT (drn.go). aud, azp, sub and typ are not checked. An opaque (non-JWT) token gives errNotJWT.
func (v *claimsSourceVerifier) verify(ctx context.Context, raw string) (map[string]any, error) {
	if strings.Count(raw, ".") != 2 {
		return nil, errNotJWT
	}
	t, err := parseJWS(raw)
	if err != nil {
		return nil, fmt.Errorf("access token as claims source: %v", err)
	}
	c := t.claims
	if err := checkIssuer(c, v.issuers); err != nil {
		return nil, fmt.Errorf("access token as claims source: %v", err)
	}
	if err := checkDRN(c, v.drns); err != nil {
		return nil, fmt.Errorf("access token as claims source: %v", err)
	}
	if err := checkTimes(c, v.now(), v.leeway, false); err != nil {
		return nil, fmt.Errorf("access token as claims source: %v", err)
	}
	if err := checkSignature(ctx, v.keys, t); err != nil {
		return nil, fmt.Errorf("access token as claims source: %w", err)
	}
	return c, nil
}
