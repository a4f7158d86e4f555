package scenarios

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// shortLived is a provider whose tokens live 6 seconds, for refresh scenarios. (The plugin and the provider count
// whole seconds, so the margins below leave a second of slack either way.)
func shortLived(t *testing.T) *devidp.Server {
	return startIDP(t, devidp.Options{AZPClaim: true, AccessTokenLifetime: 6 * time.Second, IDTokenLifetime: 6 * time.Second})
}

// refreshConfig refreshes 3 seconds before the tokens expire.
func refreshConfig(idp *devidp.Server) map[string]any {
	return merge(baseConfig(idp), map[string]any{"refreshMargin": "3s", "leeway": "1s"})
}

// untilRefreshDue waits until a session made now is due for refresh but its tokens are still valid.
func untilRefreshDue() { time.Sleep(3500 * time.Millisecond) }

// untilExpired waits, after untilRefreshDue, until the first tokens have expired.
func untilExpired() { time.Sleep(3500 * time.Millisecond) }

// TestRefresh: near expiry the session is refreshed once for many concurrent requests, which are all served at once
// with the still-valid tokens; the refresh token is rotated and the next request gets the new cookie.
func TestRefresh(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := shortLived(t)
		e := newEnv(t, tg, idp, refreshConfig(idp))
		b := e.browser()
		b.mustLogin("/")
		old := b.sessionCookie()
		untilRefreshDue()
		const n = 8
		var wg sync.WaitGroup
		statuses := make([]int, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				statuses[i] = withSession(e, old).Status
			}(i)
		}
		wg.Wait()
		for i := 0; i < n; i++ {
			if statuses[i] != http.StatusOK {
				t.Fatalf("request %d at the refresh point: status %d, want 200", i, statuses[i])
			}
		}
		fresh := refreshedCookie(t, e, old)
		if got := idp.Stats().TokenRequests["refresh_token"]; got != 1 {
			t.Fatalf("refresh_token grants = %d for %d concurrent requests, want 1", got, n)
		}
		b.SetCookie("_descopeoidc", fresh)
		untilExpired() // only the refreshed session can work now
		if er := b.Echo("/after", nil); er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
			t.Fatalf("after refresh: user %q", er.Headers["X-Forwarded-User"])
		}
	})
}

// sessionAnswer is the status of a request with exactly this session cookie, and the session cookie it sets.
type sessionAnswer struct {
	Status    int
	setCookie string
}

func withSession(e *env, cookie string) sessionAnswer {
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/concurrent", nil)
	req.AddCookie(&http.Cookie{Name: "_descopeoidc", Value: cookie})
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return sessionAnswer{}
	}
	resp.Body.Close()
	a := sessionAnswer{Status: resp.StatusCode}
	for _, c := range resp.Cookies() {
		if c.Name == "_descopeoidc" && c.Value != "" {
			a.setCookie = c.Value
		}
	}
	return a
}

// refreshedCookie waits (up to 3s) until a request with the old cookie is given the refreshed session's cookie.
func refreshedCookie(t *testing.T, e *env, old string) string {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		a := withSession(e, old)
		if a.setCookie != "" && a.setCookie != old {
			return a.setCookie // whatever the refreshed session's answer (it may be denied now)
		}
		if a.Status != http.StatusOK {
			t.Fatalf("old cookie while the refresh runs: status %d", a.Status)
		}
	}
	t.Fatal("no refreshed cookie within 3s of the refresh point")
	return ""
}

// refreshNow makes the request that starts the browser's due refresh (served with the current tokens) and waits
// until the browser holds the refreshed session's cookie.
func (b *browser) refreshNow() {
	b.t.Helper()
	old := b.sessionCookie()
	b.Get("/start-refresh")
	b.SetCookie("_descopeoidc", refreshedCookie(b.t, b.env, old))
}

// TestRefreshMarginLongerThanLifetime: with a refreshMargin longer than the tokens live (6s tokens, 10s margin) the
// session is refreshed half-way through the lifetime, not on every request.
func TestRefreshMarginLongerThanLifetime(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := shortLived(t)
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"refreshMargin": "10s"}))
		b := e.browser()
		b.mustLogin("/")
		loggedIn := time.Now()
		for i := 0; i < 5; i++ {
			b.Echo("/", nil)
		}
		if got := idp.Stats().TokenRequests["refresh_token"]; got != 0 || time.Since(loggedIn) > 2*time.Second {
			t.Fatalf("5 requests within %s of the login with 6s tokens and a 10s margin: %d refresh grants, want 0",
				time.Since(loggedIn).Round(time.Millisecond), got)
		}
		time.Sleep(time.Until(loggedIn.Add(3500 * time.Millisecond))) // past half the lifetime
		old := b.sessionCookie()
		b.Echo("/", nil)
		b.SetCookie("_descopeoidc", refreshedCookie(t, e, old))
		if got := idp.Stats().TokenRequests["refresh_token"]; got != 1 {
			t.Errorf("past half the lifetime: %d refresh grants, want 1", got)
		}
	})
}

// TestRefreshSharedByTwoRouters: one middleware on two routers (two instances in one process, as Traefik builds
// them). Router A refreshes the session and rotates the refresh token; a request through router B with the old cookie
// continues as A's refreshed session (B is handed its cookie) instead of spending the rotated-away refresh token: one
// grant, nobody signed out. (Separate Traefik processes share nothing without Redis: e2e's TestReplicas.)
func TestRefreshSharedByTwoRouters(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := shortLived(t)
		a := newEnv(t, tg, idp, refreshConfig(idp))
		bEnv := newEnv(t, tg, idp, refreshConfig(idp))
		ba := a.browser()
		ba.mustLogin("/")
		old := ba.sessionCookie()
		untilRefreshDue()
		ba.Echo("/refresh-on-a", nil) // A refreshes (in the background) and rotates the refresh token
		refreshedCookie(t, a, old)
		bb := bEnv.browser()
		bb.SetCookie("_descopeoidc", old)
		if er := bb.Echo("/on-b", nil); er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
			t.Fatalf("router B with the old cookie after A's refresh: user %q", er.Headers["X-Forwarded-User"])
		}
		if got := bb.sessionCookie(); got == old || got == "" {
			t.Fatalf("router B did not hand out the refreshed session's cookie")
		}
		if got := idp.Stats().TokenRequests["refresh_token"]; got != 1 {
			t.Fatalf("refresh_token grants = %d for one session on two routers, want 1", got)
		}
		untilExpired() // the old tokens have expired: only the refreshed session works (and may be refreshed again)
		if er := bb.Echo("/on-b-later", nil); er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
			t.Fatalf("router B after expiry: user %q", er.Headers["X-Forwarded-User"])
		}
	})
}

// TestLogout: a same-origin POST clears every session cookie and goes through the provider's end_session_endpoint
// with id_token_hint, client_id and post_logout_redirect_uri; a cross-site GET only shows a confirmation page.
func TestLogout(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"postLogoutRedirectURL": "/bye"}))
		b := e.browser()
		b.mustLogin("/")
		r := b.Do(http.MethodGet, "/oauth2/logout", map[string]string{"Sec-Fetch-Site": "cross-site"})
		if r.Status != http.StatusOK || !strings.Contains(r.Body, `method="post"`) || b.sessionCookie() == "" {
			t.Fatalf("cross-site GET logout: status %d, session kept %v; want a confirmation page", r.Status, b.sessionCookie() != "")
		}
		r = b.Do(http.MethodPost, "/oauth2/logout", map[string]string{"Origin": "https://evil.example"})
		if r.Status != http.StatusForbidden || b.sessionCookie() == "" {
			t.Fatalf("cross-origin POST logout: status %d", r.Status)
		}
		r = b.Do(http.MethodPost, "/oauth2/logout", map[string]string{"Origin": e.srv.URL})
		end, err := url.Parse(r.Location())
		if r.Status != http.StatusSeeOther || err != nil || !strings.HasPrefix(r.Location(), idp.URL()+devidp.PathLogout) {
			t.Fatalf("logout: status %d Location %q, want 303 to end_session", r.Status, r.Location())
		}
		q := end.Query()
		if q.Get("id_token_hint") == "" || q.Get("client_id") != idp.ClientID() || q.Get("post_logout_redirect_uri") != e.srv.URL+"/bye" {
			t.Fatalf("end_session parameters: %v", q)
		}
		if b.sessionCookie() != "" {
			t.Fatal("session cookie not cleared")
		}
		back := b.Get(r.Location()) // the provider ends its session and sends the browser back
		if back.Status != http.StatusFound || !strings.HasPrefix(back.Location(), e.srv.URL+"/bye") {
			t.Fatalf("end_session: status %d Location %q", back.Status, back.Location())
		}
		if r := b.Get("/"); r.Status != http.StatusFound || !strings.HasPrefix(r.Location(), idp.URL()) {
			t.Fatalf("after logout: status %d, want a login redirect", r.Status)
		}
	})
}

// TestBearerTokens: API clients with the provider's access token pass with identity headers; a bad token gets
// 401 with WWW-Authenticate error="invalid_token", never a redirect.
func TestBearerTokens(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		web := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"forwardAccessToken": "true"}))
		er := web.browser().mustLogin("/")
		at := strings.TrimPrefix(er.Headers["Authorization"], "Bearer ")
		if at == "" || at == er.Headers["Authorization"] {
			t.Fatalf("forwardAccessToken: upstream Authorization %q", er.Headers["Authorization"])
		}
		api := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"allowBearerTokens": "true"}))
		c := api.browser()
		for i := 0; i < 3; i++ {
			got := c.Echo("/api/items", map[string]string{"Authorization": "Bearer " + at, "X-Forwarded-User": "mallory"})
			if got.Headers["X-Forwarded-User"] != devidp.DemoSubject {
				t.Fatalf("bearer request %d: user %q", i, got.Headers["X-Forwarded-User"])
			}
		}
		bad := at[:len(at)-6] + "AAAAAA"
		for _, tok := range []string{bad, "not.a.jwt", at + "x"} {
			r := c.Do(http.MethodGet, "/api/items", map[string]string{"Authorization": "Bearer " + tok})
			if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("bad bearer: status %d WWW-Authenticate %q", r.Status, r.Header.Get("WWW-Authenticate"))
			}
		}
	})
}

// TestAuthorizationRules: Descope roles, permissions and tenants decide access after login; failing gives 403
// (HTML for browsers, JSON for APIs), not a login loop.
func TestAuthorizationRules(t *testing.T) {
	cases := []struct {
		name  string
		rules map[string]any
		allow bool
	}{
		{"top-level role held", map[string]any{"requiredRoles": "editor"}, true},
		{"top-level role missing", map[string]any{"requiredRoles": "admin"}, false},
		{"any of", map[string]any{"requiredRoles": "superuser,viewer", "requiredMatch": "any"}, true},
		{"all of", map[string]any{"requiredRoles": "superuser,viewer", "requiredMatch": "all"}, false},
		{"permission", map[string]any{"requiredPermissions": "write"}, true},
		{"tenant role by ID", map[string]any{"tenant": devidp.DemoTenant, "requiredRoles": "admin"}, true},
		{"tenant from dct", map[string]any{"tenant": "dct", "requiredPermissions": "tenant.manage"}, true},
		{"not a member of tenant", map[string]any{"tenant": "T9other", "requiredRoles": "admin"}, false},
		{"claim equals", map[string]any{"claimRules": []map[string]any{{"claim": "email", "equals": []string{devidp.DemoUsername}}}}, true},
		{"nested claim contains", map[string]any{"claimRules": []map[string]any{{"claim": "tenants." + devidp.DemoTenant + ".permissions", "contains": []string{"billing"}}}}, false},
	}
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		for _, tc := range cases {
			e := newEnv(t, tg, idp, merge(baseConfig(idp), tc.rules))
			b := e.browser()
			cb := b.login("/admin")
			if cb.Status != http.StatusFound || cb.Location() != "/admin" {
				t.Fatalf("%s: callback %d %q", tc.name, cb.Status, cb.Location())
			}
			r := b.Get("/admin")
			if tc.allow != (r.Status == http.StatusOK) {
				t.Errorf("%s: status %d, allow %v", tc.name, r.Status, tc.allow)
				continue
			}
			if tc.allow {
				continue
			}
			if r.Status != http.StatusForbidden || !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%s: browser got %d %q, want 403 HTML", tc.name, r.Status, r.Header.Get("Content-Type"))
			}
			api := b.Do(http.MethodGet, "/admin", map[string]string{"Accept": "application/json"})
			if api.Status != http.StatusForbidden || !strings.Contains(api.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s: API got %d %q, want 403 JSON", tc.name, api.Status, api.Header.Get("Content-Type"))
			}
			if e.upstream.Load() != 0 {
				t.Errorf("%s: denied user reached upstream", tc.name)
			}
		}
	})
}

// TestIDTokenIsNotABearerToken: an ID token of this very client (aud and azp = the client, the plugin's own login
// nonce) sent as Authorization: Bearer gets 401, while the access token of the same token response passes.
func TestIDTokenIsNotABearerToken(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		api := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"allowBearerTokens": "true"}))
		c := api.browser()
		tokens := codeFlowWithoutPKCE(t, c, c.startLogin("/"))
		if strings.Count(tokens.IDToken, ".") != 2 || strings.Count(tokens.AccessToken, ".") != 2 {
			t.Fatalf("want JWT tokens, got id_token %d and access_token %d bytes", len(tokens.IDToken), len(tokens.AccessToken))
		}
		got := c.Echo("/api/items", map[string]string{"Authorization": "Bearer " + tokens.AccessToken})
		if got.Headers["X-Forwarded-User"] != devidp.DemoSubject {
			t.Fatalf("access token: user %q", got.Headers["X-Forwarded-User"])
		}
		before := api.upstream.Load()
		r := c.Do(http.MethodGet, "/api/items", map[string]string{"Authorization": "Bearer " + tokens.IDToken})
		if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("ID token as bearer: status %d WWW-Authenticate %q, want 401 invalid_token", r.Status, r.Header.Get("WWW-Authenticate"))
		}
		if api.upstream.Load() != before {
			t.Error("the request with an ID token as bearer reached the upstream")
		}
	})
}

type clientTokens struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
}

// codeFlowWithoutPKCE takes the plugin's authorization request (its redirect_uri, state and nonce), drops the PKCE
// challenge, logs in and redeems the code itself as the confidential client: the tokens of a login of the plugin.
func codeFlowWithoutPKCE(t *testing.T, b *browser, authorize *url.URL) *clientTokens {
	t.Helper()
	q := authorize.Query()
	q.Del("code_challenge")
	q.Del("code_challenge_method")
	authorize.RawQuery = q.Encode()
	cb, err := url.Parse(b.authenticate(authorize))
	if err != nil || cb.Query().Get("code") == "" {
		t.Fatalf("callback %v: %v", cb, err)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")}, "redirect_uri": {q.Get("redirect_uri")}}
	req, _ := http.NewRequest(http.MethodPost, b.env.idp.URL()+devidp.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(b.env.idp.ClientID(), b.env.idp.ClientSecret())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	tokens := &clientTokens{}
	if err := json.NewDecoder(resp.Body).Decode(tokens); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: %s: %v", resp.Status, err)
	}
	return tokens
}
