package e2e

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// TestLoginLogoutThroughTraefik: the whole flow through the real Traefik binary with the example configuration:
// redirect to the provider, its login form, the callback, the session, the upstream request with the identity
// headers (client-sent copies replaced), and the logout through the provider's end_session endpoint back to a
// login prompt. Traefik's log must show no error and no panic.
func TestLoginLogoutThroughTraefik(t *testing.T) {
	t.Parallel()
	idp := startIDP(t, devidp.Options{})
	up := startEcho(t)
	tr := startTraefik(t, idp, up, stack.Options{})
	site := tr.WebURL
	c := newClient(t)

	c.login(idp, site, "/echo/page?x=1&y=two")
	if n := up.hits.Load(); n != 0 {
		t.Fatalf("the upstream was reached %d times before the login completed", n)
	}
	st := idp.Stats()
	if st.TokenRequests["authorization_code"] != 1 || st.LoginAttempts != 1 || st.FailedLogins != 0 {
		t.Fatalf("provider stats after login: %+v, want 1 code exchange and 1 successful login", st)
	}

	er := c.Echo(site+"/echo/page?x=1&y=two", map[string]string{"X-Forwarded-User": "mallory", "X-Forwarded-Email": "mallory@evil.example"})
	checkIdentity(t, er)
	if er.Path != "/echo/page" || er.Query != "x=1&y=two" {
		t.Errorf("upstream saw %s?%s, want /echo/page?x=1&y=two", er.Path, er.Query)
	}
	for i := 0; i < 5; i++ { // the session keeps working without the provider
		checkIdentity(t, c.Echo(site+"/echo", nil))
	}
	if got := idp.Stats().TokenRequestsTotal(); got != 1 {
		t.Errorf("token requests after 6 authenticated requests = %d, want 1 (no refresh, no re-login)", got)
	}

	hits := up.hits.Load()
	chain := c.logout(idp, site)
	for i, u := range chain {
		if j := strings.IndexByte(u, '?'); j >= 0 {
			chain[i] = u[:j] + "?…" // id_token_hint and the PKCE values are long and of no interest here
		}
	}
	t.Logf("logout chain: %s", strings.Join(chain, " -> "))
	c.expectLoginRedirect(site+"/echo", idp, site)
	if n := up.hits.Load(); n != hits {
		t.Errorf("the upstream was reached %d times after logout", n-hits)
	}
	if st := idp.Stats(); st.EndSessionRequests != 1 {
		t.Errorf("end_session requests = %d, want 1", st.EndSessionRequests)
	}
	checkLog(t, tr)
}

// TestReloadsDoNotLeak rewrites dynamic.yml 50 times, alternating a harmless change (one more forwardHeaders
// entry), and waits until each version serves requests; Traefik then calls the plugin's New again each time. The
// goroutine count and the resident memory of the Traefik process must stay flat, and requests must still work.
//
// Tolerances: +10 goroutines and +20 MiB RSS between the measurement after 10 warm-up reloads and the one after 50
// more. A goroutine started by New (a ticker, a cache janitor) would add at least 50; the few goroutines that come
// and go are idle keep-alive connections (ours, Traefik's to the echo service, the API request that counts them).
// A 20 MiB RSS margin is several times the usual drift of a Go heap between two GC cycles in a 60-100 MiB process,
// and well under what 50 retained interpreter instances would cost (the interpreted plugin's symbol tables alone
// take several MiB).
func TestReloadsDoNotLeak(t *testing.T) {
	t.Parallel()
	idp := startIDP(t, devidp.Options{})
	up := startEcho(t)
	base, err := stack.ExampleDynamic()
	if err != nil {
		t.Fatal(err)
	}
	withExtra, err := stack.DeriveDynamic(base, "X-Forwarded-User:", "X-Reload-Marker: sub")
	if err != nil {
		t.Fatal(err)
	}
	// Traefik applies at most one file-provider change per providersThrottleDuration (default 2s): shorten it, or 60
	// awaited reloads take two minutes.
	tr := startTraefik(t, idp, up, stack.Options{ProvidersThrottle: 100 * time.Millisecond})
	site := tr.WebURL
	c := newClient(t)
	c.login(idp, site, "/echo")
	checkIdentity(t, c.Echo(site+"/echo", nil))

	var slowest time.Duration
	var total time.Duration
	reload := func(i int) {
		t.Helper()
		marker := i%2 == 1
		content := base
		if marker {
			content = withExtra
		}
		start := time.Now()
		if err := tr.WriteDynamic(content); err != nil {
			t.Fatal(err)
		}
		deadline := start.Add(15 * time.Second)
		for {
			er := c.Echo(site+"/echo", nil)
			if _, has := er.Headers["X-Reload-Marker"]; has == marker {
				if has && er.Headers["X-Reload-Marker"] != devidp.DemoSubject {
					t.Fatalf("reload %d: X-Reload-Marker = %q", i, er.Headers["X-Reload-Marker"])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("reload %d was not applied within 15s (marker header expected: %v)", i, marker)
			}
			time.Sleep(20 * time.Millisecond)
		}
		d := time.Since(start)
		total += d
		if d > slowest {
			slowest = d
		}
	}

	g0, r0 := measure(t, tr)
	for i := 1; i <= 10; i++ {
		reload(i)
	}
	g1, r1 := measure(t, tr)
	for i := 11; i <= 60; i++ {
		reload(i)
	}
	g2, r2 := measure(t, tr)
	t.Logf("goroutines: start %d, after 10 warm-up reloads %d, after 50 more %d (%+d)", g0, g1, g2, g2-g1)
	t.Logf("RSS: start %s, after 10 warm-up reloads %s, after 50 more %s (%+.1f MiB)", fmtKiB(r0), fmtKiB(r1), fmtKiB(r2), float64(r2-r1)/1024)
	t.Logf("reload applied and serving after %s on average, %s at worst", (total / 60).Round(time.Millisecond), slowest.Round(time.Millisecond))
	if g2-g1 > 10 {
		t.Errorf("goroutines grew by %d over 50 reloads (more than 10): the plugin leaks goroutines per New", g2-g1)
	}
	if r2-r1 > 20*1024 {
		t.Errorf("RSS grew by %.1f MiB over 50 reloads (more than 20 MiB)", float64(r2-r1)/1024)
	}

	checkIdentity(t, c.Echo(site+"/echo", nil))
	fresh := newClient(t)
	fresh.login(idp, site, "/after-reloads")
	checkIdentity(t, fresh.Echo(site+"/after-reloads", nil))
	if tr.Exited() {
		t.Fatal("traefik exited")
	}
	checkLog(t, tr)
}

// measure samples the goroutine count and RSS three times, 300ms apart, after a forced GC (pprof's heap profile
// with gc=1), and returns the medians: a single sample can catch a connection's goroutines mid-teardown.
func measure(t *testing.T, tr *stack.Traefik) (goroutines, rssKiB int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	time.Sleep(500 * time.Millisecond)
	var gs, rs []int
	for i := 0; i < 3; i++ {
		forceGC(ctx, tr)
		g, err := tr.Goroutines(ctx)
		if err != nil {
			t.Fatalf("goroutines: %v", err)
		}
		r, err := tr.RSSKiB()
		if err != nil {
			t.Fatalf("RSS: %v", err)
		}
		gs, rs = append(gs, g), append(rs, r)
		time.Sleep(300 * time.Millisecond)
	}
	sort.Ints(gs)
	sort.Ints(rs)
	return gs[1], rs[1]
}

func forceGC(ctx context.Context, tr *stack.Traefik) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tr.APIURL+"/debug/pprof/heap?gc=1", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_ = resp.Body.Close()
	}
}
