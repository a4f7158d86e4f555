package e2e

import (
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/providers"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// startRedis runs Debian's redis-server on a free loopback port for the test (.ci/deps.sh installs it).
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (make deps): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not start", addr)
		}
	}
}

// TestReplicasRedis: three Traefik processes sharing a session secret and a Redis server. A browser signs in at A and
// continues at B and C. Its tokens expire; ten parallel requests spread over the three replicas: exactly one refresh
// grant at the provider (which rotates refresh tokens), nobody signed out. Then a logout at B: a copy of the cookie
// is refused at A and C within a second.
func TestReplicasRedis(t *testing.T) {
	t.Parallel()
	const lifetime = 4 * time.Second
	idp := startIDP(t, devidp.Options{AccessTokenLifetime: lifetime, IDTokenLifetime: lifetime})
	up := startEcho(t)
	redisAddr := startRedis(t)
	base, err := stack.ExampleDynamic()
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := stack.DeriveDynamic(base, "sessionSecret:", `redis: {addresses: ["`+redisAddr+`"]}`, `refreshMargin: "1s"`)
	if err != nil {
		t.Fatal(err)
	}
	sites := make([]string, 3)
	for i := range sites {
		sites[i] = startTraefik(t, idp, up, stack.Options{Dynamic: dyn}).WebURL
	}
	A, B, C := sites[0], sites[1], sites[2]
	user := newClient(t)
	user.login(idp, A, "/echo")
	checkIdentity(t, user.Echo(B+"/echo", nil))
	checkIdentity(t, user.Echo(C+"/echo", nil))

	time.Sleep(lifetime + time.Second) // expired: the next requests wait for the refresh
	before := idp.Stats().TokenRequests["refresh_token"]
	old := user.CookieAt(A, cookieName)
	spreadRequests(t, sites, "/echo", old, 10)
	if n := idp.Stats().TokenRequests["refresh_token"] - before; n != 1 {
		t.Errorf("%d refresh grants for one session over three replicas, want 1", n)
	}

	user.Echo(A+"/echo", nil) // the browser takes the refreshed cookie
	stolen := user.CookieAt(A, cookieName)
	for _, site := range []string{A, C} {
		if s := sendCookie(t, site+"/echo", stolen); s != http.StatusOK {
			t.Fatalf("%s before the logout: status %d", site, s)
		}
	}
	user.logout(idp, B)
	loggedOut := time.Now()
	for name, site := range map[string]string{"A": A, "C": C} {
		for sendCookie(t, site+"/echo", stolen) != http.StatusFound {
			if time.Since(loggedOut) > 2*time.Second {
				t.Fatalf("replica %s still serves the logged-out session %s after the logout at B", name, time.Since(loggedOut))
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("replica %s refuses the session %s after the logout at B", name, time.Since(loggedOut).Round(10*time.Millisecond))
	}
	if d := time.Since(loggedOut); d > time.Second+300*time.Millisecond {
		t.Errorf("revocation reached the replicas after %s, want within 1s", d)
	}
}

// sendCookie GETs rawURL as a navigation with the session cookie value, not following redirects, and returns the
// status.
func sendCookie(t *testing.T, rawURL, value string) int {
	t.Helper()
	c := &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	req.Header.Set("Accept", "text/html")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: value})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestBackchannelLogoutAcrossReplicasRedis: panva's oidc-provider (10 s tokens, rotating refresh tokens) with
// replica A's backchannelLogoutPath registered as the client's backchannel_logout_uri; three Traefik processes share a
// Redis. The user signs in at A and continues at B and C; once the tokens have expired, ten parallel requests over the
// three spend the refresh token once and nobody is signed out; then the user signs out at the provider itself: the
// provider POSTs its logout_token to A alone, and B and C refuse the session within a second of the provider's answer.
func TestBackchannelLogoutAcrossReplicasRedis(t *testing.T) {
	t.Parallel()
	addrs := make([]string, 3)
	for i := range addrs {
		a, err := stack.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = a
	}
	siteA := "http://" + addrs[0]
	p, err := providers.StartOIDCProvider(providers.Options{
		RedirectURI: siteA + "/oauth2/callback", PostLogoutRedirectURI: siteA + "/",
		BackchannelLogoutURI: siteA + "/oauth2/backchannel-logout", TokenTTL: flightTTL,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	disc, err := providers.Discover(p)
	if err != nil {
		t.Fatal(err)
	}
	up := startEcho(t)
	redisAddr := startRedis(t)
	dyn, err := flightDynamic(p, up.URL)
	if err != nil {
		t.Fatal(err)
	}
	dyn = []byte(strings.Replace(string(dyn), `"clientID":`, `"backchannelLogoutPath": "/oauth2/backchannel-logout", "redis": {"addresses": ["`+redisAddr+`"]}, "clientID":`, 1))
	sites := make([]string, 3)
	for i, addr := range addrs {
		sites[i] = startTraefikWith(t, stack.Options{WebAddr: addr, Dynamic: dyn}).WebURL
	}
	s := &flightSite{p: p, disc: disc, up: up, site: sites[0]}
	b, issued := s.login(t)
	cookie := b.CookieAt(sites[0], cookieName)
	for _, site := range sites[1:] {
		if code := sendCookie(t, site+"/app", cookie); code != http.StatusOK {
			t.Fatalf("%s signed in: status %d", site, code)
		}
	}

	// oidc-provider rotates refresh tokens and revokes the grant when a rotated one is used again: ten parallel
	// requests with expired tokens spread over the three replicas must spend the refresh token exactly once.
	time.Sleep(time.Until(issued.Add(flightTTL + time.Second)))
	grants := p.Gate().Grants("refresh_token")
	spreadRequests(t, sites, "/app", cookie, 10)
	if n := p.Gate().Grants("refresh_token") - grants; n != 1 {
		t.Errorf("%d refresh grants at oidc-provider for one session over three replicas, want 1", n)
	}
	b.Get(sites[0] + "/app") // the browser takes the refreshed cookie
	cookie = b.CookieAt(sites[0], cookieName)
	for _, site := range sites {
		if code := sendCookie(t, site+"/app", cookie); code != http.StatusOK {
			t.Fatalf("%s with the refreshed session: status %d", site, code)
		}
	}
	end := disc.EndSessionEndpoint + "?client_id=" + url.QueryEscape(p.ClientID())
	r := b.Get(end)
	if r.Status != http.StatusOK {
		t.Fatalf("the provider's end_session: status %d, want its confirmation page", r.Status)
	}
	req, err := p.ConfirmLogout(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if done := b.Send(req); done.Status >= 400 {
		t.Fatalf("confirming the logout at the provider: status %d", done.Status)
	}
	confirmed := time.Now()
	for i, site := range sites {
		for sendCookie(t, site+"/app", cookie) != http.StatusFound {
			if time.Since(confirmed) > 3*time.Second {
				t.Fatalf("replica %c still serves the session %s after the provider's back-channel logout; provider output:\n%s",
					'A'+i, time.Since(confirmed), p.Output())
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("replica %c refuses the session %s after the logout at the provider", 'A'+i, time.Since(confirmed).Round(10*time.Millisecond))
	}
	if d := time.Since(confirmed); d > time.Second+300*time.Millisecond {
		t.Errorf("the back-channel logout reached every replica after %s, want within 1s", d)
	}
}

// spreadRequests sends n navigations with the session cookie value at once, round-robin over sites, and fails the
// test for any answer but 200 (a session with expired tokens waits for its refresh, and must not be signed out).
func spreadRequests(t *testing.T, sites []string, path, cookie string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i] = sendCookie(t, sites[i%len(sites)]+path, cookie)
		}(i)
	}
	wg.Wait()
	for i, code := range statuses {
		if code != http.StatusOK {
			t.Errorf("request %d (replica %c) with expired tokens: status %d, want 200", i, 'A'+i%len(sites), code)
		}
	}
}
