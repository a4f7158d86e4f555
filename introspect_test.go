package descopeoidc

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// introspector is an RFC 7662 endpoint answering from answers (token -> JSON object), counting calls.
type introspector struct {
	mu      sync.Mutex
	answers map[string]map[string]any
	status  int
	calls   int
	auth    []string
}

func newIntrospector(t *testing.T) (*introspector, string) {
	in := &introspector{answers: map[string]map[string]any{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in.mu.Lock()
		defer in.mu.Unlock()
		in.calls++
		in.auth = append(in.auth, r.Header.Get("Authorization"))
		if in.status != 0 {
			w.WriteHeader(in.status)
			return
		}
		_ = r.ParseForm()
		a, ok := in.answers[r.PostForm.Get("token")]
		if !ok || r.PostForm.Get("token_type_hint") != "access_token" {
			a = map[string]any{"active": false}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a)
	}))
	t.Cleanup(srv.Close)
	return in, srv.URL + "/introspect"
}

func (in *introspector) count() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.calls
}

func TestIntrospectionConfig(t *testing.T) {
	cases := []struct {
		name    string
		set     func(c *Config)
		wantErr string
	}{
		{"without bearer tokens", func(c *Config) { c.IntrospectionURL = "https://idp.example/introspect" }, "introspectionURL, introspectionCacheTTL"},
		{"http", func(c *Config) { c.AllowBearerTokens, c.IntrospectionURL = true, "http://idp.example/introspect" }, "introspectionURL"},
		{"ttl too long", func(c *Config) { c.AllowBearerTokens, c.IntrospectionCacheTTL = true, "2h" }, "introspectionCacheTTL"},
		{"ttl garbage", func(c *Config) { c.AllowBearerTokens, c.IntrospectionCacheTTL = true, "long" }, "introspectionCacheTTL"},
		{"fine", func(c *Config) { c.AllowBearerTokens, c.IntrospectionURL = true, "https://idp.example/introspect" }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := settingsWith(t, tc.set, tc.wantErr)
			if s != nil && (!s.introspect.on || s.introspect.ttl != defaultIntrospectionTTL) {
				t.Errorf("settings %+v, want introspection on with the default TTL", s.introspect)
			}
		})
	}
}

func TestIntrospectedTokens(t *testing.T) {
	f := newFakeIdP(t)
	in, endpoint := newIntrospector(t)
	cfg := f.config()
	cfg.AllowBearerTokens, cfg.IntrospectionURL, cfg.IntrospectionCacheTTL = true, endpoint, "2m"
	cfg.ForwardHeaders = map[string]string{"X-Forwarded-User": "sub", "X-Scope": "scope"}
	m, up := newMW(t, f, cfg)
	now := f.clock.Now().Unix()
	good := map[string]any{"active": true, "sub": testSub, "client_id": testClientID, "scope": "openid api", "exp": now + 3600,
		"iss": f.issuer, "token_type": "Bearer"}
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	in.answers["opaque-good"] = good
	in.answers["opaque-other-client"] = with("client_id", "someone-else")
	in.answers["opaque-other-aud"] = with("aud", "https://other.api")
	in.answers["opaque-our-aud"] = with("aud", testClientID)
	in.answers["opaque-refresh"] = with("token_type", "refresh_token")
	in.answers["opaque-no-type"] = with("token_type", nil)
	in.answers["opaque-foreign-iss"] = with("iss", "https://evil.example")
	in.answers["opaque-no-sub"] = with("sub", nil)
	in.answers["opaque-expired"] = with("exp", now-120)

	rec := serve(m, bearerRequest("opaque-good"))
	if rec.Code != http.StatusOK || up.last().Get("X-Forwarded-User") != testSub || up.last().Get("X-Scope") != "openid api" {
		t.Fatalf("active token: status %d user %q scope %q", rec.Code, up.last().Get("X-Forwarded-User"), up.last().Get("X-Scope"))
	}
	if a := in.auth[0]; !strings.HasPrefix(a, "Basic ") {
		t.Errorf("introspection request Authorization %q, want the client's Basic authentication", a)
	}
	serve(m, bearerRequest("opaque-good"))
	if in.count() != 1 {
		t.Errorf("second request: %d introspections, want 1 (cached)", in.count())
	}
	f.clock.Advance(2*time.Minute + time.Second)
	serve(m, bearerRequest("opaque-good"))
	if in.count() != 2 {
		t.Errorf("after introspectionCacheTTL: %d introspections, want 2", in.count())
	}
	if rec := serve(m, bearerRequest("opaque-our-aud")); rec.Code != http.StatusOK {
		t.Errorf("aud = the client: status %d, want 200", rec.Code)
	}
	for _, tok := range []string{"opaque-unknown", "opaque-other-client", "opaque-other-aud", "opaque-refresh",
		"opaque-no-type", "opaque-foreign-iss", "opaque-no-sub", "opaque-expired"} {
		rec := serve(m, bearerRequest(tok))
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s: status %d WWW-Authenticate %q, want 401 invalid_token", tok, rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	}
	calls := in.count()
	serve(m, bearerRequest("opaque-unknown"))
	if in.count() != calls {
		t.Errorf("a refused token again at once: %d more introspections, want 0 (cached briefly)", in.count()-calls)
	}
	f.clock.Advance(inactiveTTL + time.Second)
	serve(m, bearerRequest("opaque-unknown"))
	if in.count() != calls+1 {
		t.Errorf("a refused token after %s: %d more introspections, want 1", inactiveTTL, in.count()-calls)
	}
	in.mu.Lock()
	in.status = http.StatusServiceUnavailable
	in.mu.Unlock()
	if rec := serve(m, bearerRequest("opaque-new")); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("introspection endpoint down: status %d, want 503", rec.Code)
	}
	if up.count() != 4 {
		t.Errorf("upstream %d, want 4 (three good-token requests and the aud one)", up.count())
	}
}
