package descopeoidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token verification is done in our own code, in the order of OpenID Connect Core 3.1.3.7, cheap checks first and
// the signature last. golang-jwt is used only for its signature algorithms: under Yaegi its claim handling is
// unreliable (custom claim structs decode empty, its error sentinels never match), see YAEGI.md.

const maxTokenSize = 16 << 10

// supportedAlgs are the asymmetric algorithms the plugin verifies; "none" and HMAC are never accepted.
var supportedAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true,
}

// verifyOpts says what a particular kind of token must satisfy.
type verifyOpts struct {
	issuers   []string // accepted iss values
	audiences []string // at least one must be in aud
	nonce     string   // required nonce, ID tokens at login only
	kind      string   // "id token" or "access token", for messages
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// verify checks a compact JWS and returns its claims.
func (m *Middleware) verify(ctx context.Context, raw string, o verifyOpts) (map[string]any, error) {
	if len(raw) > maxTokenSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", o.kind, maxTokenSize)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%s: malformed: expected 3 parts, got %d", o.kind, len(parts))
	}
	var hdr jwtHeader
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return nil, fmt.Errorf("%s: header: %v", o.kind, err)
	}
	claims := map[string]any{}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, fmt.Errorf("%s: payload: %v", o.kind, err)
	}
	md, err := m.p.metadata(ctx)
	if err != nil {
		return nil, err
	}
	if !algAllowed(hdr.Alg, md.IDTokenAlgs) {
		return nil, fmt.Errorf("%s: algorithm %q not allowed (expected one of %v)", o.kind, hdr.Alg, allowedAlgs(md.IDTokenAlgs))
	}
	if err := m.checkClaims(claims, o); err != nil {
		return nil, fmt.Errorf("%s: %v", o.kind, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%s: signature is not base64url", o.kind)
	}
	key, err := m.p.key(ctx, hdr.Kid, hdr.Alg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.kind, err) // %w: a JWKS outage must stay errProviderUnavailable (503, not 401)
	}
	method := jwt.GetSigningMethod(hdr.Alg)
	if method == nil {
		return nil, fmt.Errorf("%s: algorithm %q unknown", o.kind, hdr.Alg)
	}
	if err := method.Verify(parts[0]+"."+parts[1], sig, key); err != nil {
		return nil, fmt.Errorf("%s: bad signature (kid %q, alg %s)", o.kind, hdr.Kid, hdr.Alg)
	}
	return claims, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return errors.New("not base64url")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errors.New("not a JSON object")
	}
	return nil
}

// allowedAlgs is the provider's advertised list limited to what we support; RS256 when it advertises nothing.
func allowedAlgs(advertised []string) []string {
	var out []string
	for _, a := range advertised {
		if supportedAlgs[a] {
			out = append(out, a)
		}
	}
	if len(advertised) == 0 {
		out = []string{"RS256"}
	}
	return out
}

func algAllowed(alg string, advertised []string) bool {
	if !supportedAlgs[alg] {
		return false
	}
	if len(advertised) == 0 {
		return alg == "RS256"
	}
	for _, a := range advertised {
		if a == alg {
			return true
		}
	}
	return false
}

// checkClaims applies the claim rules in spec order: iss, aud, azp, exp, iat, nbf, sub, nonce.
func (m *Middleware) checkClaims(c map[string]any, o verifyOpts) error {
	iss, _ := c["iss"].(string)
	if !contains(o.issuers, iss) {
		return fmt.Errorf("issuer mismatch: expected %q, got %q", o.issuers[0], iss)
	}
	aud, ok := audienceList(c["aud"])
	if !ok {
		return errors.New("aud claim is missing or not a string or list of strings")
	}
	if !anyIn(o.audiences, aud) {
		return fmt.Errorf("audience mismatch: expected %q in %v", o.audiences[0], aud)
	}
	if err := m.checkAZP(c, aud); err != nil {
		return err
	}
	if err := m.checkTimes(c); err != nil {
		return err
	}
	if sub, _ := c["sub"].(string); sub == "" {
		return errors.New("sub claim missing")
	}
	if o.nonce != "" {
		if n, _ := c["nonce"].(string); n != o.nonce {
			return errors.New("nonce mismatch: the token was not issued for this login attempt")
		}
	}
	return nil
}

func (m *Middleware) checkAZP(c map[string]any, aud []string) error {
	azp, present := c["azp"].(string)
	if m.s.requireAZP && !present {
		return fmt.Errorf("azp claim missing: Descope adds it only when told to; in the Descope console add a JWT template " +
			"with a custom claim \"azp\" whose value is the project ID (or set requireAZP: false)")
	}
	if present && azp != m.s.clientID {
		return fmt.Errorf("azp mismatch: expected %q, got %q", m.s.clientID, azp)
	}
	if !present && len(aud) > 1 {
		return errors.New("azp claim missing while the token has several audiences")
	}
	return nil
}

func (m *Middleware) checkTimes(c map[string]any) error {
	now := m.now()
	exp, ok := numericDate(c["exp"])
	if !ok {
		return errors.New("exp claim missing or not a number")
	}
	if now.After(exp.Add(m.s.leeway)) {
		return fmt.Errorf("token expired at %s (now %s)", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	iat, ok := numericDate(c["iat"])
	if !ok {
		return errors.New("iat claim missing or not a number")
	}
	if iat.After(now.Add(m.s.leeway)) {
		return fmt.Errorf("token issued in the future (iat %s, now %s): check clocks", iat.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if v, present := c["nbf"]; present {
		nbf, ok := numericDate(v)
		if !ok {
			return errors.New("nbf claim is not a number")
		}
		if nbf.After(now.Add(m.s.leeway)) {
			return fmt.Errorf("token not valid before %s", nbf.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// audienceList accepts aud as a string or a list of strings (RFC 7519 4.1.3).
func audienceList(v any) ([]string, bool) {
	switch a := v.(type) {
	case string:
		return []string{a}, a != ""
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, len(out) > 0
	}
	return nil, false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func anyIn(want, have []string) bool {
	for _, w := range want {
		if contains(have, w) {
			return true
		}
	}
	return false
}
