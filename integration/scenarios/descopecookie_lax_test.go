package scenarios

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestDescopeCookieCrossSitePost (issue 18 item 9), under Yaegi and compiled: a cross-site POST that carries only the
// DS cookie (a project that made DS SameSite=None) does not reach the upstream as the user; the same POST from this
// origin, and a cross-site GET navigation, do.
func TestDescopeCookieCrossSitePost(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		cfg := merge(baseConfig(idp), map[string]any{"descopeSessionCookie": "DS", "acceptedIssuers": devidp.DefaultProjectID})
		e := newEnv(t, tg, idp, cfg)
		ds, err := idp.SessionJWT(devidp.DemoSubject, 5*time.Minute, false)
		if err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		b.SetCookie("DS", ds)
		cases := []struct {
			method  string
			headers map[string]string
			served  bool
		}{
			{http.MethodPost, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, false},
			{http.MethodDelete, map[string]string{"Origin": "https://evil.example", "Accept": "application/json"}, false},
			{http.MethodPost, map[string]string{"Origin": strings.TrimSuffix(e.srv.URL, "/"), "Sec-Fetch-Site": "same-origin"}, true},
			{http.MethodGet, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, true},
		}
		for _, tc := range cases {
			before := e.upstream.Load()
			r := b.Do(tc.method, "/app", tc.headers)
			if served := e.upstream.Load() == before+1; served != tc.served {
				t.Errorf("%s %v: status %d, served %v; want %v", tc.method, tc.headers, r.Status, served, tc.served)
			}
		}
	})
}
