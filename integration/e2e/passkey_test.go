package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/echo"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// TestBrowserPasskey signs up and in with a passkey, as in the Descope flow this project follows, through the real
// Traefik and the plugin, with Chromium's virtual authenticator (CDP WebAuthn domain: a CTAP2 platform authenticator
// with resident keys and user verification). The provider runs on localhost: browsers refuse an IP address as
// WebAuthn relying party ID. Steps: open /echo, sign up with a passkey for a new email, land on the echo page
// with the new user's identity headers (amr forwarded too), sign out with the echo page's button, sign in with the
// passkey (no username), and land on the echo page as the same user. Screenshots go to integration/artifacts/passkey/.
func TestBrowserPasskey(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Skip("chromium not installed: run make deps")
	}
	const email, name = "ada@example.com", "Ada Lovelace"
	idp := startIDP(t, devidp.Options{Addr: "localhost:0"})
	if !idp.PasskeysAvailable() {
		t.Fatalf("the provider at %s offers no passkeys", idp.URL())
	}
	tr := startTraefik(t, idp, startEcho(t), stack.Options{}) // examples/local forwards amr as X-Forwarded-Amr
	site := strings.Replace(tr.WebURL, "127.0.0.1", "localhost", 1)

	b := startChrome(t, "passkey")
	started := time.Now()
	auth := b.addVirtualAuthenticator()
	isLogin := func(p page) bool {
		return p.Title == "Descope demo login" && strings.HasPrefix(p.URL, idp.URL()+devidp.PathLogin+"?")
	}

	b.run("open /echo", chromedp.Navigate(site+"/echo"))
	b.waitFor("the provider's login page", isLogin)
	b.run("type the email and name",
		chromedp.SendKeys(chromedp.ID("username"), email),
		chromedp.SendKeys(chromedp.ID("name"), name))
	b.screenshot("sign-up-form")
	b.run("click #passkey-signup", chromedp.Click(chromedp.ID("passkey-signup")))
	first := b.echoPage(site+"/echo", name)
	b.screenshot("signed-up")
	checkPasskeyIdentity(t, first, email, name)
	if creds := b.credentials(auth); len(creds) != 1 || !creds[0].IsResidentCredential || creds[0].RpID != "localhost" {
		t.Fatalf("virtual authenticator holds %+v, want one resident credential for localhost", creds)
	}

	b.run("click the echo page's sign-out button", chromedp.Click(chromedp.ID("signout")))
	b.waitFor("the login page after sign-out", isLogin)
	b.screenshot("signed-out")
	if b.sessionCookie(site) != "" {
		t.Fatalf("the %s cookie is still in the browser after sign-out", cookieName)
	}

	b.run("click #passkey-signin", chromedp.Click(chromedp.ID("passkey-signin")))
	again := b.echoPage(site+"/", name) // the post-logout redirect was "/"
	b.screenshot("signed-in")
	checkPasskeyIdentity(t, again, email, name)
	if again.Headers["X-Forwarded-User"] != first.Headers["X-Forwarded-User"] {
		t.Errorf("signed in as %q, signed up as %q", again.Headers["X-Forwarded-User"], first.Headers["X-Forwarded-User"])
	}
	if creds := b.credentials(auth); len(creds) != 1 || creds[0].SignCount < 1 {
		t.Errorf("virtual authenticator after sign-in: %+v, want its one credential used (sign count >= 1)", creds)
	}
	t.Logf("passkey sign-up, sign-out and sign-in in the browser took %s", time.Since(started).Round(time.Millisecond))

	st := idp.Stats()
	if st.PasskeySignUps != 1 || st.PasskeySignIns != 1 || st.FailedPasskeys != 0 || st.LoginAttempts != 0 ||
		st.TokenRequests["authorization_code"] != 2 || st.EndSessionRequests != 1 {
		t.Errorf("provider stats %+v: want 1 passkey sign-up, 1 sign-in, no failure, no password login, 2 code exchanges, 1 end_session", st)
	}
	if n := idp.Passkeys(email); n != 1 {
		t.Errorf("provider has %d passkeys for %s, want 1", n, email)
	}
	checkLog(t, tr)
}

// addVirtualAuthenticator gives the tab a platform authenticator that holds passkeys and verifies the user.
func (b *chrome) addVirtualAuthenticator() webauthn.AuthenticatorID {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		b.t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		b.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

func (b *chrome) credentials(id webauthn.AuthenticatorID) []*webauthn.Credential {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		b.t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}

// echoPage waits for the echo service's HTML page at wantURL greeting name, and returns the request it shows.
func (b *chrome) echoPage(wantURL, name string) echo.Request {
	b.t.Helper()
	p := b.waitFor("the echo page at "+wantURL, func(p page) bool {
		return p.URL == wantURL && strings.HasPrefix(p.Title, "Signed in") && strings.Contains(p.Body, "Hello, "+name)
	})
	var er echo.Request
	if err := json.Unmarshal([]byte(p.Text), &er); err != nil {
		b.t.Fatalf("the echo page does not show the request JSON: %v\n%s", err, p.Text)
	}
	return er
}

func checkPasskeyIdentity(t *testing.T, er echo.Request, email, name string) {
	t.Helper()
	want := map[string]string{
		"X-Forwarded-Email":  email,
		"X-Forwarded-Name":   name,
		"X-Forwarded-Roles":  "viewer",
		"X-Forwarded-Tenant": devidp.DemoTenant,
		"X-Forwarded-Amr":    "webauthn",
	}
	for k, v := range want {
		if er.Headers[k] != v {
			t.Errorf("upstream header %s = %q, want %q", k, er.Headers[k], v)
		}
	}
	if u := er.Headers["X-Forwarded-User"]; !strings.HasPrefix(u, "U2") || u == devidp.DemoSubject {
		t.Errorf("upstream X-Forwarded-User %q, want the new account's subject", u)
	}
	if strings.Contains(er.Headers["Cookie"], cookieName) {
		t.Errorf("upstream received the session cookie")
	}
}
