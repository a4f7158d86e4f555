package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
)

// browser is a cookie-keeping client that does not follow redirects, logging in through Traefik.
type browser struct {
	c   *http.Client
	web string
	idp *devidp.Server
}

func newBrowser(web string, idp *devidp.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{
		c: &http.Client{
			Jar:           jar,
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		web: web, idp: idp,
	}
}

// login requests path, follows the redirect to the provider, signs in as u and requests the callback, which must
// redirect back to path with a session.
func (b *browser) login(path string, u devidp.User) error {
	resp, err := b.c.Get(b.web + path)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), b.idp.URL()) {
		return fmt.Errorf("GET %s: status %d Location %q, want a 302 to the provider", path, resp.StatusCode, resp.Header.Get("Location"))
	}
	cb, err := b.idp.Login(b.c, resp.Header.Get("Location"), u.Username, u.Password)
	if err != nil {
		return fmt.Errorf("provider login as %s: %v", u.Username, err)
	}
	resp, err = b.c.Get(cb)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != path {
		return fmt.Errorf("callback: status %d Location %q, want a 302 to %s", resp.StatusCode, resp.Header.Get("Location"), path)
	}
	return nil
}

// cookieHeader is the Cookie header the browser sends for path (the session cookie and its chunks).
func (b *browser) cookieHeader(path string) (string, int) {
	u, _ := url.Parse(b.web + path)
	var parts []string
	size := 0
	for _, c := range b.c.Jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
		if strings.HasPrefix(c.Name, "_descopeoidc") {
			size += len(c.Value)
		}
	}
	return strings.Join(parts, "; "), size
}

// cookieHeaderNamed is the Cookie header with only the cookies whose name starts with prefix.
func (b *browser) cookieHeaderNamed(path, prefix string) (string, int) {
	u, _ := url.Parse(b.web + path)
	var parts []string
	size := 0
	for _, c := range b.c.Jar.Cookies(u) {
		if strings.HasPrefix(c.Name, prefix) {
			parts = append(parts, c.Name+"="+c.Value)
			size += len(c.Value)
		}
	}
	return strings.Join(parts, "; "), size
}

// get requests path with extra headers and returns status and body.
func get(c *http.Client, rawURL string, hdr map[string]string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, "", err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), nil
}

// accessToken logs u in through the /token/ router (forwardAccessToken) and returns the access token the upstream saw.
func accessToken(web string, idp *devidp.Server, u devidp.User) (string, error) {
	b := newBrowser(web, idp)
	if err := b.login("/token/", u); err != nil {
		return "", fmt.Errorf("token login: %v", err)
	}
	status, body, err := get(b.c, web+"/token/", nil)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK || !strings.HasPrefix(body, "Bearer ") {
		return "", fmt.Errorf("GET /token/: status %d, body %.80q: want the forwarded access token", status, body)
	}
	return strings.TrimPrefix(body, "Bearer "), nil
}
