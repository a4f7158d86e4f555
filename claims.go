package descopeoidc

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Claims come from every verified source: the ID token, the OAuth access token when it is a JWT that verifies
// against the provider's keys and issuer (Descope's session token carries roles, permissions, tenants and dct),
// and the userinfo endpoint (where OIDC Core 5.4 puts profile and email claims when an access token is issued).
// They are collected after the code exchange and again after every refresh, merged by the precedence of
// claimsFrom, and only the claims that headers and rules read are kept in the session.

// Claim sources, as spelled in claimsFrom.
const (
	sourceIDToken     = "idToken"
	sourceUserinfo    = "userinfo"
	sourceAccessToken = "accessToken"
)

// defaultClaimsFrom: the ID token first (the identity assertion made for this client), then the access token
// (verified locally, no request; Descope puts the authorization claims there), then userinfo, which in auto mode
// is fetched only when a claim is still missing.
var defaultClaimsFrom = []string{sourceIDToken, sourceAccessToken, sourceUserinfo}

// userinfo modes.
const (
	userinfoAuto = iota
	userinfoAlways
	userinfoNever
)

// idTokenOnlyClaims describe a token rather than the user: they are taken from the ID token alone, never from
// userinfo or the access token (whose iss, aud, exp... are about the access token).
var idTokenOnlyClaims = map[string]bool{
	"sub": true, "iss": true, "aud": true, "exp": true, "iat": true, "nbf": true, "jti": true, "nonce": true,
	"azp": true, "at_hash": true, "c_hash": true, "auth_time": true, "sid": true, "acr": true, "amr": true,
}

// claimSources is the claims policy derived in New.
type claimSources struct {
	order                []string // claimsFrom: earlier sources win
	userinfo             int
	requireVerifiedEmail bool
	needed               []string // top-level claims headers and rules read, without sub; sorted
	pairEmail            bool     // email is needed: email_verified always comes from email's source
}

// deriveClaimSources runs after every step that adds to s.keepClaims (headers, rules, step-up): what it finds there
// is what collectClaims looks for (TestNeededCoversEveryKeptClaim).
func deriveClaimSources(c *Config, s *settings) error {
	cs := &claimSources{requireVerifiedEmail: c.RequireVerifiedEmail}
	switch strings.ToLower(c.Userinfo) {
	case "", "auto":
		cs.userinfo = userinfoAuto
	case "always":
		cs.userinfo = userinfoAlways
	case "never":
		cs.userinfo = userinfoNever
	default:
		return fmt.Errorf("userinfo: %q is not one of auto, always, never", c.Userinfo)
	}
	order, err := parseClaimsFrom(nonEmpty(c.ClaimsFrom))
	if err != nil {
		return err
	}
	if order == nil {
		order = defaultClaimsFrom
	} else if cs.userinfo == userinfoNever && contains(order, sourceUserinfo) {
		return errors.New("claimsFrom: lists userinfo while userinfo is never")
	}
	cs.order = order
	if s.keepClaims["email"] {
		s.keepClaims["email_verified"] = true
		cs.pairEmail = true
	}
	for name := range s.keepClaims {
		if name != "sub" {
			cs.needed = append(cs.needed, name)
		}
	}
	sort.Strings(cs.needed)
	s.sources = cs
	return nil
}

// parseClaimsFrom validates claimsFrom ("idToken,userinfo" arrives from Traefik as one or several items); nil when
// not set.
func parseClaimsFrom(items []string) ([]string, error) {
	var order []string
	for _, item := range items {
		for _, name := range strings.Fields(strings.ReplaceAll(item, ",", " ")) {
			canon := ""
			for _, known := range defaultClaimsFrom {
				if strings.EqualFold(name, known) {
					canon = known
				}
			}
			if canon == "" {
				return nil, fmt.Errorf("claimsFrom: %q is not one of idToken, accessToken, userinfo", name)
			}
			if contains(order, canon) {
				return nil, fmt.Errorf("claimsFrom: %s is listed twice", canon)
			}
			order = append(order, canon)
		}
	}
	return order, nil
}

// complete tells whether every needed claim has been found (email_verified travels with email).
func (cs *claimSources) complete(have map[string]any) bool {
	for _, name := range cs.needed {
		if cs.pairEmail && name == "email_verified" {
			continue
		}
		if _, ok := have[name]; !ok {
			return false
		}
	}
	return true
}

// mergeMissing adds the needed claims that have no value yet from a lower-precedence source. email_verified is
// taken from the source that provided email, whatever the other sources say.
func (cs *claimSources) mergeMissing(have, from map[string]any) {
	for _, name := range cs.needed {
		if idTokenOnlyClaims[name] || (cs.pairEmail && name == "email_verified") {
			continue
		}
		if _, ok := have[name]; ok {
			continue
		}
		v, ok := from[name]
		if !ok {
			continue
		}
		have[name] = v
		if cs.pairEmail && name == "email" {
			if ev, ok := from["email_verified"]; ok {
				have["email_verified"] = ev
			}
		}
	}
}

// collectClaims returns the session's claims: the verified ID token's (idClaims, whose sub is the user) merged with
// the other sources of claimsFrom, read in order until every needed claim is found (userinfo: always reads it
// anyway). Any failure fails the login or refresh: there is no session with half its claims.
func (m *Middleware) collectClaims(ctx context.Context, idClaims map[string]any, accessToken string) (map[string]any, error) {
	return m.collect(ctx, m.s.sources.order, idClaims, accessToken)
}

// refreshedClaims re-reads the claims after a refresh into d (its new access token). newID is the verified claims
// of the refresh's new ID token, empty when the provider sent none: then the claims collected at login (d.Claims; or
// the login's ID token, when a session sealed before the ID token moved to the logout cookie still holds it) stand in
// for the ID token, ranked last, since they are as old as the login.
func (m *Middleware) refreshedClaims(ctx context.Context, d *sessionData, newID map[string]any) (map[string]any, error) {
	if _, ok := newID["sub"]; ok {
		return m.collect(ctx, m.s.sources.order, newID, d.AccessToken)
	}
	old := map[string]any{}
	if parts := strings.Split(d.IDToken, "."); len(parts) != 3 || decodeSegment(parts[1], &old) != nil || old["sub"] != d.Claims["sub"] {
		old = d.Claims
	}
	order := make([]string, 0, len(m.s.sources.order))
	for _, src := range m.s.sources.order {
		if src != sourceIDToken {
			order = append(order, src)
		}
	}
	if len(order) != len(m.s.sources.order) {
		order = append(order, sourceIDToken)
	}
	return m.collect(ctx, order, old, d.AccessToken)
}

// collect reads the sources in order and keeps what any middleware serving these sessions reads (the registry's
// union, not only this middleware's needs: a session made here may be served by another). Email stays with its
// email_verified: each middleware applies its own email policy when it serves the session (ownClaims).
func (m *Middleware) collect(ctx context.Context, order []string, idClaims map[string]any, accessToken string) (map[string]any, error) {
	cs := m.keptSources()
	sub, _ := idClaims["sub"].(string)
	have := map[string]any{"sub": sub}
	for _, name := range cs.needed {
		if idTokenOnlyClaims[name] {
			if v, ok := idClaims[name]; ok {
				have[name] = v
			}
		}
	}
	for _, src := range order {
		always := src == sourceUserinfo && cs.userinfo == userinfoAlways
		if !always && cs.complete(have) {
			continue // nothing missing: no need to read (or fetch) this source
		}
		from, err := m.readSource(ctx, src, idClaims, accessToken, sub)
		if err != nil {
			return nil, err
		}
		cs.mergeMissing(have, from)
	}
	return have, nil
}

// keptSources is this middleware's claims policy with the registry's claims to keep in place of its own needs.
func (m *Middleware) keptSources() *claimSources {
	cs := *m.s.sources
	cs.needed = m.sm.reg.neededClaims()
	cs.pairEmail = contains(cs.needed, "email")
	return &cs
}

// readSource returns the claims of one source, nil when it has none to give.
func (m *Middleware) readSource(ctx context.Context, src string, idClaims map[string]any, accessToken, sub string) (map[string]any, error) {
	switch src {
	case sourceIDToken:
		return idClaims, nil
	case sourceAccessToken:
		return m.accessTokenClaims(ctx, accessToken, sub)
	case sourceUserinfo:
		return m.userinfoClaims(ctx, accessToken, sub)
	}
	return nil, nil
}

// accessTokenClaims verifies a JWT access token as a claims source (signature, iss, exp against the provider's
// keys) and checks it is about the same user. An opaque access token is no source; a JWT that does not verify is
// skipped with a log line (its claims are not trusted), unless the provider is unreachable.
func (m *Middleware) accessTokenClaims(ctx context.Context, accessToken, sub string) (map[string]any, error) {
	if accessToken == "" {
		return nil, nil
	}
	claims, err := m.verifyClaimsSource(ctx, accessToken) // the verify helper's claimsSourceVerifier (accesstoken.go)
	if err != nil {
		if errors.Is(err, errNotJWT) {
			return nil, nil
		}
		if errors.Is(err, errProviderUnavailable) {
			return nil, err
		}
		m.logf(levelInfo, "access token not used as a claims source: %v", err)
		return nil, nil
	}
	if atSub, _ := claims["sub"].(string); atSub != sub {
		return nil, errors.New("the access token is about another subject than the ID token")
	}
	return claims, nil
}

// keptNames is what a session sealed now is collected for: sub (always kept, and what tells an empty union from a
// cookie sealed before Kept existed) and the registry's union of every policy's claims.
func (m *Middleware) keptNames() string {
	return strings.Join(append([]string{"sub"}, m.sm.reg.neededClaims()...), ",")
}

// covers reports whether a session collected for kept (keptNames when it was sealed) holds every claim this
// middleware reads; a session sealed before Kept existed ("") is taken as it is.
func (m *Middleware) covers(kept string) bool {
	if kept == "" {
		return true
	}
	have := "," + kept + ","
	for _, name := range m.s.sources.needed {
		if !strings.Contains(have, ","+name+",") {
			return false
		}
	}
	return true
}
