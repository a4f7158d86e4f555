package adversarial

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/badidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestUpstreamCookiesByteExact: the plugin's cookies (session, chunks, login state) never reach the upstream, and
// every other cookie does exactly as the browser sent it: quoted values, JSON, raw UTF-8, several Cookie lines.
func TestUpstreamCookiesByteExact(t *testing.T) {
	o := newOutcomes(t)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		h, up := build(t, tg, baseConfig(idp, nil))
		b := newBrowser(t, h)
		b.mustLogin(idp, "/app")
		session := b.cookieHeader("/app")
		cases := []struct {
			name  string
			lines []string
			want  []string // nil: no Cookie header upstream
		}{
			{"only the session", []string{session}, nil},
			{"others around the session", []string{`q="quoted"; ` + session + `; j={"a":1}; u=Grüße—ok; theme=dark`},
				[]string{`q="quoted"; j={"a":1}; u=Grüße—ok; theme=dark`}},
			{"login cookies and chunk names too", []string{session + "; " + cookieName + "_state_abc=s; " + cookieName + "_3=c; x=1"}, []string{"x=1"}},
			{"several lines", []string{`q="quoted"`, session, cookieName + `_state_x=1; j={"a":1}`}, []string{`q="quoted"`, `j={"a":1}`}},
			{"several lines, all ours", []string{session, cookieName + "_state_x=1"}, nil},
		}
		for _, c := range cases {
			before := up.count()
			resp := serve(t, h, appRequest(http.MethodGet, "/app", http.Header{"Cookie": c.lines, "Accept": {"text/html"}}))
			got, present := up.lastHeader()["Cookie"]
			if resp.Status != http.StatusOK || up.count() != before+1 {
				t.Errorf("%s: %s, want the upstream's answer", c.name, resp)
				continue
			}
			if c.want == nil && present || c.want != nil && !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s: upstream Cookie %q, want %q", c.name, got, c.want)
			}
			o.record(tg.Name(), "cookies: "+c.name, fmt.Sprintf("upstream=%q", got))
		}
	})
}

// TestLoginCookiesSurviveBrowsers: a full login in a browser that enforces cookie size, __Host-/__Secure- rules and
// SameSite: with cookieSameSite strict, with a __Host- session name, and with a return URL that would make a 6 KB
// login cookie if JSON escaped its '&'s, or that is too long for a cookie at all (shortened to its path, then "/").
func TestLoginCookiesSurviveBrowsers(t *testing.T) {
	o := newOutcomes(t)
	amps := "/app?" + strings.Repeat("a=1&", 500)
	cases := []struct {
		name            string
		cfg             map[string]any
		target, landing string
	}{
		{"cookieSameSite strict", map[string]any{"cookieSameSite": "strict"}, "/app?x=1&y=2", "/app?x=1&y=2"},
		{"__Host- cookie name", map[string]any{"cookieName": "__Host-sid"}, "/app", "/app"},
		{"__Host- name and strict", map[string]any{"cookieName": "__Host-sid", "cookieSameSite": "strict"}, "/app", "/app"},
		{"2 KB return URL of &s", nil, amps, amps},
		{"return URL too long for a cookie", nil, "/app?q=" + strings.Repeat("x", 4000), "/app"},
		{"return path too long for a cookie", nil, "/app/" + strings.Repeat("p", 4000), "/"},
	}
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		for _, c := range cases {
			c := c
			t.Run(c.name, func(t *testing.T) {
				idp := newIdP(t)
				h, up := build(t, tg, baseConfig(idp, c.cfg))
				b := newSiteBrowser(t, h)
				end := b.login(idp, c.target)
				path := up.lastURI()
				if end.Status != http.StatusOK || up.count() != 1 || up.lastHeader().Get("X-Forwarded-User") != badidp.DefaultSub {
					t.Fatalf("login ends with %s Location %.60q, upstream reached %d times; want the upstream as the user", end, end.location(), up.count())
				}
				if path != c.landing {
					t.Errorf("landed on %.60q, want %.60q", path, c.landing)
				}
				if again := b.follow("/app", false); again.Status != http.StatusOK || up.count() != 2 {
					t.Errorf("next request: %s, want the upstream", again)
				}
				o.record(tg.Name(), "browser login: "+c.name, fmt.Sprintf("end=%d landed=%v", end.Status, path == c.landing))
			})
		}
	})
}

// TestLogoutPOSTJudgedWithoutOrigin: a logout POST without Origin logs out only when Sec-Fetch-Site or, without
// it, Referer says it comes from this origin; otherwise a 403 page (which cannot be framed) keeps the session.
func TestLogoutPOSTJudgedWithoutOrigin(t *testing.T) {
	o := newOutcomes(t)
	cases := []struct {
		name   string
		hdr    http.Header
		logout bool
	}{
		{"Sec-Fetch-Site cross-site", http.Header{"Sec-Fetch-Site": {"cross-site"}}, false},
		{"Sec-Fetch-Site same-site", http.Header{"Sec-Fetch-Site": {"same-site"}, "Referer": {appOrigin + "/"}}, false},
		{"Referer elsewhere", http.Header{"Referer": {"https://evil.example/app"}}, false},
		{"nothing to judge by", http.Header{}, false},
		{"Sec-Fetch-Site same-origin", http.Header{"Sec-Fetch-Site": {"same-origin"}}, true},
		{"Referer on this origin", http.Header{"Referer": {appOrigin + "/oauth2/logout"}}, true},
	}
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		for _, c := range cases {
			c := c
			t.Run(c.name, func(t *testing.T) {
				idp := newIdP(t)
				h, _ := build(t, tg, baseConfig(idp, nil))
				b := newBrowser(t, h)
				b.mustLogin(idp, "/app")
				r := b.send(appRequest(http.MethodPost, "/oauth2/logout", c.hdr))
				if c.logout != (r.Status == http.StatusSeeOther && r.sessionCleared()) {
					t.Fatalf("%s cleared=%v, want logout %v", r, r.sessionCleared(), c.logout)
				}
				if !c.logout {
					if r.Status != http.StatusForbidden || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
						t.Errorf("refused logout: %s %q, want a 403 page", r, r.Header.Get("Content-Type"))
					}
					if b.get("/app").Status != http.StatusOK {
						t.Error("session lost")
					}
				}
				o.record(tg.Name(), "logout POST: "+c.name, fmt.Sprintf("status=%d cleared=%v", r.Status, r.sessionCleared()))
			})
		}
	})
}

// TestPluginPagesCannotBeFramed: the logout confirmation (the clickjacking target) and every other page the plugin
// writes forbid framing and active content.
func TestPluginPagesCannotBeFramed(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		h, _ := build(t, tg, baseConfig(idp, nil))
		pages := map[string]*http.Request{
			"logout confirmation": appRequest(http.MethodGet, "/oauth2/logout", http.Header{"Sec-Fetch-Site": {"cross-site"}}),
			"refused logout":      appRequest(http.MethodPost, "/oauth2/logout", http.Header{"Origin": {"https://evil.example"}}),
			"provider error":      appRequest(http.MethodGet, "/oauth2/callback?error=access_denied&state=x", navigation()),
			"failed login":        appRequest(http.MethodGet, "/oauth2/callback?state=x&code=y", navigation()),
		}
		for name, r := range pages {
			resp := serve(t, h, r)
			hd := resp.Header
			csp := hd.Get("Content-Security-Policy")
			if !strings.HasPrefix(hd.Get("Content-Type"), "text/html") || hd.Get("X-Frame-Options") != "DENY" ||
				!strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("%s: %d Content-Type %q X-Frame-Options %q CSP %q", name, resp.Status, hd.Get("Content-Type"), hd.Get("X-Frame-Options"), csp)
			}
		}
	})
}
