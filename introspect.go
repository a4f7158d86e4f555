package descopeoidc

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Opaque access tokens (RFC 7662). With allowBearerTokens, a bearer token that is not a JWT is sent to the
// provider's introspection_endpoint (or introspectionURL) with the client's own authentication (oauth.go). Only an
// answer with "active": true that passes the same policy as a JWT access token (issuer, audience or client, a
// subject, not a refresh token) lets the request through; it is cached like a verified JWT, until its exp but at most
// introspectionCacheTTL, so a revoked token stops working within that time. Refusals are cached briefly
// (inactiveTTL) so that a client repeating a dead token does not make a request to the provider each time.

const (
	defaultIntrospectionTTL = 5 * time.Minute
	maxIntrospectionTTL     = time.Hour
	minIntrospectionTTL     = time.Second // 0 would refuse every opaque token (its cache entry ends at once)
	inactiveTTL             = 10 * time.Second
	maxInactiveCached       = 10000
	// maxIntrospections bounds the introspection requests in flight in this process (all middlewares, all reloads):
	// each carries the client's credentials and a token; past the bound a new opaque token gets a 503, uncached.
	maxIntrospections = 32
)

// introspections in flight, process-wide (package level: survives reloads, never grows).
var introspections int64

var errInactive = errors.New("access token: introspection says it is not active")

// introspection is what New derives from introspectionURL and introspectionCacheTTL.
type introspection struct {
	on  bool   // allowBearerTokens with a client that can authenticate
	url string // introspectionURL; "" means the provider's introspection_endpoint
	ttl time.Duration
}

func deriveIntrospection(c *Config, s *settings) error {
	ttl, err := parseDuration("introspectionCacheTTL", c.IntrospectionCacheTTL, defaultIntrospectionTTL)
	if err != nil {
		return err
	}
	if ttl > maxIntrospectionTTL {
		return fmt.Errorf("introspectionCacheTTL: %s is more than %s", ttl, maxIntrospectionTTL)
	}
	if ttl < minIntrospectionTTL {
		return fmt.Errorf("introspectionCacheTTL: %s is less than %s (an answer must be usable for the request that asked)", ttl, minIntrospectionTTL)
	}
	if (c.IntrospectionURL != "" || c.IntrospectionCacheTTL != "") && !c.AllowBearerTokens {
		return errors.New("introspectionURL, introspectionCacheTTL: only with allowBearerTokens: true")
	}
	if c.IntrospectionURL != "" {
		u, err := url.Parse(c.IntrospectionURL)
		if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" ||
			(u.Scheme != "https" && !(u.Scheme == "http" && (c.AllowInsecureIssuer || isLoopbackHost(u.Hostname())))) {
			return fmt.Errorf("introspectionURL: %q is not an https URL without query", c.IntrospectionURL)
		}
	}
	confidential := s.clientSecret != "" || s.authMethod == "private_key_jwt"
	s.introspect = introspection{on: c.AllowBearerTokens && confidential, url: c.IntrospectionURL, ttl: ttl}
	return nil
}

// isOpaque: not a compact JWS (three dot-separated parts); such a token can only be introspected.
func isOpaque(tok string) bool { return strings.Count(tok, ".") != 2 }

// introspect returns the claims of an active opaque token, its exp capped at now + introspectionCacheTTL (the
// bearer cache keeps it that long). A token over maxTokenSize (the cap on JWTs) is refused without asking: it would
// go to the provider with the client's credentials.
func (m *Middleware) introspect(ctx context.Context, tok string) (map[string]any, error) {
	if len(tok) > maxTokenSize {
		return nil, fmt.Errorf("opaque access token larger than %d bytes: not introspected", maxTokenSize)
	}
	key := cacheKey(tok)
	now := m.now()
	if e := m.inactive.get(key); e != nil && now.Unix() < e.endAt {
		return nil, errInactive
	}
	claims, err := m.tc.introspect(ctx, tok)
	if err == nil {
		err = m.checkIntrospected(claims, now)
	}
	if err != nil {
		if errors.Is(err, errProviderUnavailable) {
			m.logf(levelWarn, "introspection: %v", err) // an outage, or this client refused: not the token's fault
			return nil, err
		}
		m.inactive.put(key, &entry{endAt: now.Add(inactiveTTL).Unix()}, now.Unix())
		return nil, err
	}
	limit := now.Add(m.s.introspect.ttl).Unix() - int64(m.s.leeway/time.Second) // serveBearer adds the leeway
	if exp, ok := numericDate(claims["exp"]); !ok || exp.Unix() > limit {
		claims["exp"] = float64(limit)
	}
	return claims, nil
}

// checkIntrospected applies the access-token policy to an introspection answer: active true, token_type Bearer,
// not expired, iss (when given) accepted, aud (when given) one of the accepted audiences, else client_id one of the
// accepted clients, and a subject.
func (m *Middleware) checkIntrospected(c map[string]any, now time.Time) error {
	if c["active"] != true {
		return errInactive
	}
	// token_type Bearer (RFC 7662 2.2, RFC 6750): oidc-provider, for one, answers a refresh token with active true
	// and no token_type; only the token type tells it from an access token.
	if tt, _ := c["token_type"].(string); !strings.EqualFold(tt, "bearer") {
		return fmt.Errorf("introspection: token_type %s is not Bearer (an access token)", quoteAny(c["token_type"]))
	}
	if exp, ok := numericDate(c["exp"]); ok && !now.Before(exp.Add(m.s.leeway)) {
		return errInactive
	}
	v := m.bearerTokens
	if _, ok := c["iss"]; ok {
		if err := checkIssuer(c, v.issuers); err != nil {
			return fmt.Errorf("introspection: %v", err)
		}
	}
	if _, ok := c["aud"]; ok {
		if _, err := checkAudience(c, v.audiences); err != nil {
			return fmt.Errorf("introspection: %v", err)
		}
	} else if id, _ := c["client_id"].(string); !contains(v.clients, id) {
		return fmt.Errorf("introspection: no aud, and client_id %s is not one of %q", quoteAny(c["client_id"]), v.clients)
	}
	if err := v.checkClient(c); err != nil {
		return fmt.Errorf("introspection: %v", err)
	}
	if err := checkSubject(c); err != nil {
		return fmt.Errorf("introspection: %v", err)
	}
	return nil
}
