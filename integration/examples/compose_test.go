package examples

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/traefik-descope/descopeoidc/integration/browser"
	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/echo"
)

// The images docker-compose.yml and docker-compose.devidp.yml name; build-images.sh --offline builds all three here.
var composeImages = []string{"traefik:v3.6", "ealen/echo-server:latest", "descopeoidc-devidp:dev"}

// TestCompose runs examples/compose as a user runs it for a local test, with podman-compose instead of docker
// compose: `up -d` of docker-compose.yml (unchanged) plus docker-compose.devidp.yml (the dev provider, the middleware
// pointed at it), with the images built from this checkout (no registry here). Headless Chromium then opens
// http://localhost:<port>/, signs in on the provider's page, lands on the echo service with the identity headers,
// and logs out through the provider. Everything is torn down at the end, also on failure.
func TestCompose(t *testing.T) {
	needRoot(t)
	needTool(t, "podman", "run `make deps` (apt-get install podman runc)")
	needTool(t, "podman-compose", "run `make deps` (apt-get install podman-compose)")
	needTraefik(t)
	hostLock(t, "compose") // the image tags and the project name are the machine's
	start := time.Now()

	httpPort, idpPort := freePort(t), freePort(t)
	env := []string{
		"DESCOPE_PROJECT_ID=" + devidp.DefaultProjectID,
		"DESCOPE_ACCESS_KEY=" + devidp.DefaultClientSecret,
		"SESSION_SECRET=" + sessionSecret,
		"HTTP_PORT=" + httpPort,
		"DEVIDP_PORT=" + idpPort,
	}
	p := newCompose(t, "descopeoidc-e2e", env,
		repoFile("examples", "compose", "docker-compose.yml"),
		repoFile("examples", "compose", "docker-compose.devidp.yml"))
	p.buildImages(composeImages...)
	p.Up("traefik", "echo", "devidp")

	site := "http://localhost:" + httpPort
	waitLoginRedirect(t, "http://127.0.0.1:"+httpPort+"/", "localhost:"+httpPort, "http://devidp:"+idpPort+devidp.PathAuthorize+"?")
	timing(t, "compose up until the middleware answers", time.Since(p.started))

	// The browser resolves devidp as the README tells a user to (/etc/hosts): to loopback, where the port is published.
	b := browser.Start(t, browser.Options{HostRules: "MAP devidp 127.0.0.1", Shots: repoFile("integration", "artifacts", "compose")})
	idpURL := "http://devidp:" + idpPort
	browserLogin(t, b, site, idpURL)
	checkEchoIdentity(t, b, site)
	browserLogout(t, b, site, idpURL)

	if lines := logProblems(p.Logs("traefik")); len(lines) > 0 {
		t.Errorf("the traefik container logged %d problem line(s):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	timing(t, "compose test before teardown", time.Since(start))
}

// waitLoginRedirect polls url (with that Host header) until the middleware answers with a redirect to the provider's
// authorization endpoint: Traefik in the container has loaded the plugin from the mounted source and has its router.
// The containers' logs are printed at cleanup when it fails.
func waitLoginRedirect(t *testing.T, url, host, authorize string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Host = host
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			loc := resp.Header.Get("Location")
			if resp.StatusCode == http.StatusFound && strings.HasPrefix(loc, authorize) {
				return
			}
			last = resp.Status + " Location " + loc
		} else {
			last = err.Error()
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("GET %s (Host %s) never redirected to %s within 90s (last: %s)", url, host, authorize, last)
}

// browserLogin opens site+"/", expects the provider's login page, signs in with the demo account and expects to be
// back on site+"/" with the echo service's answer and a session cookie.
func browserLogin(t *testing.T, b *browser.Tab, site, idpURL string) {
	t.Helper()
	start := site + "/"
	isLogin := func(p browser.Page) bool {
		return p.Title == loginTitle && strings.HasPrefix(p.URL, idpURL+devidp.PathLogin+"?")
	}
	b.Run("open "+start, chromedp.Navigate(start))
	b.WaitFor("the provider's login page", isLogin)
	b.Screenshot("login-page")
	b.Run("type the credentials",
		chromedp.SendKeys(chromedp.ID("username"), devidp.DemoUsername),
		chromedp.SendKeys(chromedp.ID("password"), devidp.DemoPassword))
	b.Run("click #login", chromedp.Click(chromedp.ID("login")))
	b.WaitFor("the echo service's page at "+start, func(p browser.Page) bool {
		return p.URL == start && strings.Contains(p.Text, devidp.DemoSubject)
	})
	b.Screenshot("echo")
	if b.Cookie(site, cookieName) == "" {
		t.Fatalf("no %s cookie in the browser after login", cookieName)
	}
}

// checkEchoIdentity asks the echo service for its JSON in the signed-in tab (the HTML page it shows browsers is
// for people) and checks the identity headers the example's middleware forwards, and that the session cookie is not
// passed on.
func checkEchoIdentity(t *testing.T, b *browser.Tab, site string) {
	t.Helper()
	status, body := b.FetchJSON(site + "/")
	if status != http.StatusOK {
		t.Fatalf("%s/ asked for JSON in the signed-in tab: status %d, want 200 from the echo service: %.500s", site, status, body)
	}
	var er echo.Request
	if err := json.Unmarshal([]byte(body), &er); err != nil {
		t.Fatalf("%s/ asked for JSON in the signed-in tab: not the echo service's JSON (%v): %.500s", site, err, body)
	}
	want := map[string]string{"X-Forwarded-User": devidp.DemoSubject, "X-Forwarded-Email": devidp.DemoUsername}
	for k, v := range want {
		if er.Headers[k] != v {
			t.Errorf("echo service saw %s = %q, want %q", k, er.Headers[k], v)
		}
	}
	if strings.Contains(er.Headers["Cookie"], cookieName) {
		t.Errorf("the echo service received the session cookie: Cookie %q", er.Headers["Cookie"])
	}
}

// browserLogout types the logout URL (a same-site navigation the plugin honours without a confirmation), which ends
// the session at the provider and comes back to the site, which asks for a login again.
func browserLogout(t *testing.T, b *browser.Tab, site, idpURL string) {
	t.Helper()
	isLogin := func(p browser.Page) bool {
		return p.Title == loginTitle && strings.HasPrefix(p.URL, idpURL+devidp.PathLogin+"?")
	}
	b.Run("type /oauth2/logout", chromedp.Navigate(site+"/oauth2/logout"))
	b.WaitFor("the login page after logout", isLogin)
	b.Screenshot("logged-out")
	if b.Cookie(site, cookieName) != "" {
		t.Errorf("the %s cookie is still in the browser after logout", cookieName)
	}
	b.Run("open / again", chromedp.Navigate(site+"/"))
	b.WaitFor("the login page again", isLogin)
}
