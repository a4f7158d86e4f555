package matrix

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"

	"github.com/traefik-descope/descopeoidc/integration/echo"
)

const sessionCookie = "_descopeoidc"

// browser keeps cookies (the site's and the provider's) and does not follow redirects by itself.
type browser struct {
	t T
	c *http.Client
	e *cell
}

func (c *cell) browser(t T) *browser {
	jar, _ := cookiejar.New(nil)
	hc := *c.site.Client() // a copy: Client() is the server's one shared client
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, c: &hc, e: c}
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
		rawURL = b.e.site.URL + rawURL
	}
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return b.send(req)
}

// send sends req with the browser's cookies.
func (b *browser) send(req *http.Request) response {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// navigate is a top-level browser navigation.
func (b *browser) navigate(path string) response {
	return b.do(http.MethodGet, path, map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html"})
}

func (b *browser) get(path string) response { return b.do(http.MethodGet, path, nil) }

// startLogin navigates to path and expects the redirect to the provider's authorization endpoint.
func (b *browser) startLogin(path string) *url.URL {
	b.t.Helper()
	r := b.navigate(path)
	if r.status != http.StatusFound || !strings.HasPrefix(r.location(), b.e.disc.AuthorizationEndpoint+"?") {
		b.t.Fatalf("GET %s: status %d Location %q, want 302 to %s (body %q)", path, r.status, r.location(), b.e.disc.AuthorizationEndpoint, r.body)
	}
	u, err := url.Parse(r.location())
	if err != nil {
		b.t.Fatalf("Location %q: %v", r.location(), err)
	}
	return u
}

// authenticate logs in at the provider and returns the callback URL it redirects to (not yet requested).
func (b *browser) authenticate(authorize *url.URL) string {
	b.t.Helper()
	cb, err := b.e.p.Login(b.c, authorize.String())
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
	cb := b.get(b.authenticate(b.startLogin(path)))
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

// session is the browser's current session cookie ("" when none).
func (b *browser) session() string {
	u, _ := url.Parse(b.e.site.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == sessionCookie {
			return c.Value
		}
	}
	return ""
}

func (b *browser) setSession(value string) {
	u, _ := url.Parse(b.e.site.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: value, Path: "/"}})
}

// wantUser fails unless the upstream saw the provider's user.
func (b *browser) wantUser(er echo.Request, what string) {
	b.t.Helper()
	if got, want := er.Headers["X-Forwarded-User"], b.e.p.User().Subject; got != want {
		b.t.Fatalf("%s: upstream X-Forwarded-User %q, want %q", what, got, want)
	}
}
