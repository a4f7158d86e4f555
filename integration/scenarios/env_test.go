package scenarios

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/echo"
	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik-descope/descopeoidc/integration/webclient"
)

const sessionSecret = "integration-session-secret-0123456789abcdef"

// forEachTarget runs a scenario against the middleware built by Traefik's Yaegi loader and by the compiler.
func forEachTarget(t *testing.T, run func(t *testing.T, tg harness.Target)) {
	targets, err := harness.Targets()
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		tg := tg
		t.Run(tg.Name(), func(t *testing.T) { run(t, tg) })
	}
}

// env is one protected site: the zitadel-based provider, the middleware (built by one target) in front of the
// echo upstream, served over TLS on loopback like a Traefik entrypoint.
type env struct {
	t        *testing.T
	idp      *devidp.Server
	srv      *httptest.Server
	upstream atomic.Int64 // requests that reached the echo service
	handler  http.Handler
}

func startIDP(t *testing.T, o devidp.Options) *devidp.Server {
	t.Helper()
	o.AllowLoopbackRedirects = true
	return devidp.StartForTest(t, o)
}

// baseConfig is the plugin configuration for idp, as a Traefik dynamic configuration map.
func baseConfig(idp *devidp.Server) map[string]any {
	return map[string]any{
		"issuer":        idp.Issuer(),
		"clientID":      idp.ClientID(),
		"clientSecret":  idp.ClientSecret(),
		"sessionSecret": sessionSecret,
		"scopes":        "openid,profile,email,offline_access",
	}
}

func newEnv(t *testing.T, tg harness.Target, idp *devidp.Server, cfg map[string]any) *env {
	t.Helper()
	return newEnvAs(t, tg, idp, cfg, "scenario")
}

// newEnvAs is newEnv with the middleware named name (metrics are counted per name, process-wide).
func newEnvAs(t *testing.T, tg harness.Target, idp *devidp.Server, cfg map[string]any, name string) *env {
	t.Helper()
	e := &env{t: t, idp: idp}
	e.serve(e.build(tg, cfg, name))
	return e
}

// build builds a middleware named name from cfg with target tg, in front of the echo service (counted in e.upstream).
func (e *env) build(tg harness.Target, cfg map[string]any, name string) http.Handler {
	e.t.Helper()
	up := echo.Handler()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.upstream.Add(1)
		up.ServeHTTP(w, r)
	})
	h, err := tg.Build(cfg, next, name)
	if err != nil {
		e.t.Fatalf("%s: Build %s: %v", tg.Name(), name, err)
	}
	return h
}

// serve serves h over TLS on loopback, like a Traefik entrypoint.
func (e *env) serve(h http.Handler) {
	e.handler = h
	e.srv = httptest.NewTLSServer(h)
	e.t.Cleanup(e.srv.Close)
}

// browser is a cookie-keeping client that does not follow redirects by itself.
type browser struct {
	*webclient.Browser
	t   *testing.T
	env *env
}

func (e *env) browser() *browser {
	return &browser{Browser: webclient.NewBrowser(e.t, e.srv.Client(), e.srv.URL), t: e.t, env: e}
}

type response = webclient.Response

// startLogin requests a protected path and expects the redirect to the provider's authorization endpoint.
func (b *browser) startLogin(path string) *url.URL {
	b.t.Helper()
	r := b.Get(path)
	if r.Status != http.StatusFound {
		b.t.Fatalf("GET %s: status %d, want 302 to the provider (body %q)", path, r.Status, r.Body)
	}
	u, err := url.Parse(r.Location())
	if err != nil || !strings.HasPrefix(r.Location(), b.env.idp.URL()) {
		b.t.Fatalf("GET %s: Location %q is not the provider", path, r.Location())
	}
	return u
}

// authenticate logs in at the provider and returns the callback URL it redirects to (not yet requested).
func (b *browser) authenticate(authorize *url.URL) string {
	b.t.Helper()
	cb, err := b.env.idp.Login(b.HTTP, authorize.String(), devidp.DemoUsername, devidp.DemoPassword)
	if err != nil {
		b.t.Fatalf("provider login: %v", err)
	}
	return cb
}

// login runs the whole flow for path and returns the callback's response.
func (b *browser) login(path string) response {
	b.t.Helper()
	return b.Get(b.authenticate(b.startLogin(path)))
}

// mustLogin logs in and returns what the echo service saw for path.
func (b *browser) mustLogin(path string) echo.Request {
	b.t.Helper()
	cb := b.login(path)
	if cb.Status != http.StatusFound || cb.Location() != path {
		b.t.Fatalf("callback: status %d Location %q, want 302 to %q (body %q)", cb.Status, cb.Location(), path, cb.Body)
	}
	return b.Echo(path, nil)
}

// sessionCookie is the browser's current session cookie value ("" when none).
func (b *browser) sessionCookie() string { return b.Cookie("_descopeoidc") }

func merge(a map[string]any, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
