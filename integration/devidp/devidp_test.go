package devidp

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDiscovery(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{})
	d := fetchDiscovery(t, s)
	if !strings.HasSuffix(s.Issuer(), "/"+DefaultProjectID) || d.Issuer != s.Issuer() {
		t.Fatalf("issuer %q (server %q)", d.Issuer, s.Issuer())
	}
	want := map[string]string{
		d.AuthorizationEndpoint: s.URL() + PathAuthorize,
		d.TokenEndpoint:         s.URL() + PathToken,
		d.UserinfoEndpoint:      s.URL() + PathUserinfo,
		d.EndSessionEndpoint:    s.URL() + PathLogout,
		d.RevocationEndpoint:    s.URL() + PathRevoke,
		d.JWKSURI:               s.Issuer() + "/.well-known/jwks.json",
	}
	for got, w := range want {
		if got != w {
			t.Errorf("endpoint %q, want %q", got, w)
		}
	}
	for _, c := range []struct {
		name string
		list []string
		want []string
	}{
		{"code_challenge_methods_supported", d.CodeChallengeMethods, []string{"S256"}},
		{"token_endpoint_auth_methods_supported", d.TokenAuthMethods, []string{"client_secret_basic", "client_secret_post"}},
		{"grant_types_supported", d.GrantTypes, []string{"authorization_code", "refresh_token"}},
		{"scopes_supported", d.ScopesSupported, []string{"openid", "offline_access"}},
		{"id_token_signing_alg_values_supported", d.IDTokenSigningAlgs, []string{"RS256"}},
	} {
		for _, w := range c.want {
			if !slices.Contains(c.list, w) {
				t.Errorf("%s = %v, missing %q", c.name, c.list, w)
			}
		}
	}
	if st := s.Stats(); st.DiscoveryFetches != 1 || st.JWKSFetches != 0 {
		t.Errorf("stats %+v, want 1 discovery fetch and no JWKS fetch", st)
	}
}

func TestCodeFlowClaims(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		azp   bool
		basic bool
	}{
		{"azp/basic", true, true},
		{"azp/post", true, false},
		{"noazp/basic", false, true},
		{"noazp/post", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := StartForTest(t, Options{AZPClaim: tc.azp})
			p := newAuthParams()
			tr := exchangeCode(t, s, p, login(t, s, p), tc.basic)
			if tr.TokenType != "Bearer" || tr.RefreshToken == "" || tr.ExpiresIn < 3590 || tr.ExpiresIn > 3600 {
				t.Fatalf("token response %+v", tr)
			}
			_, idc := verifyJWT(t, s, tr.IDToken)
			checkDescopeClaims(t, s, "id_token", idc, tc.azp)
			if idc["nonce"] != p.nonce {
				t.Errorf("id_token nonce %v, want %q", idc["nonce"], p.nonce)
			}
			_, atc := verifyJWT(t, s, tr.AccessToken)
			checkDescopeClaims(t, s, "access_token", atc, tc.azp)
			if _, ok := atc["nonce"]; ok {
				t.Errorf("access token has a nonce")
			}
			st := s.Stats()
			if st.TokenRequests["authorization_code"] != 1 || st.LoginAttempts != 1 || st.AuthorizeRequests != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func checkDescopeClaims(t *testing.T, s *Server, name string, c map[string]any, azp bool) {
	t.Helper()
	u := DemoUser()
	if c["iss"] != s.Issuer() || c["sub"] != u.Subject || c["email"] != u.Email || c["name"] != u.Name {
		t.Errorf("%s: iss/sub/email/name wrong: %v", name, c)
	}
	if aud := audience(c); !reflect.DeepEqual(aud, []string{s.ClientID()}) {
		t.Errorf("%s: aud %v", name, aud)
	}
	exp, _ := c["exp"].(float64)
	iat, _ := c["iat"].(float64)
	if now := float64(time.Now().Unix()); iat < now-5 || iat > now+1 || exp-iat != 3600 {
		t.Errorf("%s: iat %v exp %v", name, iat, exp)
	}
	if got, ok := c["azp"]; ok != azp || (azp && got != s.ClientID()) {
		t.Errorf("%s: azp = %v (present %v), want present %v", name, got, ok, azp)
	}
	if !reflect.DeepEqual(strs(c["roles"]), u.Roles) || !reflect.DeepEqual(strs(c["permissions"]), u.Permissions) {
		t.Errorf("%s: roles %v permissions %v", name, c["roles"], c["permissions"])
	}
	if !reflect.DeepEqual(strs(c["amr"]), []string{"pwd"}) || c["dct"] != DemoTenant {
		t.Errorf("%s: amr %v dct %v", name, c["amr"], c["dct"])
	}
	tenants, _ := c["tenants"].(map[string]any)
	tenant, _ := tenants[DemoTenant].(map[string]any)
	if len(tenants) != 1 || !reflect.DeepEqual(strs(tenant["roles"]), []string{"admin"}) ||
		!reflect.DeepEqual(strs(tenant["permissions"]), []string{"tenant.manage"}) {
		t.Errorf("%s: tenants %v", name, c["tenants"])
	}
}

// TestLoginThroughRelyingParty starts Login at a relying-party URL that sets
// a cookie and redirects to the provider.
func TestLoginThroughRelyingParty(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{})
	p := newAuthParams()
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "rp_state", Value: p.state, Path: "/"})
		http.Redirect(w, r, p.authorizeURL(s), http.StatusFound)
	}))
	defer rp.Close()
	p.redirect = rp.URL + "/callback"
	browser := newBrowser(t)
	cb, err := s.Login(browser, rp.URL+"/protected", DemoUsername, DemoPassword)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(cb)
	if !strings.HasPrefix(cb, p.redirect+"?") || u.Query().Get("code") == "" || u.Query().Get("state") != p.state {
		t.Fatalf("callback %q", cb)
	}
	rpURL, _ := url.Parse(rp.URL)
	if c := browser.Jar.Cookies(rpURL); len(c) != 1 || c[0].Value != p.state {
		t.Errorf("relying party cookies %v", c)
	}
	exchangeCode(t, s, p, u.Query().Get("code"), true)
}

func TestCodeExchangeRejections(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{})
	p := newAuthParams()
	code := login(t, s, p)
	base := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {p.redirect}}
	for _, tc := range []struct {
		name   string
		set    map[string]string
		secret string
		status int
		err    string
	}{
		{"wrong secret", map[string]string{"code_verifier": p.verifier}, "nope", http.StatusUnauthorized, "invalid_client"},
		{"no verifier", nil, s.ClientSecret(), http.StatusBadRequest, "invalid_grant"},
		{"wrong verifier", map[string]string{"code_verifier": strings.Repeat("w", 43)}, s.ClientSecret(), http.StatusBadRequest, "invalid_grant"},
		{"wrong redirect", map[string]string{"code_verifier": p.verifier, "redirect_uri": "http://127.0.0.1:1/x"}, s.ClientSecret(), http.StatusBadRequest, "invalid_grant"},
	} {
		form := url.Values{}
		for k, v := range base {
			form[k] = slices.Clone(v)
		}
		for k, v := range tc.set {
			form.Set(k, v)
		}
		status, tr := postToken(t, s, form, true, tc.secret)
		if status != tc.status || tr.Error != tc.err || tr.AccessToken != "" {
			t.Errorf("%s: %d %q %q, want %d %q", tc.name, status, tr.Error, tr.ErrorDescription, tc.status, tc.err)
		}
	}
	exchangeCode(t, s, p, code, true) // the failures did not consume the code
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {p.redirect}, "code_verifier": {p.verifier}}
	if status, tr := postToken(t, s, form, true, s.ClientSecret()); status != http.StatusBadRequest || tr.Error != "invalid_grant" {
		t.Errorf("code reuse: %d %q", status, tr.Error)
	}
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{RedirectURIs: []string{"https://app.example.com/cb"}})
	p := newAuthParams()
	p.redirect = "https://app.example.com/cb"
	if _, err := s.Login(newBrowser(t), p.authorizeURL(s), DemoUsername, "wrong"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong password: err = %v", err)
	}
	if st := s.Stats(); st.LoginAttempts != 1 || st.FailedLogins != 1 {
		t.Errorf("stats %+v", st)
	}
	// Loopback URIs are not allowed when RedirectURIs are given.
	p.redirect = testRedirect
	resp, err := noRedirect.Get(p.authorizeURL(s))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unregistered redirect_uri: %s", resp.Status)
	}
	p.redirect = "https://app.example.com/cb"
	if cb, err := s.Login(newBrowser(t), p.authorizeURL(s), DemoUsername, DemoPassword); err != nil || !strings.HasPrefix(cb, p.redirect+"?code=") {
		t.Errorf("registered redirect_uri: %q %v", cb, err)
	}
}

func TestLoopbackRedirectsRejectOtherHosts(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{})
	p := newAuthParams()
	for _, uri := range []string{"http://127.0.0.1:1@evil.example.com/cb", "https://evil.example.com/cb"} {
		p.redirect = uri
		resp, err := noRedirect.Get(p.authorizeURL(s))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %s, want 400", uri, resp.Status)
		}
	}
	p.redirect = "http://localhost:4242/deep/path/cb"
	login(t, s, p)
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{AccessTokenLifetime: 3 * time.Second, IDTokenLifetime: 3 * time.Second})
	p := newAuthParams()
	tr := exchangeCode(t, s, p, login(t, s, p), false)
	if tr.ExpiresIn < 1 || tr.ExpiresIn > 3 {
		t.Fatalf("expires_in %d, want <= 3", tr.ExpiresIn)
	}
	_, first := verifyJWT(t, s, tr.AccessToken)
	time.Sleep(1100 * time.Millisecond) // a later iat
	status, tr2 := refresh(t, s, tr.RefreshToken)
	if status != http.StatusOK || tr2.RefreshToken == "" || tr2.RefreshToken == tr.RefreshToken || tr2.IDToken == "" {
		t.Fatalf("refresh: %d %+v", status, tr2)
	}
	_, second := verifyJWT(t, s, tr2.AccessToken)
	if second["iat"].(float64) <= first["iat"].(float64) || second["exp"].(float64)-second["iat"].(float64) != 3 {
		t.Errorf("refreshed access token iat/exp: %v/%v", second["iat"], second["exp"])
	}
	_, idc := verifyJWT(t, s, tr2.IDToken)
	if idc["sub"] != DemoSubject || idc["dct"] != DemoTenant {
		t.Errorf("refreshed id token claims %v", idc)
	}
	if status, old := refresh(t, s, tr.RefreshToken); status != http.StatusBadRequest || old.Error != "invalid_grant" {
		t.Errorf("old refresh token: %d %q", status, old.Error)
	}
	if status, tr3 := refresh(t, s, tr2.RefreshToken); status != http.StatusOK || tr3.RefreshToken == tr2.RefreshToken {
		t.Errorf("rotated refresh token: %d %+v", status, tr3)
	}
	if got := s.Stats().TokenRequests; got["authorization_code"] != 1 || got["refresh_token"] != 3 {
		t.Errorf("token requests %v", got)
	}
}

func TestRefreshWithoutRotation(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{NoRefreshRotation: true})
	p := newAuthParams()
	tr := exchangeCode(t, s, p, login(t, s, p), true)
	for range 2 {
		status, tr2 := refresh(t, s, tr.RefreshToken)
		if status != http.StatusOK || tr2.RefreshToken != tr.RefreshToken {
			t.Fatalf("refresh: %d %+v", status, tr2)
		}
	}
}

func TestOfflineAccess(t *testing.T) {
	t.Parallel()
	for _, always := range []bool{false, true} {
		s := StartForTest(t, Options{AlwaysIssueRefreshTokens: always})
		p := newAuthParams()
		p.scope = "openid email"
		tr := exchangeCode(t, s, p, login(t, s, p), true)
		if (tr.RefreshToken != "") != always || tr.AccessToken == "" || tr.IDToken == "" {
			t.Errorf("always=%v: refresh token %q", always, tr.RefreshToken)
		}
	}
}

func TestRotateKey(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{})
	p := newAuthParams()
	tr := exchangeCode(t, s, p, login(t, s, p), true)
	oldKid, _ := verifyJWT(t, s, tr.IDToken)
	if oldKid != s.KeyID() {
		t.Fatalf("kid %q, current %q", oldKid, s.KeyID())
	}
	newKid, err := s.RotateKey()
	if err != nil || newKid == oldKid || s.KeyID() != newKid {
		t.Fatalf("RotateKey: %q %v", newKid, err)
	}
	var set struct {
		Keys []struct{ Kid, Alg, Use, Kty string }
	}
	getJSON(t, s.Issuer()+"/.well-known/jwks.json", &set)
	if len(set.Keys) != 2 || set.Keys[0].Kid != oldKid || set.Keys[1].Kid != newKid ||
		set.Keys[1].Alg != "RS256" || set.Keys[1].Use != "sig" || set.Keys[1].Kty != "RSA" {
		t.Fatalf("JWKS after rotation: %+v", set.Keys)
	}
	_, tr2 := refresh(t, s, tr.RefreshToken)
	if kid, _ := verifyJWT(t, s, tr2.IDToken); kid != newKid {
		t.Errorf("id token kid %q, want %q", kid, newKid)
	}
	if kid, _ := verifyJWT(t, s, tr2.AccessToken); kid != newKid {
		t.Errorf("access token kid %q, want %q", kid, newKid)
	}
	verifyJWT(t, s, tr.AccessToken) // the old key still verifies
	if st := s.Stats(); st.JWKSFetches != 5 {
		t.Errorf("JWKS fetches %d, want 5", st.JWKSFetches)
	}
}

func TestES256(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{SigningAlg: "ES256"})
	if d := fetchDiscovery(t, s); !reflect.DeepEqual(d.IDTokenSigningAlgs, []string{"ES256"}) {
		t.Errorf("algs %v", d.IDTokenSigningAlgs)
	}
	p := newAuthParams()
	tr := exchangeCode(t, s, p, login(t, s, p), true)
	_, c := verifyJWT(t, s, tr.IDToken)
	checkDescopeClaims(t, s, "id_token", c, false)
	if _, err := Start(Options{SigningAlg: "HS256"}); err == nil {
		t.Error("HS256 accepted")
	}
}

func userinfo(t *testing.T, s *Server, accessToken string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+PathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func revoke(t *testing.T, s *Server, token, hint string) {
	t.Helper()
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	req, _ := http.NewRequest(http.MethodPost, s.URL()+PathRevoke, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.ClientID(), s.ClientSecret())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %s %s", resp.Status, b)
	}
}

func TestUserinfoAndRevocation(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{})
	p := newAuthParams()
	tr := exchangeCode(t, s, p, login(t, s, p), true)
	status, ui := userinfo(t, s, tr.AccessToken)
	if status != http.StatusOK || ui["sub"] != DemoSubject || ui["email"] != DemoUsername || ui["dct"] != DemoTenant ||
		!reflect.DeepEqual(strs(ui["roles"]), []string{"viewer", "editor"}) {
		t.Fatalf("userinfo: %d %v", status, ui)
	}
	revoke(t, s, tr.AccessToken, "access_token")
	if status, _ := userinfo(t, s, tr.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("userinfo after revocation: %d", status)
	}
	revoke(t, s, tr.RefreshToken, "refresh_token")
	if status, r := refresh(t, s, tr.RefreshToken); status != http.StatusBadRequest || r.Error != "invalid_grant" {
		t.Errorf("refresh after revocation: %d %q", status, r.Error)
	}
	if st := s.Stats(); st.UserinfoRequests != 2 || st.RevocationRequests != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestEndSession(t *testing.T) {
	t.Parallel()
	for _, azp := range []bool{true, false} {
		s := StartForTest(t, Options{AZPClaim: azp})
		p := newAuthParams()
		tr := exchangeCode(t, s, p, login(t, s, p), true)
		q := url.Values{
			"id_token_hint":            {tr.IDToken},
			"client_id":                {s.ClientID()},
			"post_logout_redirect_uri": {"http://127.0.0.1:18080/logged-out?x=1"},
			"state":                    {"st"},
		}
		resp, err := noRedirect.Get(s.URL() + PathLogout + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || loc != "http://127.0.0.1:18080/logged-out?state=st&x=1" {
			t.Errorf("azp=%v: end_session %s -> %q", azp, resp.Status, loc)
		}
		if status, r := refresh(t, s, tr.RefreshToken); status != http.StatusBadRequest || r.Error != "invalid_grant" {
			t.Errorf("azp=%v: refresh after logout: %d %q", azp, status, r.Error)
		}
		q.Set("post_logout_redirect_uri", "https://evil.example.com/")
		resp, err = noRedirect.Get(s.URL() + PathLogout + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusFound && strings.Contains(resp.Header.Get("Location"), "evil") {
			t.Errorf("azp=%v: redirected to unregistered post_logout_redirect_uri", azp)
		}
		if st := s.Stats(); st.EndSessionRequests != 2 {
			t.Errorf("end session requests %d", st.EndSessionRequests)
		}
	}
}

func TestPromptNone(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{})
	p := newAuthParams()
	resp, err := noRedirect.Get(p.authorizeURL(s) + "&prompt=none")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("error") != "login_required" || loc.Query().Get("state") != p.state {
		t.Errorf("prompt=none: %s %v", resp.Status, loc)
	}
}
