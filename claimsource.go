package descopeoidc

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// verifyClaimsSource verifies a JWT access token for use as a claims source: size, a supported and advertised
// algorithm, the signature with the provider's keys, an accepted issuer (issuer or acceptedIssuers) and the times
// (exp, iat, nbf, with leeway). No audience or client check: the token was just handed to this client by the
// token endpoint, over TLS, in the same response as the verified ID token.
func (m *Middleware) verifyClaimsSource(ctx context.Context, raw string) (map[string]any, error) {
	const kind = "access token"
	if len(raw) > maxTokenSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", kind, maxTokenSize)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%s: malformed: expected 3 parts, got %d", kind, len(parts))
	}
	var hdr jwtHeader
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return nil, fmt.Errorf("%s: header: %v", kind, err)
	}
	claims := map[string]any{}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, fmt.Errorf("%s: payload: %v", kind, err)
	}
	md, err := m.p.metadata(ctx)
	if err != nil {
		return nil, err
	}
	if !algAllowed(hdr.Alg, md.IDTokenAlgs) {
		return nil, fmt.Errorf("%s: algorithm %q not allowed", kind, hdr.Alg)
	}
	if iss, _ := claims["iss"].(string); !contains(m.s.bearerIssuers, iss) {
		return nil, fmt.Errorf("%s: issuer %q is not accepted", kind, iss)
	}
	if err := m.checkTimes(claims); err != nil {
		return nil, fmt.Errorf("%s: %v", kind, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%s: signature is not base64url", kind)
	}
	key, err := m.p.key(ctx, hdr.Kid, hdr.Alg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	if err := jwt.GetSigningMethod(hdr.Alg).Verify(parts[0]+"."+parts[1], sig, key); err != nil {
		return nil, fmt.Errorf("%s: bad signature (kid %q)", kind, hdr.Kid)
	}
	return claims, nil
}
