package descopeoidc

import (
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestLoginRedirectsToAuthorize(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AuthParams = map[string]string{"prompt": "login"}
	cfg.Scopes = []string{"email", "offline_access"}
	m, up := newMW(t, f, cfg)

	r := httptest.NewRequest(http.MethodGet, "http://app.example/docs/page?x=1&y=2", nil)
	r.Header.Set("X-Forwarded-Proto", "https") // TLS ends at Traefik
	r.Header.Set("Accept", "text/html")
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, r)
	if rec.Code != http.StatusFound || up.count() != 0 {
		t.Fatalf("status %d, upstream calls %d", rec.Code, up.count())
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
	}
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if loc.Scheme+"://"+loc.Host+loc.Path != f.url("/authorize") {
		t.Errorf("redirected to %s", loc)
	}
	q := loc.Query()
	want := map[string]string{
		"response_type": "code", "client_id": testClientID, "redirect_uri": "https://app.example/oauth2/callback",
		"code_challenge_method": "S256", "prompt": "login",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if scopes := strings.Fields(q.Get("scope")); len(scopes) != 3 || scopes[0] != "openid" || !strings.Contains(q.Get("scope"), "offline_access") {
		t.Errorf("scope %q", q.Get("scope"))
	}
	state, nonce, challenge := q.Get("state"), q.Get("nonce"), q.Get("code_challenge")
	if len(state) < 32 || len(nonce) < 32 || len(challenge) != 43 || state == nonce {
		t.Errorf("state %q nonce %q challenge %q", state, nonce, challenge)
	}

	// The login cookie binds state, nonce and the PKCE verifier to this browser, on the callback path only.
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("%d cookies set", len(cookies))
	}
	c := cookies[0]
	if c.Name != m.sm.stateCookieName(state) || c.Path != "/oauth2/callback" || !c.HttpOnly || !c.Secure ||
		c.SameSite != http.SameSiteLaxMode || c.MaxAge != int(stateTTL/time.Second) {
		t.Errorf("state cookie %+v", c)
	}
	cr := httptest.NewRequest(http.MethodGet, "/oauth2/callback", nil)
	cr.AddCookie(c)
	sd, err := m.sm.readStateCookie(cr, state, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(sd.Verifier))
	if b64u(sum[:]) != challenge || sd.Nonce != nonce || sd.Target != "/docs/page?x=1&y=2" {
		t.Errorf("state data %+v does not match the request", sd)
	}

	// A second login attempt gets fresh values.
	rec2 := httptest.NewRecorder()
	m.ServeHTTP(rec2, r.Clone(r.Context()))
	q2 := mustLocation(t, rec2).Query()
	if q2.Get("state") == state || q2.Get("nonce") == nonce || q2.Get("code_challenge") == challenge {
		t.Error("state, nonce or PKCE challenge reused across logins")
	}
}

func mustLocation(t *testing.T, rec *httptest.ResponseRecorder) *url.URL {
	t.Helper()
	u, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || rec.Header().Get("Location") == "" {
		t.Fatalf("no usable Location (status %d): %v", rec.Code, err)
	}
	return u
}

func TestLoginRedirectURIScheme(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	cases := []struct {
		name, target, proto, want string
	}{
		{"plain http", "http://app.example/x", "", "http://app.example/oauth2/callback"},
		{"X-Forwarded-Proto https", "http://app.example/x", "https", "https://app.example/oauth2/callback"},
		{"X-Forwarded-Proto list", "http://app.example/x", "HTTPS, http", "https://app.example/oauth2/callback"},
		{"X-Forwarded-Proto garbage", "http://app.example/x", "javascript", "http://app.example/oauth2/callback"},
		{"TLS", "https://app.example:8443/x", "", "https://app.example:8443/oauth2/callback"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			rec := httptest.NewRecorder()
			m.ServeHTTP(rec, r)
			if got := mustLocation(t, rec).Query().Get("redirect_uri"); got != tc.want {
				t.Errorf("redirect_uri %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLoginEndToEnd(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.ForwardHeaders = map[string]string{"X-Forwarded-User": "sub", "X-Forwarded-Email": "email"}
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)

	cb := b.login("/docs/page?x=1&y=2")
	if loc := cb.Header().Get("Location"); loc != "/docs/page?x=1&y=2" {
		t.Errorf("post-login Location %q", loc)
	}
	set := setCookies(cb)
	sc := set[defaultCookieName]
	if sc == nil || !sc.HttpOnly || !sc.Secure || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.MaxAge != 86400 {
		t.Fatalf("session cookie %+v", sc)
	}
	for name, c := range set {
		if strings.HasPrefix(name, defaultCookieName+"_state_") && c.MaxAge >= 0 {
			t.Errorf("login cookie %s not cleared after the callback", name)
		}
	}
	d, err := m.sm.openSession(sc.Value)
	if err != nil {
		t.Fatal(err)
	}
	// The ID token is in the logout cookie (hint_test.go), the access token nowhere (no forwardAccessToken).
	if d.Claims["sub"] != testSub || d.RefreshToken == "" || d.IDToken != "" || d.AccessToken != "" || d.Expiry != f.clock.Now().Unix()+300 {
		t.Errorf("session %+v", d)
	}
	if _, ok := d.Claims["nonce"]; ok {
		t.Error("claims not needed by headers or rules are stored in the cookie")
	}
	if reqs := f.tokenRequests(); len(reqs) != 1 || reqs[0].Form.Get("code_verifier") == "" {
		t.Fatalf("token requests %+v", reqs)
	}

	// Authenticated request: identity headers set, forged ones replaced or removed, plugin cookies stripped.
	r := b.request(http.MethodGet, "/docs/page?x=1&y=2")
	r.AddCookie(&http.Cookie{Name: "theme", Value: "dark"})
	r.AddCookie(&http.Cookie{Name: "_descopeoidc_state_leftover", Value: "x"})
	r.Header.Set("X-Forwarded-User", "admin")
	r.Header.Set("X-Forwarded-Email", "forged@example.com") // the user has no email claim
	rec := b.do(r)
	if rec.Code != http.StatusOK || up.count() != 1 {
		t.Fatalf("status %d, upstream calls %d: %s", rec.Code, up.count(), rec.Body.String())
	}
	h := up.last()
	if got := h.Values("X-Forwarded-User"); len(got) != 1 || got[0] != testSub {
		t.Errorf("X-Forwarded-User %v", got)
	}
	if _, ok := h["X-Forwarded-Email"]; ok {
		t.Errorf("forged X-Forwarded-Email reached upstream: %v", h["X-Forwarded-Email"])
	}
	if got := h.Get("Cookie"); got != "theme=dark" {
		t.Errorf("upstream Cookie %q, want only theme=dark", got)
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Error("a valid session request set cookies")
	}
}

func TestLoginOpenRedirectTargets(t *testing.T) {
	f := newFakeIdP(t)
	m, up := newMW(t, f, f.config())
	targets := []struct {
		name string
		req  func() *http.Request
	}{
		{"//evil.example", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "https://app.example//evil.example", nil)
		}},
		{"/\\evil.example", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
			r.URL.Path = "/\\evil.example"
			return r
		}},
		{"/%2F%2Fevil.example", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "https://app.example/%2F%2Fevil.example", nil)
		}},
		{"/%5Cevil.example", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "https://app.example/%5Cevil.example", nil)
		}},
		{"/\t/evil.example", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
			r.URL.Path = "/\t/evil.example"
			return r
		}},
		{"absolute-form request target", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "https://evil.example/steal?x=1", nil)
			r.Host = "app.example"
			return r
		}},
	}
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, m)
			r := tc.req()
			r.Header.Set("Accept", "text/html")
			start := b.do(r)
			if start.Code != http.StatusFound {
				t.Fatalf("status %d", start.Code)
			}
			app, _ := url.Parse(appOrigin + "/")
			b.jar.SetCookies(app, start.Result().Cookies()) // the absolute-form request was stored under its own host
			cb := b.get(b.authorize(start.Header().Get("Location")))
			if cb.Code != http.StatusFound {
				t.Fatalf("callback status %d: %s", cb.Code, cb.Body.String())
			}
			loc := cb.Header().Get("Location")
			u, err := url.Parse(loc)
			if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") ||
				strings.ContainsAny(loc, "\\\t") || strings.Contains(strings.ToLower(loc), "%2f%2f") || strings.Contains(strings.ToLower(loc), "%5c") {
				t.Errorf("post-login Location %q leaves the site", loc)
			}
		})
	}
	if up.count() != 0 {
		t.Error("upstream called during logins")
	}
}

// startLogin begins a login and returns the fake's callback URL (code and state) without calling it.
func startLogin(t *testing.T, b *browser, target string) string {
	t.Helper()
	rec := b.get(target)
	if rec.Code != http.StatusFound {
		t.Fatalf("status %d", rec.Code)
	}
	return b.authorize(rec.Header().Get("Location"))
}

func withQuery(t *testing.T, raw string, key, value string) string {
	t.Helper()
	u, _ := url.Parse(raw)
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestCallbackStateChecks(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())

	t.Run("state mismatch", func(t *testing.T) {
		b := newBrowser(t, m)
		cb := startLogin(t, b, "/")
		rec := b.get(withQuery(t, cb, "state", "not-the-state-of-this-browser"))
		if rec.Code != http.StatusBadRequest || setCookies(rec)[defaultCookieName] != nil {
			t.Errorf("status %d, cookies %v", rec.Code, rec.Result().Cookies())
		}
	})
	t.Run("same cookie name, different state", func(t *testing.T) {
		b := newBrowser(t, m)
		cb := startLogin(t, b, "/")
		u, _ := url.Parse(cb)
		state := u.Query().Get("state")
		rec := b.get(withQuery(t, cb, "state", state[:16]+"forged"))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("status %d", rec.Code)
		}
	})
	t.Run("no login cookie (other browser)", func(t *testing.T) {
		cb := startLogin(t, newBrowser(t, m), "/")
		rec := newBrowser(t, m).get(cb)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("status %d", rec.Code)
		}
	})
	t.Run("expired login attempt", func(t *testing.T) {
		b := newBrowser(t, m)
		cb := startLogin(t, b, "/")
		f.clock.Advance(stateTTL + time.Minute)
		rec := b.get(cb) // the jar runs on real time: the expired login cookie is still sent
		if rec.Code != http.StatusBadRequest {
			t.Errorf("status %d", rec.Code)
		}
	})
	t.Run("missing code", func(t *testing.T) {
		rec := newBrowser(t, m).get("/oauth2/callback?state=abc")
		if rec.Code != http.StatusBadRequest {
			t.Errorf("status %d", rec.Code)
		}
	})
	if n := f.tokenHits.Load(); n != 0 {
		t.Errorf("rejected callbacks reached the token endpoint %d times", n)
	}
}

func TestCallbackReplayIsRejected(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	b := newBrowser(t, m)
	cb := startLogin(t, b, "/app")
	r := b.request(http.MethodGet, cb)
	stateCookies := r.Cookies()
	first := b.do(r)
	if first.Code != http.StatusFound || setCookies(first)[defaultCookieName] == nil {
		t.Fatalf("first callback: %d", first.Code)
	}

	// Replayed with the login cookie still attached (e.g. captured): refused, no second exchange, no session.
	replay := httptest.NewRequest(http.MethodGet, absURL(cb), nil)
	for _, c := range stateCookies {
		replay.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, replay)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("replayed callback: status %d", rec.Code)
	}
	if c := setCookies(rec)[defaultCookieName]; c != nil && c.MaxAge >= 0 {
		t.Error("replayed callback issued a session")
	}
	if n := f.tokenHits.Load(); n != 1 {
		t.Errorf("token endpoint called %d times", n)
	}
}

func TestCallbackProviderErrorShowsPage(t *testing.T) {
	f := newFakeIdP(t)
	m, up := newMW(t, f, f.config())
	b := newBrowser(t, m)
	cb := startLogin(t, b, "/app")
	u, _ := url.Parse(cb)
	state := u.Query().Get("state")
	rec := b.get("/oauth2/callback?error=access_denied&error_description=%3Cscript%3E&state=" + url.QueryEscape(state))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d", rec.Code)
	}
	if rec.Header().Get("Location") != "" {
		t.Error("provider error answered with a redirect (loop)")
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	body := rec.Body.String()
	mustContain(t, "page", body, "Sign-in did not complete")
	if strings.Contains(body, "<script>") {
		t.Error("provider-supplied text rendered unescaped")
	}
	if c := setCookies(rec)[m.sm.stateCookieName(state)]; c == nil || c.MaxAge >= 0 {
		t.Error("login cookie not cleared")
	}
	if f.tokenHits.Load() != 0 || up.count() != 0 {
		t.Error("token endpoint or upstream called")
	}
}

func TestCallbackExchangeFailures(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(f *fakeIdP)
		status int
	}{
		{"invalid_grant", func(f *fakeIdP) {
			f.tokenHook = func(w http.ResponseWriter, r *http.Request, _ url.Values) bool {
				writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
				return true
			}
		}, http.StatusUnauthorized},
		{"token endpoint down", func(f *fakeIdP) {
			f.tokenHook = func(w http.ResponseWriter, r *http.Request, _ url.Values) bool {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
		}, http.StatusServiceUnavailable},
		{"no id_token", func(f *fakeIdP) { f.noIDToken = true }, http.StatusUnauthorized},
		{"id token for another client", func(f *fakeIdP) { f.extraClaims = map[string]any{"aud": "other", "azp": "other"} }, http.StatusUnauthorized},
		{"id token without nonce", func(f *fakeIdP) {
			f.tokenHook = func(w http.ResponseWriter, r *http.Request, _ url.Values) bool {
				writeJSON(w, 200, map[string]any{"access_token": "a", "id_token": signJWT(f.t, f.signer, nil, f.idClaimsLocked(""))})
				return true
			}
		}, http.StatusUnauthorized},
		{"id token signed by an unknown key", func(f *fakeIdP) { f.signer = newTestKey(f.t, "ES256", "k1", 0) }, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIdP(t)
			f.set(tc.setup)
			m, _ := newMW(t, f, f.config())
			b := newBrowser(t, m)
			rec := b.get(startLogin(t, b, "/app"))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
			}
			if tc.status == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if c := setCookies(rec)[defaultCookieName]; c != nil && c.MaxAge >= 0 {
				t.Error("session issued after a failed exchange")
			}
			if rec.Header().Get("Location") != "" {
				t.Error("failed exchange redirects")
			}
		})
	}
}

// logoutBrowser returns a logged-in browser whose session is chunked (a large claim is forwarded).
func logoutSetup(t *testing.T, mutate func(c *Config)) (*fakeIdP, *Middleware, *browser) {
	t.Helper()
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"bio": strings.Repeat("lorem ipsum ", 600)} })
	cfg := f.config()
	cfg.ForwardHeaders = map[string]string{"X-Forwarded-User": "sub", "X-Bio": "bio"}
	if mutate != nil {
		mutate(cfg)
	}
	m, _ := newMW(t, f, cfg)
	b := newBrowser(t, m)
	b.login("/")
	if b.cookie(m.sm.chunkName(1)) == nil {
		t.Fatal("test session is not chunked")
	}
	return f, m, b
}

func TestLogout(t *testing.T) {
	t.Run("POST same origin", func(t *testing.T) {
		f, m, b := logoutSetup(t, nil)
		idToken := hintToken(t, m, b)
		var chunks []string
		for i := 0; i < maxSessionChunks; i++ {
			if b.cookie(m.sm.chunkName(i)) != nil {
				chunks = append(chunks, m.sm.chunkName(i))
			}
		}
		r := b.request(http.MethodPost, "/oauth2/logout")
		r.Header.Set("Origin", appOrigin)
		rec := b.do(r)
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("status %d", rec.Code)
		}
		loc := mustLocation(t, rec)
		if loc.Scheme+"://"+loc.Host+loc.Path != f.url("/logout") {
			t.Errorf("Location %s", loc)
		}
		q := loc.Query()
		if q.Get("id_token_hint") != idToken || q.Get("client_id") != testClientID || q.Get("post_logout_redirect_uri") != appOrigin+"/" {
			t.Errorf("end session query %v", q)
		}
		set := setCookies(rec)
		for _, name := range chunks {
			if c := set[name]; c == nil || c.MaxAge >= 0 {
				t.Errorf("cookie %s not cleared", name)
			}
		}
		if rec := b.get("/"); rec.Code != http.StatusFound {
			t.Errorf("after logout: status %d, want a new login", rec.Code)
		}
	})
	t.Run("POST cross origin refused", func(t *testing.T) {
		_, m, b := logoutSetup(t, nil)
		r := b.request(http.MethodPost, "/oauth2/logout")
		r.Header.Set("Origin", "https://evil.example")
		rec := b.do(r)
		if rec.Code != http.StatusForbidden || len(rec.Result().Cookies()) != 0 {
			t.Errorf("status %d, cookies %v", rec.Code, rec.Result().Cookies())
		}
		if b.cookie(m.s.cookieName) == nil {
			t.Error("session lost")
		}
	})
	t.Run("GET cross site shows a confirmation", func(t *testing.T) {
		for _, site := range []string{"cross-site", "same-site", ""} {
			_, _, b := logoutSetup(t, nil)
			r := b.request(http.MethodGet, "/oauth2/logout")
			if site != "" {
				r.Header.Set("Sec-Fetch-Site", site)
			}
			rec := b.do(r)
			if rec.Code != http.StatusOK || len(rec.Result().Cookies()) != 0 || rec.Header().Get("Location") != "" {
				t.Errorf("Sec-Fetch-Site %q: status %d, cookies %v", site, rec.Code, rec.Result().Cookies())
			}
			mustContain(t, "confirmation page", rec.Body.String(), `<form method="post" action="/oauth2/logout">`)
		}
	})
	t.Run("GET same origin logs out", func(t *testing.T) {
		_, m, b := logoutSetup(t, nil)
		r := b.request(http.MethodGet, "/oauth2/logout")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		rec := b.do(r)
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("status %d", rec.Code)
		}
		if c := setCookies(rec)[m.s.cookieName]; c == nil || c.MaxAge >= 0 {
			t.Error("session not cleared")
		}
	})
	t.Run("other methods", func(t *testing.T) {
		_, _, b := logoutSetup(t, nil)
		rec := b.do(b.request(http.MethodPut, "/oauth2/logout"))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
			t.Errorf("status %d", rec.Code)
		}
	})
	t.Run("revokeOnLogout", func(t *testing.T) {
		f, m, b := logoutSetup(t, func(c *Config) { c.RevokeOnLogout = true })
		raw, _ := m.sm.readSessionCookie(b.request(http.MethodGet, "/"))
		d, _ := m.sm.openSession(raw)
		b.do(sameOriginPost(b, "/oauth2/logout"))
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.revocations) != 1 || f.revocations[0].Form.Get("token") != d.RefreshToken {
			t.Errorf("revocations %+v", f.revocations)
		}
	})
	t.Run("no end_session_endpoint", func(t *testing.T) {
		f := newFakeIdP(t)
		f.set(func(f *fakeIdP) { f.mutateDisc = func(d map[string]any) { delete(d, "end_session_endpoint") } })
		cfg := f.config()
		cfg.PostLogoutRedirectURL = "https://www.example/bye"
		m, _ := newMW(t, f, cfg)
		b := newBrowser(t, m)
		b.login("/")
		rec := b.do(sameOriginPost(b, "/oauth2/logout"))
		if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || loc != "https://www.example/bye" {
			t.Errorf("status %d Location %q", rec.Code, loc)
		}
		if c := setCookies(rec)[m.s.cookieName]; c == nil || c.MaxAge >= 0 {
			t.Error("session not cleared")
		}
	})
	t.Run("provider down", func(t *testing.T) {
		f := newFakeIdP(t)
		f.set(func(f *fakeIdP) { f.down = true })
		m, _ := newMW(t, f, f.config())
		now := f.clock.Now().Unix()
		cookie, err := m.sm.sealSession(&sessionData{Claims: map[string]any{"sub": "u"}, IDToken: "x", Expiry: now + 300, Created: now, ID: "chain"})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, appOrigin+"/oauth2/logout", nil)
		r.Header.Set("Origin", appOrigin)
		r.AddCookie(&http.Cookie{Name: m.s.cookieName, Value: cookie})
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, r)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != appOrigin+"/" {
			t.Errorf("status %d Location %q", rec.Code, rec.Header().Get("Location"))
		}
		if c := setCookies(rec)[m.s.cookieName]; c == nil || c.MaxAge >= 0 {
			t.Error("session not cleared while the provider is down")
		}
	})
}
