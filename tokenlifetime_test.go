package descopeoidc

import (
	"testing"
	"time"
)

func TestRefreshExpiryOrder(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	n := now.Unix()
	f := newFakeIdP(t)
	jwt := f.mint(map[string]any{"exp": n + 2400})
	cases := []struct {
		name string
		tr   tokenResponse
		id   map[string]any
		prev int64
		want int64
	}{
		{"expires_in wins", tokenResponse{AccessToken: jwt, ExpiresIn: 60}, map[string]any{"exp": float64(n + 90)}, 1200, n + 60},
		{"then the ID token's exp", tokenResponse{AccessToken: jwt}, map[string]any{"exp": float64(n + 90)}, 1200, n + 90},
		{"then the JWT access token's exp", tokenResponse{AccessToken: jwt}, map[string]any{}, 1200, n + 2400},
		{"then the previous lifetime", tokenResponse{AccessToken: "opaque"}, map[string]any{}, 1200, n + 1200},
		{"an expired JWT's exp is no lifetime", tokenResponse{AccessToken: f.mint(map[string]any{"exp": n - 5})}, nil, 1200, n + 1200},
		{"nothing known: 5 minutes", tokenResponse{AccessToken: "opaque"}, nil, 0, n + 300},
	}
	for _, tc := range cases {
		tr := tc.tr
		if got := refreshExpiry(&tr, tc.id, now, tc.prev); got != tc.want {
			t.Errorf("%s: %d, want now%+d", tc.name, got-n, tc.want-n)
		}
	}
}
