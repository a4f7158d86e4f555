package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// adminDynamic is the example's dynamic configuration plus a router for /admin whose middleware is a copy of the
// example's with extra settings and X-Forwarded-Acr (same secret and cookie: one login serves both). The callback
// path is the example middleware's (its router matches everything else): it finishes the admin's logins too.
func adminDynamic(t *testing.T, extra ...string) []byte {
	t.Helper()
	base, err := stack.ExampleDynamic()
	if err != nil {
		t.Fatal(err)
	}
	s := string(base)
	start, end := strings.Index(s, "    descope-login:"), strings.Index(s, "\n  services:")
	if start < 0 || end < start {
		t.Fatal("examples/local/dynamic.yml: no descope-login middleware before services")
	}
	block, err := stack.DeriveDynamic([]byte(strings.Replace(s[start:end], "descope-login:", "descope-admin:", 1)), "sessionSecret:", extra...)
	if err == nil {
		block, err = stack.DeriveDynamic(block, "X-Forwarded-User:", "X-Forwarded-Acr: acr")
	}
	if err != nil {
		t.Fatal(err)
	}
	s = s[:end] + "\n" + strings.TrimRight(string(block), "\n") + s[end:]
	dyn, err := stack.DeriveDynamic([]byte(s), "routers:", "  admin:", "    rule: \"PathPrefix(`/admin`)\"",
		"    entryPoints: [web]", "    middlewares: [descope-admin]", "    service: echo", "    priority: 1000")
	if err != nil {
		t.Fatal(err)
	}
	return dyn
}

// TestBrowserStepUp: in headless Chromium through the real Traefik, a password login opens the site; /admin requires
// the provider's MFA level, so the browser is sent back to the provider with acr_values, whose form now asks for the
// one-time code; after it the browser is back on /admin with the upgraded session (acr loa:2), which serves the
// rest of the site too. The site's own middleware receives the callback (it owns /oauth2/callback), so this also
// shows that the rule travels with the login.
func TestBrowserStepUp(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Skip("chromium not installed: run make deps")
	}
	idp := startIDP(t, devidp.Options{})
	up := startEcho(t)
	tr := startTraefik(t, idp, up, stack.Options{Dynamic: adminDynamic(t, "requiredACR: \""+devidp.ACRMFA+"\"")})
	site := strings.Replace(tr.WebURL, "127.0.0.1", "localhost", 1)
	b := startChrome(t, "stepup")
	onLogin := func(p page) bool { return strings.HasPrefix(p.URL, idp.URL()+devidp.PathLogin+"?") }

	b.run("open /echo", chromedp.Navigate(site+"/echo"))
	p := b.waitFor("the provider's login page", onLogin)
	if strings.Contains(p.Body, "One-time code") {
		t.Fatal("the first login asks for a one-time code although nothing asked for MFA")
	}
	b.run("sign in with the password",
		chromedp.SendKeys(chromedp.ID("username"), devidp.DemoUsername),
		chromedp.SendKeys(chromedp.ID("password"), devidp.DemoPassword),
		chromedp.Click(chromedp.ID("login")))
	er := b.echoPage(site+"/echo", "Demo User")
	if _, ok := er.Headers["X-Forwarded-Acr"]; ok || er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
		t.Fatalf("after the password login: %v, want the user and no acr header (not configured on /echo)", er.Headers)
	}
	b.screenshot("password-session")

	b.run("open /admin", chromedp.Navigate(site+"/admin/users?page=2"))
	p = b.waitFor("the provider's login page asking for the one-time code", func(p page) bool {
		return onLogin(p) && strings.Contains(p.Body, "One-time code")
	})
	b.screenshot("step-up-form")
	b.run("sign in with password and code",
		chromedp.SendKeys(chromedp.ID("username"), devidp.DemoUsername),
		chromedp.SendKeys(chromedp.ID("password"), devidp.DemoPassword),
		chromedp.SendKeys(chromedp.ID("otp"), devidp.DemoOTP),
		chromedp.Click(chromedp.ID("login")))
	er = b.echoPage(site+"/admin/users?page=2", "Demo User")
	if er.Headers["X-Forwarded-Acr"] != devidp.ACRMFA || er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
		t.Fatalf("after step-up: user %q acr %q, want %s %s", er.Headers["X-Forwarded-User"], er.Headers["X-Forwarded-Acr"],
			devidp.DemoSubject, devidp.ACRMFA)
	}
	b.screenshot("admin")
	b.run("back to /echo", chromedp.Navigate(site+"/echo"))
	if er = b.echoPage(site+"/echo", "Demo User"); er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
		t.Errorf("the rest of the site after step-up: user %q", er.Headers["X-Forwarded-User"])
	}
	b.run("and /admin again", chromedp.Navigate(site+"/admin/"))
	b.echoPage(site+"/admin/", "Demo User") // no third login
	if st := idp.Stats(); st.LoginAttempts != 2 || st.TokenRequests["authorization_code"] != 2 {
		t.Errorf("provider: %d logins, %v token requests; want 2 and 2 (one step-up, no loop)", st.LoginAttempts, st.TokenRequests)
	}
	checkLog(t, tr)
}
