package scenarios

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestLoginEntryForSPA: an API call without a session gets 401 whose body names the login entry; a single-page app
// sends the browser there with its own return path, the login happens, and the browser lands on that path. A return
// URL to another site is refused (back to "/").
func TestLoginEntryForSPA(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		e := newEnv(t, tg, idp, baseConfig(idp))
		b := e.browser()
		r := b.do(http.MethodGet, "/api/items?page=2", map[string]string{"Accept": "application/json"})
		var body map[string]string
		if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.status != http.StatusUnauthorized {
			t.Fatalf("API call: status %d body %q, want 401 JSON", r.status, r.body)
		}
		want := e.srv.URL + "/oauth2/login?rd=" + url.QueryEscape("/api/items?page=2")
		if body["login_url"] != want {
			t.Fatalf("login_url %q, want %q", body["login_url"], want)
		}
		entry := e.srv.URL + "/oauth2/login?rd=" + url.QueryEscape("/app/#/inbox?x=1")
		cb := b.get(b.authenticate(b.startLogin(entry)))
		if cb.status != http.StatusFound || cb.location() != "/app/#/inbox?x=1" {
			// an SPA's client-side route (the fragment) survives the login
			t.Fatalf("callback: %d to %q, want 302 to /app/#/inbox?x=1", cb.status, cb.location())
		}
		if er := b.echo("/app/", nil); er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
			t.Fatalf("upstream user %q after the login entry", er.Headers["X-Forwarded-User"])
		}
		evil := e.browser()
		cb = evil.get(evil.authenticate(evil.startLogin("/oauth2/login?rd=" + url.QueryEscape("https://evil.example/x"))))
		if cb.status != http.StatusFound || cb.location() != "/" {
			t.Fatalf("foreign rd: callback %d to %q, want 302 to /", cb.status, cb.location())
		}
	})
}

// TestPreflightPassesWhenAllowed: a CORS preflight reaches upstream without a session only with allowPreflight, and
// then without the plugin's cookie or identity headers; a plain OPTIONS still needs a session.
func TestPreflightPassesWhenAllowed(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		pre := map[string]string{
			"Origin": "https://spa.example", "Access-Control-Request-Method": "PUT", "X-Forwarded-User": "mallory",
			"Cookie": "_descopeoidc=forged; theme=dark",
		}
		off := newEnv(t, tg, idp, baseConfig(idp))
		if r := off.browser().do(http.MethodOptions, "/api", pre); r.status == http.StatusOK || off.upstream.Load() != 0 {
			t.Fatalf("allowPreflight off: status %d, upstream %d, want no upstream call", r.status, off.upstream.Load())
		}
		on := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"allowPreflight": "true"}))
		b := on.browser()
		r := b.do(http.MethodOptions, "/api", pre)
		if r.status != http.StatusOK || on.upstream.Load() != 1 {
			t.Fatalf("preflight: status %d upstream %d, want 200 from upstream", r.status, on.upstream.Load())
		}
		if strings.Contains(r.body, "mallory") || strings.Contains(r.body, "forged") || !strings.Contains(r.body, "theme=dark") {
			t.Errorf("upstream saw %q: want theme=dark, no forged identity or session", r.body)
		}
		if r := b.do(http.MethodOptions, "/api", map[string]string{"Accept": "application/json"}); r.status != http.StatusUnauthorized {
			t.Errorf("OPTIONS without Origin: status %d, want 401", r.status)
		}
	})
}
