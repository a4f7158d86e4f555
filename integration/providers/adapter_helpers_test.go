package providers

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The checks every adapter's own test runs: what a Provider promises (exact issuer, a login that ends at the
// redirect URI with a code, the client's own tokens, an outage through the gate) and what its Capabilities claim,
// measured on the running provider.

const testRedirectURI = "https://127.0.0.1:1/oauth2/callback"

func testOptions() Options {
	return Options{RedirectURI: testRedirectURI, PostLogoutRedirectURI: "https://127.0.0.1:1/", TokenTTL: 5 * time.Second}
}

// loggedProcess is a provider that runs as a process of its own (dex, oidc-provider).
type loggedProcess interface {
	Close() error
	Output() string
}

// startLogged starts a provider with testOptions, stops it at cleanup and, when the test failed, logs its output.
func startLogged[P loggedProcess](t *testing.T, name string, start func(Options) (P, error)) P {
	t.Helper()
	p, err := start(testOptions())
	if err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.Output())
		}
		_ = p.Close()
	})
	return p
}

// rawDiscovery fetches p's discovery document as a map.
func rawDiscovery(t *testing.T, p Provider) map[string]any {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(p.Issuer(), "/") + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: expected 200, got %s", resp.Status)
	}
	d := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return d
}

// checkDiscovery asserts the issuer is published exactly and that the endpoints Capabilities promise are there.
func checkDiscovery(t *testing.T, p Provider) map[string]any {
	t.Helper()
	d := rawDiscovery(t, p)
	if d["issuer"] != p.Issuer() {
		t.Errorf("issuer: expected %q, got %q", p.Issuer(), d["issuer"])
	}
	if !strings.HasPrefix(p.Issuer(), p.Gate().URL()) {
		t.Errorf("issuer %q is not behind the gate %s", p.Issuer(), p.Gate().URL())
	}
	c := p.Capabilities()
	for key, want := range map[string]bool{
		"end_session_endpoint": c.EndSession, "revocation_endpoint": c.Revocation, "userinfo_endpoint": c.Userinfo,
	} {
		if _, got := d[key]; got != want {
			t.Errorf("%s published: expected %v, got %v", key, want, got)
		}
	}
	return d
}

// checkLogin asserts Login in browser ends at the redirect URI with a code and the state it was given, and
// returns the code.
func checkLogin(t *testing.T, p Provider, d map[string]any, browser *http.Client) string {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {p.ClientID()}, "redirect_uri": {testRedirectURI},
		"scope": {strings.Join(p.Scopes(), " ")}, "state": {"state-0123456789abcdef"}, "nonce": {"nonce-0123456789"}}
	cb, err := p.Login(browser, fmt.Sprint(d["authorization_endpoint"])+"?"+q.Encode())
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	u, err := url.Parse(cb)
	if err != nil || !isRedirectTo(cb, testRedirectURI) {
		t.Fatalf("Login: expected a redirect to %s, got %q (%v)", testRedirectURI, cb, err)
	}
	if u.Query().Get("code") == "" || u.Query().Get("state") != "state-0123456789abcdef" {
		t.Fatalf("Login: expected code and state in %q", cb)
	}
	return u.Query().Get("code")
}

// checkGate asserts Down makes discovery answer 503 and Up brings it back.
func checkGate(t *testing.T, p Provider) {
	t.Helper()
	url := strings.TrimSuffix(p.Issuer(), "/") + "/.well-known/openid-configuration"
	p.Gate().Down()
	if st := statusOf(t, url); st != http.StatusServiceUnavailable {
		t.Errorf("gate down: expected 503, got %d", st)
	}
	p.Gate().Up()
	if st := statusOf(t, url); st != http.StatusOK {
		t.Errorf("gate up: expected 200, got %d", st)
	}
}

func statusOf(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// jwtParts decodes a compact JWS's header and claims (no signature check: the plugin's verifiers are tested
// elsewhere; these tests describe what the provider sends).
func jwtParts(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("expected a JWS with 3 parts, got %d", len(parts))
	}
	header, claims = map[string]any{}, map[string]any{}
	for i, into := range []map[string]any{header, claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("JWS part %d: %v", i, err)
		}
		if err := json.Unmarshal(b, &into); err != nil {
			t.Fatalf("JWS part %d: %v", i, err)
		}
	}
	return header, claims
}

// checkIDToken asserts the ID token's alg, sub, azp and email/name placement match User and Capabilities.
func checkIDToken(t *testing.T, p Provider, idToken string) map[string]any {
	t.Helper()
	h, c := jwtParts(t, idToken)
	caps, user := p.Capabilities(), p.User()
	if h["alg"] != caps.SigningAlgs[0] {
		t.Errorf("ID token alg: expected %s, got %v", caps.SigningAlgs[0], h["alg"])
	}
	if c["iss"] != p.Issuer() || c["sub"] != user.Subject {
		t.Errorf("ID token iss/sub: expected %q/%q, got %v/%v", p.Issuer(), user.Subject, c["iss"], c["sub"])
	}
	if _, got := c["azp"]; got != caps.AZP {
		t.Errorf("ID token azp present: expected %v, got %v (%v)", caps.AZP, got, c["azp"])
	}
	_, hasEmail := c["email"]
	if hasEmail == caps.ClaimsInUserinfoOnly {
		t.Errorf("ID token email present: expected %v, got %v", !caps.ClaimsInUserinfoOnly, hasEmail)
	}
	if hasEmail && (c["email"] != user.Email || c["name"] != user.Name) {
		t.Errorf("ID token email/name: expected %q/%q, got %v/%v", user.Email, user.Name, c["email"], c["name"])
	}
	return c
}

// userinfo calls p's userinfo endpoint with an access token and returns its claims.
func userinfo(t *testing.T, d map[string]any, accessToken string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprint(d["userinfo_endpoint"]), nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo: expected 200, got %s: %s", resp.Status, body)
	}
	c := map[string]any{}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	return c
}

// exchange redeems a code as p's client.
func exchange(t *testing.T, p Provider, d map[string]any, code string) *Tokens {
	t.Helper()
	st, errCode, tok := tokenRequest(t, p, d, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirectURI}})
	if st != http.StatusOK {
		t.Fatalf("code exchange: expected 200, got %d %q", st, errCode)
	}
	return tok
}

// refresh runs the refresh_token grant as p's client and returns the status, the error code and the tokens.
func refresh(t *testing.T, p Provider, d map[string]any, refreshToken string) (int, string, *Tokens) {
	t.Helper()
	return tokenRequest(t, p, d, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
}

// tokenRequest posts form to p's token endpoint as its client (client_secret_basic).
func tokenRequest(t *testing.T, p Provider, d map[string]any, form url.Values) (int, string, *Tokens) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprint(d["token_endpoint"]), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(p.ClientID()), url.QueryEscape(p.ClientSecret()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("token endpoint: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Tokens
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("token endpoint: %v", err)
	}
	return resp.StatusCode, body.Error, &body.Tokens
}
