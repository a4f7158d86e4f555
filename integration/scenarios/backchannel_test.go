package scenarios

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik-descope/descopeoidc/integration/providers"
	"github.com/traefik-descope/descopeoidc/integration/webclient"
)

// lateHandler serves with a handler set after its servers started (the provider's client registration needs the
// site's URLs before the middleware can be built for the provider's issuer).
type lateHandler struct {
	mu sync.RWMutex
	h  http.Handler
}

func (l *lateHandler) set(h http.Handler) {
	l.mu.Lock()
	l.h = h
	l.mu.Unlock()
}

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.RLock()
	h := l.h
	l.mu.RUnlock()
	h.ServeHTTP(w, r)
}

// TestBackchannelLogoutFromOIDCProvider: panva's oidc-provider, with the plugin's backchannelLogoutPath registered as
// the client's backchannel_logout_uri. The user signs out at the provider itself (its end_session page, not through
// the plugin): the provider POSTs a logout_token, and the plugin's session ends at both middlewares serving it.
func TestBackchannelLogoutFromOIDCProvider(t *testing.T) {
	site := &lateHandler{}
	tlsSrv := httptest.NewTLSServer(site)
	t.Cleanup(tlsSrv.Close)
	back := httptest.NewServer(site) // the provider's server-to-server call, plain HTTP on loopback
	t.Cleanup(back.Close)
	p, err := providers.StartOIDCProvider(providers.Options{
		RedirectURI: tlsSrv.URL + "/oauth2/callback", PostLogoutRedirectURI: tlsSrv.URL + "/bye",
		BackchannelLogoutURI: back.URL + "/oauth2/backchannel-logout",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		cfg := merge(p.PluginConfig(), map[string]any{
			"issuer": p.Issuer(), "clientID": p.ClientID(), "clientSecret": p.ClientSecret(), "sessionSecret": sessionSecret,
			"backchannelLogoutPath": "/oauth2/backchannel-logout", "requireAZP": "false",
		})
		e := &env{t: t}
		a, err := tg.Build(cfg, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { e.upstream.Add(1) }), "a")
		if err != nil {
			t.Fatal(err)
		}
		b, err := tg.Build(merge(cfg, map[string]any{"forwardHeaders": map[string]any{"X-Mail": "email"}}), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), "b")
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/b/", b)
		mux.Handle("/", a)
		site.set(mux)
		br := webclient.NewBrowser(t, tlsSrv.Client(), tlsSrv.URL)
		r := br.Get("/a/")
		if r.Status != http.StatusFound {
			t.Fatalf("first request: status %d, want a login redirect", r.Status)
		}
		cb, err := p.Login(br.HTTP, r.Location())
		if err != nil {
			t.Fatalf("login at oidc-provider: %v", err)
		}
		if r := br.Get(cb); r.Status != http.StatusFound {
			t.Fatalf("callback: status %d (body %q)", r.Status, r.Body)
		}
		cookie := br.Cookie("_descopeoidc")
		for _, path := range []string{"/a/", "/b/"} {
			if r := br.Get(path); r.Status != http.StatusOK {
				t.Fatalf("%s signed in: status %d", path, r.Status)
			}
		}
		providerLogout(t, p, br)
		for _, path := range []string{"/a/", "/b/"} {
			br.SetCookie("_descopeoidc", cookie) // the cookie as it was: only the back-channel call can have ended it
			if r := br.Get(path); r.Status != http.StatusFound || !strings.HasPrefix(r.Location(), p.Issuer()) {
				t.Errorf("%s after the logout at the provider: status %d Location %q, want a login; provider output:\n%s", path, r.Status, r.Location(), p.Output())
			}
		}
	})
}

// providerLogout signs the browser out at oidc-provider's own end_session page (its session cookie, no id_token_hint,
// as a user who signs out of the provider in another tab) and confirms it.
func providerLogout(t *testing.T, p *providers.OIDCProvider, br *webclient.Browser) {
	t.Helper()
	resp, err := br.HTTP.Get(p.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	end := p.Issuer() + "/session/end?client_id=" + url.QueryEscape(p.ClientID())
	r := br.Get(end)
	for i := 0; i < 5 && r.Status >= 300 && r.Status < 400; i++ {
		r = br.Get(r.Location())
	}
	if r.Status != http.StatusOK {
		t.Fatalf("end_session: status %d, want the confirmation page", r.Status)
	}
	req, err := p.ConfirmLogout(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	done := br.Send(req)
	for i := 0; i < 5 && done.Status >= 300 && done.Status < 400 && strings.HasPrefix(done.Location(), p.Issuer()); i++ {
		done = br.Get(done.Location())
	}
	if done.Status >= 400 {
		t.Fatalf("confirming the logout at the provider: status %d (body %q)", done.Status, done.Body)
	}
}
