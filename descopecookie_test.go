package descopeoidc

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDescopeCookieConfig(t *testing.T) {
	cases := []struct {
		name    string
		set     func(c *Config)
		wantErr string
	}{
		{"off", func(c *Config) {}, ""},
		{"on", func(c *Config) { c.DescopeSessionCookie = "DS" }, ""},
		{"renamed", func(c *Config) { c.DescopeSessionCookie, c.DescopeRefreshCookie = "sessionToken", "refreshToken" }, ""},
		{"refresh alone", func(c *Config) { c.DescopeRefreshCookie = "DSR" }, "descopeRefreshCookie"},
		{"forward alone", func(c *Config) { c.ForwardDescopeCookies = true }, "forwardDescopeCookies"},
		{"bad name", func(c *Config) { c.DescopeSessionCookie = "D S" }, "descopeSessionCookie"},
		{"plugin's name", func(c *Config) { c.DescopeSessionCookie = "_descopeoidc" }, "descopeSessionCookie"},
		{"plugin's chunk", func(c *Config) { c.DescopeSessionCookie = "_descopeoidc_1" }, "descopeSessionCookie"},
		{"same names", func(c *Config) { c.DescopeSessionCookie, c.DescopeRefreshCookie = "DS", "DS" }, "descopeRefreshCookie"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			settingsWith(t, tc.set, tc.wantErr)
		})
	}
}

// dsRequest is a browser navigation carrying cookies (name=value pairs).
func dsRequest(b *browser, path string, cookies ...string) *http.Request {
	r := b.request(http.MethodGet, path)
	r.Header.Set("Cookie", strings.Join(cookies, "; "))
	return r
}

func TestDescopeCookieAccepted(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.DescopeSessionCookie = "DS"
	cfg.ForwardHeaders = map[string]string{"X-Forwarded-User": "sub", "X-Roles": "roles"}
	cfg.RequiredRoles = []string{"viewer"}
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	now := f.clock.Now().Unix()
	claims := func(changes map[string]any) map[string]any {
		c := f.idClaims("")
		c["exp"], c["roles"] = now+300, []string{"viewer"}
		for k, v := range changes {
			c[k] = v
		}
		return c
	}
	ds := f.mint(claims(nil))
	rec := b.do(dsRequest(b, "/app", "DS="+ds, "DSR=refresh-jwt", "theme=dark"))
	if rec.Code != http.StatusOK || up.count() != 1 {
		t.Fatalf("valid DS: status %d upstream %d, want 200 from upstream", rec.Code, up.count())
	}
	h := up.last()
	if h.Get("X-Forwarded-User") != testSub || h.Get("X-Roles") != "viewer" || h.Get("Cookie") != "theme=dark" {
		t.Errorf("upstream user %q roles %q Cookie %q, want %q viewer theme=dark", h.Get("X-Forwarded-User"),
			h.Get("X-Roles"), h.Get("Cookie"), testSub)
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Errorf("a DS request set cookies %v, want none (no plugin session is made)", rec.Result().Cookies())
	}
	// Refused: expired, another audience, forged signature, not a JWT: the normal login starts, DS is left alone.
	bad := []string{
		f.mint(claims(map[string]any{"exp": now - 120})),
		f.mint(claims(map[string]any{"aud": "another-project"})),
		ds[:len(ds)-6] + "AAAAAA",
		"not-a-jwt",
	}
	for i, tok := range bad {
		rec := b.do(dsRequest(b, "/app", "DS="+tok))
		if rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), f.url("/authorize")) {
			t.Errorf("bad DS %d: status %d Location %q, want a login redirect", i, rec.Code, rec.Header().Get("Location"))
		}
	}
	// A valid DS whose user fails the rules: 403, not a login loop.
	rec = b.do(dsRequest(b, "/app", "DS="+f.mint(claims(map[string]any{"roles": []string{"guest"}}))))
	if rec.Code != http.StatusForbidden {
		t.Errorf("DS of a user without the role: status %d, want 403", rec.Code)
	}
	// Cached until exp: past it, the same cookie starts a login.
	f.clock.Advance(301 * time.Second)
	if rec := b.do(dsRequest(b, "/app", "DS="+ds)); rec.Code != http.StatusFound {
		t.Errorf("DS after its exp: status %d, want 302 to the provider", rec.Code)
	}
	if up.count() != 1 {
		t.Errorf("upstream saw %d requests, want only the valid one", up.count())
	}
}

func TestDescopeCookieLosesToPluginSession(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.DescopeSessionCookie = "DS"
	cfg.ForwardDescopeCookies = true
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	b.login("/")
	other := f.idClaims("")
	other["sub"] = "U2someoneElse"
	ds := f.mint(other)
	r := b.request(http.MethodGet, "/app")
	r.Header.Set("Cookie", r.Header.Get("Cookie")+"; DS="+ds+"; DSR=r")
	if rec := b.do(r); rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200", rec.Code)
	}
	h := up.last()
	if h.Get("X-Forwarded-User") != testSub {
		t.Errorf("upstream user %q, want the plugin session's %q", h.Get("X-Forwarded-User"), testSub)
	}
	if want := "DS=" + ds + "; DSR=r"; h.Get("Cookie") != want {
		t.Errorf("forwardDescopeCookies: upstream Cookie %.60q, want %.60q", h.Get("Cookie"), want)
	}
}

// Issue 18 item 11: with forwardAccessToken, a request served by its DS cookie sends the session JWT upstream as
// Authorization: Bearer, as a plugin session sends its access token.
func TestDescopeCookieForwardsAccessToken(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.DescopeSessionCookie = "DS"
	cfg.ForwardAccessToken = true
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	c := f.idClaims("")
	c["exp"] = f.clock.Now().Unix() + 300
	ds := f.mint(c)
	for i := 0; i < 2; i++ { // verified, then from the cache
		if rec := b.do(dsRequest(b, "/app", "DS="+ds)); rec.Code != http.StatusOK {
			t.Fatalf("request %d: status %d, want 200", i, rec.Code)
		}
		if got := up.last().Get("Authorization"); got != "Bearer "+ds {
			t.Errorf("request %d: upstream Authorization %.40q, want the DS session JWT as a bearer token", i, got)
		}
	}
}
