package adversarial

import (
	"net/http"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestExcludedPathEscapes (issue 18 item 1): an excluded prefix is no way around the login for other routes of an
// upstream that drops ';' segment parameters (Tomcat, Jetty, Spring: /public/..;/admin serves /admin) or reads '\'
// as '/': literal, percent-encoded in either case, with parameters, repeated. Each goes to the login, never
// upstream; a ';' parameter on an ordinary segment under the prefix still passes.
func TestExcludedPathEscapes(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		h, up := build(t, tg, baseConfig(idp, map[string]any{"excludedPaths": []string{"/public", "/assets/"}}))
		api := http.Header{"Accept": {"application/json"}}
		for _, uri := range []string{
			"/public/..;/admin", "/public/..;jsessionid=0A1B/admin", "/public/..%3B/admin", "/public/..%3b/admin",
			"/public/%2e%2e%3Bx=1/admin", "/public/..;a;b/..;/admin", "/public/.;/..;/admin", "/public/;/../admin",
			`/public/..\admin`, "/public/..%5Cadmin", "/public/..%5cadmin", "/assets/..;/admin", "/assets/..%5C..%5Cadmin",
		} {
			resp := serve(t, h, appRequest(http.MethodGet, uri, api))
			if resp.Status != http.StatusUnauthorized || up.count() != 0 {
				t.Errorf("GET %s: %s, upstream calls %d; want 401 and none", uri, resp, up.count())
			}
		}
		resp := serve(t, h, appRequest(http.MethodGet, "/public/site.js;v=2", api))
		if resp.Status != http.StatusOK || up.count() != 1 || up.lastURI() != "/public/site.js;v=2" {
			t.Errorf("GET /public/site.js;v=2: %s, upstream calls %d (%q); want it passed", resp, up.count(), up.lastURI())
		}
	})
}
