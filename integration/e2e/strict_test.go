package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/traefik-descope/descopeoidc/integration/browser"
	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// TestBrowserStrictHostCookie: headless Chromium signs in through the real Traefik with cookieSameSite strict and a
// __Host- session cookie. Chromium does not send a Strict cookie on the provider's cross-site redirect back, nor on a
// redirect continuing it, and drops a __Host- cookie on a path other than "/": the login works only because the
// login cookie is Lax and __Secure-, and the callback moves on to the target from a page of the site. One login at
// the provider, one code exchange, and the user lands on /echo with the Strict cookie.
func TestBrowserStrictHostCookie(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Skip("chromium not installed: run make deps")
	}
	idp := startIDP(t, devidp.Options{})
	up := startEcho(t)
	base, err := stack.ExampleDynamic()
	if err != nil {
		t.Fatal(err)
	}
	secure := strings.Replace(string(base), "cookieSecure: false", "cookieSecure: true", 1) // Chromium keeps Secure cookies of http://localhost
	dyn, err := stack.DeriveDynamic([]byte(secure), "sessionSecret:", `cookieSameSite: strict`, `cookieName: "__Host-sid"`)
	if err != nil {
		t.Fatal(err)
	}
	tr := startTraefik(t, idp, up, stack.Options{Dynamic: dyn})
	site := strings.Replace(tr.WebURL, "127.0.0.1", "localhost", 1)

	b := newChrome(t, browser.Options{Shots: t.TempDir()}) // a timeout's screenshot only, not kept

	b.run("open /echo", chromedp.Navigate(site+"/echo"))
	b.waitFor("the provider's login page", func(p page) bool { return strings.HasPrefix(p.URL, idp.URL()+devidp.PathLogin+"?") })
	b.run("type the credentials",
		chromedp.SendKeys(chromedp.ID("username"), devidp.DemoUsername),
		chromedp.SendKeys(chromedp.ID("password"), devidp.DemoPassword))
	b.run("click #login", chromedp.Click(chromedp.ID("login")))
	b.waitFor("the echo JSON on /echo", func(p page) bool {
		return p.URL == site+"/echo" && strings.Contains(p.Text, devidp.DemoSubject)
	})

	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{site + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range res.Cookies {
		if c.Name == "__Host-sid" {
			session = c
		}
	}
	if session == nil || session.SameSite != network.CookieSameSiteStrict || !session.Secure || session.Path != "/" {
		t.Fatalf("session cookie in the browser: %+v, want __Host-sid, Strict, Secure, Path=/", session)
	}
	st := idp.Stats()
	if st.LoginAttempts != 1 || st.TokenRequests["authorization_code"] != 1 {
		t.Errorf("provider stats: %d login(s), token requests %v: want one of each (no login loop)", st.LoginAttempts, st.TokenRequests)
	}
	checkLog(t, tr)
}
