// Package webclient holds the HTTP clients the integration tests play a user with: FormLogin walks a provider's login
// pages; Browser is a cookie-keeping client for one site.
package webclient

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// MaxLoginHops bounds FormLogin: redirects plus form submissions.
const MaxLoginHops = 20

// LoginPage builds the form submission that answers a provider's login page, or returns nil when page is not one.
type LoginPage func(page *url.URL, body []byte) (*http.Request, error)

// FormLogin plays a browser: starting at start, it follows redirects, answers the provider's login pages with
// submit, and returns the first redirect that leaves the provider (whose base URL is provider) after having been
// there. That URL is not requested. Cookies go through hc's jar; its CheckRedirect is not used. A nil hc means a
// client without jar.
func FormLogin(hc *http.Client, start, provider string, submit LoginPage) (string, error) {
	c := http.Client{}
	if hc != nil {
		c = *hc
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequest(http.MethodGet, start, nil)
	if err != nil {
		return "", err
	}
	own := func(u *url.URL) bool { return u.Scheme+"://"+u.Host == provider }
	seen := false
	for i := 0; i < MaxLoginHops; i++ {
		seen = seen || own(req.URL)
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		_ = resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			if err != nil {
				return "", fmt.Errorf("login: redirect without Location from %s", req.URL)
			}
			if seen && !own(loc) {
				return loc.String(), nil
			}
			if req, err = http.NewRequest(http.MethodGet, loc.String(), nil); err != nil {
				return "", err
			}
			continue
		}
		var next *http.Request
		if resp.StatusCode == http.StatusOK && req.Method == http.MethodGet && own(req.URL) {
			if next, err = submit(req.URL, body); err != nil {
				return "", err
			}
		}
		if next == nil {
			return "", fmt.Errorf("login: %s %s: %s: %s", req.Method, req.URL, resp.Status, Snippet(body))
		}
		req = next
	}
	return "", fmt.Errorf("login: more than %d hops", MaxLoginHops)
}

// PostForm is a form POST to target.
func PostForm(target string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// Snippet is the start of a page for an error message: its words, at most 300 bytes.
func Snippet(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
