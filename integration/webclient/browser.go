package webclient

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"

	"github.com/traefik-descope/descopeoidc/integration/echo"
)

// TB is what a Browser needs of its test: a request that cannot be sent, or an echo answer that is not one, ends it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Browser is a cookie-keeping client for one site that does not follow redirects by itself.
type Browser struct {
	t    TB
	HTTP *http.Client // its Jar holds the cookies of every site the browser talked to
	Site string       // the base URL of paths that start with "/"
}

// NewBrowser is a browser for site with a cookie jar of its own, on a copy of base (e.g. a TLS test server's client).
func NewBrowser(t TB, base *http.Client, site string) *Browser {
	jar, _ := cookiejar.New(nil)
	hc := *base
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Browser{t: t, HTTP: &hc, Site: site}
}

// On is a browser for another site that shares b's client and cookies.
func (b *Browser) On(site string) *Browser { return &Browser{t: b.t, HTTP: b.HTTP, Site: site} }

// Response is an answer, its body read (up to 1 MiB).
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Location is the answer's Location header.
func (r Response) Location() string { return r.Header.Get("Location") }

// Do sends a request without body to rawURL (a path on the site, or an absolute URL) with the headers hdr.
func (b *Browser) Do(method, rawURL string, hdr map[string]string) Response {
	b.t.Helper()
	if strings.HasPrefix(rawURL, "/") {
		rawURL = b.Site + rawURL
	}
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return b.Send(req)
}

// Get is Do for GET without headers.
func (b *Browser) Get(path string) Response { return b.Do(http.MethodGet, path, nil) }

// Send sends req with the browser's cookies.
func (b *Browser) Send(req *http.Request) Response {
	b.t.Helper()
	resp, err := b.HTTP.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

// Echo requests path and decodes the echo service's answer, failing unless it reached the upstream.
func (b *Browser) Echo(path string, hdr map[string]string) echo.Request {
	b.t.Helper()
	r := b.Do(http.MethodGet, path, hdr)
	if r.Status != http.StatusOK {
		b.t.Fatalf("GET %s: status %d, want 200 from upstream (Location %q, body %q)", path, r.Status, r.Location(), r.Body)
	}
	var er echo.Request
	if err := json.Unmarshal([]byte(r.Body), &er); err != nil {
		b.t.Fatalf("GET %s: not an echo answer: %q", path, r.Body)
	}
	return er
}

// Cookie is the value of the site's cookie name ("" when none).
func (b *Browser) Cookie(name string) string { return b.CookieAt(b.Site, name) }

// CookieAt is the value of the cookie name the browser would send to rawURL ("" when none).
func (b *Browser) CookieAt(rawURL, name string) string {
	u, _ := url.Parse(rawURL)
	for _, c := range b.HTTP.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// SetCookie stores a cookie name=value for the site's path "/".
func (b *Browser) SetCookie(name, value string) {
	u, _ := url.Parse(b.Site)
	b.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}
