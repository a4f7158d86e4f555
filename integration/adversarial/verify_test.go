package adversarial

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/badidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestEd25519Algorithms: ID tokens signed with an Ed25519 key verify under both names, RFC 9864's "Ed25519" and the
// polymorphic "EdDSA" (the key's JWK says "EdDSA"), under Yaegi and compiled; a corrupted one does not.
func TestEd25519Algorithms(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		for _, mode := range []badidp.Mode{badidp.NormalEd25519, badidp.NormalEdDSA} {
			mode := mode
			t.Run(mode.String(), func(t *testing.T) {
				idp := newIdP(t)
				idp.SetMode(mode)
				h, up := build(t, tg, baseConfig(idp, nil))
				b := newBrowser(t, h)
				b.mustLogin(idp, "/app")
				if resp := b.get("/app"); resp.Status != http.StatusOK || up.lastHeader().Get("X-Forwarded-User") != badidp.DefaultSub {
					t.Fatalf("GET /app after an %s login: %s", mode, resp)
				}
				if n := idp.JWKSFetches(); n != 1 {
					t.Errorf("JWKS fetched %d times, want 1", n)
				}
			})
		}
	})
}

// TestAlgorithmMigration: the provider moves from RS256/ES256 to PS256 with a new key. The next login works without a
// restart (discovery and JWKS are refetched once), not after the discovery cache expires.
func TestAlgorithmMigration(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		h, _ := build(t, tg, baseConfig(idp, nil))
		newBrowser(t, h).mustLogin(idp, "/app") // caches discovery (no PS256) and the JWKS (no PS256 key)
		idp.SetMode(badidp.AlgMigration)
		newBrowser(t, h).mustLogin(idp, "/app")
		if d, j := idp.DiscoveryFetches(), idp.JWKSFetches(); d != 2 || j != 2 {
			t.Errorf("discovery fetched %d times, JWKS %d times; want 2 and 2 (one refetch each)", d, j)
		}
		newBrowser(t, h).mustLogin(idp, "/app")
		if d, j := idp.DiscoveryFetches(), idp.JWKSFetches(); d != 2 || j != 2 {
			t.Errorf("after the migration was picked up: %d discovery and %d JWKS fetches, want no more", d, j)
		}
	})
}

// TestMixUpDefenseRFC9207: the callback's iss parameter must be the issuer when present, and present when discovery
// advertises authorization_response_iss_parameter_supported; otherwise 400 before the code is redeemed.
func TestMixUpDefenseRFC9207(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		for _, c := range []struct {
			mode badidp.Mode
			ok   bool
		}{{badidp.IssParam, true}, {badidp.IssParamWrong, false}, {badidp.IssParamMissing, false}} {
			c := c
			t.Run(c.mode.String(), func(t *testing.T) {
				idp := newIdP(t)
				idp.SetMode(c.mode)
				h, up := build(t, tg, baseConfig(idp, nil))
				b := newBrowser(t, h)
				if c.ok {
					b.mustLogin(idp, "/app")
					return
				}
				resp, cb, err := b.login(idp, "/app")
				if err != nil {
					t.Fatal(err)
				}
				expectRejected(t, resp, up, idp, cb, http.StatusBadRequest)
				if n := idp.TokenRequests(); n != 0 {
					t.Errorf("%d token requests: the code was redeemed despite the iss parameter", n)
				}
			})
		}
	})
}

// loginWithin retries a login until it succeeds or d has passed, and returns how long it took.
func loginWithin(t *testing.T, h http.Handler, idp *badidp.Server, d time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		resp, _, err := newBrowser(t, h).login(idp, "/app")
		if err == nil && resp.Status == http.StatusFound && resp.sessionSet() {
			return time.Since(start), nil
		}
		if time.Since(start) > d {
			return time.Since(start), fmt.Errorf("no login within %s (last: %s, %v)", d, resp, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
