package providers

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// OIDCProviderResource is the API (RFC 8707 resource indicator) oidc-provider issues RFC 9068 JWT access tokens
// for; it is their aud.
const OIDCProviderResource = "https://api.matrix.example"

// OIDCProviderAlgs are the ID token algorithms oidc-provider has a client for (id_token_signed_response_alg), the
// default first: Ed25519 is RFC 9864's fully-specified name for EdDSA with Ed25519, which it advertises beside EdDSA.
var OIDCProviderAlgs = []string{"ES256", "PS256", "EdDSA", "Ed25519"}

const (
	opClientSecret = "oidc-provider-matrix-client-secret-0123456789"
	opUsername     = "alice"
	opPassword     = "oidc-provider-matrix-password"
	opSubject      = "alice-4711"
	opEmail        = "alice@example.test"
	opName         = "Alice Example"
)

var listeningRe = regexp.MustCompile(`\{"listening":"(127\.0\.0\.1:\d+)"\}`)

// OIDCProvider is panva's oidc-provider 9.13.3 (npm, integration/providers/oidcprovider: `npm ci` there, or
// `make node_modules`), run by node on server.mjs behind a Gate; its issuer is the gate's URL, without a slash.
//
// Its quirks: email and name requested by scope are in userinfo only (conformIdTokenClaims), with azp absent from
// ID tokens; an access token is either opaque and for userinfo (no resource requested) or an RFC 9068 JWT for
// OIDCProviderResource (typ at+jwt, client_id, aud = the resource, no azp, no nonce), which userinfo refuses, and
// then the ID token carries email and name itself;
// refresh tokens rotate at every use, and reusing a rotated one revokes the whole grant; end_session asks the user
// to confirm (ConfirmLogout answers that page).
type OIDCProvider struct {
	opts   Options
	gate   *Gate
	proc   *process
	issuer string
	alg    string // this view's client signs ID tokens with alg
	owner  bool   // Close stops the process (views from WithIDTokenAlg share it)
}

// StartOIDCProvider runs server.mjs with a configuration from opts behind a new gate and waits for discovery. Its
// default client's ID tokens are ES256; WithIDTokenAlg gives the others.
func StartOIDCProvider(opts Options) (*OIDCProvider, error) {
	dir := filepath.Join(repoRoot(), "integration", "providers", "oidcprovider")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		return nil, fmt.Errorf("oidc-provider is not installed in %s: run `make node_modules` (npm ci) at the repository root", dir)
	}
	node, err := findTool("node", "deps") // bin/node where .ci/deps.sh put one (Debian's node too old)
	if err != nil {
		return nil, err
	}
	gate, err := NewGate()
	if err != nil {
		return nil, err
	}
	p := &OIDCProvider{opts: opts, gate: gate, issuer: gate.URL(), alg: OIDCProviderAlgs[0], owner: true}
	if err := p.start(dir, node); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

func (p *OIDCProvider) start(dir, node string) error {
	keys, err := opSigningKeys()
	if err != nil {
		return err
	}
	conf, err := json.Marshal(p.config(keys))
	if err != nil {
		return err
	}
	env := []string{"OIDCPROVIDER_CONFIG=" + string(conf), "NODE_ENV=test"}
	if p.proc, err = startProcess("oidc-provider", dir, env, node, "server.mjs"); err != nil {
		return err
	}
	addr, err := p.proc.waitOutput(listeningRe)
	if err != nil {
		return err
	}
	if err := p.gate.Start("http://" + addr); err != nil {
		return err
	}
	return p.proc.waitDiscovery(p.issuer, p.issuer)
}

func (p *OIDCProvider) config(keys []string) map[string]any {
	var clients []any
	for _, alg := range OIDCProviderAlgs {
		c := map[string]any{
			"client_id": opClientID(alg), "client_secret": opClientSecret, "redirect_uris": []string{p.opts.RedirectURI},
			"id_token_signed_response_alg": alg,
		}
		if p.opts.PostLogoutRedirectURI != "" {
			c["post_logout_redirect_uris"] = []string{p.opts.PostLogoutRedirectURI}
		}
		if p.opts.BackchannelLogoutURI != "" {
			c["backchannel_logout_uri"] = p.opts.BackchannelLogoutURI
			c["backchannel_logout_session_required"] = true
		}
		clients = append(clients, c)
	}
	return map[string]any{
		"issuer": p.issuer, "ttl": int(p.opts.TokenTTL / time.Second), "resource": OIDCProviderResource,
		"clients": clients, "keys": keys,
		"user": map[string]string{
			"sub": opSubject, "username": opUsername, "password": opPassword, "email": opEmail, "name": opName,
		},
	}
}

// opSigningKeys are oidc-provider's signing keys as PKCS #8 PEM (P-256 for ES256, RSA 2048 for PS256/RS256 and
// Ed25519), made once per test process and shared by every provider it starts: each start has its own issuer, so
// sharing keys proves nothing false, and an RSA key made by node at every start cost seconds of CPU on a loaded CI
// machine (one start ran out of startTimeout).
var opSigningKeys = sync.OnceValues(func() ([]string, error) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	var pems []string
	for _, k := range []any{ec, rsaKey, ed} {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		pems = append(pems, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	}
	return pems, nil
})

func opClientID(alg string) string {
	if alg == OIDCProviderAlgs[0] {
		return "descopeoidc-matrix"
	}
	return "descopeoidc-matrix-" + alg
}

// WithIDTokenAlg is the same running provider seen through the client whose ID tokens are signed with alg (one of
// OIDCProviderAlgs). Closing the view does not stop the provider.
func (p *OIDCProvider) WithIDTokenAlg(alg string) (*OIDCProvider, error) {
	for _, a := range OIDCProviderAlgs {
		if a == alg {
			v := *p
			v.alg, v.owner = alg, false
			return &v, nil
		}
	}
	return nil, fmt.Errorf("oidc-provider: expected one of %v, got %q", OIDCProviderAlgs, alg)
}

func (p *OIDCProvider) Name() string         { return "oidcprovider" }
func (p *OIDCProvider) Issuer() string       { return p.issuer }
func (p *OIDCProvider) ClientID() string     { return opClientID(p.alg) }
func (p *OIDCProvider) ClientSecret() string { return opClientSecret }
func (p *OIDCProvider) Scopes() []string     { return []string{"openid", "email", "profile"} }
func (p *OIDCProvider) Gate() *Gate          { return p.gate }

// PluginConfig: its ID tokens carry no azp, and its JWT access tokens have the resource as aud.
func (p *OIDCProvider) PluginConfig() map[string]any {
	return map[string]any{"requireAZP": false, "bearerAudiences": []string{OIDCProviderResource}}
}

func (p *OIDCProvider) User() User {
	return User{Username: opUsername, Password: opPassword, Subject: opSubject, Email: opEmail, Name: opName}
}

func (p *OIDCProvider) Capabilities() Capabilities {
	return Capabilities{
		EndSession: true, Revocation: true, Userinfo: true, ClaimsInUserinfoOnly: true,
		JWTAccessTokens: true, AccessTokenAudience: OIDCProviderResource, AZP: false, RotatingRefresh: true,
		SigningAlgs: []string{p.alg}, MinTokenTTL: time.Second,
	}
}

// AccessTokenRequest is what ClientTokens needs (its extra) for a JWT access token for OIDCProviderResource; without
// it the access token is opaque (and is the one userinfo accepts). With it, no access token is good for userinfo,
// so oidc-provider puts the scope's claims (email, name) into the ID token instead.
func (p *OIDCProvider) AccessTokenRequest() url.Values {
	return url.Values{"resource": {OIDCProviderResource}}
}

// Login fills in server.mjs's login form, then its consent form.
func (p *OIDCProvider) Login(client *http.Client, authorizeURL string) (string, error) {
	return walkToRedirect(client, authorizeURL, p.opts.RedirectURI, p.fill)
}

// ConfirmLogout is the request a user's click on "Yes, sign me out" sends, given oidc-provider's end_session page
// (providers.LogoutConfirmer): its form posts to an absolute URL.
func (p *OIDCProvider) ConfirmLogout(page string) (*http.Request, error) {
	f, err := p.fill(nil, page, parseForms(page))
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(f.Action); err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("oidc-provider's logout form: expected an absolute action, got %q", f.Action)
	}
	return formRequest(f, f.Action)
}

func (p *OIDCProvider) fill(_ *url.URL, _ string, forms []htmlForm) (*htmlForm, error) {
	if f := formWith(forms, "prompt", "login"); f != nil {
		f.Fields.Set("login", opUsername)
		f.Fields.Set("password", opPassword)
		return f, nil
	}
	if f := formWith(forms, "prompt", "consent"); f != nil {
		return f, nil
	}
	// The sign-out confirmation: op.logoutForm (with a session; its "Yes, sign me out" button is logout=yes) or a
	// form a script submits at once (without one).
	if f := formWith(forms, "xsrf", ""); f != nil && strings.HasSuffix(f.Action, "/session/end/confirm") {
		f.Fields.Set("logout", "yes")
		return f, nil
	}
	return nil, errors.New("not one of oidc-provider's login, consent or logout forms")
}

// Close stops the provider and the gate (for the view StartOIDCProvider returned; other views: nothing).
func (p *OIDCProvider) Close() error {
	if !p.owner {
		return nil
	}
	if p.proc != nil {
		p.proc.stop()
	}
	return p.gate.Close()
}

// Output is what the node process wrote (the last 64 KiB), for a failing test's message.
func (p *OIDCProvider) Output() string {
	if p.proc == nil {
		return ""
	}
	return p.proc.output()
}
