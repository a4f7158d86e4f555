package scenarios

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// twoMiddlewares serves /a/ through a middleware built from cfgA and /b/ through one built from cfgB (as two Traefik
// routers with two middlewares over one provider and session secret), with one echo upstream, on one origin.
func twoMiddlewares(t *testing.T, tg harness.Target, idp *devidp.Server, cfgA, cfgB map[string]any) *env {
	t.Helper()
	e := &env{t: t, idp: idp}
	mux := http.NewServeMux()
	mux.Handle("/b/", e.build(tg, cfgB, "b"))
	mux.Handle("/", e.build(tg, cfgA, "a")) // /a/ and the callback, logout and login paths
	e.serve(mux)
	return e
}

// TestTwoMiddlewaresShareASession: a plain middleware (forwards the user) and a strict one (requires the editor
// role, forwards roles and the email only when verified) over one session. The session made by the plain one
// carries what the strict one reads (no 403 for an editor); tokens expire and both are asked at once: one refresh
// grant, each answers with its own headers; a logout through one ends the session at both.
func TestTwoMiddlewaresShareASession(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := shortLived(t)
		cfgA := merge(refreshConfig(idp), map[string]any{"forwardHeaders": map[string]any{"X-Forwarded-User": "sub"}})
		cfgB := merge(refreshConfig(idp), map[string]any{
			"forwardHeaders": map[string]any{"X-Forwarded-User": "sub", "X-Roles": "roles", "X-Mail": "email"},
			"requiredRoles":  "editor", "requireVerifiedEmail": true,
		})
		e := twoMiddlewares(t, tg, idp, cfgA, cfgB)
		br := e.browser()
		br.mustLogin("/a/")
		if r := br.Get("/b/"); r.Status != http.StatusOK {
			t.Fatalf("the strict middleware on a session made by the plain one: status %d, want 200 (an editor)", r.Status)
		}
		if er := br.Echo("/b/", nil); !strings.Contains(er.Headers["X-Roles"], "editor") {
			t.Fatalf("the strict middleware on a session made by the plain one: X-Roles %q", er.Headers["X-Roles"])
		}
		warm := e.browser() // a second session, refreshed first one middleware after the other: see below
		warm.mustLogin("/a/")
		untilRefreshDue()
		untilExpired() // the tokens have expired: the next requests wait for the refresh
		old := br.sessionCookie()
		client := *e.srv.Client() // answers as they are: a login redirect must not pass as the provider's 200 page
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		// Yaegi builds some reflect types lazily, racily on first concurrent use (YAEGI.md): the refresh, the wait for
		// it and another middleware's adoption of its result run once before the burst.
		for _, path := range []string{"/a/warm", "/b/warm"} {
			if r := warm.Get(path); r.Status != http.StatusOK {
				t.Fatalf("warm-up %s with expired tokens: status %d", path, r.Status)
			}
		}
		grantsBefore := idp.Stats().TokenRequests["refresh_token"]
		var wg sync.WaitGroup
		statuses := make([]int, 6)
		for i := range statuses {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				path := "/a/x"
				if i%2 == 1 {
					path = "/b/x"
				}
				req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
				req.AddCookie(&http.Cookie{Name: "_descopeoidc", Value: old})
				if resp, err := client.Do(req); err == nil {
					resp.Body.Close()
					statuses[i] = resp.StatusCode
				}
			}(i)
		}
		wg.Wait()
		for i, s := range statuses {
			if s != http.StatusOK {
				t.Errorf("request %d with expired tokens through both middlewares: status %d, want 200", i, s)
			}
		}
		if got := idp.Stats().TokenRequests["refresh_token"] - grantsBefore; got != 1 {
			t.Errorf("refresh_token grants = %d for one session through two middlewares, want 1", got)
		}
		br.Get("/a/pick-up") // the browser takes the refreshed cookie
		if er := br.Echo("/b/after", nil); er.Headers["X-Forwarded-User"] != devidp.DemoSubject || er.Headers["X-Roles"] == "" {
			t.Errorf("strict middleware after the refresh: user %q roles %q", er.Headers["X-Forwarded-User"], er.Headers["X-Roles"])
		}
		r := br.Do(http.MethodPost, "/oauth2/logout", map[string]string{"Origin": e.srv.URL})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("logout: status %d", r.Status)
		}
		for _, path := range []string{"/a/", "/b/"} {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
			req.Header.Set("Accept", "text/html")
			req.AddCookie(&http.Cookie{Name: "_descopeoidc", Value: old})
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound {
				t.Errorf("%s with the session's cookie after logout: status %d, want a login", path, resp.StatusCode)
			}
		}
	})
}

// TestMiddlewareAddedAfterTheLogin: a reload adds a middleware that reads roles after the user signed in through one
// that reads only sub. Its first request with that session waits for a refresh that collects the roles (one grant)
// instead of answering 403 to an editor.
func TestMiddlewareAddedAfterTheLogin(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		e := &env{t: t, idp: idp}
		late := &lateHandler{}
		late.set(http.NotFoundHandler())
		mux := http.NewServeMux()
		mux.Handle("/b/", late)
		mux.Handle("/", e.build(tg, merge(baseConfig(idp), map[string]any{"forwardHeaders": map[string]any{"X-Forwarded-User": "sub"}}), "a"))
		e.serve(mux)
		br := e.browser()
		br.mustLogin("/a/")
		late.set(e.build(tg, merge(baseConfig(idp), map[string]any{
			"requiredRoles": "editor", "forwardHeaders": map[string]any{"X-Roles": "roles"},
		}), "b"))
		before := idp.Stats().TokenRequests["refresh_token"]
		if r := br.Get("/b/"); r.Status != http.StatusOK {
			t.Fatalf("the middleware added after the login: status %d, want 200 after a refresh", r.Status)
		}
		if er := br.Echo("/b/", nil); !strings.Contains(er.Headers["X-Roles"], "editor") {
			t.Errorf("X-Roles %q, want the editor role", er.Headers["X-Roles"])
		}
		if n := idp.Stats().TokenRequests["refresh_token"] - before; n != 1 {
			t.Errorf("%d refresh grants, want 1", n)
		}
	})
}
