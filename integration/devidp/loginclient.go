package devidp

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

const maxLoginHops = 20

// Login plays the browser: it opens authorizeURL (the provider's
// authorization URL, or a relying-party URL that redirects there), submits
// the login form with username and password, and follows redirects until
// the provider redirects away from itself. That Location (usually the
// relying party's callback with code and state, or with error) is returned
// without being requested. Cookies go through client's jar; client's
// CheckRedirect is not used (Login follows redirects itself). A nil client
// means http.DefaultClient without jar.
func (s *Server) Login(client *http.Client, authorizeURL, username, password string) (string, error) {
	return s.login(client, authorizeURL, username, password, "")
}

// LoginMFA is Login that also enters the one-time code DemoOTP when the form asks for it (acr_values asked for
// ACRMFA).
func (s *Server) LoginMFA(client *http.Client, authorizeURL, username, password string) (string, error) {
	return s.login(client, authorizeURL, username, password, DemoOTP)
}

func (s *Server) login(client *http.Client, authorizeURL, username, password, otp string) (string, error) {
	c := http.Client{}
	if client != nil {
		c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequest(http.MethodGet, authorizeURL, nil)
	if err != nil {
		return "", err
	}
	seenProvider := false
	for range maxLoginHops {
		own := s.isOwn(req.URL)
		seenProvider = seenProvider || own
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Location()
			if err != nil {
				return "", fmt.Errorf("devidp login: redirect without location from %s", req.URL)
			}
			if seenProvider && !s.isOwn(loc) {
				return loc.String(), nil
			}
			req, err = http.NewRequest(http.MethodGet, loc.String(), nil)
			if err != nil {
				return "", err
			}
		case own && req.Method == http.MethodGet && req.URL.Path == PathLogin && resp.StatusCode == http.StatusOK:
			req, err = s.loginForm(req.URL, username, password, otp)
			if err != nil {
				return "", err
			}
		default:
			return "", fmt.Errorf("devidp login: %s %s: %s: %s", req.Method, req.URL, resp.Status, snippet(body))
		}
	}
	return "", fmt.Errorf("devidp login: more than %d hops", maxLoginHops)
}

func (s *Server) loginForm(page *url.URL, username, password, otp string) (*http.Request, error) {
	form := url.Values{
		"id":       {page.Query().Get("authRequestID")},
		"username": {username},
		"password": {password},
	}
	if otp != "" {
		form.Set("otp", otp)
	}
	req, err := http.NewRequest(http.MethodPost, s.base+PathLogin, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

func (s *Server) isOwn(u *url.URL) bool {
	return u.Scheme+"://"+u.Host == s.base
}

func snippet(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
