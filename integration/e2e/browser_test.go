package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/traefik-descope/descopeoidc/integration/browser"
	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/echo"
	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

const chromiumPath = browser.ChromiumPath // Debian's package, installed by .ci/deps.sh

// TestBrowser drives headless Chromium through the real Traefik and the provider's login page, as a person would:
// open /echo, get the login page, type the demo credentials, land back on /echo with the identity headers in the
// echo JSON; a cross-site link to /oauth2/logout shows the confirmation page (no logout CSRF), the typed URL logs
// out (Sec-Fetch-Site: none) through the provider back to a login page, and /echo then asks for a login again.
// Each step is screenshot into integration/artifacts/browser/NN-step.png.
func TestBrowser(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Skip("chromium not installed: run make deps")
	}
	idp := startIDP(t, devidp.Options{})
	up := startEcho(t)
	tr := startTraefik(t, idp, up, stack.Options{})
	// The URL the demo prints: localhost, which Chromium resolves to loopback itself.
	site := strings.Replace(tr.WebURL, "127.0.0.1", "localhost", 1)

	b := startChrome(t, "browser")
	isLogin := func(p page) bool {
		return p.Title == "Descope demo login" && strings.HasPrefix(p.URL, idp.URL()+devidp.PathLogin+"?")
	}

	b.run("open /echo", chromedp.Navigate(site+"/echo"))
	b.waitFor("the provider's login page", isLogin)
	b.screenshot("login-page")

	b.run("type the credentials",
		chromedp.SendKeys(chromedp.ID("username"), devidp.DemoUsername),
		chromedp.SendKeys(chromedp.ID("password"), devidp.DemoPassword))
	b.screenshot("credentials")

	b.run("click #login", chromedp.Click(chromedp.ID("login")))
	p := b.waitFor("the echo JSON on /echo", func(p page) bool {
		return p.URL == site+"/echo" && strings.Contains(p.Text, devidp.DemoSubject)
	})
	b.screenshot("echo")
	var er echo.Request
	if err := json.Unmarshal([]byte(p.Text[strings.IndexByte(p.Text, '{'):]), &er); err != nil {
		t.Fatalf("the /echo page is not the echo JSON: %v\n%s", err, p.Text)
	}
	checkIdentity(t, er)
	if b.sessionCookie(site) == "" {
		t.Fatalf("no %s cookie in the browser after login", cookieName)
	}

	// A link on another site (here an opaque data: origin) to the logout URL: a cross-site GET, which must not log
	// out by itself but ask.
	link := "data:text/html," + url.PathEscape(`<!doctype html><title>elsewhere</title><a id="go" href="`+site+`/oauth2/logout">sign out</a>`)
	b.run("open a page on another site", chromedp.Navigate(link))
	b.run("click its link to /oauth2/logout", chromedp.Click(chromedp.ID("go")))
	b.waitFor("the logout confirmation page", func(p page) bool {
		return p.URL == site+"/oauth2/logout" && p.Title == "Sign out" && p.HasLogoutButton
	})
	b.screenshot("logout-confirmation")
	if b.sessionCookie(site) == "" {
		t.Fatalf("a cross-site GET of /oauth2/logout ended the session")
	}

	// The typed URL (Sec-Fetch-Site: none) logs out: provider's end_session, back to the site, which asks for a login.
	b.run("type /oauth2/logout", chromedp.Navigate(site+"/oauth2/logout"))
	b.waitFor("the login page after logout", isLogin)
	b.screenshot("logged-out")
	if b.sessionCookie(site) != "" {
		t.Errorf("the %s cookie is still in the browser after logout", cookieName)
	}

	b.run("open /echo again", chromedp.Navigate(site+"/echo"))
	b.waitFor("the login page again", isLogin)
	b.screenshot("login-again")

	st := idp.Stats()
	if st.LoginAttempts != 1 || st.TokenRequests["authorization_code"] != 1 || st.EndSessionRequests != 1 {
		t.Errorf("provider stats: %d login(s), token requests %v, %d end_session: want 1, one code exchange, 1",
			st.LoginAttempts, st.TokenRequests, st.EndSessionRequests)
	}
	checkLog(t, tr)
}

// startChrome starts headless Chromium (stopped at cleanup) with one tab, whose screenshots go to
// integration/artifacts/<shotsDir>/ (emptied first). Every step of the test must end within 90 seconds.
func startChrome(t *testing.T, shotsDir string) *chrome {
	t.Helper()
	return newChrome(t, browser.Options{Shots: filepath.Join(harness.RepoRoot(), "integration", "artifacts", shotsDir)})
}

// newChrome starts Chromium through package browser with e2e's bounds: 90 seconds in all, 20 per wait.
func newChrome(t *testing.T, o browser.Options) *chrome {
	t.Helper()
	o.Timeout, o.Wait = 90*time.Second, 20*time.Second
	tab := browser.Start(t, o)
	return &chrome{Tab: tab, t: t, ctx: tab.Context()}
}

// chrome is one browser tab (package browser) read as e2e's page, with the session cookie by its name.
type chrome struct {
	*browser.Tab
	t   *testing.T
	ctx context.Context
}

// page is what the tab shows.
type page struct {
	URL             string `json:"url"`
	Title           string `json:"title"`
	Text            string `json:"text"` // the <pre> (the echo JSON), else the whole text
	Body            string `json:"body"`
	HasLogoutButton bool   `json:"logoutButton"`
}

const pageScript = `({
	url: location.href,
	title: document.title,
	text: document.querySelector("pre") ? document.querySelector("pre").innerText : (document.body ? document.body.innerText : ""),
	body: document.body ? document.body.innerText : "",
	logoutButton: document.getElementById("logout") !== null,
})`

func (p page) String() string {
	return fmt.Sprintf("at %q titled %q, text:\n%s", p.URL, p.Title, tail(p.Text, 2000))
}

func (b *chrome) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.Run(step, actions...)
}

// waitFor polls the tab until cond holds (redirect chains end on their own time), for at most 20 seconds.
func (b *chrome) waitFor(what string, cond func(page) bool) page {
	b.t.Helper()
	return browser.WaitForScript(b.Tab, what, pageScript, cond)
}

func (b *chrome) screenshot(name string) {
	b.t.Helper()
	b.Screenshot(name)
}

// sessionCookie is the browser's session cookie for site ("" when none).
func (b *chrome) sessionCookie(site string) string {
	b.t.Helper()
	return b.Cookie(site, cookieName)
}
