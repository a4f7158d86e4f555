package devidp

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

// idClaimsOf runs an authorization with extra parameters in browser c (MFA: enter the one-time code) and returns
// the claims of the ID token, or the callback's error parameter.
func idClaimsOf(t *testing.T, s *Server, c *http.Client, extra url.Values, mfa bool) (map[string]any, string) {
	t.Helper()
	p := newAuthParams()
	authz := p.authorizeURL(s)
	for k, v := range extra {
		authz += "&" + url.Values{k: v}.Encode()
	}
	login := s.Login
	if mfa {
		login = s.LoginMFA
	}
	cb, err := login(c, authz, DemoUsername, DemoPassword)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	u, _ := url.Parse(cb)
	if e := u.Query().Get("error"); e != "" {
		if u.Query().Get("state") != p.state {
			t.Errorf("error redirect state %q, want %q", u.Query().Get("state"), p.state)
		}
		return nil, e
	}
	tr := exchangeCode(t, s, p, u.Query().Get("code"), true)
	_, claims := verifyJWT(t, s, tr.IDToken)
	return claims, ""
}

func TestACRValues(t *testing.T) {
	s := StartForTest(t, Options{})
	c, _ := idClaimsOf(t, s, newBrowser(t), nil, false)
	if c["acr"] != ACRPassword || !slices.Equal(strs(c["amr"]), []string{"pwd"}) {
		t.Errorf("password login: acr %v amr %v, want %s [pwd]", c["acr"], c["amr"], ACRPassword)
	}
	mfa := url.Values{"acr_values": {ACRMFA}}
	if _, err := s.Login(newBrowser(t), func() string {
		p := newAuthParams()
		return p.authorizeURL(s) + "&" + mfa.Encode()
	}(), DemoUsername, DemoPassword); err == nil {
		t.Error("acr_values asking for MFA: a login without the one-time code succeeded")
	}
	c, _ = idClaimsOf(t, s, newBrowser(t), mfa, true)
	if c["acr"] != ACRMFA || !slices.Contains(strs(c["amr"]), "mfa") {
		t.Errorf("login with the code: acr %v amr %v, want %s with mfa", c["acr"], c["amr"], ACRMFA)
	}
	if _, ok := c["auth_time"]; !ok {
		t.Error("ID token without auth_time")
	}
}

func TestSSOPromptAndMaxAge(t *testing.T) {
	s := StartForTest(t, Options{SSO: true})
	b := newBrowser(t)
	if _, e := idClaimsOf(t, s, b, url.Values{"prompt": {"none"}}, false); e != "login_required" {
		t.Fatalf("prompt=none without a provider session: error %q, want login_required", e)
	}
	first, _ := idClaimsOf(t, s, b, nil, false)
	before := s.Stats()
	again, e := idClaimsOf(t, s, b, url.Values{"prompt": {"none"}}, false)
	if e != "" || again["auth_time"] != first["auth_time"] || s.Stats().SSOLogins != before.SSOLogins+1 ||
		s.Stats().LoginAttempts != before.LoginAttempts {
		t.Fatalf("prompt=none with a session: error %q auth_time %v (first %v), want the session reused without the form", e, again["auth_time"], first["auth_time"])
	}
	if _, e := idClaimsOf(t, s, b, url.Values{"prompt": {"none"}, "acr_values": {ACRMFA}}, false); e != "interaction_required" {
		t.Errorf("prompt=none asking for MFA on a password session: error %q, want interaction_required", e)
	}
	time.Sleep(1100 * time.Millisecond)
	fresh, _ := idClaimsOf(t, s, b, url.Values{"max_age": {"1"}}, false)
	if s.Stats().LoginAttempts != before.LoginAttempts+1 || fresh["auth_time"] == first["auth_time"] {
		t.Errorf("max_age=1 after 1.1s: login attempts %d (before %d), auth_time %v, want a new login", s.Stats().LoginAttempts, before.LoginAttempts, fresh["auth_time"])
	}
	idClaimsOf(t, s, b, url.Values{"prompt": {"login"}}, false)
	if s.Stats().LoginAttempts != before.LoginAttempts+2 {
		t.Errorf("prompt=login: the form was not shown")
	}
	s.ExpireSSO()
	if _, e := idClaimsOf(t, s, b, url.Values{"prompt": {"none"}}, false); e != "login_required" {
		t.Errorf("prompt=none after ExpireSSO: error %q, want login_required", e)
	}
}
