package scenarios

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestLoginFlow: redirect with the full set of parameters, login at the provider, callback, session, upstream
// request with identity headers and without the plugin's cookies, back on the original URL with its query.
func TestLoginFlow(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		cfg := merge(baseConfig(idp), map[string]any{"forwardHeaders": map[string]any{
			"X-Forwarded-User": "sub", "X-Forwarded-Email": "email", "X-Roles": "roles", "X-Tenants": "tenants",
			"X-Tenant-Roles": "tenants." + devidp.DemoTenant + ".roles",
		}})
		e := newEnv(t, tg, idp, cfg)
		b := e.browser()
		authz := b.startLogin("/echo/page?x=1&y=two")
		q := authz.Query()
		want := map[string]string{
			"response_type": "code", "client_id": idp.ClientID(), "redirect_uri": e.srv.URL + "/oauth2/callback",
			"code_challenge_method": "S256",
		}
		for k, v := range want {
			if q.Get(k) != v {
				t.Errorf("authorize %s = %q, want %q", k, q.Get(k), v)
			}
		}
		for _, k := range []string{"state", "nonce", "code_challenge"} {
			if len(q.Get(k)) < 32 {
				t.Errorf("authorize %s = %q: missing or short", k, q.Get(k))
			}
		}
		if !strings.HasPrefix(q.Get("scope"), "openid ") || !strings.Contains(q.Get("scope"), "offline_access") {
			t.Errorf("scope = %q", q.Get("scope"))
		}
		cb := b.Get(b.authenticate(authz))
		if cb.Status != http.StatusFound || cb.Location() != "/echo/page?x=1&y=two" {
			t.Fatalf("callback: %d %q", cb.Status, cb.Location())
		}
		b.SetCookie("theme", "dark")
		er := b.Echo("/echo/page?x=1&y=two", map[string]string{"X-Forwarded-User": "mallory", "X-Roles": "admin"})
		checks := map[string]string{
			"X-Forwarded-User": devidp.DemoSubject, "X-Forwarded-Email": devidp.DemoUsername, "X-Roles": "viewer,editor",
			"X-Tenant-Roles": "admin", "Cookie": "theme=dark",
		}
		for k, v := range checks {
			if er.Headers[k] != v {
				t.Errorf("upstream %s = %q, want %q", k, er.Headers[k], v)
			}
		}
		if !strings.Contains(er.Headers["X-Tenants"], `"`+devidp.DemoTenant+`"`) {
			t.Errorf("upstream X-Tenants = %q, want the tenants object as JSON", er.Headers["X-Tenants"])
		}
		if er.Query != "x=1&y=two" {
			t.Errorf("upstream query %q", er.Query)
		}
	})
}

// TestUnauthenticatedAPIGets401 covers the auto mode: API-style requests get 401, navigations a redirect.
func TestUnauthenticatedAPIGets401(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		e := newEnv(t, tg, idp, baseConfig(idp))
		b := e.browser()
		for _, hdr := range []map[string]string{
			{"Accept": "application/json"}, {"X-Requested-With": "XMLHttpRequest"}, {"Sec-Fetch-Mode": "cors"},
		} {
			r := b.Do(http.MethodGet, "/api", hdr)
			if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%v: status %d WWW-Authenticate %q, want 401 Bearer", hdr, r.Status, r.Header.Get("WWW-Authenticate"))
			}
		}
		r := b.Do(http.MethodGet, "/page", map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html"})
		if r.Status != http.StatusFound {
			t.Errorf("navigation: status %d, want 302", r.Status)
		}
		if e.upstream.Load() != 0 {
			t.Errorf("upstream reached %d times without a session", e.upstream.Load())
		}
	})
}

// TestAZP: without the Descope JWT template's azp claim, login fails by default and works with requireAZP false.
func TestAZP(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: false})
		e := newEnv(t, tg, idp, baseConfig(idp))
		b := e.browser()
		r := b.login("/")
		if r.Status != http.StatusUnauthorized || b.sessionCookie() != "" || strings.Contains(r.Body, "azp") {
			t.Fatalf("missing azp: status %d cookie %v body %q, want 401, no session, generic body", r.Status, b.sessionCookie() != "", r.Body)
		}
		e2 := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"requireAZP": "false"}))
		if er := e2.browser().mustLogin("/ok"); er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
			t.Fatalf("requireAZP false: upstream user %q", er.Headers["X-Forwarded-User"])
		}
	})
}

// TestStateAndReplay: a callback with a state this browser was not given fails, and a replayed callback (even with
// the login cookie copied before it was used) cannot create a second session.
func TestStateAndReplay(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		e := newEnv(t, tg, idp, baseConfig(idp))
		b := e.browser()
		cbURL := b.authenticate(b.startLogin("/a"))
		u, _ := url.Parse(cbURL)
		captured := b.HTTP.Jar.Cookies(u) // the login cookie, as an attacker who copied it would have it
		if len(captured) != 1 || !strings.HasPrefix(captured[0].Name, "_descopeoidc_state_") {
			t.Fatalf("login cookie for the callback: %v", captured)
		}
		wrong := *u
		q := wrong.Query()
		q.Set("state", "not-the-state-this-browser-was-given-xx")
		wrong.RawQuery = q.Encode()
		if r := b.Get(wrong.String()); r.Status != http.StatusBadRequest || b.sessionCookie() != "" {
			t.Fatalf("state mismatch: status %d session %v", r.Status, b.sessionCookie() != "")
		}
		if r := b.Get(cbURL); r.Status != http.StatusFound || b.sessionCookie() == "" {
			t.Fatalf("genuine callback: status %d", r.Status)
		}
		if r := b.Get(cbURL); r.Status != http.StatusBadRequest {
			t.Fatalf("replay in the same browser: status %d, want 400", r.Status)
		}
		other := e.browser()
		other.HTTP.Jar.SetCookies(u, captured)
		if r := other.Get(cbURL); r.Status != http.StatusBadRequest || other.sessionCookie() != "" {
			t.Fatalf("replay with the copied login cookie: status %d session %v, want 400 and none", r.Status, other.sessionCookie() != "")
		}
	})
}

// TestTamperedCookieIsNoSession: a modified or foreign cookie means "no session" (login again), never a 500.
func TestTamperedCookieIsNoSession(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		e := newEnv(t, tg, idp, baseConfig(idp))
		b := e.browser()
		b.mustLogin("/")
		v := b.sessionCookie()
		flipped := v[:len(v)/2] + string(rune('A'+(v[len(v)/2]-'A'+1)%26)) + v[len(v)/2+1:]
		for _, bad := range []string{flipped, v[:len(v)-4], "garbage", "3.abc"} {
			b.SetCookie("_descopeoidc", bad)
			r := b.Get("/")
			if r.Status != http.StatusFound || !strings.HasPrefix(r.Location(), idp.URL()) {
				t.Errorf("cookie %q...: status %d Location %q, want a login redirect", bad[:4], r.Status, r.Location())
			}
		}
	})
}

// TestKeyRotation: after the provider rotates its signing key, the next login triggers one JWKS refetch.
func TestKeyRotation(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		e := newEnv(t, tg, idp, baseConfig(idp))
		e.browser().mustLogin("/")
		before := idp.Stats().JWKSFetches
		if _, err := idp.RotateKey(); err != nil {
			t.Fatal(err)
		}
		e.browser().mustLogin("/")
		if got := idp.Stats().JWKSFetches - before; got != 1 {
			t.Fatalf("JWKS fetches after rotation = %d, want exactly 1", got)
		}
	})
}

// TestProviderDownThenUp: while the provider is unreachable requests get 503 with Retry-After; the middleware
// heals by itself when it is back.
func TestProviderDownThenUp(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		addr := strings.TrimPrefix(idp.URL(), "http://")
		cfg := baseConfig(idp)
		_ = idp.Close()
		e := newEnv(t, tg, idp, cfg)
		b := e.browser()
		r := b.Get("/")
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
			t.Fatalf("provider down: status %d Retry-After %q", r.Status, r.Header.Get("Retry-After"))
		}
		up := startIDP(t, devidp.Options{AZPClaim: true, Addr: addr})
		e.idp = up
		deadline := time.Now().Add(15 * time.Second)
		for {
			r = b.Get("/")
			if r.Status == http.StatusFound || time.Now().After(deadline) {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if r.Status != http.StatusFound {
			t.Fatalf("provider back: status %d, want 302 within the backoff", r.Status)
		}
		b.mustLogin("/healed")
	})
}

// TestExcludedPaths pass through without login but still lose forged identity headers. A path entry matches whole
// segments: "/health" opens /health and /health/live, not /healthz; "^" entries are regular expressions.
func TestExcludedPaths(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"excludedPaths": "/health,/public/,^/static/.*\\.css$"}))
		b := e.browser()
		for _, p := range []string{"/health", "/health/live", "/public/site.js", "/static/site.css"} {
			er := b.Echo(p, map[string]string{"X-Forwarded-User": "mallory"})
			if _, forged := er.Headers["X-Forwarded-User"]; forged {
				t.Errorf("%s: forged identity header reached upstream", p)
			}
		}
		for _, p := range []string{"/healthz", "/health-admin/users", "/public", "/static/site.js", "/health/../admin"} {
			if r := b.Get(p); r.Status != http.StatusFound || !strings.HasPrefix(r.Location(), idp.URL()) {
				t.Errorf("%s: status %d Location %q, want a login redirect", p, r.Status, r.Location())
			}
		}
	})
}

// TestES256AndChunkedSession: an ES256-signing provider, and a session too large for one cookie (a big forwarded
// claim) that is split into chunks and reassembled.
func TestES256AndChunkedSession(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		user := devidp.DemoUser()
		user.Name = strings.Repeat("N", 5000)
		idp := startIDP(t, devidp.Options{AZPClaim: true, SigningAlg: "ES256", Users: []devidp.User{user}})
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"forwardHeaders": map[string]any{"X-Forwarded-Name": "name"}}))
		b := e.browser()
		er := b.mustLogin("/big")
		if er.Headers["X-Forwarded-Name"] != user.Name {
			t.Fatalf("upstream X-Forwarded-Name has %d bytes, want %d", len(er.Headers["X-Forwarded-Name"]), len(user.Name))
		}
		u, _ := url.Parse(e.srv.URL)
		chunks := 0
		for _, c := range b.HTTP.Jar.Cookies(u) {
			if strings.HasPrefix(c.Name, "_descopeoidc") {
				chunks++
			}
		}
		if chunks < 2 || !strings.Contains(b.sessionCookie()[:2], ".") {
			t.Fatalf("session in %d cookies, want it chunked", chunks)
		}
		if _, leaked := er.Headers["Cookie"]; leaked {
			t.Fatalf("plugin cookies reached upstream: %q", er.Headers["Cookie"][:20])
		}
	})
}
