package providers

import (
	"errors"
	"net/http"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
)

// devIDP is our Descope-shaped dev provider (integration/devidp) behind a gate: issuer http://127.0.0.1:PORT/<project>,
// the Descope JWT template's azp claim on, ID and access tokens living Options.TokenTTL, rotating refresh tokens.
type devIDP struct {
	gate    *Gate
	idp     *devidp.Server
	profile string
}

// StartDevIDP starts devidp behind a gate, with exactly Options.RedirectURI and PostLogoutRedirectURI registered.
func StartDevIDP(o Options) (Provider, error) { return startDevIDP(o, "") }

// StartDevIDPStrict starts devidp in its descope-strict profile (every Descope mode of issue 19: session tokens
// with the bare project ID as iss and no aud, the tenantOnly schema, an OIDC app's client ID with two audiences and
// no azp, JWT refresh tokens, Descope's error envelope, issuer <base>/v1/apps/<ProjectID>); the plugin is
// configured with projectID, requireAZP false and allowMissingAudience.
func StartDevIDPStrict(o Options) (Provider, error) {
	return startDevIDP(o, devidp.ProfileDescopeStrict)
}

func startDevIDP(o Options, profile string) (Provider, error) {
	if o.RedirectURI == "" {
		return nil, errors.New("devidp: Options.RedirectURI is required")
	}
	gate, err := NewGate()
	if err != nil {
		return nil, err
	}
	do := devidp.Options{
		PublicURL: gate.URL(), AZPClaim: profile == "", Profile: profile, RedirectURIs: []string{o.RedirectURI},
		IDTokenLifetime: o.TokenTTL, AccessTokenLifetime: o.TokenTTL,
	}
	if o.PostLogoutRedirectURI != "" {
		do.PostLogoutRedirectURIs = []string{o.PostLogoutRedirectURI}
	}
	idp, err := devidp.Start(do)
	if err != nil {
		_ = gate.Close()
		return nil, err
	}
	p := &devIDP{gate: gate, idp: idp, profile: profile}
	if err := gate.Start(idp.ListenURL()); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

func (p *devIDP) Name() string {
	if p.profile != "" {
		return "devidp-strict"
	}
	return "devidp"
}
func (p *devIDP) Issuer() string       { return p.idp.Issuer() }
func (p *devIDP) ClientID() string     { return p.idp.ClientID() }
func (p *devIDP) ClientSecret() string { return p.idp.ClientSecret() }
func (p *devIDP) Scopes() []string     { return []string{"openid", "profile", "email", "offline_access"} }
func (p *devIDP) PluginConfig() map[string]any {
	if p.profile == "" {
		return map[string]any{}
	}
	return map[string]any{"projectID": p.idp.ProjectID(), "requireAZP": "false", "allowMissingAudience": "true"}
}
func (p *devIDP) Gate() *Gate { return p.gate }

func (p *devIDP) User() User {
	u := devidp.DemoUser()
	return User{Username: u.Username, Password: u.Password, Subject: u.Subject, Email: u.Email, Name: u.Name}
}

func (p *devIDP) Capabilities() Capabilities {
	if p.profile != "" {
		return Capabilities{
			EndSession: true, Revocation: true, Userinfo: true, JWTAccessTokens: true, RotatingRefresh: true,
			SigningAlgs: []string{p.idp.Options().SigningAlg}, MinTokenTTL: time.Second,
		}
	}
	return Capabilities{
		EndSession: true, Revocation: true, Userinfo: true, JWTAccessTokens: true,
		AccessTokenAudience: p.idp.ClientID(), AZP: true, RotatingRefresh: true,
		SigningAlgs: []string{p.idp.Options().SigningAlg}, MinTokenTTL: time.Second,
	}
}

// Login drives devidp's login page (GET/POST /login).
func (p *devIDP) Login(client *http.Client, authorizeURL string) (string, error) {
	u := devidp.DemoUser()
	return p.idp.Login(client, authorizeURL, u.Username, u.Password)
}

// Stats are devidp's own request counters (by endpoint and grant type), beside the gate's.
func (p *devIDP) Stats() devidp.Stats { return p.idp.Stats() }

func (p *devIDP) Close() error { return errors.Join(p.gate.Close(), p.idp.Close()) }
