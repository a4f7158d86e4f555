package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// TestReplicasRevalidate: three Traefik processes with one session secret and nothing else shared, with
// sessionRevalidate: 10s and revokeOnLogout. A browser signs in at A and continues at B and C; a copy of its cookie is
// kept. The user signs out at B (which revokes the refresh token at the provider). A and C go on accepting the copy
// until their next revalidation, which the provider refuses: from then on both refuse it. The delay is measured
// and must stay within the bound (plus the refresh itself and the polling step).
func TestReplicasRevalidate(t *testing.T) {
	t.Parallel()
	const revalidate = 10 * time.Second
	idp := startIDP(t, devidp.Options{})
	up := startEcho(t)
	base, err := stack.ExampleDynamic()
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := stack.DeriveDynamic(base, "sessionSecret:", `sessionRevalidate: "`+revalidate.String()+`"`, `revokeOnLogout: true`)
	if err != nil {
		t.Fatal(err)
	}
	a := startTraefik(t, idp, up, stack.Options{Dynamic: dyn})
	b := startTraefik(t, idp, up, stack.Options{Dynamic: dyn})
	c := startTraefik(t, idp, up, stack.Options{Dynamic: dyn})
	user := newClient(t)
	user.login(idp, a.WebURL, "/echo")
	loggedIn := time.Now()
	for _, site := range []string{b.WebURL, c.WebURL} {
		checkIdentity(t, user.Echo(site+"/echo", nil))
	}
	stolen := user.CookieAt(a.WebURL, cookieName)

	user.logout(idp, b.WebURL)
	loggedOut := time.Now()
	noFollow := &http.Client{Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	copyAt := func(site string) int { // the copy, sent as it was, by a client that keeps nothing
		req, _ := http.NewRequest(http.MethodGet, site+"/echo", nil)
		req.Header.Set("Accept", "text/html")
		req.AddCookie(&http.Cookie{Name: cookieName, Value: stolen})
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode == http.StatusFound && !strings.HasPrefix(loc, idp.URL()) {
			t.Fatalf("%s: a redirect elsewhere than the provider: %q", site, loc)
		}
		return resp.StatusCode
	}
	deadline := loggedIn.Add(revalidate + 5*time.Second)
	for name, site := range map[string]string{"A": a.WebURL, "C": c.WebURL} {
		for {
			status := copyAt(site)
			if status == http.StatusFound {
				t.Logf("replica %s refuses the copy %.1fs after the logout at B (%.1fs after the login; sessionRevalidate %s)",
					name, time.Since(loggedOut).Seconds(), time.Since(loggedIn).Seconds(), revalidate)
				break
			}
			if status != http.StatusOK {
				t.Fatalf("replica %s: the copy got %d, want 200 (before the revalidation) or 302", name, status)
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %s still serves the copy %.1fs after the login, bound %s + 5s", name, time.Since(loggedIn).Seconds(), revalidate)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}
