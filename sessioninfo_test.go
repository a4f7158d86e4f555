package descopeoidc

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

const infoPath = "/oauth2/session"

func infoMW(t *testing.T, f *fakeIdP, mutate func(c *Config)) (*Middleware, *upstream, *browser) {
	cfg := f.config()
	cfg.SessionInfoPath = infoPath
	if mutate != nil {
		mutate(cfg)
	}
	m, up := newMW(t, f, cfg)
	return m, up, newBrowser(t, m)
}

// askInfo is an SPA's fetch of the session endpoint from a page on this origin.
func askInfo(b *browser, mutate func(r *http.Request)) (int, map[string]any, http.Header) {
	r := b.request(http.MethodGet, infoPath)
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Sec-Fetch-Mode", "cors")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Header.Set("Referer", appOrigin+"/app/page?x=1")
	if mutate != nil {
		mutate(r)
	}
	rec := b.do(r)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		b.t.Fatalf("session endpoint: status %d, body %q is not JSON: %v", rec.Code, rec.Body.String(), err)
	}
	return rec.Code, body, rec.Header()
}

func TestSessionInfoSetting(t *testing.T) {
	if s := settingsWith(t, func(c *Config) {}, ""); s.sessionInfoPath != "" || s.ownPaths[infoPath] {
		t.Errorf("off by default: path %q", s.sessionInfoPath)
	}
	if s := settingsWith(t, func(c *Config) { c.SessionInfoPath = infoPath }, ""); !s.ownPaths[infoPath] {
		t.Error("sessionInfoPath is not one of the plugin's own paths")
	}
	settingsWith(t, func(c *Config) { c.SessionInfoPath = "oauth2/session" }, "sessionInfoPath")
	settingsWith(t, func(c *Config) { c.SessionInfoPath = "/oauth2/logout" }, "sessionInfoPath")
	settingsWith(t, func(c *Config) { c.SessionInfoPath = "/s?x" }, "sessionInfoPath")
}

func TestSessionInfoSignedOut(t *testing.T) {
	f := newFakeIdP(t)
	_, up, b := infoMW(t, f, nil)
	code, body, h := askInfo(b, nil)
	want := appOrigin + "/oauth2/login?rd=" + url.QueryEscape("/app/page?x=1")
	if code != http.StatusUnauthorized || body["authenticated"] != false || body["login_url"] != want {
		t.Errorf("no session: %d %v, want 401 with login_url %q", code, body, want)
	}
	if h.Get("Cache-Control") != "no-store" || up.count() != 0 {
		t.Errorf("Cache-Control %q upstream %d", h.Get("Cache-Control"), up.count())
	}
	_, body, _ = askInfo(b, func(r *http.Request) { r.Header.Set("Referer", "https://evil.example/x") })
	if body["login_url"] != appOrigin+"/oauth2/login?rd=%2F" {
		t.Errorf("foreign Referer: login_url %v, want a return to /", body["login_url"])
	}
}

func TestSessionInfoSignedIn(t *testing.T) {
	f := newFakeIdP(t)
	m, up, b := infoMW(t, f, func(c *Config) { c.ForwardHeaders = map[string]string{"X-User": "sub", "X-Missing": "nope"} })
	b.login("/")
	code, body, h := askInfo(b, nil)
	claims, _ := body["claims"].(map[string]any)
	now := f.clock.Now().Unix()
	if code != http.StatusOK || body["authenticated"] != true || claims["sub"] != f.sub || len(claims) != 1 {
		t.Fatalf("signed in: %d %v", code, body)
	}
	exp, _ := body["expires_at"].(float64)
	if int64(exp) <= now || body["expires_in"].(float64) != exp-float64(now) {
		t.Errorf("expires_at %v expires_in %v, now %d", body["expires_at"], body["expires_in"], now)
	}
	if _, ok := body["reauthenticate_at"]; ok {
		t.Error("reauthenticate_at without maxAuthAge")
	}
	if h.Get("Cache-Control") != "no-store" || h.Get("Set-Cookie") != "" || up.count() != 0 {
		t.Errorf("Cache-Control %q Set-Cookie %q upstream %d", h.Get("Cache-Control"), h.Get("Set-Cookie"), up.count())
	}
	r := b.request(http.MethodPost, "/oauth2/logout")
	r.Header.Set("Origin", appOrigin)
	b.do(r)
	if code, _, _ := askInfo(b, nil); code != http.StatusUnauthorized {
		t.Errorf("after logout: %d, want 401", code)
	}
	_ = m
}

func TestSessionInfoSameOriginOnly(t *testing.T) {
	f := newFakeIdP(t)
	_, _, b := infoMW(t, f, nil)
	b.login("/")
	cases := []struct {
		name   string
		site   string
		origin []string
		want   int
	}{
		{"same-origin fetch", "same-origin", []string{appOrigin}, http.StatusOK},
		{"typed in the address bar", "none", nil, http.StatusOK},
		{"no browser headers (curl)", "", nil, http.StatusOK},
		{"cross-site", "cross-site", nil, http.StatusForbidden},
		{"same-site sibling", "same-site", []string{"https://other.app.example"}, http.StatusForbidden},
		{"foreign Origin", "", []string{"https://evil.example"}, http.StatusForbidden},
		{"opaque Origin", "", []string{"null"}, http.StatusForbidden},
		{"http origin of an https site", "", []string{"http://app.example"}, http.StatusForbidden},
		{"two Origins", "", []string{appOrigin, "https://evil.example"}, http.StatusForbidden},
	}
	for _, tc := range cases {
		code, body, h := askInfo(b, func(r *http.Request) {
			r.Header.Del("Sec-Fetch-Site")
			if tc.site != "" {
				r.Header.Set("Sec-Fetch-Site", tc.site)
			}
			if tc.origin != nil {
				r.Header["Origin"] = tc.origin
			}
		})
		if code != tc.want || h.Get("Cache-Control") != "no-store" || h.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: %d %v (Cache-Control %q), want %d", tc.name, code, body, h.Get("Cache-Control"), tc.want)
		}
		if code == http.StatusForbidden && len(body) != 1 {
			t.Errorf("%s: refusal body %v says more than the error", tc.name, body)
		}
	}
	r := b.request(http.MethodPost, infoPath)
	r.Header.Set("Origin", appOrigin)
	if rec := b.do(r); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET" {
		t.Errorf("POST: %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestSessionInfoMaxAuthAge(t *testing.T) {
	f := newFakeIdP(t)
	_, _, b := infoMW(t, f, func(c *Config) { c.MaxAuthAge = "5m" })
	authAt := f.clock.Now().Unix()
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"auth_time": authAt} })
	b.login("/")
	_, body, _ := askInfo(b, nil)
	if body["reauthenticate_at"] != float64(authAt+300) || body["reauthenticate"] != nil {
		t.Errorf("fresh: %v, want reauthenticate_at %d and no reauthenticate", body, authAt+300)
	}
	f.clock.Advance(5*time.Minute + time.Second)
	code, body, _ := askInfo(b, nil)
	if code != http.StatusOK || body["reauthenticate"] != true || body["login_url"] == nil {
		t.Errorf("past maxAuthAge: %d %v, want 200 with reauthenticate and login_url", code, body)
	}
}

func TestSessionInfoDenied(t *testing.T) {
	f := newFakeIdP(t)
	_, _, b := infoMW(t, f, func(c *Config) { c.RequiredRoles = []string{"admin"} })
	b.login("/")
	code, body, _ := askInfo(b, nil)
	if code != http.StatusForbidden || body["error"] != "forbidden" || body["claims"] != nil {
		t.Errorf("denied user: %d %v, want 403 without claims", code, body)
	}
}

func TestSessionInfoAfterRefresh(t *testing.T) {
	f := newFakeIdP(t)
	m, _, b := infoMW(t, f, func(c *Config) { c.ForwardHeaders = map[string]string{"X-Who": "name"} })
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"name": "before"} })
	b.login("/")
	old := b.cookie("_descopeoidc").Value
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"name": "after"} })
	f.clock.Advance(250 * time.Second) // past the refresh point
	b.get("/")
	settleRefreshes(t, m)
	b.get("/") // the refreshed cookie reaches the browser
	if b.cookie("_descopeoidc").Value == old {
		t.Fatal("no refresh happened")
	}
	ask := func(cookie string) (int, map[string]any) {
		code, body, _ := askInfo(b, func(r *http.Request) { r.Header.Set("Cookie", "_descopeoidc="+cookie) })
		return code, body
	}
	for name, cookie := range map[string]string{"the refreshed cookie": b.cookie("_descopeoidc").Value,
		"the replaced cookie within refreshGrace": old} {
		code, body := ask(cookie)
		if claims, _ := body["claims"].(map[string]any); code != http.StatusOK || claims["name"] != "after" {
			t.Errorf("%s: %d %v, want the refreshed session (name after)", name, code, body)
		}
	}
	f.clock.Advance((refreshGrace + 1) * time.Second)
	if code, _ := ask(old); code != http.StatusUnauthorized {
		t.Errorf("the replaced cookie after refreshGrace: %d, want 401", code)
	}
}
