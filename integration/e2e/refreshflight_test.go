package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/providers"
	"github.com/traefik-descope/descopeoidc/integration/stack"
	"github.com/traefik-descope/descopeoidc/integration/webclient"
)

// Issue 16: a logout that lands while the session's background refresh waits for the provider made the refresh
// goroutine of the interpreted plugin panic under the real Traefik binary (reflect: New(nil), a tuple assignment of
// an untyped nil in settleRefresh). These tests play it with every provider of the matrix that issues short tokens
// and rotating refresh tokens (devidp, panva's oidc-provider, dex: each honours a 10 s TokenTTL; zitadel's example OP
// is left out, its tokens live as its storage says). Each run is a fresh Traefik process where browser A logs out
// while its refresh is in flight, then browser B keeps sending requests while its refresh settles.
//
// Deterministic, not timed: the provider's gate holds the refresh_token grant (providers.GrantHold) until the
// refresh has reached it, so A's logout surely lands during A's refresh; the test then waits for the plugin's
// own log line saying A's refresh ended after the logout (or for the panic that line replaced), not for a delay.

const (
	flightTTL    = 10 * time.Second // tokens' lifetime: the refresh is due half-way, 5 s after the login
	flightMargin = 5 * time.Second
	flightRuns   = 3 // fresh Traefik processes per provider
	flightBurst  = 6 // parallel navigations that start a refresh
)

// flightProviders are the providers whose refresh is played (providers.Starters names).
var flightProviders = []string{"devidp", "dex", "oidcprovider"}

// TestRefreshInFlightThroughTraefik runs flightRuns fresh Traefik processes per provider, in parallel.
func TestRefreshInFlightThroughTraefik(t *testing.T) {
	t.Parallel()
	for _, name := range flightProviders {
		for run := 1; run <= flightRuns; run++ {
			name := name
			t.Run(fmt.Sprintf("%s/%d", name, run), func(t *testing.T) {
				t.Parallel()
				s := startFlightSite(t, name)
				s.logoutAndContinueDuringRefresh(t)
			})
		}
	}
}

// flightSite is one provider (behind its gate) and one Traefik process with the plugin configured for it.
type flightSite struct {
	p    providers.Provider
	disc *providers.Discovery
	tr   *stack.Traefik
	up   *upstream
	site string
}

func startFlightSite(t *testing.T, name string) *flightSite {
	t.Helper()
	webAddr, err := stack.FreeAddr() // the callback URL must be registered at the provider before Traefik starts
	if err != nil {
		t.Fatal(err)
	}
	site := "http://" + webAddr
	p, err := providers.Starters[name](providers.Options{
		RedirectURI: site + "/oauth2/callback", PostLogoutRedirectURI: site + "/", TokenTTL: flightTTL,
	})
	if err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	disc, err := providers.Discover(p)
	if err != nil {
		t.Fatalf("%s discovery: %v", name, err)
	}
	up := startEcho(t)
	dyn, err := flightDynamic(p, up.URL)
	if err != nil {
		t.Fatal(err)
	}
	tr := startTraefikWith(t, stack.Options{WebAddr: webAddr, Dynamic: dyn})
	return &flightSite{p: p, disc: disc, tr: tr, up: up, site: tr.WebURL}
}

// flightDynamic is Traefik's dynamic configuration (JSON, which is YAML): one router through the plugin, configured
// for p, to the echo service.
func flightDynamic(p providers.Provider, echoURL string) ([]byte, error) {
	cfg := map[string]any{
		"issuer": p.Issuer(), "clientID": p.ClientID(), "clientSecret": p.ClientSecret(),
		"sessionSecret": sessionSecret, "scopes": p.Scopes(), "cookieSecure": false,
		"forwardHeaders": map[string]any{"X-Forwarded-User": "sub"},
		"refreshMargin":  flightMargin.String(), "logLevel": "info",
	}
	for k, v := range p.PluginConfig() {
		cfg[k] = v
	}
	return json.MarshalIndent(map[string]any{"http": map[string]any{
		"routers": map[string]any{"echo": map[string]any{
			"rule": "PathPrefix(`/`)", "entryPoints": []string{"web"}, "middlewares": []string{"oidc"}, "service": "echo",
		}},
		"middlewares": map[string]any{"oidc": map[string]any{"plugin": map[string]any{"descopeoidc": cfg}}},
		"services":    map[string]any{"echo": map[string]any{"loadBalancer": map[string]any{"servers": []any{map[string]any{"url": echoURL}}}}},
	}}, "", "  ")
}

// login signs a new browser in through the provider and returns it with the time the session was issued.
func (s *flightSite) login(t *testing.T) (*webclient.Browser, time.Time) {
	t.Helper()
	b := webclient.NewBrowser(t, &http.Client{Timeout: 30 * time.Second}, s.site)
	r := b.Do(http.MethodGet, "/app", navigation)
	if r.Status != http.StatusFound || !strings.HasPrefix(r.Location(), s.disc.AuthorizationEndpoint+"?") {
		t.Fatalf("GET /app: status %d Location %q, want 302 to %s", r.Status, r.Location(), s.disc.AuthorizationEndpoint)
	}
	cb, err := s.p.Login(b.HTTP, r.Location())
	if err != nil {
		t.Fatalf("%s login: %v", s.p.Name(), err)
	}
	issued := time.Now()
	if r = b.Get(cb); r.Status != http.StatusFound || r.Location() != "/app" {
		t.Fatalf("callback: status %d Location %q, want 302 to /app (body %q)", r.Status, r.Location(), r.Body)
	}
	if er := b.Echo("/app", nil); er.Headers["X-Forwarded-User"] != s.p.User().Subject {
		t.Fatalf("upstream X-Forwarded-User %q, want %q", er.Headers["X-Forwarded-User"], s.p.User().Subject)
	}
	return b, issued
}

var navigation = map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}

// sessionCookies are the session cookies b sends to the site now (the cookie and its chunks, if any).
func (s *flightSite) sessionCookies(b *webclient.Browser) []*http.Cookie {
	u, _ := url.Parse(s.site + "/")
	var out []*http.Cookie
	for _, c := range b.HTTP.Jar.Cookies(u) {
		if strings.HasPrefix(c.Name, cookieName) {
			out = append(out, c)
		}
	}
	return out
}

// answer is one response to a request with a fixed set of cookies.
type answer struct {
	status    int
	location  string
	newCookie string // the session cookie it set ("" when none)
	err       error
}

// with sends one navigation with exactly these cookies (not the browser's jar), as a page's parallel requests do.
func (s *flightSite) with(cookies []*http.Cookie, path string) answer {
	req, _ := http.NewRequest(http.MethodGet, s.site+path, nil)
	for k, v := range navigation {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, location: resp.Header.Get("Location")}
	for _, c := range resp.Cookies() {
		if c.Name == cookieName && c.Value != "" {
			a.newCookie = c.Value
		}
	}
	return a
}

var noRedirects = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// burst sends n navigations with cookies at once; each must be served (200: the tokens are still valid, nobody
// waits for the refresh).
func (s *flightSite) burst(t *testing.T, cookies []*http.Cookie, n int, what string) {
	t.Helper()
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			answers[i] = s.with(cookies, fmt.Sprintf("/page/%d", i))
		}(i)
	}
	wg.Wait()
	for i, a := range answers {
		if a.err != nil || a.status != http.StatusOK {
			t.Fatalf("%s: navigation %d: status %d (%v), want 200 while the refresh is pending", what, i, a.status, a.err)
		}
	}
}

// wantLoginRedirect asserts that a navigation with cookies is sent to the provider's login.
func (s *flightSite) wantLoginRedirect(t *testing.T, cookies []*http.Cookie, what string) {
	t.Helper()
	a := s.with(cookies, "/after-logout")
	if a.err != nil || a.status != http.StatusFound || !strings.HasPrefix(a.location, s.disc.AuthorizationEndpoint+"?") {
		t.Fatalf("%s: status %d Location %q (%v), want 302 to %s", what, a.status, a.location, a.err, s.disc.AuthorizationEndpoint)
	}
	if a.newCookie != "" {
		t.Fatalf("%s: a session cookie was handed out", what)
	}
}

// logoutAndContinueDuringRefresh plays the two cases one after the other in one Traefik process (dex keeps one
// refresh token per user and client: a second login of its only user would revoke the first one's) and then
// requires a log without errors and exactly one refresh grant per refresh and one code exchange per login.
func (s *flightSite) logoutAndContinueDuringRefresh(t *testing.T) {
	s.logoutDuringRefresh(t)
	s.continueDuringRefresh(t)
	if got := s.p.Gate().Grants("refresh_token"); got != 2 {
		t.Errorf("refresh_token grants at the provider = %d, want 2 (one per refresh)", got)
	}
	if got := s.p.Gate().Grants("authorization_code"); got != 2 {
		t.Errorf("authorization_code grants = %d, want 2 (one per login)", got)
	}
	checkLog(t, s.tr)
}

// untilDue holds the refresh grants, waits until a session issued at issued is due for refresh and starts its
// refresh with a burst of navigations (all served at once), and returns once the refresh waits at the gate.
func (s *flightSite) untilDue(t *testing.T, cookies []*http.Cookie, issued time.Time, who string) *providers.GrantHold {
	t.Helper()
	hold := s.p.Gate().HoldGrant("refresh_token")
	t.Cleanup(func() { hold.Release(30 * time.Second) }) // a failing test leaves no refresh hanging
	time.Sleep(time.Until(issued.Add(flightTTL - flightMargin + 500*time.Millisecond)))
	s.burst(t, cookies, flightBurst, who+" at its refresh point")
	if !hold.WaitArrived(1, 20*time.Second) {
		t.Fatalf("%s's refresh did not reach the provider's gate", who)
	}
	if late := time.Since(issued); late > flightTTL-time.Second {
		t.Fatalf("%s's tokens are %s old with the refresh in flight (they live %s): the machine is too slow for the test", who, late, flightTTL)
	}
	return hold
}

// logoutDuringRefresh: A signs out (same-origin POST) while its refresh waits at the gate. Its pre-logout cookie
// gets the login redirect at once; once the provider has answered, Traefik logs the plugin's info line saying the
// refresh ended after the logout (the test waits for it; the panic of issue 16 came instead), and the cookie still
// gets the login redirect, with no cookie handed out.
func (s *flightSite) logoutDuringRefresh(t *testing.T) {
	a, issued := s.login(t)
	old := s.sessionCookies(a)
	hold := s.untilDue(t, old, issued, "A")
	r := a.Do(http.MethodPost, "/oauth2/logout", map[string]string{"Origin": s.site})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("POST /oauth2/logout during the refresh: status %d, want 303", r.Status)
	}
	if c := s.sessionCookies(a); len(c) != 0 {
		t.Fatalf("session cookies left after the logout: %d", len(c))
	}
	s.wantLoginRedirect(t, old, "A's pre-logout cookie, its refresh in flight")
	if !hold.Release(20 * time.Second) {
		t.Fatal("the provider did not answer A's held refresh")
	}
	s.waitLogLine(t, "session logged out during its refresh", "panic")
	s.wantLoginRedirect(t, old, "A's pre-logout cookie after its refresh ended")
}

// continueDuringRefresh: B navigates back to back (no pause) from before its held refresh is released until one
// navigation hands out the refreshed cookie; every one is served. The refreshed session works, and so does the old
// cookie (within refreshGrace).
func (s *flightSite) continueDuringRefresh(t *testing.T) {
	b, issued := s.login(t)
	old := s.sessionCookies(b)
	hold := s.untilDue(t, old, issued, "B")
	stream := s.navigateUntilRefreshed(old)
	if !hold.Release(20 * time.Second) {
		t.Fatal("the provider did not answer B's held refresh")
	}
	fresh := stream.wait(t)
	b.SetCookie(cookieName, fresh)
	if er := b.Echo("/after-refresh", nil); er.Headers["X-Forwarded-User"] != s.p.User().Subject {
		t.Errorf("B's refreshed session: upstream X-Forwarded-User %q", er.Headers["X-Forwarded-User"])
	}
	if a := s.with(old, "/old-cookie"); a.status != http.StatusOK {
		t.Errorf("B's old cookie after its refresh: status %d, want 200 (refreshGrace)", a.status)
	}
}

// stream is B's navigations, back to back, until one hands out the refreshed cookie.
type stream struct {
	done  chan struct{}
	fresh string
	sent  int
	bad   []answer
}

// navigateUntilRefreshed sends navigations with cookies one after the other (no pause) until one is answered with
// a new session cookie, or 30 s pass.
func (s *flightSite) navigateUntilRefreshed(cookies []*http.Cookie) *stream {
	st := &stream{done: make(chan struct{})}
	go func() {
		defer close(st.done)
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
			a := s.with(cookies, fmt.Sprintf("/stream/%d", st.sent))
			st.sent++
			if a.err != nil || a.status != http.StatusOK {
				st.bad = append(st.bad, a)
			}
			if a.newCookie != "" {
				st.fresh = a.newCookie
				return
			}
		}
	}()
	return st
}

// wait returns the refreshed cookie once the stream has ended; every navigation must have been served.
func (st *stream) wait(t *testing.T) string {
	t.Helper()
	<-st.done
	for _, a := range st.bad {
		t.Errorf("B's navigation while its refresh settled: status %d Location %q (%v), want 200", a.status, a.location, a.err)
	}
	if st.fresh == "" {
		t.Fatalf("B's %d navigations over 30 s were never given the refreshed cookie", st.sent)
	}
	t.Logf("B: %d navigations while the refresh settled, all served", st.sent)
	return st.fresh
}

// waitLogLine waits (up to 30 s) until Traefik's log has a line containing one of texts, and fails on a panic.
func (s *flightSite) waitLogLine(t *testing.T, texts ...string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		log := s.tr.Logs()
		if p := stack.LogPanics(log); len(p) > 0 {
			t.Fatalf("traefik logged a panic:\n%s", strings.Join(p, "\n"))
		}
		for _, text := range texts {
			if strings.Contains(log, text) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("traefik logged none of %q within 30 s", texts)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
