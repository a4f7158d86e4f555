package adversarial

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/badidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestSessionBoundToIssuerAndClient: two middlewares share one sessionSecret but trust different issuers (or the same
// issuer with another client ID). A session cookie from one must not authenticate at the other, and a login started
// at one cannot be finished at the other with its login cookie.
func TestSessionBoundToIssuerAndClient(t *testing.T) {
	o := newOutcomes(t)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idpA, idpB := newIdP(t), newIdP(t)
		hA, upA := build(t, tg, baseConfig(idpA, nil))
		hB, upB := build(t, tg, baseConfig(idpB, nil))
		// same issuer as A, another client: the provider would refuse its code exchange, but the cookie must already fail
		hC, upC := build(t, tg, baseConfig(idpA, map[string]any{"clientID": "another-client"}))
		b := newBrowser(t, hA)
		b.mustLogin(idpA, "/app")
		if r := b.get("/app"); r.Status != http.StatusOK || upA.count() != 1 {
			t.Fatalf("control: A's own session at A: %s", r)
		}
		cookies := b.cookieHeader("/app")
		for _, other := range []struct {
			name string
			h    http.Handler
			up   *upstream
			idp  *badidp.Server
		}{{"other issuer", hB, upB, idpB}, {"other client", hC, upC, idpA}} {
			r := serve(t, other.h, withCookie(navigation(), cookies))
			if r.Status != http.StatusFound || !strings.HasPrefix(r.location(), other.idp.Issuer()+"/authorize?") || other.up.count() != 0 {
				t.Errorf("%s: A's session cookie gives %s (Location %q), upstream %d; want a login redirect",
					other.name, r, r.location(), other.up.count())
			}
			if !r.sessionCleared() {
				t.Errorf("%s: the foreign session cookie is not cleared", other.name)
			}
			o.record(tg.Name(), "session at "+other.name, fmt.Sprintf("status=%d upstream=%d", r.Status, other.up.count()))
		}

		// a login started at A, its callback (with A's login cookie) delivered to B: B cannot read the cookie
		pending := newBrowser(t, hA)
		cb := pending.mustReachCallback(idpA, "/app")
		login := pending.cookieHeader("/oauth2/callback")
		r := callbackWithCookie(t, hB, cb, login)
		expectRejected(t, r, upB, idpA, cb, http.StatusBadRequest)
		if ok := callbackWithCookie(t, hA, cb, login); ok.Status != http.StatusFound || !ok.sessionSet() {
			t.Errorf("control: the same callback at A: %s", ok)
		}
		o.record(tg.Name(), "login cookie at other issuer", fmt.Sprintf("status=%d", r.Status))
	})
}

// refreshingIdP is a provider that issues rotating refresh tokens with access tokens that live expiresIn seconds.
func refreshingIdP(t *testing.T, expiresIn int) *badidp.Server {
	t.Helper()
	idp := newIdP(t)
	idp.SetRefreshTokens(true)
	idp.SetExpiresIn(expiresIn)
	return idp
}

// api is what an API client (fetch/XHR) sends.
func api() http.Header {
	return http.Header{"Accept": {"application/json"}, "Sec-Fetch-Mode": {"cors"}}
}

// TestExpiredSessionWhileProviderDown: the refresh of a session fails while the provider is down (connection
// refused, 503, invalid_client). While its tokens are valid the session is served; once they have expired it never
// reaches upstream: 503 with Retry-After (an HTML page for a browser, JSON for an API), and it works again (refreshed,
// no new login) once the provider is back.
func TestExpiredSessionWhileProviderDown(t *testing.T) {
	t.Parallel()
	o := newOutcomes(t)
	forEachTargetConcurrently(t, func(t *testing.T, tg harness.Target) {
		warmInterpreter(t, tg)
		each(t, []string{"connection refused", "503", "invalid_client"}, func(t *testing.T, fault string) {
			// 6s tokens: the refresh point is 3s after the code exchange (half the lifetime), the expiry 6s after it.
			// The exchange happens between started and loggedIn (a loaded machine may take a second or two).
			idp := refreshingIdP(t, 6)
			h, up := build(t, tg, baseConfig(idp, nil))
			b := newBrowser(t, h)
			started := time.Now()
			b.mustLogin(idp, "/app")
			loggedIn := time.Now()
			down, back := providerFault(t, idp, fault)
			down()
			time.Sleep(time.Until(loggedIn.Add(3100 * time.Millisecond))) // past the refresh point
			if r := b.get("/app"); r.Status != http.StatusOK && time.Since(started) < 6*time.Second {
				t.Fatalf("refresh due, tokens valid, provider down: %s; want it served", r) // the refresh fails meanwhile
			}
			served := up.count()
			time.Sleep(time.Until(loggedIn.Add(6200 * time.Millisecond))) // expired now
			statuses := map[int]int{}
			for i := 0; i < 5; i++ {
				r := b.get("/app")
				statuses[r.Status]++
				if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
					t.Errorf("expired tokens, provider down (%s), request %d: %s Retry-After %q Content-Type %q; want a 503 page",
						fault, i, r, r.Header.Get("Retry-After"), r.Header.Get("Content-Type"))
				}
				checkGeneric(t, r.Body)
				time.Sleep(200 * time.Millisecond)
			}
			if r := b.send(appRequest(http.MethodGet, "/api", api())); r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Body, `"error"`) {
				t.Errorf("API request, expired tokens, provider down: %s", r)
			}
			if n := up.count() - served; n != 0 {
				t.Errorf("expired tokens reached upstream %d times while the provider was down", n)
			}
			back()
			healed := time.Now()
			for {
				r := b.get("/app")
				if r.Status == http.StatusOK {
					break
				}
				if r.Status != http.StatusServiceUnavailable || time.Since(healed) > 12*time.Second {
					t.Fatalf("after the provider came back (%s): %s", time.Since(healed).Round(time.Millisecond), r)
				}
				time.Sleep(250 * time.Millisecond)
			}
			t.Logf("%s: statuses while down %v; served again %s after the provider came back, %d refresh grants",
				fault, statuses, time.Since(healed).Round(time.Millisecond), idp.RefreshGrants())
			if up.lastHeader().Get("X-Forwarded-User") != badidp.DefaultSub || idp.AuthorizeRequests() != 1 {
				t.Errorf("after the outage: user %q, %d logins; want the refreshed session of the same login", up.lastHeader().Get("X-Forwarded-User"), idp.AuthorizeRequests())
			}
			o.record(tg.Name(), "expired session, provider down: "+fault, fmt.Sprintf("whileDown=%v recovered=true", statuses))
		})
	})
}

// providerFault returns how to break the provider's token endpoint in the named way, and how to mend it.
func providerFault(t *testing.T, idp *badidp.Server, fault string) (down, back func()) {
	switch fault {
	case "connection refused":
		return idp.Stop, func() {
			if err := idp.Start(); err != nil {
				t.Fatal(err)
			}
		}
	case "503":
		return func() { idp.SetMode(badidp.TokenUnavailable) }, func() { idp.SetMode(badidp.Normal) }
	case "invalid_client":
		return func() { idp.SetMode(badidp.RejectClient) }, func() { idp.SetMode(badidp.Normal) }
	}
	t.Fatalf("unknown fault %q", fault)
	return nil, nil
}

// refreshed waits until a request with cookie (a client that does not update it) is given a new session cookie
// by the background refresh, and returns that cookie header.
func refreshed(t *testing.T, h http.Handler, cookie string) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r := serve(t, h, withCookie(navigation(), cookie))
		if r.Status != http.StatusOK {
			t.Fatalf("waiting for the refresh: %s", r)
		}
		for _, c := range r.Cookies {
			if c.Name == cookieName && c.Value != "" && cookieName+"="+c.Value != cookie {
				return cookieName + "=" + c.Value
			}
		}
	}
	t.Fatal("no refreshed cookie within 5s")
	return ""
}

// TestOldCookieAfterRefresh: a cookie from before a refresh (C1) is served for the grace after the new cookie (C2)
// was handed out, then refused in this process, while C2 keeps working; logout with C2 ends C1 and C2 here.
func TestOldCookieAfterRefresh(t *testing.T) {
	t.Parallel()
	o := newOutcomes(t)
	forEachTargetConcurrently(t, func(t *testing.T, tg harness.Target) {
		warmInterpreter(t, tg)
		each(t, []string{"grace", "logout"}, func(t *testing.T, part string) {
			idp := refreshingIdP(t, 4) // refresh point 2s after login (half the lifetime: the 1m margin is longer)
			h, up := build(t, tg, baseConfig(idp, nil))
			b := newBrowser(t, h)
			b.mustLogin(idp, "/app")
			c1 := b.cookieHeader("/app")
			time.Sleep(2500 * time.Millisecond) // past the refresh point, tokens still valid
			c2 := refreshed(t, h, c1)
			handedOut := time.Now()
			if r := serve(t, h, withCookie(navigation(), c1)); r.Status != http.StatusOK {
				t.Fatalf("C1 within the grace: %s", r)
			}
			if part == "grace" {
				time.Sleep(time.Until(handedOut.Add(21 * time.Second)))
				before := up.count()
				r := serve(t, h, withCookie(navigation(), c1))
				if r.Status != http.StatusFound || !r.sessionCleared() || up.count() != before {
					t.Errorf("C1 21s after C2 was handed out: %s, upstream +%d; want a login", r, up.count()-before)
				}
				if r := serve(t, h, withCookie(navigation(), c2)); r.Status != http.StatusOK {
					t.Errorf("C2 after C1's grace: %s", r)
				}
				o.record(tg.Name(), "C1 after grace", fmt.Sprintf("status=%d", r.Status))
				return
			}
			hOther, upOther := build(t, tg, baseConfig(idp, nil))
			lo := serve(t, h, logoutRequest(c2))
			if lo.Status != http.StatusSeeOther || !lo.sessionCleared() {
				t.Fatalf("logout: %s", lo)
			}
			before := up.count()
			after := map[string]int{}
			for name, c := range map[string]string{"C2 (logged out)": c2, "C1 (its predecessor)": c1} {
				r := serve(t, h, withCookie(navigation(), c))
				after[name] = r.Status
				if r.Status != http.StatusFound {
					t.Errorf("%s after logout: %s; want a login", name, r)
				}
			}
			if up.count() != before {
				t.Errorf("a cookie of the logged-out chain reached upstream")
			}
			// another router of this process shares the logout (the session registry); another Traefik process knows
			// nothing of it without sessionRevalidate or a shared store (SECURITY.md, e2e's TestReplicas)
			if r := serve(t, hOther, withCookie(navigation(), c2)); r.Status != http.StatusFound || upOther.count() != 0 {
				t.Errorf("C2 at another router of this process after logout: %s, upstream %d; want a login", r, upOther.count())
			}
			o.record(tg.Name(), "chain after logout", fmt.Sprintf("%v", after))
		})
	})
}

// logoutRequest is a same-origin POST to the logout path with cookie.
func logoutRequest(cookie string) *http.Request {
	r := appRequest(http.MethodPost, "/oauth2/logout", http.Header{"Origin": {appOrigin}})
	r.Header.Set("Cookie", cookie)
	return r
}

// TestIdleReissueOnce: with an idle timeout, a client that keeps sending its first cookie after the re-issue point
// gets one re-issued cookie (the same one every time), not a new cookie per request.
func TestIdleReissueOnce(t *testing.T) {
	t.Parallel()
	o := newOutcomes(t)
	forEachTargetConcurrently(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		h, up := build(t, tg, baseConfig(idp, map[string]any{"sessionIdleTimeout": "1m"})) // re-issue after 15s
		b := newBrowser(t, h)
		b.mustLogin(idp, "/app")
		c1 := b.cookieHeader("/app")
		time.Sleep(15500 * time.Millisecond)
		const n = 200
		values := map[string]int{}
		for i := 0; i < n; i++ {
			r := serve(t, h, withCookie(navigation(), c1))
			if r.Status != http.StatusOK {
				t.Fatalf("request %d: %s", i, r)
			}
			for _, c := range r.Cookies {
				if c.Name == cookieName && c.Value != "" {
					values[c.Value]++
				}
			}
		}
		if len(values) != 1 || up.count() != n {
			t.Errorf("%d requests with the first cookie after the re-issue point: %d different new cookies, upstream %d; want 1 and %d",
				n, len(values), up.count(), n)
		}
		o.record(tg.Name(), "idle re-issue", fmt.Sprintf("newCookies=%d", len(values)))
	})
}
