// Package devidp is a local, in-memory OpenID provider that imitates the
// parts of Descope the descopeoidc middleware relies on. It is built on
// github.com/zitadel/oidc/v3/pkg/op and is meant for tests and the demo only:
// it keeps everything in memory and trusts loopback redirect URIs.
//
// Layout, like Descope:
//
//	issuer            http://<addr>/<ProjectID>
//	discovery         <issuer>/.well-known/openid-configuration
//	JWKS              <issuer>/.well-known/jwks.json
//	authorize         http://<addr>/oauth2/v1/authorize
//	token             http://<addr>/oauth2/v1/token
//	userinfo          http://<addr>/oauth2/v1/userinfo
//	revocation        http://<addr>/oauth2/v1/revoke
//	end session       http://<addr>/oauth2/v1/logout
//	introspection     http://<addr>/oauth2/v1/introspect
//	login page        http://<addr>/login?authRequestID=...
//	passkeys          http://<addr>/login/passkey/{sign-up,sign-in}/{begin,finish} (WebAuthn, called by the page)
//
// Passkeys (WebAuthn) work when the provider is reached by a host name such as localhost (Addr "localhost:9000"):
// browsers refuse an IP address as relying party ID. Sign-up creates an account (SignUpUser) for a new email, or
// adds a passkey to an existing account given its password; a passkey sign-in has amr ["webauthn"], a password
// one ["pwd"].
//
// The only client is the project itself: client_id = ProjectID,
// client_secret = ClientSecret (the "Descope access key").
package devidp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

// Defaults applied by Start to zero-valued Options fields.
const (
	DefaultAddr         = "127.0.0.1:0"
	DefaultProjectID    = "P2demoProject000000000000000"
	DefaultClientSecret = "demo-access-key"
	DefaultLifetime     = time.Hour
	// DefaultRefreshTokenLifetime is the lifetime of a refresh token (renewed on rotation).
	DefaultRefreshTokenLifetime = 24 * time.Hour

	DemoUsername = "demo@example.com"
	DemoPassword = "demo-password"
	DemoSubject  = "U2demoUser"
	DemoTenant   = "T1demoTenant"
)

// Options configures the provider. The zero value is usable.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0" (a free port).
	// An unspecified host (":9000", "0.0.0.0:9000") is advertised as 127.0.0.1.
	Addr string
	// PublicURL is the base URL (http://host:port, no path) advertised in the issuer and every endpoint, when the
	// provider is reached through a proxy such as a test gate; default http://<advertised listen address>.
	PublicURL string
	// ProjectID is the Descope project ID: it is the client_id, the
	// audience of every token and the last path segment of the issuer.
	ProjectID string
	// ClientID is the OAuth client: default the project ID. Another value models a Descope OIDC or inbound app with
	// its own client ID: its ID and access tokens have aud [ProjectID, ClientID] and no azp (descope.go).
	ClientID string
	// Profile applies a set of options first: ProfileDescopeStrict (descope.go).
	Profile string
	// Descope are the modes in which the provider behaves as Descope really does (descope.go).
	Descope Descope
	// ClientSecret is the client secret (a Descope access key).
	ClientSecret string
	// RedirectURIs are the exact redirect URIs allowed.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the exact post_logout_redirect_uri values allowed.
	PostLogoutRedirectURIs []string
	// AllowLoopbackRedirects additionally allows any http(s) redirect URI and
	// post_logout_redirect_uri whose host is localhost or a loopback IP, on
	// any port and path. It is implied when both URI lists are empty.
	AllowLoopbackRedirects bool
	// Users are the accounts accepted by the login page; default DemoUser().
	Users []User
	// AZPClaim is the "Descope JWT template" switch: when true, ID tokens and
	// access tokens carry azp = ProjectID; when false neither has an azp claim.
	AZPClaim bool
	// IDTokenLifetime and AccessTokenLifetime default to one hour.
	IDTokenLifetime     time.Duration
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime defaults to 24 hours.
	RefreshTokenLifetime time.Duration
	// NoRefreshRotation keeps the same refresh token across refreshes.
	// By default (false) every refresh returns a new refresh token and the
	// used one is rejected afterwards with invalid_grant.
	NoRefreshRotation bool
	// AlwaysIssueRefreshTokens issues a refresh token on every code exchange,
	// even when the scope offline_access was not requested.
	AlwaysIssueRefreshTokens bool
	// SigningAlg is "RS256" (default) or "ES256".
	SigningAlg string
	// AuthzInAccessTokenOnly models a Descope project whose ID token carries
	// no roles, permissions, tenants or dct: only the access token (Descope's
	// session token) has them; userinfo has none either.
	AuthzInAccessTokenOnly bool
	// ProfileInUserinfoOnly keeps email, email_verified and name out of the
	// ID token and the access token: only userinfo has them (OIDC Core 5.4,
	// as panva's oidc-provider does by default).
	ProfileInUserinfoOnly bool
	// UserinfoSubject, when set, makes userinfo answer with this sub and the
	// claims of whoever has it: a provider (or a man in the middle) handing
	// out another user's claims. OIDC Core 5.3.4 says they must not be used.
	UserinfoSubject string
	// SSO keeps a provider session (a cookie) after a password login: a later authorization of the same browser
	// completes without the login form unless prompt=login, an older authentication than max_age, or acr_values the
	// session does not reach ask for a new one; prompt=none then answers login_required or interaction_required
	// instead of showing the form. acr_values asking for ACRMFA make the form require the one-time code DemoOTP.
	// Off by default: every authorization shows the form, and prompt=none is always login_required.
	SSO bool
	// OpaqueAccessTokens issues opaque (encrypted, non-JWT) access tokens instead of JWTs: resource servers learn
	// about them at the introspection endpoint (RFC 7662), which answers with token_type Bearer and the issuer.
	OpaqueAccessTokens bool
}

// TenantRoles are the roles and permissions of a user in one tenant.
type TenantRoles struct {
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
}

// User is an account of the provider.
type User struct {
	Username      string
	Password      string
	Subject       string
	Email         string
	Name          string
	Roles         []string
	Permissions   []string
	Tenants       map[string]TenantRoles
	CurrentTenant string // the dct claim; omitted when empty
	// EmailUnverified makes email_verified false (default true).
	EmailUnverified bool
}

// DemoUser returns the default user.
func DemoUser() User {
	return User{
		Username:    DemoUsername,
		Password:    DemoPassword,
		Subject:     DemoSubject,
		Email:       DemoUsername,
		Name:        "Demo User",
		Roles:       []string{"viewer", "editor"},
		Permissions: []string{"read", "write"},
		Tenants: map[string]TenantRoles{
			DemoTenant: {Roles: []string{"admin"}, Permissions: []string{"tenant.manage"}},
		},
		CurrentTenant: DemoTenant,
	}
}

// SignUpUser is the account created when someone signs up with a passkey: a new subject, the email as username
// (no password: only its passkeys sign in), the role viewer, and the member role in the demo tenant.
func SignUpUser(email, name string) User {
	if name == "" {
		name = email
	}
	return User{
		Username:    email,
		Subject:     "U2" + rand.Text()[:20],
		Email:       email,
		Name:        name,
		Roles:       []string{"viewer"},
		Permissions: []string{"read"},
		Tenants: map[string]TenantRoles{
			DemoTenant: {Roles: []string{"member"}, Permissions: []string{}},
		},
		CurrentTenant: DemoTenant,
	}
}

// withDefaults returns a copy of o with defaults applied, or an error.
func (o Options) withDefaults() (Options, error) {
	if err := o.applyProfile(); err != nil {
		return o, err
	}
	setDefault(&o.Addr, DefaultAddr)
	setDefault(&o.ProjectID, DefaultProjectID)
	setDefault(&o.ClientID, o.ProjectID)
	setDefault(&o.ClientSecret, DefaultClientSecret)
	setDefault(&o.SigningAlg, "RS256")
	setDefault(&o.IDTokenLifetime, DefaultLifetime)
	setDefault(&o.AccessTokenLifetime, DefaultLifetime)
	setDefault(&o.RefreshTokenLifetime, DefaultRefreshTokenLifetime)
	if len(o.Users) == 0 {
		o.Users = []User{DemoUser()}
	}
	if len(o.RedirectURIs) == 0 && len(o.PostLogoutRedirectURIs) == 0 {
		o.AllowLoopbackRedirects = true
	}
	if o.SigningAlg != "RS256" && o.SigningAlg != "ES256" {
		return o, fmt.Errorf("devidp: unsupported signing algorithm %q", o.SigningAlg)
	}
	seen := map[string]bool{}
	for _, u := range o.Users {
		if u.Username == "" || u.Subject == "" {
			return o, errors.New("devidp: every user needs a Username and a Subject")
		}
		if seen[u.Username] || seen["sub:"+u.Subject] {
			return o, fmt.Errorf("devidp: duplicate user %q", u.Username)
		}
		seen[u.Username], seen["sub:"+u.Subject] = true, true
	}
	return o, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
