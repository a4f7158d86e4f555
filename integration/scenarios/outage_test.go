package scenarios

import (
	"net/http"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestIssuerMismatchPage: a configured issuer that differs from the one discovery publishes (here by a trailing
// slash) is a configuration that cannot work. A browser gets the plugin's "Sign-in service unavailable" page (503,
// Retry-After, a link back to the page it asked for), not raw JSON and not the configuration's details; an API-style
// request with unauthenticated: redirect gets JSON. Under Traefik's Yaegi loader and compiled.
func TestIssuerMismatchPage(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		cfg := merge(baseConfig(idp), map[string]any{"issuer": idp.Issuer() + "/", "unauthenticated": "redirect"})
		b := newEnv(t, tg, idp, cfg).browser()
		for i := 0; i < 3; i++ { // the first fetch, then answers during its backoff
			r := b.Do(http.MethodGet, "/app/page?x=1", map[string]string{"Accept": "text/html", "Sec-Fetch-Mode": "navigate"})
			if r.Status != http.StatusServiceUnavailable || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") ||
				r.Header.Get("Retry-After") == "" {
				t.Fatalf("navigation %d: %d %q Retry-After %q, want the plugin's 503 page (body %q)", i, r.Status,
					r.Header.Get("Content-Type"), r.Header.Get("Retry-After"), r.Body)
			}
			if !strings.Contains(r.Body, "Sign-in service unavailable") || !strings.Contains(r.Body, `href="/app/page?x=1"`) {
				t.Errorf("navigation %d: page %q, want its title and a link back to /app/page?x=1", i, r.Body)
			}
			if strings.Contains(r.Body, idp.Issuer()) || strings.Contains(r.Body, "issuer") {
				t.Errorf("navigation %d: the page shows configuration details: %q", i, r.Body)
			}
		}
		r := b.Do(http.MethodGet, "/api", map[string]string{"Accept": "application/json"})
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("API request: %d %q %q, want 503 JSON", r.Status, r.Header.Get("Content-Type"), r.Body)
		}
	})
}
