package descopeoidc

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Issue 18 item 8: a step-up that the authorization request has no standard parameter for (amr, su) or whose
// authentication age is unknown sends the browser with prompt=login, unless the middleware's own authParams set
// prompt; acr (acr_values) sends none; an authentication older than maxAuthAge always sends prompt=login.
func TestStepUpPromptsForNewLogin(t *testing.T) {
	cases := []struct {
		name   string
		rule   func(c *Config)
		claims map[string]any // of the session the browser has (from a login through a plain middleware)
		want   string         // the prompt sent
	}{
		{"requiredAMR unmet", func(c *Config) { c.RequiredAMR = []string{"mfa"} }, map[string]any{"amr": []string{"pwd"}}, "login"},
		{"requireStepUp unmet", func(c *Config) { c.RequireStepUp = true }, map[string]any{"amr": []string{"pwd"}}, "login"},
		{"maxAuthAge, auth_time unknown", func(c *Config) { c.MaxAuthAge = "5m" }, nil, "login"},
		{"requiredACR unmet: acr_values asks", func(c *Config) { c.RequiredACR = []string{"urn:gold"} }, nil, ""},
		{"acr and amr unmet", func(c *Config) { c.RequiredACR, c.RequiredAMR = []string{"urn:gold"}, []string{"mfa"} }, nil, "login"},
		{"requiredAMR unmet, authParams prompt", func(c *Config) {
			c.RequiredAMR, c.AuthParams = []string{"mfa"}, map[string]string{"prompt": "consent"}
		}, nil, "consent"},
		{"auth_time unknown, authParams prompt", func(c *Config) {
			c.MaxAuthAge, c.AuthParams = "5m", map[string]string{"prompt": "select_account"}
		}, nil, "select_account"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIdP(t)
			plain, _ := newMW(t, f, f.config())
			m, up, b := stepUpMW(t, f, tc.rule)
			f.set(func(f *fakeIdP) { f.extraClaims = tc.claims })
			b.m = plain
			b.login("/")
			b.m = m
			rec := b.get("/vault")
			loc, _ := url.Parse(rec.Header().Get("Location"))
			if rec.Code != http.StatusFound || up.count() != 0 {
				t.Fatalf("session short of the rule: status %d upstream %d, want 302 to the provider", rec.Code, up.count())
			}
			if got := loc.Query()["prompt"]; len(got) > 1 || loc.Query().Get("prompt") != tc.want {
				t.Errorf("authorize prompt %q, want %q (Location %s)", got, tc.want, loc)
			}
		})
	}
}

// An authentication older than maxAuthAge is sent with prompt=login even when authParams set prompt (max_age is
// standard, and prompt=login is what makes providers that ignore it re-authenticate).
func TestStepUpTooOldOverridesAuthParamsPrompt(t *testing.T) {
	f := newFakeIdP(t)
	_, _, b := stepUpMW(t, f, func(c *Config) { c.MaxAuthAge, c.AuthParams = "5m", map[string]string{"prompt": "consent"} })
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"auth_time": f.clock.Now().Unix()} })
	b.login("/")
	f.clock.Advance(6 * 60e9)
	rec := b.get("/pay")
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || loc.Query().Get("prompt") != "login" {
		t.Errorf("too old: status %d prompt %q, want 302 with prompt=login", rec.Code, loc.Query().Get("prompt"))
	}
}

// The rule's own view: unmet marks exactly the shortfalls only a new authentication can mend.
func TestStepUpUnmetMarks(t *testing.T) {
	r := &stepUpRule{acr: []string{"gold"}, amr: []string{"mfa"}, maxAge: 300, su: true}
	ok := map[string]any{"acr": "gold", "amr": []any{"mfa"}, "su": true, "auth_time": float64(1000)}
	for _, tc := range []struct {
		change map[string]any
		mark   string
	}{
		{map[string]any{"acr": "silver"}, ""},
		{map[string]any{"amr": []any{"pwd"}}, stepUpLoginMark},
		{map[string]any{"su": false}, stepUpLoginMark},
		{map[string]any{"auth_time": "yesterday"}, stepUpLoginMark},
		{map[string]any{"auth_time": float64(999)}, stepUpAgeMark},
		{map[string]any{"acr": "silver", "amr": []any{"pwd"}}, stepUpLoginMark},
	} {
		c := map[string]any{}
		for k, v := range ok {
			c[k] = v
		}
		for k, v := range tc.change {
			c[k] = v
		}
		why := r.unmet(c, 1299)
		hasLogin, hasAge := strings.HasPrefix(why, stepUpLoginMark), strings.HasPrefix(why, stepUpAgeMark)
		if why == "" || hasLogin != (tc.mark == stepUpLoginMark) || hasAge != (tc.mark == stepUpAgeMark) {
			t.Errorf("%v: unmet %q, want mark %q", tc.change, why, tc.mark)
		}
	}
}
