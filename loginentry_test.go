package descopeoidc

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestLoginEntryConfig(t *testing.T) {
	cases := []struct {
		name    string
		set     func(c *Config)
		wantErr string
		want    string
	}{
		{"default", func(c *Config) {}, "", "/oauth2/login"},
		{"own path", func(c *Config) { c.LoginPath = "/auth/start" }, "", "/auth/start"},
		{"relative", func(c *Config) { c.LoginPath = "login" }, "loginPath", ""},
		{"with query", func(c *Config) { c.LoginPath = "/login?x=1" }, "loginPath", ""},
		{"same as callback", func(c *Config) { c.LoginPath = "/oauth2/callback" }, "loginPath", ""},
		{"same as logout", func(c *Config) { c.LoginPath = "/oauth2/logout" }, "loginPath", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := settingsWith(t, tc.set, tc.wantErr)
			if s == nil {
				return
			}
			if s.loginPath != tc.want || s.allowPreflight {
				t.Errorf("loginPath %q preflight %t, want %q false", s.loginPath, s.allowPreflight, tc.want)
			}
		})
	}
}

func TestLoginEntryStartsLoginForRd(t *testing.T) {
	f := newFakeIdP(t)
	m, up := newMW(t, f, f.config())
	cases := []struct{ rd, want string }{
		{"/app/page?tab=2&x=y", "/app/page?tab=2&x=y"},
		{appOrigin + "/app/abs?q=1", "/app/abs?q=1"},
		{"", "/"},
		{"//evil.example/x", "/"},
		{"/\\evil.example", "/"},
		{"https://evil.example/x", "/"},
		{appOrigin + ".evil.example/x", "/"},
		{"/%2F%2Fevil.example", "/"},
		{"javascript:alert(1)", "/"},
	}
	for _, tc := range cases {
		b := newBrowser(t, m)
		rec := b.get("/oauth2/login?rd=" + url.QueryEscape(tc.rd))
		if rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), f.url("/authorize")) {
			t.Fatalf("rd %q: status %d Location %q, want 302 to the provider", tc.rd, rec.Code, rec.Header().Get("Location"))
		}
		cb := b.get(b.authorize(rec.Header().Get("Location")))
		if cb.Code != http.StatusFound || cb.Header().Get("Location") != tc.want {
			t.Errorf("rd %q: callback %d to %q, want 302 to %q", tc.rd, cb.Code, cb.Header().Get("Location"), tc.want)
		}
	}
	if up.count() != 0 {
		t.Errorf("upstream saw %d requests, want 0: the login entry is the plugin's", up.count())
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, appOrigin+"/oauth2/login?rd=/x", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", rec.Code)
	}
}

func TestUnauthorizedCarriesLoginURL(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.LoginPath = "/auth/login"
	m, _ := newMW(t, f, cfg)
	r := httptest.NewRequest(http.MethodGet, "http://app.example/api/items?page=2&q=a%20b", nil)
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, r)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", rec.Code)
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	want := "https://app.example/auth/login?rd=" + url.QueryEscape("/api/items?page=2&q=a%20b")
	if body["error"] != "unauthorized" || body["login_url"] != want {
		t.Errorf("body %v, want error unauthorized and login_url %q", body, want)
	}
}

func TestPreflight(t *testing.T) {
	f := newFakeIdP(t)
	preflight := func() *http.Request {
		r := httptest.NewRequest(http.MethodOptions, appOrigin+"/api/items", nil)
		r.Header.Set("Origin", "https://spa.example")
		r.Header.Set("Access-Control-Request-Method", "PUT")
		r.Header.Set("Cookie", "_descopeoidc=forged; theme=dark")
		r.Header.Set("Authorization", "Bearer forged")
		r.Header.Set("X-Forwarded-User", "mallory")
		return r
	}
	t.Run("off by default", func(t *testing.T) {
		m, up := newMW(t, f, f.config())
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, preflight())
		if up.count() != 0 || rec.Code == http.StatusOK {
			t.Errorf("status %d upstream %d, want no upstream call", rec.Code, up.count())
		}
	})
	t.Run("allowed", func(t *testing.T) {
		cfg := f.config()
		cfg.AllowPreflight = true
		m, up := newMW(t, f, cfg)
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, preflight())
		if rec.Code != http.StatusOK || up.count() != 1 {
			t.Fatalf("status %d upstream %d, want 200 from upstream", rec.Code, up.count())
		}
		h := up.last()
		if h.Get("Cookie") != "theme=dark" || h.Get("Authorization") != "" || h.Get("X-Forwarded-User") != "" {
			t.Errorf("upstream Cookie %q Authorization %q X-Forwarded-User %q, want theme=dark and none",
				h.Get("Cookie"), h.Get("Authorization"), h.Get("X-Forwarded-User"))
		}
		for _, mod := range []func(r *http.Request){
			func(r *http.Request) { r.Method = http.MethodGet },
			func(r *http.Request) { r.Header.Del("Origin") },
			func(r *http.Request) { r.Header.Del("Access-Control-Request-Method") },
		} {
			r := preflight()
			mod(r)
			rec := httptest.NewRecorder()
			m.ServeHTTP(rec, r)
			if up.count() != 1 {
				t.Fatalf("%s without Origin/ACRM reached upstream (status %d)", r.Method, rec.Code)
			}
		}
	})
}
