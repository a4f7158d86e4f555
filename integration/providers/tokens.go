package providers

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// Tokens is a token endpoint answer.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// Discovery is the part of a provider's discovery document the tests use.
type Discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`
}

// Discover fetches p's discovery document.
func Discover(p Provider) (*Discovery, error) {
	resp, err := http.Get(strings.TrimSuffix(p.Issuer(), "/") + "/.well-known/openid-configuration")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery: %s", resp.Status)
	}
	d := &Discovery{}
	return d, json.NewDecoder(resp.Body).Decode(d)
}

// ClientTokens runs the authorization code flow at p as the client itself, without the plugin (no PKCE; the
// provider must allow a confidential client without it), and returns the provider's own tokens: bearer scenarios
// send its access token the way an API client would. extra is added to the authorization request (e.g. resource).
func ClientTokens(p Provider, redirectURI string, extra url.Values) (*Tokens, error) {
	d, err := Discover(p)
	if err != nil {
		return nil, err
	}
	q := url.Values{
		"response_type": {"code"}, "client_id": {p.ClientID()}, "redirect_uri": {redirectURI},
		"scope": {strings.Join(p.Scopes(), " ")}, "state": {"client-tokens-state-0123456789"},
		"nonce": {"client-tokens-nonce-0123456789"},
	}
	for k, v := range extra {
		q[k] = v
	}
	jar, _ := cookiejar.New(nil)
	cb, err := p.Login(&http.Client{Jar: jar}, d.AuthorizationEndpoint+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(cb)
	if err != nil {
		return nil, err
	}
	code := u.Query().Get("code")
	if code == "" {
		return nil, fmt.Errorf("no code in callback %q", cb)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	for k, v := range extra {
		if k == "resource" {
			form[k] = v
		}
	}
	req, err := http.NewRequest(http.MethodPost, d.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(p.ClientID()), url.QueryEscape(p.ClientSecret()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("token endpoint: %s: %s", resp.Status, body)
	}
	t := &Tokens{}
	return t, json.Unmarshal(body, t)
}
