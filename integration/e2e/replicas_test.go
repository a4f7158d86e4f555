package e2e

import (
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// TestReplicas: two Traefik processes with the same plugin configuration and the same session secret, and nothing
// else in common (each has its own plugin instance, caches and provider metadata). A browser logs in through A,
// continues through B, has its tokens refreshed by B (in the background; the next request through B gets the new
// cookie), goes on through A with B's refreshed session, and logs out
// through A, which ends the session on both. The provider must see exactly one code exchange and one refresh.
//
// Both processes listen on 127.0.0.1 (different ports): cookies are scoped by host, not port, so one cookie jar is
// the same browser talking to two replicas behind a load balancer.
//
// The tokens live 8s and the middleware refreshes them 4s before they expire (refreshMargin), so a refresh is due
// 3-4s after the login: the configuration is examples/local/dynamic.yml with one line added (refreshMargin), via
// stack.DeriveDynamic; the example itself stays the demo's configuration.
func TestReplicas(t *testing.T) {
	t.Parallel()
	const lifetime, margin = 8 * time.Second, 4 * time.Second
	idp := startIDP(t, devidp.Options{AccessTokenLifetime: lifetime, IDTokenLifetime: lifetime})
	up := startEcho(t)
	base, err := stack.ExampleDynamic()
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := stack.DeriveDynamic(base, "sessionSecret:", `refreshMargin: "`+margin.String()+`"`)
	if err != nil {
		t.Fatal(err)
	}
	a := startTraefik(t, idp, up, stack.Options{Dynamic: dyn})
	b := startTraefik(t, idp, up, stack.Options{Dynamic: dyn})
	A, B := a.WebURL, b.WebURL
	c := newClient(t)

	c.login(idp, A, "/echo")
	loggedIn := time.Now()
	checkIdentity(t, c.Echo(B+"/echo", nil)) // B opens A's session: only the secret is shared
	if st := idp.Stats(); st.TokenRequests["authorization_code"] != 1 || st.TokenRequests["refresh_token"] != 0 {
		t.Fatalf("token requests after login through A and a request through B: %v, want one code exchange, no refresh", st.TokenRequests)
	}
	first := c.CookieAt(A, cookieName)

	time.Sleep(time.Until(loggedIn.Add(lifetime - margin + 500*time.Millisecond)))
	checkIdentity(t, c.Echo(B+"/echo", nil)) // due: B starts the refresh in the background and serves this at once
	refreshed := first
	for deadline := time.Now().Add(3 * time.Second); refreshed == first && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		checkIdentity(t, c.Echo(B+"/echo", nil)) // the first request after the refresh gets the new cookie
		refreshed = c.CookieAt(B, cookieName)
	}
	if got := idp.Stats().TokenRequests["refresh_token"]; got != 1 {
		t.Fatalf("refresh requests after the refresh was due = %d, want 1 (by B)", got)
	}
	if refreshed == "" || refreshed == first {
		t.Fatalf("B did not re-issue the session cookie after refreshing")
	}
	for i := 0; i < 3; i++ { // the refreshed session works on both replicas and is not refreshed again
		checkIdentity(t, c.Echo(A+"/echo", nil))
		checkIdentity(t, c.Echo(B+"/echo", nil))
	}
	if got := idp.Stats().TokenRequests["refresh_token"]; got != 1 {
		t.Errorf("refresh requests after using the refreshed session on A and B = %d, want still 1", got)
	}

	hits := up.hits.Load()
	c.logout(idp, A)
	c.expectLoginRedirect(B+"/echo", idp, B)
	c.expectLoginRedirect(A+"/echo", idp, A)
	if n := up.hits.Load(); n != hits {
		t.Errorf("the upstream was reached %d times after logout", n-hits)
	}
	st := idp.Stats()
	t.Logf("provider stats: token requests %v, discovery fetches %d, JWKS fetches %d, end_session %d",
		st.TokenRequests, st.DiscoveryFetches, st.JWKSFetches, st.EndSessionRequests)
	if st.TokenRequests["authorization_code"] != 1 || st.TokenRequests["refresh_token"] != 1 || st.TokenRequestsTotal() != 2 {
		t.Errorf("token requests %v, want exactly one code exchange and one refresh", st.TokenRequests)
	}
	if st.EndSessionRequests != 1 {
		t.Errorf("end_session requests = %d, want 1", st.EndSessionRequests)
	}
	checkLog(t, a)
	checkLog(t, b)
}
