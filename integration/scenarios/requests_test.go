package scenarios

import (
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestUpstreamCredentials: the upstream never sees the plugin's cookies, and sees an Authorization header only when
// the plugin verified it (bearer path) or set it (forwardAccessToken), or with keepAuthorizationHeader the client's.
func TestUpstreamCredentials(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		web := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"forwardAccessToken": "true"}))
		at := strings.TrimPrefix(web.browser().mustLogin("/").Headers["Authorization"], "Bearer ")
		if at == "" {
			t.Fatal("no access token to test with")
		}

		// Bearer path: a browser that also holds a session sends both.
		api := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"allowBearerTokens": "true"}))
		b := api.browser()
		b.mustLogin("/")
		b.SetCookie("theme", "dark")
		er := b.Echo("/api", map[string]string{"Authorization": "Bearer " + at})
		if er.Headers["Cookie"] != "theme=dark" || er.Headers["Authorization"] != "Bearer "+at || er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
			t.Errorf("bearer path: upstream Cookie %.40q Authorization %.20q user %q, want theme=dark, the verified token, the user",
				er.Headers["Cookie"], er.Headers["Authorization"], er.Headers["X-Forwarded-User"])
		}

		// Session path without forwardAccessToken: the client's own Authorization header is not forwarded unverified.
		plain := newEnv(t, tg, idp, baseConfig(idp))
		pb := plain.browser()
		pb.mustLogin("/")
		for _, forged := range []string{"Bearer forged", "Basic YWRtaW46YWRtaW4="} {
			if got := pb.Echo("/", map[string]string{"Authorization": forged}).Headers["Authorization"]; got != "" {
				t.Errorf("session path: client Authorization %q reached upstream as %q", forged, got)
			}
		}

		// keepAuthorizationHeader: for upstreams that read the client's own header.
		keep := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"keepAuthorizationHeader": "true"}))
		kb := keep.browser()
		kb.mustLogin("/")
		if got := kb.Echo("/", map[string]string{"Authorization": "Basic dXNlcjpwdw=="}).Headers["Authorization"]; got != "Basic dXNlcjpwdw==" {
			t.Errorf("keepAuthorizationHeader: upstream Authorization %q", got)
		}
	})
}
