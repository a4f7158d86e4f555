package adversarial

import (
	"net/http"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestAuthParamsMaxAgeAtSharedCallback (issue 18 item 10): a middleware with authParams max_age starts the login,
// another middleware of the host serves the shared callback, and the provider ignores max_age: the callback still
// refuses an ID token whose auth_time is older than the max_age the login sent (or missing), and accepts a recent one.
func TestAuthParamsMaxAgeAtSharedCallback(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		strict, _ := build(t, tg, baseConfig(idp, map[string]any{"authParams": map[string]any{"max_age": "60"}}))
		plain, _ := build(t, tg, baseConfig(idp, nil))
		for _, tc := range []struct {
			name     string
			authTime any // nil: no auth_time
			want     int
		}{
			{"auth_time an hour old", time.Now().Add(-time.Hour).Unix(), http.StatusUnauthorized},
			{"no auth_time", nil, http.StatusUnauthorized},
			{"auth_time recent", time.Now().Add(-5 * time.Second).Unix(), http.StatusFound},
		} {
			extra := map[string]any{}
			if tc.authTime != nil {
				extra["auth_time"] = tc.authTime
			}
			idp.SetExtraClaims(extra)
			b := newBrowser(t, strict)
			au, err := b.startLogin(idp, "/private")
			if err != nil {
				t.Fatal(err)
			}
			if au.Query().Get("max_age") != "60" {
				t.Fatalf("%s: authorize without max_age=60: %s", tc.name, au)
			}
			cb, err := b.authorize(au)
			if err != nil {
				t.Fatal(err)
			}
			b.h = plain // the host's other middleware owns the callback path
			if resp := b.callback(cb); resp.Status != tc.want || (tc.want != http.StatusFound && resp.sessionSet()) {
				t.Errorf("%s: callback at the other middleware: %s, want %d", tc.name, resp, tc.want)
			}
		}
		idp.SetExtraClaims(nil)
	})
}
