// Package providers starts OpenID providers behind one interface, for the provider matrix (integration/matrix):
// three that nobody on this project wrote (zitadel/oidc's example OP with its natural trailing-slash issuer, panva's
// OpenID-certified oidc-provider from npm, dex) and our own Descope-shaped devidp. Each is started by this
// repository's own files, on loopback, behind a Gate that the tests can close to play an outage.
//
// A provider quirk is described by Capabilities, never hidden by a skip: a scenario that a provider cannot run
// (dex has no end_session endpoint) asserts what the plugin does instead.
package providers

import (
	"net/http"
	"time"
)

// Options is what every provider is started with.
type Options struct {
	// RedirectURI is the plugin's callback URL, registered exactly (https://127.0.0.1:PORT/oauth2/callback).
	RedirectURI string
	// PostLogoutRedirectURI is registered exactly as an allowed post_logout_redirect_uri (where it applies).
	PostLogoutRedirectURI string
	// BackchannelLogoutURI is registered as the client's backchannel_logout_uri, with
	// backchannel_logout_session_required (sid in ID and logout tokens), where the provider supports it
	// (oidc-provider); "" registers none.
	BackchannelLogoutURI string
	// TokenTTL is the lifetime of ID and access tokens; 0 means the provider's default. Refresh scenarios use a few
	// seconds (a provider whose minimum is higher says so in Capabilities.MinTokenTTL).
	TokenTTL time.Duration
}

// User is the account a provider's login is driven with, and what its tokens/userinfo say about it.
type User struct {
	Username, Password string
	Subject            string // the sub claim
	Email              string // "" when the provider does not release it
	Name               string // "" when the provider does not release it
}

// Capabilities describe what a provider does, so that scenarios assert the right outcome for each.
type Capabilities struct {
	EndSession           bool          // publishes end_session_endpoint (RP-initiated logout)
	Revocation           bool          // publishes revocation_endpoint
	Userinfo             bool          // publishes userinfo_endpoint
	ClaimsInUserinfoOnly bool          // email/name are not in the ID token, only in userinfo
	JWTAccessTokens      bool          // access tokens are JWTs the plugin can verify as bearer tokens
	AccessTokenAudience  string        // aud of its access tokens (for bearerAudiences); "" when not JWTs
	AZP                  bool          // ID tokens carry azp = client ID (requireAZP may stay on)
	RotatingRefresh      bool          // a refresh returns a new refresh token and the old one is dead
	SigningAlgs          []string      // what its ID tokens are signed with, first = default
	MinTokenTTL          time.Duration // shortest TokenTTL it honours
	// NoPostLogoutRedirect: end_session cannot be told the registered post_logout_redirect_uri (its clients have
	// none), so it refuses the one the plugin sends.
	NoPostLogoutRedirect bool
}

// Provider is a running provider.
type Provider interface {
	Name() string
	// Issuer is exactly what the provider publishes as issuer (a trailing slash included where it has one).
	Issuer() string
	ClientID() string
	ClientSecret() string
	// Scopes to configure on the plugin (always with openid; offline_access or its equivalent when it gives
	// refresh tokens that way).
	Scopes() []string
	// PluginConfig is the plugin keys this provider needs besides issuer, clientID, clientSecret, scopes and the
	// session secret (e.g. requireAZP: false, bearerAudiences). The test adds its own keys on top.
	PluginConfig() map[string]any
	User() User
	Capabilities() Capabilities
	// Login plays the user in a browser: starting at authorizeURL (the provider's authorization URL, or a plugin URL
	// that redirects there), it fills in the provider's login (and consent) forms with User(), following redirects
	// with client (whose jar keeps the provider's cookies; its CheckRedirect is not used), until the provider
	// redirects to RedirectURI. That URL (with code and state, or error) is returned without being requested.
	Login(client *http.Client, authorizeURL string) (callbackURL string, err error)
	// Gate is the front door every request to the provider goes through; Gate().Down() plays an outage.
	Gate() *Gate
	Close() error
}

// LogoutConfirmer is implemented by a provider whose end_session_endpoint shows a confirmation page (as
// oidc-provider does): ConfirmLogout returns the request a user's click on "yes, sign me out" sends, given the page.
type LogoutConfirmer interface {
	ConfirmLogout(page string) (*http.Request, error)
}
