package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRefreshFlights: one flight per session chain, joined by every later caller until it finishes, bounded.
func TestRefreshFlights(t *testing.T) {
	g := newSessionRegistry()
	f1, leader := g.joinRefresh("k", 2)
	if !leader {
		t.Fatal("first caller is not the leader")
	}
	f2, leader2 := g.joinRefresh("k", 2)
	if leader2 || f2 != f1 {
		t.Fatal("second caller did not join the flight")
	}
	if _, other := g.joinRefresh("other", 2); !other {
		t.Error("flights for different sessions are shared")
	}
	g.finishRefresh("k", f1)
	select {
	case <-f2.done:
	default:
		t.Fatal("waiters not released")
	}
	if f3, leader3 := g.joinRefresh("k", 2); !leader3 || f3 == f1 {
		t.Error("a finished flight is joined again")
	}
	if f, leader := g.joinRefresh("third", 2); f != nil || leader {
		t.Errorf("a third flight with a limit of 2: %v, leader %v; want none", f, leader)
	}
}

// TestRegistrySharing: instances built from one configuration (several routers, reloads) share the registry and the
// entry cache; another policy over the same sessions shares the registry only; another session secret shares nothing.
func TestRegistrySharing(t *testing.T) {
	f := newFakeIdP(t)
	a, _ := newMW(t, f, f.config())
	a2, _ := newMW(t, f, f.config())
	cfgB := f.config()
	cfgB.RequireVerifiedEmail = true
	b, _ := newMW(t, f, cfgB)
	cfgC := f.config()
	cfgC.SessionSecret = testSessionKey + "-another-secret"
	c, _ := newMW(t, f, cfgC)
	if a.sm.reg != a2.sm.reg || a.sessions != a2.sessions {
		t.Error("two instances of one configuration do not share registry and cache")
	}
	if b.sm.reg != a.sm.reg || b.sessions == a.sessions {
		t.Error("another policy over the same sessions: want the same registry and its own cache")
	}
	if c.sm.reg == a.sm.reg {
		t.Error("another session secret shares the registry")
	}
}

// twoPolicies logs a browser in through a and returns the session cookie, with b a second middleware (another
// configuration) over the same sessions. The provider rotates refresh tokens and puts email and roles in the ID token.
func twoPolicies(t *testing.T, cfgA, cfgB func(*Config)) (f *fakeIdP, a, b *Middleware, upA, upB *upstream, cookie *http.Cookie) {
	t.Helper()
	f = newFakeIdP(t)
	f.set(func(f *fakeIdP) {
		f.rotateRefresh = true
		f.extraClaims = map[string]any{"email": "u@example.com", "roles": []any{"admin"}}
	})
	ca, cb := f.config(), f.config()
	cfgA(ca)
	cfgB(cb)
	a, upA = newMW(t, f, ca)
	b, upB = newMW(t, f, cb)
	br := newBrowser(t, a)
	br.login("/")
	return f, a, b, upA, upB, br.cookie(a.s.cookieName)
}

// TestTwoPoliciesOneRefresh: expired tokens, requests through two middlewares at once: one refresh grant, and each
// middleware serves the refreshed session with its own headers.
func TestTwoPoliciesOneRefresh(t *testing.T) {
	f, a, b, upA, upB, cookie := twoPolicies(t,
		func(c *Config) { c.ForwardHeaders = map[string]string{"X-User": "sub"} },
		func(c *Config) { c.ForwardHeaders = map[string]string{"X-Mail": "email"} })
	before := len(f.tokenRequests())
	f.clock.Advance(301 * time.Second) // the tokens have expired: requests wait for the refresh
	release := f.hold()
	codes := make(chan int, 2)
	for _, m := range []*Middleware{a, b} {
		m := m
		go func() { codes <- serve(m, withCookies("/", cookie)).Code }()
	}
	waitBlocked(t, f, 1)
	time.Sleep(50 * time.Millisecond) // let the second request join the flight (it would block on the provider too)
	release()
	for i := 0; i < 2; i++ {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("request %d: status %d, want 200", i, code)
		}
	}
	if n := len(f.tokenRequests()) - before; n != 1 {
		t.Errorf("%d refresh grants for one session served by two middlewares, want 1", n)
	}
	if got := upA.last().Get("X-User"); got != testSub {
		t.Errorf("middleware A forwarded X-User %q, want %q", got, testSub)
	}
	if got := upB.last().Get("X-Mail"); got != "u@example.com" {
		t.Errorf("middleware B forwarded X-Mail %q, want the email", got)
	}
}

// TestLogoutEndsTheSessionForEveryPolicy: a logout through one middleware ends the session at another.
func TestLogoutEndsTheSessionForEveryPolicy(t *testing.T) {
	_, a, b, _, _, cookie := twoPolicies(t, func(*Config) {},
		func(c *Config) { c.ForwardHeaders = map[string]string{"X-Mail": "email"} })
	if rec := serve(b, withCookies("/", cookie)); rec.Code != http.StatusOK {
		t.Fatalf("before logout, middleware B: status %d", rec.Code)
	}
	r := httptest.NewRequest(http.MethodPost, appOrigin+"/oauth2/logout", nil)
	r.Header.Set("Origin", appOrigin)
	r.AddCookie(cookie)
	if rec := serve(a, r); rec.Code != http.StatusSeeOther {
		t.Fatalf("logout through A: status %d", rec.Code)
	}
	if rec := serve(b, withCookies("/", cookie)); rec.Code != http.StatusFound {
		t.Errorf("after logout through A, middleware B answered %d, want a login (302)", rec.Code)
	}
}

// TestEachPolicyAppliesItsOwnEmailRule: the provider sends email without email_verified. The middleware that did the
// login forwards it; one with requireVerifiedEmail does not, although the session is the same.
func TestEachPolicyAppliesItsOwnEmailRule(t *testing.T) {
	_, a, b, upA, upB, cookie := twoPolicies(t,
		func(c *Config) { c.ForwardHeaders = map[string]string{"X-Mail": "email"} },
		func(c *Config) {
			c.ForwardHeaders = map[string]string{"X-Mail": "email"}
			c.RequireVerifiedEmail = true
		})
	serve(a, withCookies("/", cookie))
	if got := upA.last().Get("X-Mail"); got != "u@example.com" {
		t.Errorf("plain middleware: X-Mail %q, want the email", got)
	}
	if rec := serve(b, withCookies("/", cookie)); rec.Code != http.StatusOK {
		t.Fatalf("requireVerifiedEmail middleware: status %d", rec.Code)
	}
	if got := upB.last().Get("X-Mail"); got != "" {
		t.Errorf("requireVerifiedEmail middleware forwarded an unverified email: %q", got)
	}
}

// TestSessionKeepsWhatEveryPolicyReads: a middleware that forwards only sub does the login; another requires a role.
// The session keeps the roles for it (the registry's union of kept claims): no 403 for a real admin.
func TestSessionKeepsWhatEveryPolicyReads(t *testing.T) {
	_, _, b, _, _, cookie := twoPolicies(t,
		func(c *Config) { c.ForwardHeaders = map[string]string{"X-User": "sub"} },
		func(c *Config) { c.RequiredRoles = []string{"admin"} })
	if rec := serve(b, withCookies("/", cookie)); rec.Code != http.StatusOK {
		t.Errorf("an admin's session made by the plain middleware: status %d at the roles middleware, want 200", rec.Code)
	}
}

// TestRegistryBounds: policies per registry and registries per process are bounded, and the union of kept claims
// follows the policies that remain.
func TestRegistryBounds(t *testing.T) {
	g := newSessionRegistry()
	first := g.policyFor("p0", []string{"roles"}, defaultCacheMemory).cache
	for i := 1; i <= maxPolicies; i++ {
		g.policyFor("p"+strconv.Itoa(i), []string{"email"}, defaultCacheMemory)
	}
	if n := len(g.caches()); n != maxPolicies {
		t.Errorf("%d policies, limit %d", n, maxPolicies)
	}
	if g.policyFor("p0", nil, defaultCacheMemory).cache == first {
		t.Error("the oldest policy was not dropped at the bound")
	}
	if contains(g.neededClaims(), "roles") {
		t.Errorf("kept claims %v still list the dropped policy's roles", g.neededClaims())
	}
	for i := 0; i < maxRegistries+5; i++ {
		registryFor(&settings{issuer: "https://bound.example", clientID: strconv.Itoa(i)})
	}
	registries.mu.Lock()
	n := len(registries.m)
	registries.mu.Unlock()
	if n > maxRegistries {
		t.Errorf("%d registries, limit %d", n, maxRegistries)
	}
}

// TestRegistryBoundKeepsWhatIsBuilt: past either bound, what New built least recently goes, never a configuration
// Traefik keeps building (every reload builds each instance again). Before, an arbitrary registry went: an instance
// built after it (another router, a reload) got a registry of its own and accepted a cookie logged out at the first
// (integration/adversarial TestOldCookieAfterRefresh caught it in CI, with 27 registries evicted in that package).
func TestRegistryBoundKeepsWhatIsBuilt(t *testing.T) {
	kept := &settings{issuer: "https://kept.example", clientID: "kept"}
	g := registryFor(kept)
	for i := 0; i < 20*maxRegistries; i++ { // with an arbitrary victim, kept would survive this with p < 1e-6
		registryFor(&settings{issuer: "https://lru.example", clientID: strconv.Itoa(i)})
		if i%(maxRegistries/4) == 0 {
			if registryFor(kept) != g {
				t.Fatalf("the registry of a configuration built every %d registries was dropped after %d", maxRegistries/4, i)
			}
		}
	}

	r := newSessionRegistry()
	p0 := r.policyFor("p0", nil, defaultCacheMemory)
	for i := 1; i <= 4*maxPolicies; i++ {
		r.policyFor("p"+strconv.Itoa(i), nil, defaultCacheMemory)
		if i%(maxPolicies/2) == 0 && r.policyFor("p0", nil, defaultCacheMemory) != p0 {
			t.Fatalf("the policy built every %d policies was dropped after %d", maxPolicies/2, i)
		}
	}
	if n := len(r.caches()); n != maxPolicies {
		t.Errorf("%d policies, limit %d", n, maxPolicies)
	}
}

// TestSessionMadeBeforeAPolicyGetsItsClaims: a session sealed before a middleware that reads more claims was
// configured (a reload added it) lacks them. That middleware has the session refreshed, the request waiting for it,
// instead of serving it without them: the admin gets 200, not 403, after one refresh grant.
func TestSessionMadeBeforeAPolicyGetsItsClaims(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) {
		f.rotateRefresh = true
		f.extraClaims = map[string]any{"roles": []any{"admin"}}
	})
	ca := f.config()
	ca.ForwardHeaders = map[string]string{"X-User": "sub"}
	a, _ := newMW(t, f, ca)
	br := newBrowser(t, a)
	br.login("/")
	cookie := br.cookie(a.s.cookieName)
	if got := br.session().Kept; strings.Contains(got, "roles") {
		t.Fatalf("the session was collected for %q before the roles middleware existed", got)
	}
	cb := f.config()
	cb.RequiredRoles = []string{"admin"}
	b, upB := newMW(t, f, cb) // configured after the login
	before := len(f.tokenRequests())
	rec := serve(b, withCookies("/", cookie))
	if rec.Code != http.StatusOK || upB.count() != 1 {
		t.Fatalf("the roles middleware on a session made before it: status %d, upstream %d; want 200 after a refresh", rec.Code, upB.count())
	}
	if n := len(f.tokenRequests()) - before; n != 1 {
		t.Errorf("%d refresh grants, want 1", n)
	}
	if rec := serve(b, withCookies("/", cookie)); rec.Code != http.StatusOK {
		t.Errorf("the old cookie again, within the grace: status %d", rec.Code)
	}
}

// TestBearerTokensVerifiedOncePerConfiguration: a bearer token verified by one router's instance is served from the
// same cache by another router's instance of the same configuration (Traefik builds one per router, and again on
// reload), and not by an instance of another configuration, whose policy may differ.
func TestBearerTokensVerifiedOncePerConfiguration(t *testing.T) {
	f := newFakeIdP(t)
	c := f.idClaims("")
	c["exp"] = f.clock.Now().Unix() + 3600
	tok := f.mint(c)
	cfg := f.config()
	cfg.AllowBearerTokens = true
	routerA, upA := newMW(t, f, cfg)
	routerB, upB := newMW(t, f, cfg)
	r := bearerRequest(tok)
	if rec := serve(routerA, r); rec.Code != http.StatusOK || upA.last().Get("X-Forwarded-User") != testSub {
		t.Fatalf("router A: status %d, user %q", rec.Code, upA.last().Get("X-Forwarded-User"))
	}
	key := bearerKey(tok)
	marked := *routerA.bearers.get(key) // what router B serves if it reads router A's verification
	marked.values = []string{"verified-by-router-a"}
	marked.names = []string{"X-Forwarded-User"}
	routerA.bearers.put(key, &marked, f.clock.Now().Unix())
	if rec := serve(routerB, bearerRequest(tok)); rec.Code != http.StatusOK || upB.last().Get("X-Forwarded-User") != "verified-by-router-a" {
		t.Errorf("router B: status %d, user %q: want router A's cached verification", rec.Code, upB.last().Get("X-Forwarded-User"))
	}
	other := f.config()
	other.AllowBearerTokens = true
	other.RequiredRoles = []string{"admin"}
	m, _ := newMW(t, f, other)
	if rec := serve(m, bearerRequest(tok)); rec.Code != http.StatusForbidden {
		t.Errorf("another configuration (requiredRoles admin): status %d, want its own decision 403", rec.Code)
	}
}
