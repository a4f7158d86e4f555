package devidp

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// client is the single confidential web client: the Descope project.
//
// zitadel only matches redirect URIs exactly (or by glob); to allow any
// loopback redirect URI without globs, loopbackURIs puts the loopback
// redirect_uri / post_logout_redirect_uri of the current request into the
// request context, and the client built for that request lists them.
type client struct {
	id, secret      string
	redirects       []string
	postLogout      []string
	idTokenLifetime time.Duration
	loginURL        string
	opaque          bool // Options.OpaqueAccessTokens
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return c.redirects }
func (c *client) PostLogoutRedirectURIs() []string    { return c.postLogout }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod {
	// Basic here still accepts client_secret_post: zitadel authenticates
	// whichever credentials the request carries (Config.AuthMethodPost).
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(id string) string { return c.loginURL + "?authRequestID=" + id }
func (c *client) AccessTokenType() op.AccessTokenType {
	if c.opaque {
		return op.AccessTokenTypeBearer
	}
	return op.AccessTokenTypeJWT
}
func (c *client) IDTokenLifetime() time.Duration { return c.idTokenLifetime }
func (c *client) DevMode() bool                  { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed accepts any scope, like descope.claims or descope.custom_claims.
func (c *client) IsScopeAllowed(string) bool { return true }

// IDTokenUserinfoClaimsAssertion puts email and name into the ID token even
// though an access token is issued, as Descope does.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

type loopbackKey struct{}

// loopbackURIs remembers the loopback redirect URIs of the request (see client).
func loopbackURIs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "invalid form", http.StatusBadRequest)
			return
		}
		var uris []string
		for _, name := range []string{"redirect_uri", "post_logout_redirect_uri"} {
			for _, u := range r.Form[name] {
				if _, ok := op.HTTPLoopbackOrLocalhost(u); ok {
					uris = append(uris, u)
				}
			}
		}
		if len(uris) > 0 {
			r = r.WithContext(context.WithValue(r.Context(), loopbackKey{}, uris))
		}
		next.ServeHTTP(w, r)
	})
}

// clientFor returns the client as seen by the request of ctx.
func (s *storage) clientFor(ctx context.Context) *client {
	c := *s.client
	if !s.opts.AllowLoopbackRedirects {
		return &c
	}
	if uris, ok := ctx.Value(loopbackKey{}).([]string); ok {
		c.redirects = append(slices.Clone(c.redirects), uris...)
		c.postLogout = append(slices.Clone(c.postLogout), uris...)
	}
	return &c
}
