package matrix

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/echo"
	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik-descope/descopeoidc/integration/providers"
)

const (
	sessionSecret = "matrix-session-secret-0123456789abcdef0123"
	// tokenTTL is what every provider is asked for: short enough for the refresh scenario to see tokens expire.
	tokenTTL     = 6 * time.Second
	callbackPath = "/oauth2/callback"
	byePath      = "/bye"
)

// cell is one provider under one target: a TLS site on loopback (listening before the provider starts, so that
// its callback URL can be registered exactly) whose handler each scenario replaces with one built for it.
type cell struct {
	name    string
	p       providers.Provider
	caps    providers.Capabilities
	disc    *providers.Discovery
	tg      harness.Target
	site    *httptest.Server
	handler atomic.Pointer[http.Handler]
	// upstream counts the requests that reached the echo service.
	upstream atomic.Int64
}

func newCell(t *testing.T, name string, tg harness.Target) *cell {
	t.Helper()
	c := &cell{name: name, tg: tg}
	c.site = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := c.handler.Load()
		if h == nil {
			http.Error(w, "no handler", http.StatusInternalServerError)
			return
		}
		(*h).ServeHTTP(w, r)
	}))
	t.Cleanup(c.site.Close)
	p, err := providers.Starters[name](providers.Options{
		RedirectURI: c.site.URL + callbackPath, PostLogoutRedirectURI: c.site.URL + byePath, TokenTTL: tokenTTL,
	})
	if err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	c.p, c.caps = p, p.Capabilities()
	if c.disc, err = providers.Discover(p); err != nil {
		t.Fatalf("%s discovery: %v", name, err)
	}
	return c
}

// ttl is how long the provider's tokens really live (its minimum may be above what it was asked for).
func (c *cell) ttl() time.Duration {
	if c.caps.MinTokenTTL > tokenTTL {
		return c.caps.MinTokenTTL
	}
	return tokenTTL
}

// config is the plugin configuration for this provider, with extra on top. Identity goes to X-Forwarded-User;
// refreshMargin is short, so that only the refresh scenario refreshes.
func (c *cell) config(extra map[string]any) map[string]any {
	cfg := map[string]any{
		"issuer": c.p.Issuer(), "clientID": c.p.ClientID(), "clientSecret": c.p.ClientSecret(),
		"sessionSecret": sessionSecret, "scopes": strings.Join(c.p.Scopes(), ","),
		"forwardHeaders": map[string]any{"X-Forwarded-User": "sub"}, "refreshMargin": "1s",
	}
	for k, v := range c.p.PluginConfig() {
		cfg[k] = v
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// use builds the middleware (with this cell's target) for this configuration and serves it on the site.
func (c *cell) use(t T, extra map[string]any) {
	t.Helper()
	up := echo.Handler()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.upstream.Add(1)
		up.ServeHTTP(w, r)
	})
	h, err := c.tg.Build(c.config(extra), next, "matrix-"+c.name)
	if err != nil {
		t.Fatalf("%s: building the middleware: %v", c.tg.Name(), err)
	}
	c.handler.Store(&h)
}

// bearerConfig lets bearer tokens through, for the provider's access tokens' audience when it has one.
func (c *cell) bearerConfig() map[string]any {
	cfg := map[string]any{"allowBearerTokens": "true"}
	if c.caps.AccessTokenAudience != "" {
		cfg["bearerAudiences"] = c.caps.AccessTokenAudience
	}
	return cfg
}

// accessTokenRequester is a provider that gives JWT access tokens only when asked for them (oidc-provider: a
// resource indicator): AccessTokenRequest is the extra authorization request parameters.
type accessTokenRequester interface {
	AccessTokenRequest() url.Values
}

// clientTokens are the provider's own tokens, from the client's own code flow (no plugin involved), asked for the
// way that gives JWT access tokens where the provider needs to be asked.
func (c *cell) clientTokens(t T) *providers.Tokens {
	t.Helper()
	var extra url.Values
	if r, ok := c.p.(accessTokenRequester); ok {
		extra = r.AccessTokenRequest()
	}
	return c.codeFlow(t, extra)
}

// codeFlow runs the client's own code flow with extra authorization request parameters (nil: as the plugin asks).
func (c *cell) codeFlow(t T, extra url.Values) *providers.Tokens {
	t.Helper()
	tok, err := providers.ClientTokens(c.p, c.site.URL+callbackPath, extra)
	if err != nil {
		t.Fatalf("the client's own code flow at %s: %v", c.name, err)
	}
	return tok
}
