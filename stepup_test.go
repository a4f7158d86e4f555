package descopeoidc

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestStepUpConfig(t *testing.T) {
	cases := []struct {
		name    string
		set     func(c *Config)
		wantErr string
		on      bool
	}{
		{"off", func(c *Config) {}, "", false},
		{"acr", func(c *Config) { c.RequiredACR = []string{"urn:mfa, urn:hw"} }, "", true},
		{"amr", func(c *Config) { c.RequiredAMR = []string{"mfa"} }, "", true},
		{"su", func(c *Config) { c.RequireStepUp = true }, "", true},
		{"age", func(c *Config) { c.MaxAuthAge = "5m" }, "", true},
		{"age too short", func(c *Config) { c.MaxAuthAge = "500ms" }, "maxAuthAge", false},
		{"age fraction", func(c *Config) { c.MaxAuthAge = "90.5s" }, "maxAuthAge", false},
		{"age garbage", func(c *Config) { c.MaxAuthAge = "soon" }, "maxAuthAge", false},
		{"acr_values twice", func(c *Config) {
			c.RequiredACR = []string{"x"}
			c.AuthParams = map[string]string{"acr_values": "y"}
		}, "authParams", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := settingsWith(t, tc.set, tc.wantErr)
			if s == nil {
				return
			}
			if (s.stepUp != nil) != tc.on {
				t.Fatalf("step-up rule %v, want on=%t", s.stepUp, tc.on)
			}
		})
	}
	c := CreateConfig()
	c.Issuer, c.ClientID, c.SessionSecret = "https://idp.example", "client", testSessionKey
	c.RequiredACR, c.MaxAuthAge = []string{"urn:mfa urn:hw"}, "300"
	s, _ := newSettings(c)
	want := `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:mfa urn:hw", max_age="300"`
	if got := s.stepUp.challenge(false); got != want {
		t.Errorf("challenge\n got %s\nwant %s", got, want)
	}
}

func TestStepUpUnmet(t *testing.T) {
	r := &stepUpRule{acr: []string{"gold"}, amr: []string{"mfa", "hwk"}, maxAge: 300, su: true}
	ok := map[string]any{"acr": "gold", "amr": []any{"pwd", "mfa"}, "su": true, "auth_time": float64(1000)}
	if why := r.unmet(ok, 1299); why != "" {
		t.Fatalf("claims meeting the rule: %q", why)
	}
	for name, change := range map[string]map[string]any{
		"acr": {"acr": "silver"}, "amr": {"amr": []any{"pwd"}}, "su": {"su": "true"}, "age": {"auth_time": float64(999)},
		"no auth_time": {"auth_time": nil},
	} {
		c := map[string]any{}
		for k, v := range ok {
			c[k] = v
		}
		for k, v := range change {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		if why := r.unmet(c, 1299); why == "" {
			t.Errorf("%s: met, want unmet", name)
		}
	}
}

// stepUpMW is a middleware with rule applied, its browser and a way to read the last authorize request.
func stepUpMW(t *testing.T, f *fakeIdP, rule func(c *Config)) (*Middleware, *upstream, *browser) {
	cfg := f.config()
	rule(cfg)
	m, up := newMW(t, f, cfg)
	return m, up, newBrowser(t, m)
}

func TestStepUpACRBrowser(t *testing.T) {
	f := newFakeIdP(t)
	plain, _ := newMW(t, f, f.config())
	m, up, b := stepUpMW(t, f, func(c *Config) { c.RequiredACR = []string{"urn:gold"} })
	b.m = plain
	b.login("/") // a session from a login without acr, through another middleware with the same secret
	old := b.cookie("_descopeoidc")
	b.m = m
	rec := b.get("/admin?x=1")
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || loc.Query().Get("acr_values") != "urn:gold" || loc.Query().Get("prompt") != "" {
		t.Fatalf("session without acr: status %d Location %q, want 302 with acr_values=urn:gold", rec.Code, loc)
	}
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"acr": "urn:gold"} })
	cb := b.get(b.authorize(loc.String()))
	if cb.Code != http.StatusFound || cb.Header().Get("Location") != "/admin?x=1" {
		t.Fatalf("callback: status %d Location %q, want 302 back to /admin?x=1", cb.Code, cb.Header().Get("Location"))
	}
	if rec := b.get("/admin?x=1"); rec.Code != http.StatusOK || up.count() != 1 {
		t.Fatalf("after step-up: status %d upstream %d", rec.Code, up.count())
	}
	// Upgraded, not duplicated: the cookie from before the step-up is over (refused and cleared, not stepped up).
	r := b.request(http.MethodGet, "/admin")
	r.Header.Set("Cookie", "_descopeoidc="+old.Value)
	rec = serve(m, r)
	if c := setCookies(rec)["_descopeoidc"]; rec.Code != http.StatusFound || c == nil || c.MaxAge >= 0 {
		t.Errorf("pre-step-up cookie after the upgrade: status %d Set-Cookie %v, want 302 clearing the session", rec.Code, c)
	}
}

func TestStepUpStillUnmetIs403NotLoop(t *testing.T) {
	f := newFakeIdP(t)
	_, up, b := stepUpMW(t, f, func(c *Config) { c.RequiredAMR = []string{"mfa"} })
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"amr": []string{"pwd"}} })
	rec := b.get("/vault")
	if rec.Code != http.StatusFound {
		t.Fatalf("no session: status %d, want 302", rec.Code)
	}
	cb := b.get(b.authorize(rec.Header().Get("Location")))
	if cb.Code != http.StatusForbidden || cb.Header().Get("Location") != "" || !strings.Contains(cb.Body.String(), "stronger") {
		t.Fatalf("provider's answer without mfa: status %d Location %q, want the 403 page", cb.Code, cb.Header().Get("Location"))
	}
	if b.cookie("_descopeoidc") == nil || up.count() != 0 {
		t.Errorf("session %v upstream %d: want a session (signed in) and no upstream call", b.cookie("_descopeoidc") != nil, up.count())
	}
	api := b.request(http.MethodGet, "/vault")
	api.Header.Set("Accept", "application/json")
	api.Header.Del("Sec-Fetch-Mode")
	rec = b.do(api)
	want := `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required"`
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != want {
		t.Errorf("API: status %d WWW-Authenticate %q, want 401 %q", rec.Code, rec.Header().Get("WWW-Authenticate"), want)
	}
}

func TestStepUpMaxAuthAge(t *testing.T) {
	f := newFakeIdP(t)
	m, up, b := stepUpMW(t, f, func(c *Config) { c.MaxAuthAge = "5m" })
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"auth_time": f.clock.Now().Unix()} })
	rec := b.get("/pay")
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if loc.Query().Get("max_age") != "300" || loc.Query().Get("prompt") != "" {
		t.Fatalf("first login: authorize %q, want max_age=300 and no prompt", loc)
	}
	b.get(b.authorize(loc.String()))
	if rec := b.get("/pay"); rec.Code != http.StatusOK {
		t.Fatalf("fresh login: status %d", rec.Code)
	}
	f.clock.Advance(4 * time.Minute)
	if rec := b.get("/pay"); rec.Code != http.StatusOK {
		t.Fatalf("4m after login: status %d", rec.Code)
	}
	f.clock.Advance(time.Minute)
	rec = b.get("/pay")
	loc, _ = url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || loc.Query().Get("max_age") != "300" || loc.Query().Get("prompt") != "login" {
		t.Fatalf("5m after login: status %d Location %q, want 302 with max_age=300 prompt=login", rec.Code, loc)
	}
	api := b.request(http.MethodGet, "/pay")
	api.Header.Set("Sec-Fetch-Mode", "cors")
	rec = b.do(api)
	want := `Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="300"`
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != want {
		t.Errorf("API: status %d WWW-Authenticate %q, want %q", rec.Code, rec.Header().Get("WWW-Authenticate"), want)
	}
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"auth_time": f.clock.Now().Unix()} })
	cb := b.get(b.authorize(loc.String()))
	if cb.Code != http.StatusFound || cb.Header().Get("Location") != "/pay" {
		t.Fatalf("re-authentication: callback %d to %q", cb.Code, cb.Header().Get("Location"))
	}
	if rec := b.get("/pay"); rec.Code != http.StatusOK || up.count() != 3 {
		t.Errorf("after re-authentication: status %d upstream %d, want 200 and 3 upstream calls", rec.Code, up.count())
	}
	_ = m
}

func TestStepUpAuthTimeRequiredWithMaxAge(t *testing.T) {
	f := newFakeIdP(t)
	_, up, b := stepUpMW(t, f, func(c *Config) { c.MaxAuthAge = "10m" })
	rec := b.get("/pay")
	cb := b.get(b.authorize(rec.Header().Get("Location")))
	if cb.Code != http.StatusUnauthorized || b.cookie("_descopeoidc") != nil || up.count() != 0 {
		t.Fatalf("ID token without auth_time after max_age: status %d session %v, want 401 and no session",
			cb.Code, b.cookie("_descopeoidc") != nil)
	}
}

func TestStepUpBearer(t *testing.T) {
	f := newFakeIdP(t)
	m, up, _ := stepUpMW(t, f, func(c *Config) {
		c.AllowBearerTokens, c.RequireStepUp, c.MaxAuthAge = true, true, "2m"
	})
	now := f.clock.Now().Unix()
	mk := func(extra map[string]any) string {
		c := f.idClaims("")
		c["exp"] = now + 3600
		for k, v := range extra {
			c[k] = v
		}
		return f.mint(c)
	}
	if rec := serve(m, bearerRequest(mk(map[string]any{"auth_time": now}))); rec.Code != http.StatusUnauthorized ||
		!strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="insufficient_user_authentication"`) {
		t.Fatalf("token without su: status %d WWW-Authenticate %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	good := mk(map[string]any{"auth_time": now, "su": true})
	if rec := serve(m, bearerRequest(good)); rec.Code != http.StatusOK || up.count() != 1 {
		t.Fatalf("stepped-up token: status %d", rec.Code)
	}
	f.clock.Advance(2 * time.Minute)
	rec := serve(m, bearerRequest(good))
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `max_age="120"`) {
		t.Fatalf("token past maxAuthAge: status %d WWW-Authenticate %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

func TestKeepAuthClaimsOverRefresh(t *testing.T) {
	before := map[string]any{"sub": "u", "acr": "gold", "amr": []any{"mfa"}, "auth_time": float64(5)}
	refreshed := map[string]any{"sub": "u", "amr": []any{"pwd"}}
	keepAuthClaims(refreshed, before)
	if refreshed["acr"] != "gold" || refreshed["auth_time"] != float64(5) {
		t.Errorf("acr %v auth_time %v: want the login's kept", refreshed["acr"], refreshed["auth_time"])
	}
	if amr, _ := refreshed["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
		t.Errorf("amr %v: the refreshed token's own value must win", refreshed["amr"])
	}
}

// TestStepUpCallbackAtAnotherMiddleware: the login starts at the step-up middleware, but the callback path belongs
// to the host's plain middleware (a shared callbackPath): the rule travels in the login state, the session gets the
// claims it needs, and the step-up route then accepts it; still unmet, the plain middleware shows the 403 page.
func TestStepUpCallbackAtAnotherMiddleware(t *testing.T) {
	f := newFakeIdP(t)
	plain, _ := newMW(t, f, f.config())
	m, up, b := stepUpMW(t, f, func(c *Config) { c.RequiredACR = []string{"urn:gold"} })
	rec := b.get("/admin")
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"acr": "urn:silver"} })
	b.m = plain
	if cb := b.get(b.authorize(rec.Header().Get("Location"))); cb.Code != http.StatusForbidden {
		t.Fatalf("unmet step-up, callback at the plain middleware: status %d, want the 403 page", cb.Code)
	}
	b.m = m
	rec = b.get("/admin")
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"acr": "urn:gold"} })
	b.m = plain
	if cb := b.get(b.authorize(rec.Header().Get("Location"))); cb.Code != http.StatusFound || cb.Header().Get("Location") != "/admin" {
		t.Fatalf("met step-up, callback at the plain middleware: status %d Location %q", cb.Code, cb.Header().Get("Location"))
	}
	b.m = m
	if rec := b.get("/admin"); rec.Code != http.StatusOK || up.count() != 1 {
		t.Fatalf("step-up route after the callback elsewhere: status %d upstream %d, want 200", rec.Code, up.count())
	}
}
