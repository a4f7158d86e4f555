package descopeoidc

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The ID-token verifier on its own: every claim rule of OpenID Connect Core 3.1.3.7, the JWS header rules, max_age.
func TestIDTokenVerifierClaims(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.algs = append(f.algs, "HS256", "none") }) // advertised or not, never accepted
	otherKey := newTestKey(t, "RS256", "k1", 1)                          // same kid, different key
	m, _ := newMW(t, f, f.config())
	strict := &idTokenVerifier{keys: m.p, issuer: f.issuer, clientID: testClientID, requireAZP: true,
		leeway: time.Minute, now: f.clock.Now}
	lax := *strict
	lax.requireAZP = false
	recent := *strict
	recent.maxAge = 10 * time.Minute
	now := f.clock.Now().Unix()

	with := func(changes map[string]any) map[string]any {
		c := f.idClaims("nonce-1")
		for k, v := range changes {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	signed := func(changes map[string]any) func() string {
		return func() string { return f.mint(with(changes)) }
	}
	withHeader := func(h map[string]any) func() string {
		return func() string { return signJWT(t, f.signer, h, with(nil)) }
	}
	cases := []struct {
		name  string
		token func() string
		v     *idTokenVerifier
		nonce string
		want  string // error substring; empty = valid
	}{
		{"valid", signed(nil), strict, "nonce-1", ""},
		{"alg none", func() string {
			return rawJWT(t, map[string]any{"alg": "none", "kid": "k1"}, with(nil)) + "."
		}, strict, "nonce-1", `algorithm "none" not supported`},
		{"HS256 keyed with the RSA public key (algorithm confusion)", func() string {
			der, _ := x509.MarshalPKIXPublicKey(f.signer.pub)
			pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			return signJWT(t, &testKey{kid: "k1", alg: "HS256", priv: pubPEM}, nil, with(nil))
		}, strict, "nonce-1", `algorithm "HS256" not supported`},
		{"signed by another key with the same kid", func() string {
			return signJWT(t, otherKey, nil, with(nil))
		}, strict, "nonce-1", "bad signature"},
		{"header alg swapped to PS256", func() string {
			return signJWT(t, f.signer, map[string]any{"alg": "PS256"}, with(nil))
		}, strict, "nonce-1", "no key for kid"},
		{"wrong iss", signed(map[string]any{"iss": "https://evil.example"}), strict, "nonce-1", "issuer mismatch"},
		{"iss missing", signed(map[string]any{"iss": nil}), strict, "nonce-1", "issuer mismatch"},
		{"aud without the client", signed(map[string]any{"aud": "someone-else"}), strict, "nonce-1", "audience mismatch"},
		{"aud missing", signed(map[string]any{"aud": nil}), strict, "nonce-1", "aud claim is missing"},
		{"aud list with the client and azp", signed(map[string]any{"aud": []string{"api", testClientID}}), strict, "nonce-1", ""},
		{"aud list without the client", signed(map[string]any{"aud": []string{"api", "other"}}), strict, "nonce-1", "audience mismatch"},
		{"aud list of non-strings", signed(map[string]any{"aud": []any{testClientID, 5}}), strict, "nonce-1", "aud claim is missing or not"},
		{"several audiences without azp", signed(map[string]any{"aud": []string{"api", testClientID}, "azp": nil}), &lax, "nonce-1", "2 audiences (expected azp"},
		{"azp missing, requireAZP true", signed(map[string]any{"azp": nil}), strict, "nonce-1", "JWT template"},
		{"azp missing, requireAZP false", signed(map[string]any{"azp": nil}), &lax, "nonce-1", ""},
		{"wrong azp", signed(map[string]any{"azp": "other-client"}), strict, "nonce-1", "azp mismatch"},
		{"wrong azp, requireAZP false", signed(map[string]any{"azp": "other-client"}), &lax, "nonce-1", "azp mismatch"},
		{"expired beyond leeway", signed(map[string]any{"exp": now - 61}), strict, "nonce-1", "token expired"},
		{"expired within leeway", signed(map[string]any{"exp": now - 59}), strict, "nonce-1", ""},
		{"exp missing", signed(map[string]any{"exp": nil}), strict, "nonce-1", "exp claim missing"},
		{"exp not a number", signed(map[string]any{"exp": fmt.Sprint(now + 100)}), strict, "nonce-1", "exp claim missing or not a number"},
		{"iat in the future", signed(map[string]any{"iat": now + 120}), strict, "nonce-1", "issued in the future"},
		{"iat slightly ahead (clock skew)", signed(map[string]any{"iat": now + 30}), strict, "nonce-1", ""},
		{"iat missing", signed(map[string]any{"iat": nil}), strict, "nonce-1", "iat claim missing"},
		{"nbf in the future", signed(map[string]any{"nbf": now + 120}), strict, "nonce-1", "not valid before"},
		{"nbf in the past", signed(map[string]any{"nbf": now - 10}), strict, "nonce-1", ""},
		{"nbf not a number", signed(map[string]any{"nbf": "soon"}), strict, "nonce-1", "nbf claim is not a number"},
		{"sub missing", signed(map[string]any{"sub": nil}), strict, "nonce-1", "sub claim missing"},
		{"sub empty", signed(map[string]any{"sub": ""}), strict, "nonce-1", "sub claim missing"},
		{"nonce missing", signed(map[string]any{"nonce": nil}), strict, "nonce-1", "nonce mismatch"},
		{"nonce wrong", signed(nil), strict, "nonce-2", "nonce mismatch"},
		{"no nonce expected (refresh)", signed(map[string]any{"nonce": nil}), strict, "", ""},
		{"two parts", func() string { return rawJWT(t, map[string]any{"alg": "RS256"}, with(nil)) }, strict, "", "malformed"},
		{"header not JSON", func() string { return "bm90IGpzb24." + strings.SplitN(f.mint(with(nil)), ".", 2)[1] }, strict, "", "header"},
		{"crit header (RFC 7515 4.1.11)", withHeader(map[string]any{"crit": []string{"exp"}, "exp": 1}), strict, "nonce-1", "crit"},
		{"typ at+jwt (an access token)", withHeader(map[string]any{"typ": "at+jwt"}), strict, "nonce-1", "access token's"},
		{"typ application/AT+JWT", withHeader(map[string]any{"typ": "application/AT+JWT"}), strict, "nonce-1", "access token's"},
		{"typ JWT", withHeader(map[string]any{"typ": "JWT"}), strict, "nonce-1", ""},
		{"kid not a string", withHeader(map[string]any{"kid": 7}), strict, "nonce-1", "kid is not a string"},
		{"max_age: auth_time recent", signed(map[string]any{"auth_time": now - 300}), &recent, "nonce-1", ""},
		{"max_age: auth_time too old", signed(map[string]any{"auth_time": now - 661}), &recent, "nonce-1", "authentication too old"},
		{"max_age: auth_time missing", signed(nil), &recent, "nonce-1", "auth_time claim missing"},
		{"no max_age: old auth_time", signed(map[string]any{"auth_time": now - 86400}), strict, "nonce-1", ""},
		{"auth_time not a number", signed(map[string]any{"auth_time": "yesterday"}), strict, "nonce-1", "auth_time claim missing or not a number"},
		{"iss with a trailing slash added", signed(map[string]any{"iss": f.issuer + "/"}), strict, "nonce-1", "issuer mismatch"},
		{"too large", signed(map[string]any{"pad": strings.Repeat("x", maxTokenSize)}), strict, "nonce-1", "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := tc.v.verify(context.Background(), tc.token(), tc.nonce)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				if claims["sub"] != testSub {
					t.Errorf("claims %v", claims)
				}
				return
			}
			if err == nil {
				t.Fatalf("verify accepted the token, want error containing %q", tc.want)
			}
			mustContain(t, "error", err.Error(), tc.want)
			if errors.Is(err, errProviderUnavailable) {
				t.Errorf("a bad token is reported as provider unavailable: %v", err)
			}
		})
	}
}
