package matrix

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/traefik-descope/descopeoidc/integration/echo"
	"github.com/traefik-descope/descopeoidc/integration/webclient"
)

const sessionCookie = "_descopeoidc"

// browser keeps cookies (the site's and the provider's) and does not follow redirects by itself.
type browser struct {
	*webclient.Browser
	t T
	e *cell
}

func (c *cell) browser(t T) *browser {
	return &browser{Browser: webclient.NewBrowser(t, c.site.Client(), c.site.URL), t: t, e: c}
}

type response = webclient.Response

// navigate is a top-level browser navigation.
func (b *browser) navigate(path string) response {
	return b.Do(http.MethodGet, path, map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html"})
}

// startLogin navigates to path and expects the redirect to the provider's authorization endpoint.
func (b *browser) startLogin(path string) *url.URL {
	b.t.Helper()
	r := b.navigate(path)
	if r.Status != http.StatusFound || !strings.HasPrefix(r.Location(), b.e.disc.AuthorizationEndpoint+"?") {
		b.t.Fatalf("GET %s: status %d Location %q, want 302 to %s (body %q)", path, r.Status, r.Location(), b.e.disc.AuthorizationEndpoint, r.Body)
	}
	u, err := url.Parse(r.Location())
	if err != nil {
		b.t.Fatalf("Location %q: %v", r.Location(), err)
	}
	return u
}

// authenticate logs in at the provider and returns the callback URL it redirects to (not yet requested).
func (b *browser) authenticate(authorize *url.URL) string {
	b.t.Helper()
	cb, err := b.e.p.Login(b.HTTP, authorize.String())
	if err != nil {
		b.t.Fatalf("login at %s: %v", b.e.name, err)
	}
	if !strings.HasPrefix(cb, b.e.site.URL+callbackPath+"?") {
		b.t.Fatalf("%s redirected to %q, want the callback %s", b.e.name, cb, b.e.site.URL+callbackPath)
	}
	return cb
}

// mustLogin logs in for path and returns what the echo service saw for it.
func (b *browser) mustLogin(path string) echo.Request {
	b.t.Helper()
	cb := b.Get(b.authenticate(b.startLogin(path)))
	if cb.Status != http.StatusFound || cb.Location() != path {
		b.t.Fatalf("callback: status %d Location %q, want 302 to %q (body %q)", cb.Status, cb.Location(), path, cb.Body)
	}
	return b.Echo(path, nil)
}

// session is the browser's current session cookie ("" when none).
func (b *browser) session() string { return b.Cookie(sessionCookie) }

func (b *browser) setSession(value string) { b.SetCookie(sessionCookie, value) }

// wantUser fails unless the upstream saw the provider's user.
func (b *browser) wantUser(er echo.Request, what string) {
	b.t.Helper()
	if got, want := er.Headers["X-Forwarded-User"], b.e.p.User().Subject; got != want {
		b.t.Fatalf("%s: upstream X-Forwarded-User %q, want %q", what, got, want)
	}
}
