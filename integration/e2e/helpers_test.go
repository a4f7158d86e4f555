// Package e2e runs the plugin end to end in the real Traefik binary (bin/traefik, started by package stack with the
// examples/local configuration and this checkout as a local plugin), in front of the echo upstream, with the
// Descope-like devidp provider: everything on loopback, on free ports, in this process except Traefik itself.
package e2e

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/echo"
	"github.com/traefik-descope/descopeoidc/integration/stack"
	"github.com/traefik-descope/descopeoidc/integration/webclient"
)

const (
	sessionSecret = "e2e-session-secret-0123456789abcdef-0123456789"
	cookieName    = "_descopeoidc"
)

func TestMain(m *testing.M) {
	// zitadel's provider logs every rejected request through slog at info level; the tests assert on outcomes.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	os.Exit(m.Run())
}

var (
	buildOnce sync.Once
	buildErr  error
)

// needTraefik makes sure bin/traefik exists (`make integration` builds it first; a bare `go test` builds it here,
// which takes minutes the first time).
func needTraefik(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() { _, buildErr = stack.BuildTraefik() })
	if buildErr != nil {
		t.Fatalf("traefik binary: %v", buildErr)
	}
}

func startIDP(t *testing.T, o devidp.Options) *devidp.Server {
	t.Helper()
	o.AllowLoopbackRedirects = true
	o.AZPClaim = true
	return devidp.StartForTest(t, o)
}

// upstream is the echo service, counting the requests that reach it.
type upstream struct {
	URL  string
	hits atomic.Int64
}

func startEcho(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	h := echo.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	return u
}

// startTraefik runs bin/traefik with examples/local (dynamic.yml as is, or o.Dynamic) on free loopback ports, with
// the environment the example's ${...} references need. stack.StartForTest stops it at cleanup and fails the test
// when its log reports a panic (printing the log when the test failed).
func startTraefik(t *testing.T, idp *devidp.Server, up *upstream, o stack.Options) *stack.Traefik {
	t.Helper()
	o.Env = append([]string{
		"OIDC_ISSUER=" + idp.Issuer(),
		"DESCOPE_PROJECT_ID=" + idp.ClientID(),
		"DESCOPE_ACCESS_KEY=" + idp.ClientSecret(),
		"SESSION_SECRET=" + sessionSecret,
		"ECHO_URL=" + up.URL,
	}, o.Env...)
	return startTraefikWith(t, o)
}

// startTraefikWith runs bin/traefik with o on free loopback ports (unless o names them) in a test directory.
func startTraefikWith(t *testing.T, o stack.Options) *stack.Traefik {
	t.Helper()
	needTraefik(t)
	if o.WebAddr == "" {
		o.WebAddr = "127.0.0.1:0"
	}
	o.APIAddr = "127.0.0.1:0"
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	return stack.StartForTest(t, o)
}

func tail(s string, n int) string { return stack.Tail(s, n) }

// checkLog fails the test when Traefik's log shows a problem (stack.LogProblems: a panic or an error-level line).
func checkLog(t *testing.T, tr *stack.Traefik) {
	t.Helper()
	if p := stack.LogProblems(tr.Logs()); len(p) > 0 {
		t.Errorf("traefik %s logged %d problem line(s):\n%s", tr.WebURL, len(p), strings.Join(p, "\n"))
	}
}

// client is a browser-like HTTP client: one cookie jar, redirects not followed (each hop is checked), absolute URLs.
type client struct {
	*webclient.Browser
	t *testing.T
}

func newClient(t *testing.T) *client {
	return &client{Browser: webclient.NewBrowser(t, &http.Client{Timeout: 15 * time.Second}, ""), t: t}
}

// expectLoginRedirect asserts that GET rawURL is sent to the provider's authorization endpoint, with this site's
// callback as redirect_uri, and returns the authorization URL.
func (c *client) expectLoginRedirect(rawURL string, idp *devidp.Server, site string) string {
	c.t.Helper()
	r := c.Get(rawURL)
	if r.Status != http.StatusFound || !strings.HasPrefix(r.Location(), idp.URL()+devidp.PathAuthorize+"?") {
		c.t.Fatalf("GET %s: status %d Location %q, want 302 to %s (body %q)", rawURL, r.Status, r.Location(), idp.URL()+devidp.PathAuthorize, r.Body)
	}
	u, _ := url.Parse(r.Location())
	q := u.Query()
	if q.Get("redirect_uri") != site+"/oauth2/callback" || q.Get("client_id") != idp.ClientID() || q.Get("code_challenge_method") != "S256" {
		c.t.Fatalf("authorization request %v: want redirect_uri %s/oauth2/callback, client_id %s, PKCE S256", q, site, idp.ClientID())
	}
	return r.Location()
}

// login runs the whole code flow for path through site: redirect, the provider's login form (posted by
// devidp.Login, which follows the provider's own redirects), and the callback, which must send the browser back to
// path with a session cookie.
func (c *client) login(idp *devidp.Server, site, path string) {
	c.t.Helper()
	authz := c.expectLoginRedirect(site+path, idp, site)
	cb, err := idp.Login(c.HTTP, authz, devidp.DemoUsername, devidp.DemoPassword)
	if err != nil {
		c.t.Fatalf("provider login: %v", err)
	}
	if !strings.HasPrefix(cb, site+"/oauth2/callback?") {
		c.t.Fatalf("provider sent the browser to %q, want %s/oauth2/callback?...", cb, site)
	}
	r := c.Get(cb)
	if r.Status != http.StatusFound || r.Location() != path {
		c.t.Fatalf("callback: status %d Location %q, want 302 to %q (body %q)", r.Status, r.Location(), path, r.Body)
	}
	if c.CookieAt(site, cookieName) == "" {
		c.t.Fatalf("callback set no %s cookie", cookieName)
	}
}

// checkIdentity asserts the identity headers of examples/local/dynamic.yml for the demo user.
func checkIdentity(t *testing.T, er echo.Request) {
	t.Helper()
	want := map[string]string{
		"X-Forwarded-User":   devidp.DemoSubject,
		"X-Forwarded-Email":  devidp.DemoUsername,
		"X-Forwarded-Name":   devidp.DemoUser().Name,
		"X-Forwarded-Roles":  strings.Join(devidp.DemoUser().Roles, ","),
		"X-Forwarded-Tenant": devidp.DemoTenant,
	}
	for k, v := range want {
		if er.Headers[k] != v {
			t.Errorf("upstream header %s = %q, want %q", k, er.Headers[k], v)
		}
	}
	if strings.Contains(er.Headers["Cookie"], cookieName) {
		t.Errorf("upstream received the session cookie: Cookie %q", er.Headers["Cookie"])
	}
}

// logout posts to site's logout path (same origin) and follows the redirect chain through the provider's
// end_session endpoint back to site, which must then ask for a login again. It returns the chain's URLs.
func (c *client) logout(idp *devidp.Server, site string) []string {
	c.t.Helper()
	r := c.Do(http.MethodPost, site+"/oauth2/logout", map[string]string{"Origin": site})
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location(), idp.URL()+devidp.PathLogout+"?") {
		c.t.Fatalf("POST /oauth2/logout: status %d Location %q, want 303 to the provider's end_session endpoint", r.Status, r.Location())
	}
	u, _ := url.Parse(r.Location())
	q := u.Query()
	if q.Get("id_token_hint") == "" || q.Get("client_id") != idp.ClientID() || q.Get("post_logout_redirect_uri") != site+"/" {
		c.t.Errorf("end_session parameters %v: want id_token_hint, client_id %s, post_logout_redirect_uri %s/", q, idp.ClientID(), site)
	}
	if c.CookieAt(site, cookieName) != "" {
		c.t.Errorf("session cookie still in the jar after logout")
	}
	chain := []string{site + "/oauth2/logout", r.Location()}
	next := r.Location()
	for hop := 0; hop < 5; hop++ {
		r = c.Get(next)
		if r.Status < 300 || r.Status > 399 {
			c.t.Fatalf("logout chain %v: GET %s answered %d, want a redirect (body %q)", chain, next, r.Status, r.Body)
		}
		next = r.Location()
		chain = append(chain, next)
		if strings.HasPrefix(next, idp.URL()+devidp.PathAuthorize+"?") {
			return chain // back on the site, which asks for a login
		}
		if !strings.HasPrefix(next, "http") {
			next = resolve(chain[len(chain)-2], next)
		}
	}
	c.t.Fatalf("logout chain %v does not end with a login redirect", chain)
	return nil
}

func resolve(base, ref string) string {
	b, err := url.Parse(base)
	if err != nil {
		return ref
	}
	r, err := b.Parse(ref)
	if err != nil {
		return ref
	}
	return r.String()
}

func fmtKiB(k int) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }
