package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// settleRefreshes waits until no refresh is in flight: they run in goroutines of their own. A request that started
// one has registered it before it returned, so after the request this cannot miss it.
func settleRefreshes(t *testing.T, m *Middleware) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if m.sm.reg.inFlight() == 0 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("a refresh is still in flight after 2s")
}

// withCookies is a navigation to target carrying exactly these cookies (a client that ignores Set-Cookie).
func withCookies(target string, cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, appOrigin+target, nil)
	r.Header.Set("Accept", "text/html")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

func TestRefreshPoint(t *testing.T) {
	cases := []struct {
		name                   string
		issued, expiry, margin int64
		want                   int64
	}{
		{"margin shorter than half the lifetime", 1000, 1300, 60, 1240},
		{"margin longer than the lifetime: half-way", 1000, 1300, 600, 1150},
		{"margin equal to half the lifetime", 1000, 1300, 150, 1150},
		{"no margin", 1000, 1300, 0, 1300},
		{"issued after expiry (clock jump): at expiry", 1400, 1300, 60, 1300},
		{"unknown issue time: the margin", 0, 1300, 60, 1240},
	}
	for _, tc := range cases {
		if got := refreshPoint(tc.issued, tc.expiry, tc.margin); got != tc.want {
			t.Errorf("%s: refreshPoint(%d, %d, %d) = %d, want %d", tc.name, tc.issued, tc.expiry, tc.margin, got, tc.want)
		}
	}
}

// TestRefreshMarginLongerThanLifetime: 5-minute tokens with a 10-minute margin refresh half-way, not on every request.
func TestRefreshMarginLongerThanLifetime(t *testing.T) {
	f, m, up, b := loggedIn(t, func(c *Config) { c.RefreshMargin = "10m" }) // the fake's tokens last 300s
	for i := 0; i < 5; i++ {
		f.clock.Advance(10 * time.Second)
		if rec := b.get("/"); rec.Code != http.StatusOK {
			t.Fatalf("request %d: status %d", i, rec.Code)
		}
	}
	settleRefreshes(t, m)
	if n := f.tokenHits.Load(); n != 1 {
		t.Fatalf("5 requests in the first minute of a 5-minute token with a 10-minute margin: %d refresh grants, want 0", n-1)
	}
	f.clock.Advance(101 * time.Second) // 151s after login: past half the lifetime
	b.get("/")
	settleRefreshes(t, m)
	if n := f.tokenHits.Load(); n != 2 {
		t.Fatalf("half-way through the lifetime: %d refresh grants, want 1", n-1)
	}
	if up.count() != 6 {
		t.Errorf("upstream %d, want 6", up.count())
	}
}

// TestRefreshInBackground: at the refresh point the request is served at once with the current tokens while one
// refresh runs; the next request gets the new cookie. The old cookie works for refreshGrace after that, then never.
func TestRefreshInBackground(t *testing.T) {
	f, m, up, b := loggedIn(t, nil) // tokens last 300s, refresh margin 60s
	oldRT := b.session().RefreshToken
	oldCookie := b.cookie(m.s.cookieName)
	f.clock.Advance(200 * time.Second)
	if rec := b.get("/a"); rec.Code != http.StatusOK || len(rec.Result().Cookies()) != 0 {
		t.Fatalf("before the refresh point: status %d cookies %d", rec.Code, len(rec.Result().Cookies()))
	}
	f.clock.Advance(45 * time.Second) // 55s left
	if rec := b.get("/b"); rec.Code != http.StatusOK || up.count() != 2 {
		t.Fatalf("at the refresh point: status %d, upstream %d", rec.Code, up.count())
	}
	settleRefreshes(t, m)
	reqs := f.tokenRequests()
	if len(reqs) != 2 || reqs[1].Form.Get("grant_type") != "refresh_token" || reqs[1].Form.Get("refresh_token") != oldRT {
		t.Fatalf("token requests %+v, want the login and one refresh with the old refresh token", reqs)
	}
	rec := b.get("/c")
	newCookie := setCookies(rec)[m.s.cookieName]
	if rec.Code != http.StatusOK || newCookie == nil || newCookie.Value == oldCookie.Value {
		t.Fatalf("after the refresh: status %d, new cookie %v", rec.Code, newCookie != nil)
	}
	if d := b.session(); d.RefreshToken == oldRT || d.Expiry != f.clock.Now().Unix()+300 || d.Gen != 1 || d.ID == "" {
		t.Errorf("refreshed session %+v", d)
	}
	// within the grace the old cookie is served as the new session and given its cookie
	f.clock.Advance((refreshGrace - 1) * time.Second)
	rec = httptest.NewRecorder()
	m.ServeHTTP(rec, withCookies("/d", oldCookie))
	if c := setCookies(rec)[m.s.cookieName]; rec.Code != http.StatusOK || c == nil || c.Value != newCookie.Value {
		t.Errorf("old cookie within the grace: status %d, cookies %v", rec.Code, rec.Result().Cookies())
	}
	// after the grace it is refused, the new cookie is not
	f.clock.Advance(2 * time.Second)
	rec = httptest.NewRecorder()
	m.ServeHTTP(rec, withCookies("/e", oldCookie))
	if rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), f.url("/authorize")) {
		t.Errorf("old cookie %ds after the new one was handed out: status %d, want a login", refreshGrace+1, rec.Code)
	}
	if rec := b.get("/f"); rec.Code != http.StatusOK {
		t.Errorf("new cookie after the grace: status %d", rec.Code)
	}
	if n := f.tokenHits.Load(); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

// TestOldCookieRefusedOnceEvicted: the chain, not only the cached entry, refuses a replaced cookie: after the cache
// forgot it, the old cookie is decrypted again and still refused.
func TestOldCookieRefusedOnceEvicted(t *testing.T) {
	f, m, _, b := loggedIn(t, nil)
	old := b.cookie(m.s.cookieName)
	f.clock.Advance(245 * time.Second)
	b.get("/")
	settleRefreshes(t, m)
	b.get("/") // hands out the new cookie
	f.clock.Advance((refreshGrace + 1) * time.Second)
	m.sessions.mu.Lock()
	m.sessions.m = map[string]*entry{}
	m.sessions.mu.Unlock()
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, withCookies("/", old))
	if rec.Code != http.StatusFound {
		t.Errorf("old cookie after the grace, cache emptied: status %d, want a login", rec.Code)
	}
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Errorf("the current cookie: status %d", rec.Code)
	}
}

// TestLogoutEndsTheChain: logout with the newest cookie ends every cookie of the login in this process, older
// generations within their grace and the logged-out cookie itself included.
func TestLogoutEndsTheChain(t *testing.T) {
	f, m, up, b := loggedIn(t, nil)
	c1 := b.cookie(m.s.cookieName)
	f.clock.Advance(245 * time.Second)
	b.get("/")
	settleRefreshes(t, m)
	b.get("/")
	c2 := b.cookie(m.s.cookieName)
	if c2.Value == c1.Value {
		t.Fatal("not refreshed")
	}
	r := httptest.NewRequest(http.MethodPost, appOrigin+"/oauth2/logout", nil)
	r.Header.Set("Origin", appOrigin)
	r.AddCookie(c2)
	if rec := serve(m, r); rec.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", rec.Code)
	}
	before := up.count()
	for name, c := range map[string]*http.Cookie{"the logged-out cookie": c2, "its predecessor, within the grace": c1} {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, withCookies("/", c))
		if rec.Code != http.StatusFound {
			t.Errorf("%s after logout: status %d, want a login", name, rec.Code)
		}
	}
	if up.count() != before {
		t.Errorf("a logged-out cookie reached upstream")
	}
}

// TestLogoutDuringRefresh: a refresh that finishes after its session was logged out does not bring it back.
func TestLogoutDuringRefresh(t *testing.T) {
	f, m, _, b := loggedIn(t, nil)
	c1 := b.cookie(m.s.cookieName)
	f.clock.Advance(245 * time.Second)
	release := f.hold()
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	waitBlocked(t, f, 1)
	r := httptest.NewRequest(http.MethodPost, appOrigin+"/oauth2/logout", nil)
	r.Header.Set("Origin", appOrigin)
	r.AddCookie(c1)
	if rec := serve(m, r); rec.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", rec.Code)
	}
	release()
	settleRefreshes(t, m)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, withCookies("/", c1))
	if rec.Code != http.StatusFound || setCookies(rec)[m.s.cookieName] != nil && setCookies(rec)[m.s.cookieName].MaxAge >= 0 {
		t.Errorf("logged-out cookie after its refresh finished: status %d, cookies %v", rec.Code, rec.Result().Cookies())
	}
}

// TestValidSessionsDoNotWaitForASlowRefresh: while the token endpoint hangs, every request of a session whose tokens
// are still valid is answered at once, and only one refresh is sent.
func TestValidSessionsDoNotWaitForASlowRefresh(t *testing.T) {
	f, m, up, b := loggedIn(t, nil)
	f.clock.Advance(250 * time.Second)
	cookies := b.request(http.MethodGet, "/").Cookies()
	release := f.hold()
	defer release()
	const n = 20
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rec := httptest.NewRecorder()
			m.ServeHTTP(rec, withCookies("/x", cookies...))
			codes[i] = rec.Code
		}(i)
	}
	wg.Wait() // with the token endpoint still held
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d: status %d", i, c)
		}
	}
	waitBlocked(t, f, 1)
	if got := f.tokenHits.Load(); got != 2 || up.count() != n {
		t.Errorf("%d requests: %d refreshes, upstream %d; want 1 and %d", n, got-1, up.count(), n)
	}
	release()
	settleRefreshes(t, m)
	rec := b.get("/y")
	if c := setCookies(rec)[m.s.cookieName]; rec.Code != http.StatusOK || c == nil {
		t.Errorf("after the refresh: status %d, new cookie %v", rec.Code, c != nil)
	}
}

// TestExpiredSessionWaitsForItsRefresh: a session whose tokens have expired is not served until its refresh is done;
// its concurrent requests share that one refresh and all get the new cookie.
func TestExpiredSessionWaitsForItsRefresh(t *testing.T) {
	f, m, up, b := loggedIn(t, nil)
	f.clock.Advance(400 * time.Second)
	cookies := b.request(http.MethodGet, "/").Cookies()
	release := f.hold()
	const n = 5
	var wg sync.WaitGroup
	recs := make([]*httptest.ResponseRecorder, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			recs[i] = httptest.NewRecorder()
			m.ServeHTTP(recs[i], withCookies("/x", cookies...))
		}(i)
	}
	waitBlocked(t, f, 1)
	time.Sleep(50 * time.Millisecond)
	if up.count() != 0 {
		t.Errorf("%d requests with expired tokens reached upstream before the refresh", up.count())
	}
	release()
	wg.Wait()
	var value string
	for i, rec := range recs {
		c := setCookies(rec)[m.s.cookieName]
		if rec.Code != http.StatusOK || c == nil || (value != "" && c.Value != value) {
			t.Fatalf("request %d: status %d, cookie %v", i, rec.Code, c)
		}
		value = c.Value
	}
	if got := f.tokenHits.Load(); got != 2 {
		t.Errorf("%d refreshes, want 1", got-1)
	}
}

// A request that read the session before another request finished refreshing it must not refresh again with the
// refresh token that the provider has just rotated away.
func TestRefreshAfterAnotherRequestRefreshed(t *testing.T) {
	f, m, _, b := loggedIn(t, nil)
	if rec := b.get("/"); rec.Code != http.StatusOK { // caches the session entry
		t.Fatal(rec.Code)
	}
	raw, _ := m.sm.readSessionCookie(b.request(http.MethodGet, "/"))
	key := m.sm.sessionKey(raw)
	f.clock.Advance(250 * time.Second)
	stale := m.sessions.get(key) // what a slower concurrent request holds
	if stale == nil || stale.next != nil {
		t.Fatal("no cached entry")
	}
	b.get("/")
	settleRefreshes(t, m)
	if f.tokenHits.Load() != 2 || m.sessions.get(key).next == nil {
		t.Fatalf("first refresh: token requests %d", f.tokenHits.Load())
	}
	rec := httptest.NewRecorder()
	if e := m.refresh(rec, httptest.NewRequest(http.MethodGet, appOrigin+"/", nil), key, stale, f.clock.Now().Unix()); e == nil {
		t.Fatalf("late request answered with %d", rec.Code)
	}
	settleRefreshes(t, m)
	if n := f.tokenHits.Load(); n != 2 {
		t.Errorf("the late request refreshed again (%d token requests)", n)
	}
}

func TestRefreshRejected(t *testing.T) {
	t.Run("token still valid: keep serving until expiry", func(t *testing.T) {
		f, m, up, b := loggedIn(t, nil)
		f.set(func(f *fakeIdP) { f.refreshError = "invalid_grant" })
		f.clock.Advance(250 * time.Second)
		for i := 0; i < 4; i++ {
			if rec := b.get("/"); rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			settleRefreshes(t, m)
		}
		if n := f.tokenHits.Load(); n != 2 {
			t.Errorf("%d token requests: a rejected refresh token must not be retried", n)
		}
		f.clock.Advance(51 * time.Second) // past the token's expiry
		rec := b.get("/")
		if rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), f.url("/authorize")) {
			t.Errorf("after expiry: status %d Location %q", rec.Code, rec.Header().Get("Location"))
		}
		if c := setCookies(rec)[m.s.cookieName]; c == nil || c.MaxAge >= 0 {
			t.Error("ended session not cleared")
		}
		if up.count() != 4 {
			t.Errorf("upstream %d", up.count())
		}
	})
	t.Run("token expired: log in again", func(t *testing.T) {
		f, m, up, b := loggedIn(t, nil)
		f.set(func(f *fakeIdP) { f.refreshError = "invalid_grant" })
		f.clock.Advance(400 * time.Second)
		rec := b.get("/")
		if rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), f.url("/authorize")) {
			t.Errorf("status %d Location %q", rec.Code, rec.Header().Get("Location"))
		}
		if c := setCookies(rec)[m.s.cookieName]; c == nil || c.MaxAge >= 0 {
			t.Error("session not cleared")
		}
		if f.tokenHits.Load() != 2 || up.count() != 0 {
			t.Errorf("token requests %d upstream %d", f.tokenHits.Load(), up.count())
		}
	})
	t.Run("refreshed id token for another user", func(t *testing.T) {
		f, _, up, b := loggedIn(t, nil)
		f.set(func(f *fakeIdP) { f.sub = "someone-else" })
		f.clock.Advance(400 * time.Second)
		if rec := b.get("/"); rec.Code != http.StatusFound || up.count() != 0 {
			t.Errorf("status %d upstream %d", rec.Code, up.count())
		}
	})
}

// providerFaults are the ways a refresh can fail without saying anything about the session: 503, invalid_client.
var providerFaults = map[string]func(f *fakeIdP){
	"503": func(f *fakeIdP) { f.down = true },
	"invalid_client": func(f *fakeIdP) {
		f.tokenHook = func(w http.ResponseWriter, _ *http.Request, _ url.Values) bool {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
			return true
		}
	},
}

// TestExpiredTokensNeverServedWhileProviderDown: a refresh that fails just before the tokens expire does not let
// the fast path serve them after their expiry; an expired session gets 503 with Retry-After (a page for browsers,
// JSON for APIs) without reaching upstream, and works again once the provider is back.
func TestExpiredTokensNeverServedWhileProviderDown(t *testing.T) {
	for name, fault := range providerFaults {
		t.Run(name, func(t *testing.T) {
			f, m, up, b := loggedIn(t, nil)
			f.clock.Advance(295 * time.Second) // 5s before the tokens expire
			f.set(fault)
			if rec := b.get("/"); rec.Code != http.StatusOK {
				t.Fatalf("tokens still valid, provider failing: %d", rec.Code)
			}
			settleRefreshes(t, m)
			served := up.count()
			f.clock.Advance(6 * time.Second) // expired, within the retry interval of the failed refresh
			for i := 0; i < 3; i++ {
				rec := b.get("/")
				secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
				if rec.Code != http.StatusServiceUnavailable || err != nil || secs < 1 || secs > refreshRetry {
					t.Fatalf("expired tokens, provider failing, request %d: status %d Retry-After %q; want 503", i, rec.Code, rec.Header().Get("Retry-After"))
				}
				mustContain(t, "browser page", rec.Header().Get("Content-Type")+rec.Body.String(), "text/html")
			}
			api := b.request(http.MethodGet, "/api")
			api.Header.Set("Accept", "application/json")
			if rec := b.do(api); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"error"`) {
				t.Errorf("API request: status %d body %q", rec.Code, rec.Body.String())
			}
			f.clock.Advance(refreshRetry * time.Second) // the next attempt fails too: still 503, never upstream
			if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
				t.Errorf("second attempt, provider failing: status %d", rec.Code)
			}
			if up.count() != served {
				t.Fatalf("expired tokens reached upstream %d times", up.count()-served)
			}
			f.set(func(f *fakeIdP) { f.down, f.tokenHook = false, nil })
			f.clock.Advance(refreshRetry * time.Second)
			rec := b.get("/")
			if c := setCookies(rec)[m.s.cookieName]; rec.Code != http.StatusOK || c == nil {
				t.Errorf("provider back: status %d, new cookie %v", rec.Code, c != nil)
			}
		})
	}
}
