package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// TestBrowserSilentReauth: in headless Chromium through the real Traefik, with silentReauth and sessions that end
// with their 2-second tokens (no refresh token): while the provider's session lives, a navigation after the end
// lands on the page again without the provider's form (prompt=none); once the provider's session is gone, its
// login_required leads straight to the form (no error page), and the login ends on the page asked for.
func TestBrowserSilentReauth(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Skip("chromium not installed: run make deps")
	}
	idp := startIDP(t, devidp.Options{SSO: true, AccessTokenLifetime: 2 * time.Second, IDTokenLifetime: 2 * time.Second})
	up := startEcho(t)
	base, err := stack.ExampleDynamic()
	if err != nil {
		t.Fatal(err)
	}
	noRefresh := strings.Replace(string(base), "scopes: [openid, profile, email, offline_access]", "scopes: [openid, profile, email]", 1)
	if noRefresh == string(base) {
		t.Fatal("examples/local/dynamic.yml: scopes line not found")
	}
	dyn, err := stack.DeriveDynamic([]byte(noRefresh), "sessionSecret:", "silentReauth: true")
	if err != nil {
		t.Fatal(err)
	}
	tr := startTraefik(t, idp, up, stack.Options{Dynamic: dyn})
	site := strings.Replace(tr.WebURL, "127.0.0.1", "localhost", 1)
	b := startChrome(t, "silent")
	onLogin := func(p page) bool { return strings.HasPrefix(p.URL, idp.URL()+devidp.PathLogin+"?") }
	signIn := func() {
		b.run("sign in",
			chromedp.SendKeys(chromedp.ID("username"), devidp.DemoUsername),
			chromedp.SendKeys(chromedp.ID("password"), devidp.DemoPassword),
			chromedp.Click(chromedp.ID("login")))
	}

	b.run("open /echo", chromedp.Navigate(site+"/echo"))
	b.waitFor("the provider's login page", onLogin)
	signIn()
	b.echoPage(site+"/echo", "Demo User")

	time.Sleep(2200 * time.Millisecond) // the session ends with its tokens
	b.run("open /echo?again=1", chromedp.Navigate(site+"/echo?again=1"))
	b.echoPage(site+"/echo?again=1", "Demo User")
	b.screenshot("silent")
	if st := idp.Stats(); st.LoginAttempts != 1 || st.SSOLogins != 1 {
		t.Fatalf("provider after the silent renewal: %d form logins, %d SSO logins; want 1 and 1", st.LoginAttempts, st.SSOLogins)
	}

	idp.ExpireSSO()
	time.Sleep(2200 * time.Millisecond)
	b.run("open /echo?third=1", chromedp.Navigate(site+"/echo?third=1"))
	b.waitFor("the provider's login page after login_required", onLogin)
	b.screenshot("fallback-form")
	signIn()
	b.echoPage(site+"/echo?third=1", "Demo User")
	if st := idp.Stats(); st.LoginAttempts != 2 || st.SilentErrors != 1 || st.TokenRequests["authorization_code"] != 3 {
		t.Errorf("provider: %d form logins, %d silent errors, %v token requests; want 2, 1, 3", st.LoginAttempts,
			st.SilentErrors, st.TokenRequests)
	}
	checkLog(t, tr)
}
