package echo

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

func get(t *testing.T, h http.Handler, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/echo?x=1", nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// cell is the text of the element with the given id (the page's table cells and heading).
func cell(t *testing.T, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + id + `">(.*?)</`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no element #%s in the page:\n%s", id, page)
	}
	return m[1]
}

func TestPageShowsIdentity(t *testing.T) {
	resp, page := get(t, Handler(), map[string]string{
		"Accept":             browserAccept,
		"X-Forwarded-User":   "U2demoUser",
		"X-Forwarded-Email":  "demo@example.com",
		"X-Forwarded-Name":   "Demo User",
		"X-Forwarded-Roles":  "viewer,editor",
		"X-Forwarded-Tenant": "T1demoTenant",
		"X-Forwarded-Amr":    "webauthn",
	})
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type %q, want text/html; charset=utf-8", ct)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q, want default-src 'none'", csp)
	}
	if v := resp.Header.Get("Vary"); v != "Accept" {
		t.Errorf("Vary %q, want Accept", v)
	}
	want := map[string]string{
		"greeting": "Hello, Demo User", "user": "U2demoUser", "email": "demo@example.com", "name": "Demo User",
		"tenant": "T1demoTenant", "method": "passkey",
	}
	for id, v := range want {
		if got := cell(t, page, id); got != v {
			t.Errorf("#%s = %q, want %q", id, got, v)
		}
	}
	if !strings.Contains(page, `<span id="method">passkey</span> (webauthn)`) {
		t.Errorf("the sign-in method is not shown as passkey (webauthn):\n%s", page)
	}
	if roles := regexp.MustCompile(`<span class="role">([^<]*)</span>`).FindAllStringSubmatch(page, -1); len(roles) != 2 || roles[0][1] != "viewer" || roles[1][1] != "editor" {
		t.Errorf("roles %q, want viewer and editor", roles)
	}
	if !strings.Contains(page, `<form method="post" action="/oauth2/logout"><button type="submit" id="signout">`) {
		t.Errorf("no sign-out button posting to /oauth2/logout:\n%s", page)
	}
	// The whole request, as the JSON answer would have it, in the <pre>.
	var got Request
	pre := cell(t, strings.ReplaceAll(page, "\n", " "), "request")
	if err := json.Unmarshal([]byte(html.UnescapeString(pre)), &got); err != nil {
		t.Fatalf("the <pre> is not the request JSON: %v\n%s", err, pre)
	}
	if got.Path != "/echo" || got.Query != "x=1" || got.Headers["X-Forwarded-User"] != "U2demoUser" {
		t.Errorf("request in the page: %+v", got)
	}
}

func TestPageEscapes(t *testing.T) {
	evil := `<script>alert(1)</script>"><img src=x onerror=alert(2)>`
	_, page := get(t, NewHandler(Options{LogoutPath: `/out"><script>x</script>`}), map[string]string{
		"Accept":            "text/html",
		"X-Forwarded-User":  evil,
		"X-Forwarded-Name":  evil,
		"X-Forwarded-Roles": evil + ",ok",
		"X-Evil":            evil,
	})
	for _, bad := range []string{"<script>alert", "<img src=x", `"><script>x`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains unescaped %q:\n%s", bad, page)
		}
	}
	if got := cell(t, page, "name"); got != "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" {
		t.Errorf("#name = %q, want the escaped value", got)
	}
	if !strings.Contains(page, `action="/out%22%3e%3cscript%3ex%3c/script%3e"`) {
		t.Errorf("logout path not escaped in the form action:\n%s", page)
	}
}

func TestPageWithoutIdentity(t *testing.T) {
	_, page := get(t, Handler(), map[string]string{"Accept": browserAccept})
	if got := cell(t, page, "greeting"); got != "Not signed in" {
		t.Errorf("#greeting = %q, want Not signed in", got)
	}
	if strings.Contains(page, `id="signout"`) || strings.Contains(page, `id="identity"`) {
		t.Errorf("a page without identity headers offers identity or sign-out:\n%s", page)
	}
}

// Everything that is not a browser navigation still gets the JSON the tests (and the tutorial's echo server) use.
func TestNonBrowsersGetJSON(t *testing.T) {
	for _, accept := range []string{"", "*/*", "application/json", "text/*", "text/html;q=0"} {
		resp, body := get(t, Handler(), map[string]string{"Accept": accept, "X-Forwarded-User": "U2demoUser"})
		var got Request
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Accept %q: Content-Type %q, want application/json", accept, ct)
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || got.Headers["X-Forwarded-User"] != "U2demoUser" {
			t.Errorf("Accept %q: body %q is not the echo JSON (%v)", accept, body, err)
		}
	}
}

func TestSignInMethod(t *testing.T) {
	for amr, want := range map[string]string{
		"webauthn": "passkey", "pwd": "password", "pwd,otp": "password + one-time code", "mfa, webauthn": "multi-factor + passkey",
		"": "", "custom": "",
	} {
		if got := signInMethod(amr); got != want {
			t.Errorf("signInMethod(%q) = %q, want %q", amr, got, want)
		}
	}
}

// The demo's postLogoutRedirectURL: a browser without a session gets "You are signed out" and a sign-in link; with
// a session (or as JSON) it is an echo like any other path.
func TestSignedOutPage(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	fetch := func(hdr map[string]string) (string, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+SignedOutPath, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Header.Get("Content-Type"), string(b)
	}
	ct, page := fetch(map[string]string{"Accept": browserAccept})
	if ct != "text/html; charset=utf-8" || cell(t, page, "greeting") != "You are signed out" || cell(t, page, "signin") != "Sign in again" ||
		!strings.Contains(page, `href="`+SignInPath+`"`) {
		t.Errorf("signed-out page: %q\n%s", ct, page)
	}
	if _, page := fetch(map[string]string{"Accept": browserAccept, "X-Forwarded-User": "U2demoUser"}); !strings.Contains(page, "Hello, U2demoUser") {
		t.Errorf("with a session the path is an echo page:\n%s", page)
	}
	if ct, _ := fetch(map[string]string{"Accept": "application/json"}); ct != "application/json" {
		t.Errorf("JSON client: %q", ct)
	}
}
