package descopeoidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func TestVerifyEachAlgorithm(t *testing.T) {
	f := newFakeIdP(t)
	algs := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}
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
			claims, err := m.idTokens.verify(context.Background(), tok, "n1")
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
			if _, err := m.idTokens.verify(context.Background(), bad, "n1"); err == nil || !strings.Contains(err.Error(), "bad signature") {
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

func TestVerifyAlgorithmMustBeAdvertised(t *testing.T) {
	f := newFakeIdP(t)
	es := newTestKey(t, "ES256", "ec", 0)
	f.set(func(f *fakeIdP) {
		f.keys = append(f.keys, es)
		f.algs = []string{"RS256"}
	})
	m, _ := newMW(t, f, f.config())
	if _, err := m.idTokens.verify(context.Background(), f.mint(f.idClaims("")), ""); err != nil {
		t.Fatalf("RS256 (advertised): %v", err)
	}
	_, err := m.idTokens.verify(context.Background(), signJWT(t, es, nil, f.idClaims("")), "")
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
	if _, err := m2.idTokens.verify(context.Background(), g.mint(g.idClaims("")), ""); err != nil {
		t.Fatalf("RS256 by default: %v", err)
	}
	if _, err := m2.idTokens.verify(context.Background(), signJWT(t, es, nil, g.idClaims("")), ""); err == nil {
		t.Error("ES256 accepted although discovery lists no algorithms")
	}
}

func TestVerifyUnknownKidRefetchesOnceAndPicksUpRotation(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	ctx := context.Background()
	if _, err := m.idTokens.verify(ctx, f.mint(f.idClaims("")), ""); err != nil {
		t.Fatal(err)
	}
	if n := f.jwksHits.Load(); n != 1 {
		t.Fatalf("JWKS hits = %d, want 1", n)
	}

	// The provider rotates to k2: a token with the new kid triggers exactly one refetch.
	k2 := newTestKey(t, "ES256", "k2", 0)
	f.set(func(f *fakeIdP) { f.keys, f.signer = append(f.keys, k2), k2 })
	if _, err := m.idTokens.verify(ctx, f.mint(f.idClaims("")), ""); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if n := f.jwksHits.Load(); n != 2 {
		t.Fatalf("JWKS hits after rotation = %d, want 2", n)
	}
	// Known kids need no further fetch.
	for i := 0; i < 5; i++ {
		if _, err := m.idTokens.verify(ctx, f.mint(f.idClaims("")), ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.jwksHits.Load(); n != 2 {
		t.Errorf("JWKS hits for known kids = %d, want 2", n)
	}
	// A kid the provider does not have: one refetch (once the refetch interval has passed), then failure.
	f.clock.Advance(refetchInterval)
	_, err := m.idTokens.verify(ctx, signJWT(t, k2, map[string]any{"kid": "k3"}, f.idClaims("")), "")
	if err == nil || !strings.Contains(err.Error(), "after refetching") {
		t.Errorf("unknown kid: err = %v", err)
	}
	if n := f.jwksHits.Load(); n != 3 {
		t.Errorf("JWKS hits after an unknown kid = %d, want 3", n)
	}
}

// Issue 10 item 12: a flood of made-up kids costs one JWKS refetch per refetchInterval, and a key the provider really
// publishes during the flood is accepted within refetchInterval.
func TestVerifyKidFloodCannotBlockARealRotation(t *testing.T) {
	for _, concurrent := range []bool{false, true} {
		t.Run(fmt.Sprintf("concurrent=%v", concurrent), func(t *testing.T) {
			f := newFakeIdP(t)
			m, _ := newMW(t, f, f.config())
			ctx := context.Background()
			if _, err := m.idTokens.verify(ctx, f.mint(f.idClaims("")), ""); err != nil {
				t.Fatal(err)
			}
			flood := func(n int) {
				var wg sync.WaitGroup
				for i := 0; i < n; i++ {
					tok := signJWT(t, f.signer, map[string]any{"kid": fmt.Sprintf("random-%d-%d", time.Now().UnixNano(), i)}, f.idClaims(""))
					run := func() {
						if _, err := m.idTokens.verify(ctx, tok, ""); err == nil {
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
			// One minute of flood, 50 junk tokens a second: one refetch per interval at most.
			k2 := newTestKey(t, "ES256", "k2", 0)
			var rotatedAt time.Time
			for sec := 0; sec < 60; sec++ {
				flood(50)
				if sec == 30 {
					f.set(func(f *fakeIdP) { f.keys = append(f.keys, k2) })
					rotatedAt = f.clock.Now()
				}
				if sec > 30 && rotatedAt.After(time.Time{}) {
					if _, err := m.idTokens.verify(ctx, signJWT(t, k2, nil, f.idClaims("")), ""); err == nil {
						if d := f.clock.Now().Sub(rotatedAt); d > refetchInterval+time.Second {
							t.Errorf("rotated key accepted only %s after it was published", d)
						}
						rotatedAt = time.Time{}
					}
				}
				f.clock.Advance(time.Second)
			}
			if rotatedAt.After(time.Time{}) {
				t.Error("the rotated key was never accepted during the flood")
			}
			maxFetches := int64(60/refetchInterval.Seconds()) + 2
			if n := f.jwksHits.Load() - 1; n < 1 || n > maxFetches {
				t.Errorf("3000 random kids in 60s cost %d JWKS fetches, want 1..%d", n, maxFetches)
			}
			// Valid tokens keep working during the flood, from the cached keys.
			if _, err := m.idTokens.verify(ctx, f.mint(f.idClaims("")), ""); err != nil {
				t.Errorf("valid token during a flood: %v", err)
			}
		})
	}
}

func TestVerifyTokenWithoutKid(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	noKid := map[string]any{"kid": nil}
	if _, err := m.idTokens.verify(context.Background(), signJWT(t, f.signer, noKid, f.idClaims("")), ""); err != nil {
		t.Fatalf("single key, no kid: %v", err)
	}

	g := newFakeIdP(t)
	g.set(func(f *fakeIdP) { f.keys = append(f.keys, newTestKey(t, "RS256", "k2", 1)) })
	m2, _ := newMW(t, g, g.config())
	if _, err := m2.idTokens.verify(context.Background(), signJWT(t, g.signer, noKid, g.idClaims("")), ""); err == nil {
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
	_, err := m.idTokens.verify(context.Background(), f.mint(f.idClaims("")), "")
	if !errors.Is(err, errProviderUnavailable) {
		t.Errorf("JWKS down: err = %v, want errProviderUnavailable", err)
	}
}

// A crafted token's values are cut in errors: an issuer of 3 KB must not make a 3 KB log line (found by FuzzVerifyJWT).
func TestErrorsCutTokenValues(t *testing.T) {
	long := strings.Repeat("é", 2000)
	err := checkIssuer(map[string]any{"iss": long}, []string{"https://idp.example"})
	if err == nil || len(err.Error()) > 2*maxShown+100 || !strings.Contains(err.Error(), `got "`) {
		t.Fatalf("error %d bytes: %.200v", len(err.Error()), err)
	}
	if got := shownList([]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}); got != `["a" "b" "c" "d" "e" "f" "g" "h" …]` {
		t.Errorf("shownList = %s", got)
	}
	if s := shown(long); !utf8.ValidString(s) {
		t.Errorf("shown split a UTF-8 sequence: %q", s)
	}
}
