package matrix

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/providers"
)

// refreshLead is how long after login a session of short-lived tokens becomes due for refresh in the refresh
// scenario (refreshMargin = lifetime - refreshLead); for longer lifetimes it is half of it, as the plugin never
// refreshes earlier than half-way through the tokens' lifetime.
const refreshLead = 3 * time.Second

// scenarioRefresh: eight concurrent requests with a session due for refresh all get 200, exactly one refresh grant
// reaches the provider's gate, the old cookie is then answered with the refreshed session's, and that session still
// works once the first tokens have expired (when they live only a few seconds).
func scenarioRefresh(t T, c *cell) string {
	ttl := c.ttl()
	lead := refreshLead
	if ttl/2 > lead {
		lead = ttl / 2
	}
	margin := (ttl - lead) / time.Second
	c.use(t, map[string]any{"refreshMargin": fmt.Sprintf("%ds", margin), "leeway": "1s"})
	b := c.browser(t)
	b.mustLogin("/")
	old := b.session()
	before := c.p.Gate().Grants("refresh_token")
	time.Sleep(lead + 500*time.Millisecond)
	concurrently(t, c, old, 8)
	fresh := refreshedCookie(t, c, old)
	grants := c.p.Gate().Grants("refresh_token") - before
	if grants != 1 && (c.caps.RotatingRefresh || grants < 1) {
		t.Fatalf("%d refresh_token grants for 8 concurrent requests, want 1", grants)
	}
	b.setSession(fresh)
	note := ""
	if ttl <= 10*time.Second {
		time.Sleep(ttl - lead) // the first tokens have expired now: only the refreshed session can work
	} else {
		note = fmt.Sprintf("its tokens live %s (fixed by its storage): refreshed %s after login; the first tokens' expiry is not waited for", ttl, lead)
	}
	b.wantUser(b.Echo("/after-refresh", nil), "with the refreshed session")
	if !c.caps.RotatingRefresh {
		note = strings.TrimPrefix(note+"; ", "; ") + "its refresh tokens do not rotate"
	}
	return note
}

// concurrently sends n requests with the session cookie old at once; each must get 200.
func concurrently(t T, c *cell, old string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i], _ = withSession(c, old)
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		if statuses[i] != http.StatusOK {
			t.Fatalf("concurrent request %d at the refresh point: status %d, want 200", i, statuses[i])
		}
	}
}

// refreshedCookie waits (up to 5 s: the refresh may run in the background) until a request with the old cookie
// is answered with the refreshed session's cookie.
func refreshedCookie(t T, c *cell, old string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, cookie := withSession(c, old)
		if status == http.StatusOK && cookie != "" && cookie != old {
			return cookie
		}
		if status != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("after the refresh point: status %d, new cookie %v; want 200 and the refreshed session within 5s", status, cookie != "")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withSession is the status of a request with exactly this session cookie, and the session cookie it sets.
func withSession(c *cell, cookie string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, c.site.URL+"/concurrent", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	resp, err := c.site.Client().Do(req)
	if err != nil {
		return 0, ""
	}
	resp.Body.Close()
	set := ""
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie && ck.Value != "" {
			set = ck.Value
		}
	}
	return resp.StatusCode, set
}

// scenarioLogout: a same-origin POST clears the session and goes through the provider's end_session_endpoint with
// id_token_hint, client_id and the registered post_logout_redirect_uri, and the provider sends the browser back;
// without end_session, the plugin logs out locally and redirects to postLogoutRedirectURL. Afterwards the site asks
// for a login again.
func scenarioLogout(t T, c *cell) string {
	c.use(t, map[string]any{"postLogoutRedirectURL": byePath})
	b := c.browser(t)
	b.mustLogin("/")
	r := b.Do(http.MethodPost, "/oauth2/logout", map[string]string{"Origin": c.site.URL})
	if r.Status != http.StatusSeeOther || b.session() != "" {
		t.Fatalf("logout: status %d, session kept %v; want 303 and no session", r.Status, b.session() != "")
	}
	note := ""
	if !c.caps.EndSession || c.disc.EndSessionEndpoint == "" {
		if c.disc.EndSessionEndpoint != "" || r.Location() != c.site.URL+byePath {
			t.Fatalf("logout without end_session: Location %q, want %s", r.Location(), c.site.URL+byePath)
		}
		note = "no end_session_endpoint: the plugin logs out locally and redirects to postLogoutRedirectURL"
	} else {
		note = endSession(t, c, b, r.Location())
	}
	if r := b.navigate("/"); r.Status != http.StatusFound || !strings.HasPrefix(r.Location(), c.disc.AuthorizationEndpoint) {
		t.Fatalf("after logout: status %d Location %q, want a new login", r.Status, r.Location())
	}
	return note
}

// endSession checks the redirect to end_session and follows it.
func endSession(t T, c *cell, b *browser, location string) string {
	t.Helper()
	end, err := url.Parse(location)
	if err != nil || !strings.HasPrefix(location, c.disc.EndSessionEndpoint) {
		t.Fatalf("logout: Location %q, want %s", location, c.disc.EndSessionEndpoint)
	}
	q := end.Query()
	if q.Get("id_token_hint") == "" || q.Get("client_id") != c.p.ClientID() || q.Get("post_logout_redirect_uri") != c.site.URL+byePath {
		t.Fatalf("end_session parameters: id_token_hint %v client_id %q post_logout_redirect_uri %q", q.Get("id_token_hint") != "", q.Get("client_id"), q.Get("post_logout_redirect_uri"))
	}
	back := b.Get(location)
	if c.caps.NoPostLogoutRedirect {
		if back.Status < 400 || back.Status >= 500 {
			t.Fatalf("end_session with an unregistered post_logout_redirect_uri: status %d, want the provider's 4xx", back.Status)
		}
		return fmt.Sprintf("its clients cannot register a post_logout_redirect_uri: end_session answers %d to the plugin's; the plugin's session is gone anyway", back.Status)
	}
	back = followProvider(t, c, b, end, back)
	if back.Status < 300 || back.Status >= 400 || !strings.HasPrefix(back.Location(), c.site.URL+byePath) {
		t.Fatalf("end_session: status %d Location %q, want a redirect to %s", back.Status, back.Location(), c.site.URL+byePath)
	}
	return ""
}

// followProvider follows redirects inside the provider and answers its logout confirmation page (a provider that
// shows one is a providers.LogoutConfirmer), until the provider answers something else.
func followProvider(t T, c *cell, b *browser, at *url.URL, r response) response {
	t.Helper()
	for i := 0; i < 10; i++ {
		switch {
		case r.Status >= 300 && r.Status < 400:
			next, err := at.Parse(r.Location())
			if err != nil || next.Scheme+"://"+next.Host != c.p.Gate().URL() {
				return r
			}
			at, r = next, b.Get(next.String())
		case r.Status == http.StatusOK:
			lc, ok := c.p.(providers.LogoutConfirmer)
			if !ok {
				t.Fatalf("end_session answered 200 (%q), and %s is no providers.LogoutConfirmer", snippet(r.Body), c.name)
			}
			req, err := lc.ConfirmLogout(r.Body)
			if err != nil {
				t.Fatalf("confirming logout at %s: %v", c.name, err)
			}
			at, r = req.URL, b.Send(req)
		default:
			return r
		}
	}
	t.Fatalf("end_session at %s: more than 10 steps", c.name)
	return r
}

func snippet(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
