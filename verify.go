package descopeoidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token verification is done in our own code by three verifiers with their own policy (idTokenVerifier,
// accessTokenVerifier, claimsSourceVerifier), each in the order of OpenID Connect Core 3.1.3.7, cheap checks first and
// the signature last. This file holds what they share: parsing the compact JWS, the time checks and the signature.
// golang-jwt is used only for its signature algorithms: under Yaegi its claim handling is unreliable (custom claim
// structs decode empty, its error sentinels never match), see YAEGI.md.

const maxTokenSize = 16 << 10

// supportedAlgs are the asymmetric algorithms the plugin verifies; "none" and HMAC are never accepted. "Ed25519" is
// RFC 9864's fully-specified name of EdDSA with an Ed25519 key.
var supportedAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true, "Ed25519": true,
}

// jws is a compact JWS split and decoded, its signature not yet checked.
type jws struct {
	alg, kid, typ string
	claims        map[string]any
	signingInput  string
	sig           []byte
}

// parseJWS splits and decodes a compact JWS. It refuses what no verifier accepts: oversized or malformed tokens, an
// unsupported alg, and any crit header (RFC 7515 4.1.11: we understand no extension).
func parseJWS(raw string) (*jws, error) {
	if len(raw) > maxTokenSize {
		return nil, fmt.Errorf("larger than %d bytes", maxTokenSize)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("malformed: expected 3 parts, got %d", len(parts))
	}
	hdr := map[string]any{}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return nil, fmt.Errorf("header: %v", err)
	}
	if _, ok := hdr["crit"]; ok {
		return nil, errors.New("header has crit: no JWS extension is supported (RFC 7515 4.1.11)")
	}
	t := &jws{signingInput: parts[0] + "." + parts[1]}
	var ok bool
	if t.alg, ok = hdr["alg"].(string); !ok || !supportedAlgs[t.alg] {
		return nil, fmt.Errorf("algorithm %s not supported (expected an asymmetric JWS algorithm)", quoteAny(hdr["alg"]))
	}
	kid, kidOK := hdr["kid"].(string)
	typ, typOK := hdr["typ"].(string)
	if _, present := hdr["kid"]; present && !kidOK {
		return nil, errors.New("header kid is not a string")
	}
	if _, present := hdr["typ"]; present && !typOK {
		return nil, errors.New("header typ is not a string")
	}
	t.kid, t.typ = kid, typ
	t.claims = map[string]any{}
	if err := decodeSegment(parts[1], &t.claims); err != nil {
		return nil, fmt.Errorf("payload: %v", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("signature is not base64url")
	}
	t.sig = sig
	return t, nil
}

func quoteAny(v any) string {
	if s, ok := v.(string); ok {
		return shown(s)
	}
	return fmt.Sprintf("of type %T", v)
}

// maxShown bounds a value taken from a token in an error message (and so in the log): a crafted token must not make
// an error as large as itself.
const maxShown = 128

// shown quotes a value taken from a token for an error message, cut to maxShown bytes on a UTF-8 boundary.
func shown(s string) string { return strconv.Quote(truncate(s, maxShown)) }

// shownList is shown for a list, at most 8 entries.
func shownList(l []string) string {
	n := len(l)
	if n > 8 {
		n = 8
	}
	out := make([]string, n, n+1)
	for i := 0; i < n; i++ {
		out[i] = shown(l[i])
	}
	if len(l) > n {
		out = append(out, "…")
	}
	return "[" + strings.Join(out, " ") + "]"
}

// checkSignature verifies t's signature with the provider's key for its kid and alg (the provider refreshes its
// documents, within a budget, when either is unknown). A provider outage stays errProviderUnavailable (%w).
func checkSignature(ctx context.Context, p *provider, t *jws) error {
	key, err := p.verificationKey(ctx, t.kid, t.alg)
	if err != nil {
		return err
	}
	name := t.alg
	if name == "Ed25519" {
		name = "EdDSA" // golang-jwt registers Ed25519 keys under the polymorphic name
	}
	method := jwt.GetSigningMethod(name)
	if method == nil {
		return fmt.Errorf("algorithm %s unknown", shown(t.alg))
	}
	if err := method.Verify(t.signingInput, t.sig, key); err != nil {
		return fmt.Errorf("bad signature (kid %s, alg %s)", shown(t.kid), shown(t.alg))
	}
	return nil
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

// algAllowed: alg is supported and advertised (RS256 when nothing is). EdDSA and Ed25519 stand for each other: with
// an Ed25519 key (the only OKP curve we accept) they are the same algorithm (RFC 9864 section 2.2).
func algAllowed(alg string, advertised []string) bool {
	if !supportedAlgs[alg] {
		return false
	}
	if len(advertised) == 0 {
		return alg == "RS256"
	}
	for _, a := range advertised {
		if a == alg || (isEd25519(a) && isEd25519(alg)) {
			return true
		}
	}
	return false
}

func isEd25519(alg string) bool { return alg == "EdDSA" || alg == "Ed25519" }

// checkIssuer: iss must be one of issuers, exactly (no normalisation).
func checkIssuer(c map[string]any, issuers []string) error {
	iss, _ := c["iss"].(string)
	if !contains(issuers, iss) {
		if len(issuers) == 1 {
			return fmt.Errorf("issuer mismatch: expected %q, got %s", issuers[0], shown(iss))
		}
		return fmt.Errorf("issuer mismatch: expected one of %q, got %s", issuers, shown(iss))
	}
	return nil
}

// checkAudience: aud (string or list) must contain one of want.
func checkAudience(c map[string]any, want []string) ([]string, error) {
	aud, ok := audienceList(c["aud"])
	if !ok {
		return nil, errors.New("aud claim is missing or not a string or list of strings")
	}
	if !anyIn(want, aud) {
		return nil, fmt.Errorf("audience mismatch: expected one of %q in %s", want, shownList(aud))
	}
	return aud, nil
}

// checkTimes checks exp (required), iat (required when requireIAT; never in the future) and nbf, with leeway.
func checkTimes(c map[string]any, now time.Time, leeway time.Duration, requireIAT bool) error {
	exp, ok := numericDate(c["exp"])
	if !ok {
		return errors.New("exp claim missing or not a number")
	}
	if now.After(exp.Add(leeway)) {
		return fmt.Errorf("token expired at %s (now %s)", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if v, present := c["iat"]; present || requireIAT {
		iat, ok := numericDate(v)
		if !ok {
			return errors.New("iat claim missing or not a number")
		}
		if iat.After(now.Add(leeway)) {
			return fmt.Errorf("token issued in the future (iat %s, now %s): check clocks", iat.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	if v, present := c["nbf"]; present {
		nbf, ok := numericDate(v)
		if !ok {
			return errors.New("nbf claim is not a number")
		}
		if nbf.After(now.Add(leeway)) {
			return fmt.Errorf("token not valid before %s (now %s)", nbf.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

func checkSubject(c map[string]any) error {
	if sub, _ := c["sub"].(string); sub == "" {
		return errors.New("sub claim missing or not a string")
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
