package devidp

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The descope-strict profile: every Descope mode at once, observed on the wire (issue 19).
func TestDescopeStrictTokens(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{Profile: ProfileDescopeStrict})
	if s.Issuer() != s.URL()+"/v1/apps/"+s.ProjectID() || s.ClientID() != StrictClientID {
		t.Fatalf("issuer %q client %q", s.Issuer(), s.ClientID())
	}
	if d := fetchDiscovery(t, s); d.Issuer != s.Issuer() {
		t.Fatalf("discovery issuer %q", d.Issuer)
	}
	p := newAuthParams()
	tr := exchangeCode(t, s, p, login(t, s, p), true)
	if tr.ExpiresIn > 600 || tr.ExpiresIn < 590 {
		t.Errorf("session token lifetime %ds, want Descope's 10 minutes", tr.ExpiresIn)
	}
	_, at := verifyJWT(t, s, tr.AccessToken)
	if at["iss"] != s.ProjectID() || at["aud"] != nil || at["drn"] != "DS" || at["client_id"] != nil || at["tenants"] != nil {
		t.Errorf("session token: iss %v aud %v drn %v client_id %v tenants %v", at["iss"], at["aud"], at["drn"], at["client_id"], at["tenants"])
	}
	if !reflect.DeepEqual(strs(at["roles"]), []string{"admin"}) || at["dct"] != DemoTenant || !slices.Contains(strs(at["amr"]), "pwd") {
		t.Errorf("session token (tenantOnly): roles %v dct %v amr %v", at["roles"], at["dct"], at["amr"])
	}
	_, id := verifyJWT(t, s, tr.IDToken)
	if !reflect.DeepEqual(audience(id), []string{s.ProjectID(), StrictClientID}) || id["azp"] != nil || id["iss"] != s.Issuer() {
		t.Errorf("ID token: aud %v azp %v iss %v", id["aud"], id["azp"], id["iss"])
	}
	for _, k := range []string{"auth_time", "amr", "acr", "tenants"} {
		if _, ok := id[k]; ok {
			t.Errorf("ID token has %s", k)
		}
	}
	_, rt := verifyJWT(t, s, tr.RefreshToken)
	if rt["drn"] != "DSR" || len(tr.RefreshToken) < 600 {
		t.Errorf("refresh token: drn %v, %d bytes", rt["drn"], len(tr.RefreshToken))
	}
	// The reshaped tokens still work at userinfo and for a refresh.
	if st, c := userinfo(t, s, tr.AccessToken); st != http.StatusOK || c["sub"] != DemoSubject {
		t.Errorf("userinfo with the session token: %d %v", st, c)
	}
	st, tr2 := refresh(t, s, tr.RefreshToken)
	if st != http.StatusOK || tr2.AccessToken == "" {
		t.Fatalf("refresh: %d %+v", st, tr2)
	}
	// Descope's error envelope: the rotated-away refresh token.
	req, _ := http.NewRequest(http.MethodPost, s.URL()+PathToken,
		strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.ClientID(), s.ClientSecret())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	env := map[string]string{}
	_ = json.NewDecoder(resp.Body).Decode(&env)
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(env["errorCode"], "E0") || env["errorMessage"] == "" {
		t.Errorf("rotated-away refresh token: %d %v, want 400 with Descope's envelope", resp.StatusCode, env)
	}
}

// ErrorStatus 404, and acr_values/max_age ignored: the login page asks no one-time code however acr_values ask.
func TestDescopeErrorStatusAndIgnoredStepUp(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{Descope: Descope{ErrorEnvelope: true, ErrorStatus: http.StatusNotFound, IgnoreStepUpParams: true}})
	st, _ := refresh(t, s, "unknown-refresh-token")
	if st != http.StatusNotFound {
		t.Errorf("unknown refresh token: %d, want 404", st)
	}
	p := newAuthParams()
	cb, err := s.Login(newBrowser(t), p.authorizeURL(s)+"&acr_values="+url.QueryEscape(ACRMFA)+"&max_age=0", DemoUsername, DemoPassword)
	if err != nil || !strings.Contains(cb, "code=") {
		t.Fatalf("login with acr_values and max_age ignored: %q %v", cb, err)
	}
	_, id := verifyJWT(t, s, exchangeCode(t, s, p, codeOf(t, cb), true).IDToken)
	if id["acr"] == ACRMFA {
		t.Errorf("acr %v: acr_values were not ignored", id["acr"])
	}
}

func codeOf(t *testing.T, cb string) string {
	t.Helper()
	u, err := url.Parse(cb)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("code")
}

// The bare and /v1/apps/ session issuers, and SessionJWT (the DS cookie) without aud in the tenantOnly schema.
func TestDescopeSessionIssuers(t *testing.T) {
	t.Parallel()
	for form, want := range map[string]func(*Server) string{
		"bare": func(s *Server) string { return s.ProjectID() },
		"apps": func(s *Server) string { return s.URL() + "/v1/apps/" + s.ProjectID() },
	} {
		s := StartForTest(t, Options{Descope: Descope{SessionIssuer: form, NoSessionAudience: true, TenantOnly: true}})
		p := newAuthParams()
		_, at := verifyJWT(t, s, exchangeCode(t, s, p, login(t, s, p), true).AccessToken)
		if at["iss"] != want(s) || at["aud"] != nil {
			t.Errorf("%s: iss %v aud %v", form, at["iss"], at["aud"])
		}
		ds, err := s.SessionJWT(DemoSubject, 60e9, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, c := verifyJWT(t, s, ds); c["aud"] != nil || c["tenants"] != nil || c["drn"] != "DS" {
			t.Errorf("%s: DS cookie %v", form, c)
		}
	}
}

// TemplateClaimsNeedScope: the template's azp only when descope.custom_claims was asked for.
func TestDescopeTemplateClaimsNeedScope(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, Options{AZPClaim: true, Descope: Descope{TemplateClaimsNeedScope: true}})
	for scope, want := range map[string]bool{"openid email": false, "openid email " + ScopeCustomClaims: true} {
		p := newAuthParams()
		p.scope = scope
		tr := exchangeCode(t, s, p, login(t, s, p), true)
		_, id := verifyJWT(t, s, tr.IDToken)
		_, at := verifyJWT(t, s, tr.AccessToken)
		if _, got := id["azp"]; got != want {
			t.Errorf("scope %q: ID token azp present %v, want %v", scope, got, want)
		}
		if _, got := at["azp"]; got != want {
			t.Errorf("scope %q: access token azp present %v, want %v", scope, got, want)
		}
	}
}
