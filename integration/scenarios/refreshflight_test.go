package scenarios

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik-descope/descopeoidc/integration/providers"
)

// Issue 16: the refresh goroutine against the request path, under Traefik's Yaegi loader and compiled. A session
// whose tokens have expired waits for its refresh (refresh.go), so what the refresh goroutine ends with is what that
// request is answered: a refresh that panicked under the interpreter (the tuple assignment of an untyped nil in
// settleRefresh) answered 503 "identity provider unavailable" where a logged-out session must get a new login. The
// provider's gate holds the refresh at the token endpoint (providers.GrantHold), so the logout surely lands while
// the refresh is in flight.

// flightLifetime is how long the tokens live: a session is left alone past it, so its next request waits for the
// refresh instead of being served with still-valid tokens.
const flightLifetime = 3 * time.Second

// gatedIDP is devidp behind a gate (its issuer is the gate's address), its tokens living flightLifetime.
func gatedIDP(t *testing.T) (*devidp.Server, *providers.Gate) {
	t.Helper()
	g, err := providers.NewGate()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	idp := startIDP(t, devidp.Options{PublicURL: g.URL(), AZPClaim: true,
		AccessTokenLifetime: flightLifetime, IDTokenLifetime: flightLifetime})
	if err := g.Start(idp.ListenURL()); err != nil {
		t.Fatal(err)
	}
	return idp, g
}

// navigate is a top-level navigation with exactly these session cookies (not a browser's jar): a page load of a tab
// that still holds them. It returns the answer and the session cookie it sets ("" when none; cleared counts as none).
func navigate(e *env, path string, cookies ...string) (response, string) {
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Accept", "text/html")
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: "_descopeoidc", Value: c})
	}
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return response{}, ""
	}
	defer resp.Body.Close()
	set := "" // the last Set-Cookie of the session wins, as in a browser (a cleared one after a replacement: none)
	for _, c := range resp.Cookies() {
		if c.Name == "_descopeoidc" {
			set = c.Value
			if c.MaxAge < 0 {
				set = ""
			}
		}
	}
	return response{Status: resp.StatusCode, Header: resp.Header}, set
}

// wantLogin asserts that an answer sends the browser to the provider's login and hands out no session.
func wantLogin(t *testing.T, e *env, r response, set, what string) {
	t.Helper()
	if r.Status != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), e.idp.URL()+devidp.PathAuthorize+"?") {
		t.Errorf("%s: status %d Location %q, want 302 to the provider's login (503 would be the refresh's panic)", what, r.Status, r.Header.Get("Location"))
	}
	if set != "" {
		t.Errorf("%s: a session cookie was handed out", what)
	}
}

// waiting starts a navigation with cookie that waits for the session's refresh (its tokens have expired); the
// channel gives its answer.
func waiting(e *env, path, cookie string) <-chan [2]any {
	out := make(chan [2]any, 1)
	go func() {
		r, set := navigate(e, path, cookie)
		out <- [2]any{r, set}
	}()
	return out
}

// logoutWith posts a same-origin logout with exactly this session cookie.
func logoutWith(t *testing.T, e *env, cookie string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth2/logout", nil)
	req.Header.Set("Origin", e.srv.URL)
	req.AddCookie(&http.Cookie{Name: "_descopeoidc", Value: cookie})
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("logout: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout during the refresh: status %d, want 303", resp.StatusCode)
	}
}

// TestLogoutWhileARequestWaitsForTheRefresh: a navigation whose tokens have expired waits for the refresh, which the
// gate holds; the user logs out meanwhile (same cookie). Once the provider answers, the waiting navigation gets a
// new login (not 503, no cookie), the pre-logout cookie stays refused, and the provider saw one refresh grant.
func TestLogoutWhileARequestWaitsForTheRefresh(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp, g := gatedIDP(t)
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"refreshMargin": "1s"}))
		b := e.browser()
		b.mustLogin("/")
		old := b.sessionCookie()
		time.Sleep(flightLifetime + 1500*time.Millisecond) // expired: the next navigation waits for the refresh
		hold := g.HoldGrant("refresh_token")
		defer hold.Release(10 * time.Second)
		answer := waiting(e, "/waits", old)
		if !hold.WaitArrived(1, 10*time.Second) {
			t.Fatal("the refresh did not reach the provider's gate")
		}
		logoutWith(t, e, old)
		if !hold.Release(10 * time.Second) {
			t.Fatal("the provider did not answer the held refresh")
		}
		got := <-answer
		wantLogin(t, e, got[0].(response), got[1].(string), "the navigation that waited for the refresh of a logged-out session")
		r, set := navigate(e, "/after", old)
		wantLogin(t, e, r, set, "the pre-logout cookie after its refresh ended")
		if n := g.Grants("refresh_token"); n != 1 {
			t.Errorf("refresh_token grants = %d, want 1", n)
		}
	})
}

// TestLogoutOfAnOlderCookieDuringTheSecondRefresh: the session was refreshed once (cookie 0 now points to cookie
// 1); cookie 1's tokens expire and its refresh (the second of the chain) is held at the gate, with a navigation of
// cookie 1 and one of cookie 0 (continued as cookie 1) waiting for it. The user logs out with cookie 0, another
// cookie of the same chain. Both waiting navigations get a new login, both cookies stay refused, and the provider
// saw exactly one refresh grant for the held refresh.
func TestLogoutOfAnOlderCookieDuringTheSecondRefresh(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp, g := gatedIDP(t)
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"refreshMargin": "1s"}))
		b := e.browser()
		b.mustLogin("/")
		c0 := b.sessionCookie()
		time.Sleep(flightLifetime/2 + 300*time.Millisecond) // due, still valid: refreshed in the background
		b.refreshNow()
		c1 := b.sessionCookie()
		if c1 == c0 {
			t.Fatal("the first refresh handed out no new cookie")
		}
		time.Sleep(flightLifetime + 1500*time.Millisecond) // cookie 1's tokens have expired
		// (On a slow machine the request that handed out cookie 1 may have refreshed it once more already, in the
		// background, long finished by now: what counts below is the held refresh.)
		before := g.Grants("refresh_token")
		hold := g.HoldGrant("refresh_token")
		defer hold.Release(10 * time.Second)
		answer1 := waiting(e, "/waits-1", c1)
		if !hold.WaitArrived(1, 10*time.Second) {
			t.Fatal("the second refresh did not reach the provider's gate")
		}
		answer0 := waiting(e, "/waits-0", c0) // joins the refresh in flight through cookie 1
		time.Sleep(200 * time.Millisecond)    // only lets it reach the flight; the assertions hold either way
		logoutWith(t, e, c0)
		if !hold.Release(10 * time.Second) {
			t.Fatal("the provider did not answer the held refresh")
		}
		for i, ch := range []<-chan [2]any{answer1, answer0} {
			got := <-ch
			r := got[0].(response)
			t.Logf("waiting navigation %d: %d Set-Cookie %q", i, r.Status, r.Header.Values("Set-Cookie"))
			wantLogin(t, e, r, got[1].(string), []string{"cookie 1's waiting navigation", "cookie 0's waiting navigation"}[i])
		}
		for i, c := range []string{c0, c1} {
			r, set := navigate(e, "/after", c)
			wantLogin(t, e, r, set, []string{"cookie 0 after the logout", "cookie 1 after the logout"}[i])
		}
		if n := g.Grants("refresh_token") - before; n != 1 {
			t.Errorf("refresh_token grants for the held refresh = %d, want 1", n)
		}
	})
}

// TestStepUpReplacesASessionDuringItsRefresh: on a route with requiredACR, a password session whose tokens have
// expired waits for its refresh (held at the gate); meanwhile the user steps up through the same middleware, whose
// callback ends the replaced session's chain. The waiting navigation then gets a new login (not 503), the replaced
// cookie stays refused there, and the stepped-up session is served.
func TestStepUpReplacesASessionDuringItsRefresh(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp, g := gatedIDP(t)
		site := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"refreshMargin": "1s"}))
		admin := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"refreshMargin": "1s", "requiredACR": devidp.ACRMFA}))
		b := site.browser()
		b.mustLogin("/")
		c0 := b.sessionCookie()
		time.Sleep(flightLifetime + 1500*time.Millisecond) // expired: the next navigation waits for the refresh
		hold := g.HoldGrant("refresh_token")
		defer hold.Release(10 * time.Second)
		answer := waiting(admin, "/admin/waits", c0)
		if !hold.WaitArrived(1, 10*time.Second) {
			t.Fatal("the refresh did not reach the provider's gate")
		}
		// The step-up: a login through the admin middleware (it asks for acr_values), whose callback brings c0.
		x := admin.browser()
		authz := x.startLogin("/admin/users")
		x.SetCookie("_descopeoidc", c0)
		cb, err := idp.LoginMFA(x.HTTP, authz.String(), devidp.DemoUsername, devidp.DemoPassword)
		if err != nil {
			t.Fatal(err)
		}
		if r := x.Get(cb); r.Status != http.StatusFound || r.Location() != "/admin/users" {
			t.Fatalf("step-up callback: %d to %q, want 302 back to /admin/users", r.Status, r.Location())
		}
		if !hold.Release(10 * time.Second) {
			t.Fatal("the provider did not answer the held refresh")
		}
		got := <-answer
		wantLogin(t, admin, got[0].(response), got[1].(string), "the navigation that waited for the refresh of the replaced session")
		r, set := navigate(admin, "/admin/after", c0)
		wantLogin(t, admin, r, set, "the replaced cookie after its refresh ended")
		if n := g.Grants("refresh_token"); n != 1 {
			t.Errorf("refresh_token grants = %d, want 1", n)
		}
		// (Its own tokens live 3 s too: under Yaegi it may be refreshed itself by now, which is not counted above.)
		if er := x.Echo("/admin/users", nil); er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
			t.Errorf("the stepped-up session: upstream user %q", er.Headers["X-Forwarded-User"])
		}
	})
}
