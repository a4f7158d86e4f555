package scenarios

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/echo"
	"github.com/traefik-descope/descopeoidc/integration/harness"
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
	idp, err := devidp.Start(o)
	if err != nil {
		t.Fatalf("devidp: %v", err)
	}
	t.Cleanup(func() { _ = idp.Close() })
	return idp
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
	e := &env{t: t, idp: idp}
	up := echo.Handler()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.upstream.Add(1)
		up.ServeHTTP(w, r)
	})
	h, err := tg.Build(cfg, next, "scenario")
	if err != nil {
		t.Fatalf("%s: Build: %v", tg.Name(), err)
	}
	e.handler = h
	e.srv = httptest.NewTLSServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// browser is a cookie-keeping client that does not follow redirects by itself.
type browser struct {
	t   *testing.T
	c   *http.Client
	env *env
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := e.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: e.t, c: c, env: e}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) location() string { return r.header.Get("Location") }

func (b *browser) do(method, rawURL string, hdr map[string]string) response {
	b.t.Helper()
	if strings.HasPrefix(rawURL, "/") {
		rawURL = b.env.srv.URL + rawURL
	}
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (b *browser) get(path string) response { return b.do(http.MethodGet, path, nil) }

// startLogin requests a protected path and expects the redirect to the provider's authorization endpoint.
func (b *browser) startLogin(path string) *url.URL {
	b.t.Helper()
	r := b.get(path)
	if r.status != http.StatusFound {
		b.t.Fatalf("GET %s: status %d, want 302 to the provider (body %q)", path, r.status, r.body)
	}
	u, err := url.Parse(r.location())
	if err != nil || !strings.HasPrefix(r.location(), b.env.idp.URL()) {
		b.t.Fatalf("GET %s: Location %q is not the provider", path, r.location())
	}
	return u
}

// authenticate logs in at the provider and returns the callback URL it redirects to (not yet requested).
func (b *browser) authenticate(authorize *url.URL) string {
	b.t.Helper()
	cb, err := b.env.idp.Login(b.c, authorize.String(), devidp.DemoUsername, devidp.DemoPassword)
	if err != nil {
		b.t.Fatalf("provider login: %v", err)
	}
	return cb
}

// login runs the whole flow for path and returns the callback's response.
func (b *browser) login(path string) response {
	b.t.Helper()
	return b.get(b.authenticate(b.startLogin(path)))
}

// mustLogin logs in and returns what the echo service saw for path.
func (b *browser) mustLogin(path string) echo.Request {
	b.t.Helper()
	cb := b.login(path)
	if cb.status != http.StatusFound || cb.location() != path {
		b.t.Fatalf("callback: status %d Location %q, want 302 to %q (body %q)", cb.status, cb.location(), path, cb.body)
	}
	return b.echo(path, nil)
}

// echo requests path and decodes the echo service's answer, failing unless it reached the upstream.
func (b *browser) echo(path string, hdr map[string]string) echo.Request {
	b.t.Helper()
	r := b.do(http.MethodGet, path, hdr)
	if r.status != http.StatusOK {
		b.t.Fatalf("GET %s: status %d, want 200 from upstream (Location %q, body %q)", path, r.status, r.location(), r.body)
	}
	var er echo.Request
	if err := json.Unmarshal([]byte(r.body), &er); err != nil {
		b.t.Fatalf("GET %s: not an echo answer: %q", path, r.body)
	}
	return er
}

// sessionCookie is the browser's current session cookie value ("" when none).
func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.env.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "_descopeoidc" {
			return c.Value
		}
	}
	return ""
}

func (b *browser) setCookie(name, value string) {
	u, _ := url.Parse(b.env.srv.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

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
