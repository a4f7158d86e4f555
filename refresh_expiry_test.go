package descopeoidc

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Issue 18 item 15: a refresh answer with neither expires_in nor a new ID token says nothing about the new tokens'
// lifetime: the plugin takes the access token's own exp when it is a JWT, else the lifetime the tokens had before
// (not a fixed 5 minutes, which refreshed hour-long tokens every few minutes).

// bareRefresh makes the fake answer refresh grants with access_token (and the same refresh token) only.
func bareRefresh(accessToken func(f *fakeIdP) string) func(f *fakeIdP) {
	return func(f *fakeIdP) {
		f.tokenHook = func(w http.ResponseWriter, _ *http.Request, form url.Values) bool {
			if form.Get("grant_type") != "refresh_token" {
				return false
			}
			writeJSON(w, http.StatusOK, map[string]any{"access_token": accessToken(f), "token_type": "Bearer",
				"refresh_token": form.Get("refresh_token")})
			return true
		}
	}
}

func TestRefreshWithoutLifetime(t *testing.T) {
	cases := []struct {
		name  string
		token func(f *fakeIdP) string
		quiet time.Duration // after the refresh, no new refresh within this long
	}{
		{"opaque access token: the previous lifetime (1200 s)", func(*fakeIdP) string { return "opaque-at" }, 10 * time.Minute},
		{"JWT access token: its exp (2400 s)", func(f *fakeIdP) string {
			now := f.clock.Now().Unix()
			return signJWT(f.t, f.signer, nil, map[string]any{"iss": f.issuer, "sub": f.sub, "iat": now, "exp": now + 2400})
		}, 25 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIdP(t)
			f.set(func(f *fakeIdP) { f.expiresIn = 1200 })
			m, up := newMW(t, f, f.config())
			b := newBrowser(t, m)
			b.login("/")
			f.set(bareRefresh(tc.token))
			f.clock.Advance(1300 * time.Second) // expired: this request waits for the refresh
			if rec := b.get("/"); rec.Code != http.StatusOK {
				t.Fatalf("refresh: status %d", rec.Code)
			}
			hits := f.tokenHits.Load()
			f.clock.Advance(tc.quiet)
			if rec := b.get("/"); rec.Code != http.StatusOK || up.count() != 2 {
				t.Fatalf("after %s: status %d upstream %d", tc.quiet, rec.Code, up.count())
			}
			if n := f.tokenHits.Load(); n != hits {
				t.Errorf("%s after the refresh: %d more token requests, want none (the tokens were taken for 5-minute ones)", tc.quiet, n-hits)
			}
		})
	}
}
