package descopeoidc

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestVerifyEachAlgorithm(t *testing.T) {
	f := newFakeIdP(t)
	algs := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	keys := map[string]*testKey{}
	var published []*testKey
	for i, alg := range algs {
		k := newTestKey(t, alg, "k-"+alg, i%2)
		keys[alg] = k
		published = append(published, k)
	}
	f.set(func(f *fakeIdP) { f.keys = published })
	m, _ := newMW(t, f, f.config())
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			tok := signJWT(t, keys[alg], nil, f.idClaims("n1"))
			claims, err := m.verify(context.Background(), tok, m.idTokenOpts("n1"))
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if claims["sub"] != testSub {
				t.Errorf("sub = %v", claims["sub"])
			}
			// The same token with its signature corrupted must fail.
			parts := strings.Split(tok, ".")
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			sig[len(sig)/2] ^= 0x55
			bad := parts[0] + "." + parts[1] + "." + b64u(sig)
			if _, err := m.verify(context.Background(), bad, m.idTokenOpts("n1")); err == nil || !strings.Contains(err.Error(), "bad signature") {
				t.Errorf("corrupted signature: err = %v", err)
			}
		})
	}
	if n := f.jwksHits.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times for one key set", n)
	}
}

// rawJWT encodes header and claims without a real signature algorithm (alg none, HMAC confusion).
func rawJWT(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	return b64u(hb) + "." + b64u(cb)
}

func TestVerifyClaimsAndAlgorithms(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.algs = append(f.algs, "HS256", "none") }) // advertised or not, never accepted
	otherKey := newTestKey(t, "RS256", "k1", 1)                          // same kid, different key
	strictMW, _ := newMW(t, f, f.config())
	lax := f.config()
	lax.RequireAZP = false
	laxMW, _ := newMW(t, f, lax)
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
	cases := []struct {
		name  string
		token func() string
		lax   bool // requireAZP: false
		nonce string
		want  string // error substring; empty = valid
	}{
		{"valid", signed(nil), false, "nonce-1", ""},
		{"alg none", func() string {
			return rawJWT(t, map[string]any{"alg": "none", "kid": "k1"}, with(nil)) + "."
		}, false, "nonce-1", `algorithm "none" not allowed`},
		{"HS256 keyed with the RSA public key (algorithm confusion)", func() string {
			der, _ := x509.MarshalPKIXPublicKey(f.signer.pub)
			pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			return signJWT(t, &testKey{kid: "k1", alg: "HS256", priv: pubPEM}, nil, with(nil))
		}, false, "nonce-1", `algorithm "HS256" not allowed`},
		{"signed by another key with the same kid", func() string {
			return signJWT(t, otherKey, nil, with(nil))
		}, false, "nonce-1", "bad signature"},
		{"header alg swapped to PS256", func() string {
			return signJWT(t, f.signer, map[string]any{"alg": "PS256"}, with(nil))
		}, false, "nonce-1", "no key for kid"},
		{"wrong iss", signed(map[string]any{"iss": "https://evil.example"}), false, "nonce-1", "issuer mismatch"},
		{"iss missing", signed(map[string]any{"iss": nil}), false, "nonce-1", "issuer mismatch"},
		{"aud without the client", signed(map[string]any{"aud": "someone-else"}), false, "nonce-1", "audience mismatch"},
		{"aud missing", signed(map[string]any{"aud": nil}), false, "nonce-1", "aud claim is missing"},
		{"aud list with the client and azp", signed(map[string]any{"aud": []string{"api", testClientID}}), false, "nonce-1", ""},
		{"aud list without the client", signed(map[string]any{"aud": []string{"api", "other"}}), false, "nonce-1", "audience mismatch"},
		{"aud list of non-strings", signed(map[string]any{"aud": []any{testClientID, 5}}), false, "nonce-1", "aud claim is missing or not"},
		{"several audiences without azp", signed(map[string]any{"aud": []string{"api", testClientID}, "azp": nil}), true, "nonce-1", "several audiences"},
		{"azp missing, requireAZP true", signed(map[string]any{"azp": nil}), false, "nonce-1", "JWT template"},
		{"azp missing, requireAZP false", signed(map[string]any{"azp": nil}), true, "nonce-1", ""},
		{"wrong azp", signed(map[string]any{"azp": "other-client"}), false, "nonce-1", "azp mismatch"},
		{"wrong azp, requireAZP false", signed(map[string]any{"azp": "other-client"}), true, "nonce-1", "azp mismatch"},
		{"expired beyond leeway", signed(map[string]any{"exp": now - 61}), false, "nonce-1", "token expired"},
		{"expired within leeway", signed(map[string]any{"exp": now - 59}), false, "nonce-1", ""},
		{"exp missing", signed(map[string]any{"exp": nil}), false, "nonce-1", "exp claim missing"},
		{"exp not a number", signed(map[string]any{"exp": fmt.Sprint(now + 100)}), false, "nonce-1", "exp claim missing or not a number"},
		{"iat in the future", signed(map[string]any{"iat": now + 120}), false, "nonce-1", "issued in the future"},
		{"iat slightly ahead (clock skew)", signed(map[string]any{"iat": now + 30}), false, "nonce-1", ""},
		{"iat missing", signed(map[string]any{"iat": nil}), false, "nonce-1", "iat claim missing"},
		{"nbf in the future", signed(map[string]any{"nbf": now + 120}), false, "nonce-1", "not valid before"},
		{"nbf in the past", signed(map[string]any{"nbf": now - 10}), false, "nonce-1", ""},
		{"nbf not a number", signed(map[string]any{"nbf": "soon"}), false, "nonce-1", "nbf claim is not a number"},
		{"sub missing", signed(map[string]any{"sub": nil}), false, "nonce-1", "sub claim missing"},
		{"sub empty", signed(map[string]any{"sub": ""}), false, "nonce-1", "sub claim missing"},
		{"nonce missing", signed(map[string]any{"nonce": nil}), false, "nonce-1", "nonce mismatch"},
		{"nonce wrong", signed(nil), false, "nonce-2", "nonce mismatch"},
		{"no nonce expected (refresh)", signed(map[string]any{"nonce": nil}), false, "", ""},
		{"two parts", func() string { return rawJWT(t, map[string]any{"alg": "RS256"}, with(nil)) }, false, "", "malformed"},
		{"header not JSON", func() string { return "bm90IGpzb24." + strings.SplitN(f.mint(with(nil)), ".", 2)[1] }, false, "", "header"},
		{"too large", signed(map[string]any{"pad": strings.Repeat("x", maxTokenSize)}), false, "nonce-1", "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := strictMW
			if tc.lax {
				m = laxMW
			}
			claims, err := m.verify(context.Background(), tc.token(), m.idTokenOpts(tc.nonce))
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

func TestVerifyAlgorithmMustBeAdvertised(t *testing.T) {
	f := newFakeIdP(t)
	es := newTestKey(t, "ES256", "ec", 0)
	f.set(func(f *fakeIdP) {
		f.keys = append(f.keys, es)
		f.algs = []string{"RS256"}
	})
	m, _ := newMW(t, f, f.config())
	if _, err := m.verify(context.Background(), f.mint(f.idClaims("")), m.idTokenOpts("")); err != nil {
		t.Fatalf("RS256 (advertised): %v", err)
	}
	_, err := m.verify(context.Background(), signJWT(t, es, nil, f.idClaims("")), m.idTokenOpts(""))
	if err == nil || !strings.Contains(err.Error(), `algorithm "ES256" not allowed`) {
		t.Errorf("ES256 (not advertised): err = %v", err)
	}

	// Without the discovery field, only RS256 is accepted (OpenID Connect Discovery default).
	g := newFakeIdP(t)
	g.set(func(f *fakeIdP) {
		f.keys = append(f.keys, es)
		f.algs = nil
	})
	m2, _ := newMW(t, g, g.config())
	if _, err := m2.verify(context.Background(), g.mint(g.idClaims("")), m2.idTokenOpts("")); err != nil {
		t.Fatalf("RS256 by default: %v", err)
	}
	if _, err := m2.verify(context.Background(), signJWT(t, es, nil, g.idClaims("")), m2.idTokenOpts("")); err == nil {
		t.Error("ES256 accepted although discovery lists no algorithms")
	}
}

func TestVerifyUnknownKidRefetchesOnceAndPicksUpRotation(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	ctx := context.Background()
	if _, err := m.verify(ctx, f.mint(f.idClaims("")), m.idTokenOpts("")); err != nil {
		t.Fatal(err)
	}
	if n := f.jwksHits.Load(); n != 1 {
		t.Fatalf("JWKS hits = %d, want 1", n)
	}

	// The provider rotates to k2: a token with the new kid triggers exactly one refetch.
	k2 := newTestKey(t, "ES256", "k2", 0)
	f.set(func(f *fakeIdP) { f.keys, f.signer = append(f.keys, k2), k2 })
	if _, err := m.verify(ctx, f.mint(f.idClaims("")), m.idTokenOpts("")); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if n := f.jwksHits.Load(); n != 2 {
		t.Fatalf("JWKS hits after rotation = %d, want 2", n)
	}
	// Known kids need no further fetch.
	for i := 0; i < 5; i++ {
		if _, err := m.verify(ctx, f.mint(f.idClaims("")), m.idTokenOpts("")); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.jwksHits.Load(); n != 2 {
		t.Errorf("JWKS hits for known kids = %d, want 2", n)
	}
	// A kid the provider does not have: one refetch, then failure.
	_, err := m.verify(ctx, signJWT(t, k2, map[string]any{"kid": "k3"}, f.idClaims("")), m.idTokenOpts(""))
	if err == nil || !strings.Contains(err.Error(), "after refetching") {
		t.Errorf("unknown kid: err = %v", err)
	}
	if n := f.jwksHits.Load(); n != 3 {
		t.Errorf("JWKS hits after an unknown kid = %d, want 3", n)
	}
}

func TestVerifyKidFloodIsRateLimited(t *testing.T) {
	for _, concurrent := range []bool{false, true} {
		t.Run(fmt.Sprintf("concurrent=%v", concurrent), func(t *testing.T) {
			f := newFakeIdP(t)
			m, _ := newMW(t, f, f.config())
			ctx := context.Background()
			if _, err := m.verify(ctx, f.mint(f.idClaims("")), m.idTokenOpts("")); err != nil {
				t.Fatal(err)
			}
			flood := func(n int) {
				var wg sync.WaitGroup
				for i := 0; i < n; i++ {
					tok := signJWT(t, f.signer, map[string]any{"kid": fmt.Sprintf("random-%d-%d", time.Now().UnixNano(), i)}, f.idClaims(""))
					run := func() {
						if _, err := m.verify(ctx, tok, m.idTokenOpts("")); err == nil {
							t.Error("token with a random kid accepted")
						}
					}
					if concurrent {
						wg.Add(1)
						go func() { defer wg.Done(); run() }()
					} else {
						run()
					}
				}
				wg.Wait()
			}
			flood(50)
			extra := f.jwksHits.Load() - 1
			if extra < 1 || extra > refetchBurst {
				t.Fatalf("50 random kids cost %d JWKS fetches, want 1..%d", extra, refetchBurst)
			}
			if !concurrent && extra != refetchBurst {
				t.Errorf("sequential flood: %d refetches, want exactly the burst %d", extra, refetchBurst)
			}
			// Valid tokens keep working during the flood, from the cached keys.
			if _, err := m.verify(ctx, f.mint(f.idClaims("")), m.idTokenOpts("")); err != nil {
				t.Errorf("valid token during a flood: %v", err)
			}
			// Tokens refill with time: one more refetch after refetchEvery, no more.
			f.clock.Advance(refetchEvery)
			before := f.jwksHits.Load()
			flood(10)
			if d := f.jwksHits.Load() - before; d != 1 {
				t.Errorf("after %v: %d refetches, want 1", refetchEvery, d)
			}
		})
	}
}

func TestVerifyTokenWithoutKid(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	noKid := map[string]any{"kid": nil}
	if _, err := m.verify(context.Background(), signJWT(t, f.signer, noKid, f.idClaims("")), m.idTokenOpts("")); err != nil {
		t.Fatalf("single key, no kid: %v", err)
	}

	g := newFakeIdP(t)
	g.set(func(f *fakeIdP) { f.keys = append(f.keys, newTestKey(t, "RS256", "k2", 1)) })
	m2, _ := newMW(t, g, g.config())
	if _, err := m2.verify(context.Background(), signJWT(t, g.signer, noKid, g.idClaims("")), m2.idTokenOpts("")); err == nil {
		t.Fatal("no kid accepted although the set has several keys")
	}
	if n := g.jwksHits.Load(); n != 1 {
		t.Errorf("a token without kid triggered a refetch: %d JWKS fetches", n)
	}
}

// When the JWKS cannot be fetched the error must say so (503 and a retry), not look like a bad token (401).
func TestVerifyReportsProviderUnavailable(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	if _, err := m.p.metadata(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeIdP) { f.jwksStatus = 500 })
	_, err := m.verify(context.Background(), f.mint(f.idClaims("")), m.idTokenOpts(""))
	if !errors.Is(err, errProviderUnavailable) {
		t.Errorf("JWKS down: err = %v, want errProviderUnavailable", err)
	}
}
