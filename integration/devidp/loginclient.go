package devidp

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/traefik-descope/descopeoidc/integration/webclient"
)

// Login plays the browser: it opens authorizeURL (the provider's
// authorization URL, or a relying-party URL that redirects there), submits
// the login form with username and password, and follows redirects until
// the provider redirects away from itself. That Location (usually the
// relying party's callback with code and state, or with error) is returned
// without being requested. Cookies go through hc's jar; hc's
// CheckRedirect is not used (Login follows redirects itself). A nil hc
// means a client without jar.
func (s *Server) Login(hc *http.Client, authorizeURL, username, password string) (string, error) {
	return s.login(hc, authorizeURL, username, password, "")
}

// LoginMFA is Login that also enters the one-time code DemoOTP when the form asks for it (acr_values asked for
// ACRMFA).
func (s *Server) LoginMFA(hc *http.Client, authorizeURL, username, password string) (string, error) {
	return s.login(hc, authorizeURL, username, password, DemoOTP)
}

func (s *Server) login(hc *http.Client, authorizeURL, username, password, otp string) (string, error) {
	loc, err := webclient.FormLogin(hc, authorizeURL, s.base, func(page *url.URL, _ []byte) (*http.Request, error) {
		if page.Path != PathLogin {
			return nil, nil
		}
		return s.loginForm(page, username, password, otp)
	})
	if err != nil {
		return "", fmt.Errorf("devidp %w", err)
	}
	return loc, nil
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
	return webclient.PostForm(s.base+PathLogin, form)
}
