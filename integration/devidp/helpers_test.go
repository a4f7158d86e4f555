package devidp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestMain silences zitadel's default-logger output (route registration
// and every rejected request, which these tests provoke on purpose).
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	}
	os.Exit(m.Run())
}

const testRedirect = "http://127.0.0.1:18080/oauth2/callback"

func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

type discovery struct {
	Issuer                 string   `json:"issuer"`
	AuthorizationEndpoint  string   `json:"authorization_endpoint"`
	TokenEndpoint          string   `json:"token_endpoint"`
	UserinfoEndpoint       string   `json:"userinfo_endpoint"`
	JWKSURI                string   `json:"jwks_uri"`
	EndSessionEndpoint     string   `json:"end_session_endpoint"`
	RevocationEndpoint     string   `json:"revocation_endpoint"`
	CodeChallengeMethods   []string `json:"code_challenge_methods_supported"`
	TokenAuthMethods       []string `json:"token_endpoint_auth_methods_supported"`
	GrantTypes             []string `json:"grant_types_supported"`
	ScopesSupported        []string `json:"scopes_supported"`
	IDTokenSigningAlgs     []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported []string `json:"response_types_supported"`
}

func getJSON(t *testing.T, rawURL string, v any) {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", rawURL, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
}

func fetchDiscovery(t *testing.T, s *Server) discovery {
	t.Helper()
	var d discovery
	getJSON(t, s.Issuer()+"/.well-known/openid-configuration", &d)
	return d
}

// authParams are the parameters of one authorization request.
type authParams struct {
	verifier, state, nonce, scope, redirect string
}

func newAuthParams() authParams {
	return authParams{
		verifier: rand.Text() + rand.Text(),
		state:    "state-" + rand.Text(),
		nonce:    "nonce-" + rand.Text(),
		scope:    "openid email profile offline_access",
		redirect: testRedirect,
	}
}

func (p authParams) challenge() string {
	sum := sha256.Sum256([]byte(p.verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (p authParams) authorizeURL(s *Server) string {
	q := url.Values{
		"client_id":             {s.ClientID()},
		"response_type":         {"code"},
		"redirect_uri":          {p.redirect},
		"scope":                 {p.scope},
		"state":                 {p.state},
		"nonce":                 {p.nonce},
		"code_challenge":        {p.challenge()},
		"code_challenge_method": {"S256"},
	}
	return s.URL() + PathAuthorize + "?" + q.Encode()
}

// login runs the authorization with the demo user and returns the code.
func login(t *testing.T, s *Server, p authParams) string {
	t.Helper()
	cb, err := s.Login(newBrowser(t), p.authorizeURL(s), DemoUsername, DemoPassword)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	u, err := url.Parse(cb)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != p.redirect {
		t.Fatalf("callback %q, want redirect to %q", cb, p.redirect)
	}
	if u.Query().Get("state") != p.state {
		t.Fatalf("callback state %q, want %q", u.Query().Get("state"), p.state)
	}
	code := u.Query().Get("code")
	if code == "" {
		t.Fatalf("callback without code: %s", cb)
	}
	return code
}

type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	RefreshToken     string `json:"refresh_token"`
	ExpiresIn        int    `json:"expires_in"`
	IDToken          string `json:"id_token"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// postToken posts form to the token endpoint, authenticating with
// client_secret_basic (basic) or client_secret_post.
func postToken(t *testing.T, s *Server, form url.Values, basic bool, secret string) (int, tokenResponse) {
	t.Helper()
	if !basic {
		form.Set("client_id", s.ClientID())
		form.Set("client_secret", secret)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL()+PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(s.ClientID()), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		t.Fatalf("token response: %v", err)
	}
	return resp.StatusCode, tr
}

func exchangeCode(t *testing.T, s *Server, p authParams, code string, basic bool) tokenResponse {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {p.redirect}, "code_verifier": {p.verifier}}
	status, tr := postToken(t, s, form, basic, s.ClientSecret())
	if status != http.StatusOK {
		t.Fatalf("code exchange: %d %s: %s", status, tr.Error, tr.ErrorDescription)
	}
	return tr
}

func refresh(t *testing.T, s *Server, rt string) (int, tokenResponse) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	return postToken(t, s, form, true, s.ClientSecret())
}

// verifyJWT checks the signature against the published JWKS and returns
// the header kid and the claims.
func verifyJWT(t *testing.T, s *Server, token string) (string, map[string]any) {
	t.Helper()
	var set jose.JSONWebKeySet
	getJSON(t, s.Issuer()+"/.well-known/jwks.json", &set)
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in JWKS", kid, len(keys))
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("verify JWT: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return kid, claims
}

func audience(c map[string]any) []string {
	switch v := c["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, a := range v {
			s, _ := a.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func strs(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// noRedirect is a client that returns redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}
