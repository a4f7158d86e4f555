package descopeoidc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestUnauthenticatedAPIRequestsGet401(t *testing.T) {
	f := newFakeIdP(t)
	m, up := newMW(t, f, f.config())
	cases := []struct {
		name   string
		header map[string]string
	}{
		{"Accept JSON", map[string]string{"Accept": "application/json"}},
		{"XMLHttpRequest", map[string]string{"X-Requested-With": "XMLHttpRequest", "Accept": "*/*"}},
		{"fetch (Sec-Fetch-Mode cors)", map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "text/html"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, appOrigin+"/api/items", nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			m.ServeHTTP(rec, r)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d", rec.Code)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="test"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if rec.Header().Get("Location") != "" || len(rec.Result().Cookies()) != 0 {
				t.Error("API request got a login redirect or cookies")
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" || !strings.Contains(rec.Body.String(), `"unauthorized"`) {
				t.Errorf("body %q (%s)", rec.Body.String(), ct)
			}
		})
	}
	if up.count() != 0 || f.discoveryHits.Load() != 0 {
		t.Errorf("upstream %d, discovery %d", up.count(), f.discoveryHits.Load())
	}

	// unauthenticated: 401 answers browsers with 401 too; redirect sends API clients to login.
	cfg := f.config()
	cfg.Unauthenticated = "401"
	m401, _ := newMW(t, f, cfg)
	rec := newBrowser(t, m401).get("/")
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("unauthenticated=401, browser: %d", rec.Code)
	}
	cfg = f.config()
	cfg.Unauthenticated = "redirect"
	mRedirect, _ := newMW(t, f, cfg)
	r := httptest.NewRequest(http.MethodGet, appOrigin+"/api", nil)
	r.Header.Set("Accept", "application/json")
	rec = httptest.NewRecorder()
	mRedirect.ServeHTTP(rec, r)
	if rec.Code != http.StatusFound {
		t.Errorf("unauthenticated=redirect, API: %d", rec.Code)
	}
}

func TestBadSessionCookieIsCleared(t *testing.T) {
	f := newFakeIdP(t)
	m, up := newMW(t, f, f.config())
	for _, value := range []string{"garbage", "3.abc", mustSeal(t, m, `{"c":{"sub":"x"},"e":1}`)} {
		r := httptest.NewRequest(http.MethodGet, appOrigin+"/", nil)
		r.Header.Set("Accept", "text/html")
		r.AddCookie(&http.Cookie{Name: defaultCookieName, Value: value})
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, r)
		if rec.Code != http.StatusFound {
			t.Errorf("cookie %q: status %d", value, rec.Code)
		}
		if c := setCookies(rec)[defaultCookieName]; c == nil || c.MaxAge >= 0 {
			t.Errorf("cookie %q not cleared", value)
		}
	}
	if up.count() != 0 {
		t.Error("upstream reached with a bad cookie")
	}
}

func TestChunkedSessionEndToEnd(t *testing.T) {
	f := newFakeIdP(t)
	bio := strings.Repeat("a long biography ", 500)
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"bio": bio} })
	cfg := f.config()
	cfg.ForwardHeaders = map[string]string{"X-Forwarded-User": "sub", "X-Bio": "bio"}
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	b.login("/")
	if b.cookie(m.sm.chunkName(1)) == nil || b.cookie(m.sm.chunkName(2)) == nil {
		t.Fatal("large session not chunked")
	}
	r := b.request(http.MethodGet, "/")
	r.AddCookie(&http.Cookie{Name: "keep", Value: "me"})
	if rec := b.do(r); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if up.last().Get("X-Bio") != bio || up.last().Get("Cookie") != "keep=me" {
		t.Errorf("upstream Cookie %q, X-Bio %d bytes", up.last().Get("Cookie"), len(up.last().Get("X-Bio")))
	}

	// A missing chunk is no session: login again, and every chunk the browser sent is deleted.
	r = httptest.NewRequest(http.MethodGet, appOrigin+"/", nil)
	r.Header.Set("Accept", "text/html")
	for _, c := range b.jar.Cookies(r.URL) {
		if c.Name != m.sm.chunkName(1) {
			r.AddCookie(c)
		}
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, r)
	if rec.Code != http.StatusFound {
		t.Errorf("missing chunk: status %d", rec.Code)
	}
	set := setCookies(rec)
	if c := set[m.sm.chunkName(0)]; c == nil || c.MaxAge >= 0 {
		t.Error("main cookie not cleared")
	}
	if c := set[m.sm.chunkName(2)]; c == nil || c.MaxAge >= 0 {
		t.Error("chunk 2 not cleared")
	}
}

// loggedIn returns a fake provider that rotates refresh tokens, a middleware and a browser with a fresh session.
func loggedIn(t *testing.T, mutate func(c *Config)) (*fakeIdP, *Middleware, *upstream, *browser) {
	t.Helper()
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.rotateRefresh = true })
	cfg := f.config()
	if mutate != nil {
		mutate(cfg)
	}
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	b.login("/")
	return f, m, up, b
}

func (b *browser) session() *sessionData {
	b.t.Helper()
	raw, err := b.m.sm.readSessionCookie(b.request(http.MethodGet, "/"))
	if err != nil {
		b.t.Fatal(err)
	}
	d, err := b.m.sm.openSession(raw)
	if err != nil {
		b.t.Fatal(err)
	}
	return d
}

func TestSessionMaxAge(t *testing.T) {
	f, m, up, b := loggedIn(t, func(c *Config) { c.SessionMaxAge = "1h" })
	if c := b.cookie(m.s.cookieName); c == nil {
		t.Fatal("no session")
	}
	// Keep the session refreshed for almost an hour.
	for i := 0; i < 14; i++ {
		f.clock.Advance(250 * time.Second)
		if rec := b.get("/"); rec.Code != http.StatusOK {
			t.Fatalf("at %ds: status %d", (i+1)*250, rec.Code)
		}
		settleRefreshes(t, m) // the refresh runs in the background; the next request hands out its cookie
	}
	hits := f.tokenHits.Load()
	f.clock.Advance(250 * time.Second) // past the max age, and the tokens are due for a refresh
	rec := b.get("/")
	if rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), f.url("/authorize")) {
		t.Fatalf("after sessionMaxAge: status %d", rec.Code)
	}
	if c := setCookies(rec)[m.s.cookieName]; c == nil || c.MaxAge >= 0 {
		t.Error("session not cleared")
	}
	if f.tokenHits.Load() != hits {
		t.Error("a session past its max age was refreshed")
	}
	if up.count() != 14 {
		t.Errorf("upstream %d", up.count())
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.expiresIn = 7200 })
	cfg := f.config()
	cfg.SessionIdleTimeout = "10m"
	m, _ := newMW(t, f, cfg)
	b := newBrowser(t, m)
	b.login("/")
	first := b.cookie(m.s.cookieName)

	f.clock.Advance(3 * time.Minute)
	rec := b.get("/")
	if rec.Code != http.StatusOK || setCookies(rec)[m.s.cookieName] == nil {
		t.Fatalf("activity not recorded: status %d, cookies %v", rec.Code, rec.Result().Cookies())
	}
	f.clock.Advance(8 * time.Minute) // 11 minutes after login, 8 after the last activity
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Errorf("active session ended: %d", rec.Code)
	}
	r := httptest.NewRequest(http.MethodGet, appOrigin+"/", nil)
	r.Header.Set("Accept", "text/html")
	r.AddCookie(first)
	rec = httptest.NewRecorder()
	m.ServeHTTP(rec, r)
	if rec.Code != http.StatusFound {
		t.Errorf("cookie idle for 11 minutes: status %d", rec.Code)
	}
	f.clock.Advance(11 * time.Minute)
	if rec := b.get("/"); rec.Code != http.StatusFound {
		t.Errorf("idle session: status %d", rec.Code)
	}
}

func bearerRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, appOrigin+"/api/items", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Accept", "application/json")
	return r
}

func serve(m *Middleware, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, r)
	return rec
}

func TestBearerTokens(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AllowBearerTokens = true
	cfg.ForwardHeaders = map[string]string{"X-Forwarded-User": "sub", "X-Roles": "roles"}
	m, up := newMW(t, f, cfg)
	now := f.clock.Now().Unix()
	claims := func(changes map[string]any) map[string]any {
		c := f.idClaims("")
		c["exp"], c["roles"] = now+7200, []string{"a", "b"}
		for k, v := range changes {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	valid := f.mint(claims(nil))

	r := bearerRequest(valid)
	r.Header.Set("X-Forwarded-User", "forged")
	rec := serve(m, r)
	if rec.Code != http.StatusOK || up.last().Get("X-Forwarded-User") != testSub || up.last().Get("X-Roles") != "a,b" {
		t.Fatalf("valid bearer: status %d, headers %v", rec.Code, up.last())
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Error("bearer request got cookies")
	}

	rejected := map[string]string{
		"wrong audience": f.mint(claims(map[string]any{"aud": "other", "azp": "other"})),
		"expired":        f.mint(claims(map[string]any{"exp": now - 3600})),
		"wrong issuer":   f.mint(claims(map[string]any{"iss": "https://evil.example"})),
		"alg none":       rawJWT(t, map[string]any{"alg": "none"}, claims(nil)) + ".",
		"bad signature":  valid[:len(valid)-4] + "AAAA",
		"garbage":        "not-a-jwt",
		"other key":      signJWT(t, newTestKey(t, "RS256", "k1", 1), nil, claims(nil)),
	}
	for name, tok := range rejected {
		t.Run(name, func(t *testing.T) {
			rec := serve(m, bearerRequest(tok))
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d", rec.Code)
			}
			if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) || !strings.HasPrefix(got, "Bearer ") {
				t.Errorf("WWW-Authenticate %q", got)
			}
		})
	}
	if up.count() != 1 {
		t.Errorf("upstream reached by rejected tokens: %d", up.count())
	}
}

func TestBearerTokensAreCached(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AllowBearerTokens = true
	m, up := newMW(t, f, cfg)
	now := f.clock.Now().Unix()
	c := f.idClaims("")
	c["exp"] = now + 3*3600
	tok := f.mint(c)
	if rec := serve(m, bearerRequest(tok)); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}

	// The provider drops k1 and the cached JWKS goes stale: a token that had to be verified again would now need a
	// JWKS fetch and fail. The cached one passes without either.
	f.set(func(f *fakeIdP) { f.keys = []*testKey{newTestKey(t, "ES256", "k2", 0)} })
	f.clock.Advance(jwksTTL + time.Minute)
	hits := f.jwksHits.Load()
	if rec := serve(m, bearerRequest(tok)); rec.Code != http.StatusOK {
		t.Fatalf("cached token: status %d", rec.Code)
	}
	if f.jwksHits.Load() != hits {
		t.Error("a cached bearer token was verified again")
	}
	c2 := f.idClaims("")
	c2["exp"] = f.clock.Now().Unix() + 3600
	if rec := serve(m, bearerRequest(f.mint(c2))); rec.Code != http.StatusUnauthorized {
		t.Errorf("uncached token signed by the removed key: status %d", rec.Code)
	}
	// Cached tokens still expire.
	f.clock.Advance(2*time.Hour + m.s.leeway)
	if rec := serve(m, bearerRequest(tok)); rec.Code != http.StatusUnauthorized {
		t.Errorf("expired cached token: status %d", rec.Code)
	}
	if up.count() != 2 {
		t.Errorf("upstream %d", up.count())
	}
}

func TestBearerAudiencesAndIssuers(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AllowBearerTokens = true
	cfg.BearerAudiences = []string{"https://api.example"}
	cfg.AcceptedIssuers = []string{"https://other-issuer.example"}
	cfg.RequireAZP = false
	m, _ := newMW(t, f, cfg)
	mk := func(aud, iss string) string {
		c := f.idClaims("")
		c["aud"], c["iss"] = aud, iss
		delete(c, "azp")
		return f.mint(c)
	}
	cases := []struct {
		name, aud, iss string
		status         int
	}{
		{"configured audience", "https://api.example", f.issuer, 200},
		{"client ID is not a configured bearer audience", testClientID, f.issuer, 401},
		{"accepted issuer", "https://api.example", "https://other-issuer.example", 200},
		{"unknown issuer", "https://api.example", "https://unknown.example", 401},
	}
	for _, tc := range cases {
		if rec := serve(m, bearerRequest(mk(tc.aud, tc.iss))); rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, rec.Code, tc.status)
		}
	}
}

func TestBearerIgnoredWhenDisabled(t *testing.T) {
	f := newFakeIdP(t)
	m, up := newMW(t, f, f.config())
	rec := serve(m, bearerRequest(f.mint(f.idClaims(""))))
	if rec.Code != http.StatusUnauthorized || strings.Contains(rec.Header().Get("WWW-Authenticate"), "invalid_token") || up.count() != 0 {
		t.Errorf("status %d WWW-Authenticate %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

func TestForbidden(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"roles": []string{"viewer"}} })
	cfg := f.config()
	cfg.RequiredRoles = []string{"admin"}
	cfg.AllowBearerTokens = true
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	b.login("/admin")

	rec := b.get("/admin")
	if rec.Code != http.StatusForbidden || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("browser: status %d, %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	mustContain(t, "403 page", rec.Body.String(), "Access denied")
	mustContain(t, "403 page", rec.Body.String(), `href="/oauth2/logout"`)

	r := b.request(http.MethodGet, "/api")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Sec-Fetch-Mode", "cors")
	rec = b.do(r)
	if rec.Code != http.StatusForbidden || rec.Header().Get("Content-Type") != "application/json" || !strings.Contains(rec.Body.String(), `"forbidden"`) {
		t.Errorf("API: status %d, body %q", rec.Code, rec.Body.String())
	}

	rec = serve(m, bearerRequest(f.mint(f.idClaims(""))))
	if rec.Code != http.StatusForbidden || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("bearer: status %d", rec.Code)
	}
	if up.count() != 0 {
		t.Errorf("upstream reached %d times", up.count())
	}

	// The same user with the role passes.
	g := newFakeIdP(t)
	g.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"roles": []string{"viewer", "admin"}} })
	cfg = g.config()
	cfg.RequiredRoles = []string{"admin"}
	m2, up2 := newMW(t, g, cfg)
	b2 := newBrowser(t, m2)
	b2.login("/admin")
	if rec := b2.get("/admin"); rec.Code != http.StatusOK || up2.count() != 1 {
		t.Errorf("admin: status %d", rec.Code)
	}
}

func TestProviderDownGives503ThenRecovers(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.down = true })
	m, _ := newMW(t, f, f.config())
	b := newBrowser(t, m)
	rec := b.get("/app")
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d", rec.Code)
	}
	secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	if err != nil || secs < 1 || secs > int(maxBackoff/time.Second)+1 {
		t.Fatalf("Retry-After %q", rec.Header().Get("Retry-After"))
	}
	if rec.Header().Get("Location") != "" || len(rec.Result().Cookies()) != 0 {
		t.Error("503 with a redirect or cookies")
	}
	f.set(func(f *fakeIdP) { f.down = false })
	f.clock.Advance(time.Duration(secs) * time.Second)
	if rec := b.get("/app"); rec.Code != http.StatusFound {
		t.Errorf("after recovery: status %d", rec.Code)
	}
}

func TestBearerJWKSDownGives503(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AllowBearerTokens = true
	m, _ := newMW(t, f, cfg)
	if _, err := m.p.metadata(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeIdP) { f.jwksStatus = http.StatusBadGateway })
	rec := serve(m, bearerRequest(f.mint(f.idClaims(""))))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d (a JWKS outage must not look like a bad token)", rec.Code)
	}
	f.set(func(f *fakeIdP) { f.jwksStatus = 0 })
	f.clock.Advance(2 * time.Second)
	if rec := serve(m, bearerRequest(f.mint(f.idClaims("")))); rec.Code != http.StatusOK {
		t.Errorf("after recovery: %d", rec.Code)
	}
}

func TestForwardAccessToken(t *testing.T) {
	_, _, up, b := loggedIn(t, func(c *Config) { c.ForwardAccessToken = true })
	r := b.request(http.MethodGet, "/")
	r.Header.Set("Authorization", "Bearer forged")
	b.do(r)
	if got := up.last().Get("Authorization"); got != "Bearer "+b.session().AccessToken {
		t.Errorf("upstream Authorization %q", got)
	}
}

// TestBearerTokenSpellings: the usual "Bearer <token>" is read without calls into compiled code; any other case of
// the scheme and surrounding spaces are read as before (first Authorization header only).
func TestBearerTokenSpellings(t *testing.T) {
	cases := []struct {
		in   []string
		want string
		ok   bool
	}{
		{[]string{"Bearer tok"}, "tok", true},
		{[]string{"bearer tok"}, "tok", true},
		{[]string{"BEARER tok"}, "tok", true},
		{[]string{"Bearer  tok "}, "tok", true},
		{[]string{"Bearer tok", "Bearer other"}, "tok", true},
		{[]string{"Bearer "}, "", false},
		{[]string{"Basic dXNlcg=="}, "", false},
		{[]string{"Bearertok"}, "", false},
		{nil, "", false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tc.in != nil {
			r.Header["Authorization"] = tc.in
		}
		if got, ok := bearerToken(r); got != tc.want || ok != tc.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestBearerCacheKeys: the bearer cache is keyed by the Authorization line "Bearer <token>", which bearerHit looks
// up as sent (a line over maxRawKey by its digest); another spelling is served from the same cache by bearerMiss. A marked cache entry shows that the second request was served from the cache, not verified again.
func TestBearerCacheKeys(t *testing.T) {
	f := newFakeIdP(t)
	c := f.idClaims("")
	c["exp"] = f.clock.Now().Unix() + 3600
	short := f.mint(c)
	c["pad"] = strings.Repeat("p", maxRawKey)
	long := f.mint(c)
	cases := []struct{ name, line, key string }{
		{"usual spelling", "Bearer " + short, "Bearer " + short},
		{"other spelling", "bearer   " + short, "Bearer " + short},
		{"over maxRawKey", "Bearer " + long, cacheKey("Bearer " + long)},
		{"over maxRawKey, other spelling", "bearer  " + long, cacheKey("Bearer " + long)},
	}
	for n, tc := range cases {
		cfg := f.config()
		cfg.AllowBearerTokens = true
		cfg.CookieName = "bearer-keys-" + strconv.Itoa(n) // a configuration each: instances of one share their bearer cache
		m, up := newMW(t, f, cfg)
		for i, want := range []string{testSub, "from-cache"} {
			r := bearerRequest("")
			r.Header.Set("Authorization", tc.line)
			if rec := serve(m, r); rec.Code != http.StatusOK || up.last().Get("X-Forwarded-User") != want {
				t.Fatalf("%s, request %d: status %d, upstream user %q, want %q", tc.name, i, rec.Code, up.last().Get("X-Forwarded-User"), want)
			}
			e := m.bearers.get(tc.key)
			if e == nil {
				t.Fatalf("%s: nothing cached under the expected key", tc.name)
			}
			marked := *e
			marked.values = append([]string(nil), e.values...)
			for j, name := range marked.names {
				if name == "X-Forwarded-User" {
					marked.values[j] = "from-cache"
				}
			}
			m.bearers.put(tc.key, &marked, f.clock.Now().Unix())
		}
	}
}
