package providers

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

const maxLoginHops = 20

// loginPage builds the form submission that answers a provider's login page, or returns nil when page is not one.
type loginPage func(page *url.URL, body []byte) (*http.Request, error)

// formLogin plays a browser: starting at start, it follows redirects, answers the provider's login pages with
// submit, and returns the first redirect that leaves the provider (whose base URL is provider) after having been
// there. That URL is not requested. Cookies go through client's jar; its CheckRedirect is not used.
func formLogin(client *http.Client, start, provider string, submit loginPage) (string, error) {
	c := http.Client{}
	if client != nil {
		c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequest(http.MethodGet, start, nil)
	if err != nil {
		return "", err
	}
	own := func(u *url.URL) bool { return u.Scheme+"://"+u.Host == provider }
	seen := false
	for i := 0; i < maxLoginHops; i++ {
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
			return "", fmt.Errorf("login: %s %s: %s: %s", req.Method, req.URL, resp.Status, snippet(body))
		}
		req = next
	}
	return "", fmt.Errorf("login: more than %d hops", maxLoginHops)
}

// postForm is a form POST to target.
func postForm(target string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

func snippet(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
