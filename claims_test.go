package descopeoidc

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestClaimSourcesConfig(t *testing.T) {
	cases := []struct {
		name     string
		mutate   func(c *Config)
		wantErr  string
		wantFrom []string
		wantMode int
	}{
		{"defaults", func(c *Config) {}, "", []string{"idToken", "accessToken", "userinfo"}, userinfoAuto},
		{"list in one item", func(c *Config) { c.ClaimsFrom = []string{"userinfo, IDTOKEN"} }, "", []string{"userinfo", "idToken"}, userinfoAuto},
		{"always", func(c *Config) { c.Userinfo = "Always" }, "", []string{"idToken", "accessToken", "userinfo"}, userinfoAlways},
		{"never with the default list", func(c *Config) { c.Userinfo = "never" }, "", []string{"idToken", "accessToken", "userinfo"}, userinfoNever},
		{"unknown mode", func(c *Config) { c.Userinfo = "sometimes" }, `userinfo: "sometimes" is not one of auto, always, never`, nil, 0},
		{"unknown source", func(c *Config) { c.ClaimsFrom = []string{"idToken", "cookie"} }, `claimsFrom: "cookie" is not one of`, nil, 0},
		{"twice", func(c *Config) { c.ClaimsFrom = []string{"idToken", "idtoken"} }, "claimsFrom: idToken is listed twice", nil, 0},
		{"never but listed", func(c *Config) { c.Userinfo = "never"; c.ClaimsFrom = []string{"userinfo"} }, "claimsFrom: lists userinfo while userinfo is never", nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := baseConfig()
			tc.mutate(c)
			s, err := newSettings(c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(s.sources.order, ",") != strings.Join(tc.wantFrom, ",") || s.sources.userinfo != tc.wantMode {
				t.Errorf("claimsFrom %v mode %d, want %v mode %d", s.sources.order, s.sources.userinfo, tc.wantFrom, tc.wantMode)
			}
		})
	}
}

func TestNeededClaimsPairEmail(t *testing.T) {
	m := sessionMW(t, func(c *Config) {
		c.ForwardHeaders = map[string]string{"X-Email": "email", "X-Org": "org.id"}
		c.RequiredRoles = []string{"admin"}
	})
	got := strings.Join(m.s.sources.needed, ",")
	if got != "email,email_verified,org,permissions,roles" || !m.s.sources.pairEmail {
		t.Errorf("needed claims %q (pairEmail %v), want email,email_verified,org,permissions,roles and pairing", got, m.s.sources.pairEmail)
	}
}

// userinfoIdP is a fake provider with a userinfo endpoint answering with claims (sub added), counting its hits and
// recording the Authorization header it got.
type userinfoIdP struct {
	*fakeIdP
	hits   atomic.Int64
	auth   atomic.Value
	status atomic.Int64 // non-zero: answer this status
}

func newUserinfoIdP(t *testing.T, claims map[string]any) *userinfoIdP {
	u := &userinfoIdP{fakeIdP: newFakeIdP(t)}
	u.set(func(f *fakeIdP) {
		f.userinfo = func(w http.ResponseWriter, r *http.Request) {
			u.hits.Add(1)
			u.auth.Store(r.Header.Get("Authorization"))
			if s := u.status.Load(); s != 0 {
				writeJSON(w, int(s), map[string]string{"error": "server_error"})
				return
			}
			c := map[string]any{"sub": testSub}
			for k, v := range claims {
				c[k] = v
			}
			writeJSON(w, http.StatusOK, c)
		}
	})
	return u
}

func TestUserinfoFillsMissingClaims(t *testing.T) {
	f := newUserinfoIdP(t, map[string]any{"email": "ui@example.com", "email_verified": true, "name": "Ui User"})
	cfg := f.config()
	cfg.ForwardHeaders = map[string]string{"X-User": "sub", "X-Email": "email", "X-Name": "name"}
	m, up := newMW(t, f.fakeIdP, cfg)
	b := newBrowser(t, m)
	b.login("/")
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	h := up.last()
	if h.Get("X-Email") != "ui@example.com" || h.Get("X-Name") != "Ui User" || h.Get("X-User") != testSub {
		t.Errorf("upstream headers %v, want email and name from userinfo", h)
	}
	if f.hits.Load() != 1 || !strings.HasPrefix(f.auth.Load().(string), "Bearer at-") {
		t.Errorf("userinfo hits %d, Authorization %q; want 1 with the access token", f.hits.Load(), f.auth.Load())
	}
	if d := b.session(); d.Claims["email"] != "ui@example.com" || d.Claims["email_verified"] != true || len(d.Claims) != 4 {
		t.Errorf("session claims %v, want exactly sub, email, email_verified, name", d.Claims)
	}
}

func TestUserinfoModes(t *testing.T) {
	cases := []struct {
		name, mode string
		from       []string
		wantHits   int64
		wantEmail  string
	}{
		{"auto, ID token has everything", "auto", nil, 0, "id@example.com"},
		{"always, ID token wins", "always", nil, 1, "id@example.com"},
		{"always, userinfo first", "always", []string{"userinfo", "idToken"}, 1, "ui@example.com"},
		{"auto, userinfo first", "auto", []string{"userinfo", "idToken"}, 1, "ui@example.com"},
		{"never", "never", nil, 0, "id@example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newUserinfoIdP(t, map[string]any{"email": "ui@example.com", "email_verified": true})
			f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"email": "id@example.com", "email_verified": true} })
			cfg := f.config()
			cfg.Userinfo, cfg.ClaimsFrom = tc.mode, tc.from
			cfg.ForwardHeaders = map[string]string{"X-Email": "email"}
			m, up := newMW(t, f.fakeIdP, cfg)
			b := newBrowser(t, m)
			b.login("/")
			b.get("/")
			if got := up.last().Get("X-Email"); got != tc.wantEmail || f.hits.Load() != tc.wantHits {
				t.Errorf("X-Email %q after %d userinfo requests, want %q after %d", got, f.hits.Load(), tc.wantEmail, tc.wantHits)
			}
		})
	}
}

func TestUserinfoNeverLeavesClaimsMissing(t *testing.T) {
	f := newUserinfoIdP(t, map[string]any{"email": "ui@example.com"})
	cfg := f.config()
	cfg.Userinfo = "never"
	cfg.ForwardHeaders = map[string]string{"X-Email": "email"}
	m, up := newMW(t, f.fakeIdP, cfg)
	b := newBrowser(t, m)
	b.login("/")
	b.get("/")
	if _, ok := up.last()["X-Email"]; ok || f.hits.Load() != 0 {
		t.Errorf("userinfo never: X-Email %q, %d userinfo requests; want none", up.last().Get("X-Email"), f.hits.Load())
	}
}

// loginFails runs a login through the callback and checks it makes no session.
func loginFails(t *testing.T, m *Middleware, wantStatus int) string {
	t.Helper()
	b := newBrowser(t, m)
	var rec int
	out := captureOutput(t, func() {
		cb := startLogin(t, b, "/")
		rec = b.get(cb).Code
	})
	if rec != wantStatus || b.cookie(m.s.cookieName) != nil {
		t.Errorf("callback: status %d, session %v; want %d and no session", rec, b.cookie(m.s.cookieName) != nil, wantStatus)
	}
	return out
}

func TestUserinfoFailuresFailTheLogin(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(f *userinfoIdP)
		status  int
		wantLog string
	}{
		{"other subject", func(f *userinfoIdP) {
			f.set(func(g *fakeIdP) {
				g.userinfo = func(w http.ResponseWriter, r *http.Request) {
					writeJSON(w, 200, map[string]any{"sub": "U2someoneelse", "email": "victim@example.com"})
				}
			})
		}, http.StatusUnauthorized, "another subject than the ID token"},
		{"no sub", func(f *userinfoIdP) {
			f.set(func(g *fakeIdP) {
				g.userinfo = func(w http.ResponseWriter, r *http.Request) {
					writeJSON(w, 200, map[string]any{"email": "x@example.com"})
				}
			})
		}, http.StatusUnauthorized, "answer has no sub"},
		{"refused", func(f *userinfoIdP) { f.status.Store(401) }, http.StatusUnauthorized, "userinfo endpoint: status 401"},
		{"outage", func(f *userinfoIdP) { f.status.Store(503) }, http.StatusServiceUnavailable, "identity provider unavailable: userinfo endpoint: status 503"},
		{"signed", func(f *userinfoIdP) {
			f.set(func(g *fakeIdP) {
				g.userinfo = func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/jwt")
					_, _ = w.Write([]byte("eyJ.eyJ.sig"))
				}
			})
		}, http.StatusUnauthorized, "application/jwt"},
		{"not JSON", func(f *userinfoIdP) {
			f.set(func(g *fakeIdP) {
				g.userinfo = func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("[1,2]")) }
			})
		}, http.StatusUnauthorized, "not a JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newUserinfoIdP(t, map[string]any{"email": "ui@example.com"})
			tc.setup(f)
			cfg := f.config()
			cfg.LogLevel = "warn"
			cfg.ForwardHeaders = map[string]string{"X-Email": "email"}
			m, _ := newMW(t, f.fakeIdP, cfg)
			out := loginFails(t, m, tc.status)
			if !strings.Contains(out, tc.wantLog) || strings.Count(out, "\n") != 1 {
				t.Errorf("log %q, want one line containing %q", out, tc.wantLog)
			}
		})
	}
}

func TestUserinfoUnreachableIs503(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) {
		f.mutateDisc = func(d map[string]any) { d["userinfo_endpoint"] = "http://127.0.0.1:1/userinfo" }
	})
	cfg := f.config()
	cfg.ForwardHeaders = map[string]string{"X-Email": "email"}
	m, _ := newMW(t, f, cfg)
	loginFails(t, m, http.StatusServiceUnavailable)
}

func TestUserinfoAlwaysWithoutEndpointFails(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.Userinfo = "always"
	cfg.LogLevel = "warn"
	m, _ := newMW(t, f, cfg)
	if out := loginFails(t, m, http.StatusUnauthorized); !strings.Contains(out, "publishes no userinfo_endpoint") {
		t.Errorf("log %q", out)
	}
	// auto without an endpoint: the claim stays missing, the login works
	cfg = f.config()
	cfg.ForwardHeaders = map[string]string{"X-Email": "email"}
	m, _ = newMW(t, f, cfg)
	newBrowser(t, m).login("/")
}

func TestAccessTokenClaims(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) {
		f.atClaims = map[string]any{"roles": []string{"admin"}, "tenants": map[string]any{"T1": map[string]any{"roles": []string{"owner"}}}}
	})
	cfg := f.config()
	cfg.RequiredRoles = []string{"admin"}
	cfg.ForwardHeaders = map[string]string{"X-Roles": "roles", "X-T1": "tenants.T1.roles", "X-Iss": "iss"}
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	b.login("/")
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Fatalf("roles from the access token: status %d, want 200", rec.Code)
	}
	if h := up.last(); h.Get("X-Roles") != "admin" || h.Get("X-T1") != "owner" || h.Get("X-Iss") != f.issuer {
		t.Errorf("upstream %v", h)
	}
	// claimsFrom without accessToken: the ID token has no roles
	cfg = f.config()
	cfg.RequiredRoles = []string{"admin"}
	cfg.ClaimsFrom = []string{"idToken", "userinfo"}
	m2, _ := newMW(t, f, cfg)
	b2 := newBrowser(t, m2)
	b2.login("/")
	if rec := b2.get("/"); rec.Code != http.StatusForbidden {
		t.Errorf("accessToken not listed: status %d, want 403", rec.Code)
	}
}

func TestAccessTokenThatDoesNotVerifyIsNoSource(t *testing.T) {
	cases := map[string]map[string]any{
		"other issuer": {"iss": "https://elsewhere.example", "roles": []string{"admin"}},
		"expired":      {"exp": float64(1), "roles": []string{"admin"}},
	}
	for name, at := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeIdP(t)
			f.set(func(f *fakeIdP) { f.atClaims = at })
			cfg := f.config()
			cfg.RequiredRoles = []string{"admin"}
			cfg.LogLevel = "info"
			m, _ := newMW(t, f, cfg)
			b := newBrowser(t, m)
			out := captureOutput(t, func() { b.login("/") })
			if rec := b.get("/"); rec.Code != http.StatusForbidden {
				t.Errorf("status %d, want 403 (the access token's roles are not trusted)", rec.Code)
			}
			mustContain(t, "log", out, "access token not used as a claims source")
		})
	}
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.atClaims = map[string]any{"sub": "U2other", "roles": []string{"admin"}} })
	cfg := f.config()
	cfg.RequiredRoles = []string{"admin"}
	cfg.LogLevel = "warn"
	m, _ := newMW(t, f, cfg)
	mustContain(t, "log", loginFails(t, m, http.StatusUnauthorized), "access token is about another subject")
}

func TestClaimsReReadAfterRefresh(t *testing.T) {
	for _, withIDToken := range []bool{true, false} {
		f := newFakeIdP(t)
		f.set(func(f *fakeIdP) {
			f.rotateRefresh = true
			f.extraClaims = map[string]any{"roles": []string{"editor"}} // stale after the change when not re-issued
			f.atClaims = map[string]any{"roles": []string{"editor"}}
		})
		cfg := f.config()
		cfg.RequiredRoles = []string{"editor"}
		cfg.ForwardHeaders = map[string]string{"X-Roles": "roles"}
		m, up := newMW(t, f, cfg)
		b := newBrowser(t, m)
		b.login("/")
		if rec := b.get("/"); rec.Code != http.StatusOK || up.last().Get("X-Roles") != "editor" {
			t.Fatalf("before: status %d X-Roles %q", rec.Code, up.last().Get("X-Roles"))
		}
		f.set(func(f *fakeIdP) {
			f.atClaims = map[string]any{"roles": []string{"viewer"}}
			f.extraClaims = map[string]any{"roles": []string{"viewer"}}
			f.noIDToken = !withIDToken // then the login's ID token, with roles [editor], ranks last
		})
		f.clock.Advance(250 * time.Second) // inside the refresh margin: the refresh runs in the background
		b.get("/")
		settleRefreshes(t, m)
		if rec := b.get("/"); rec.Code != http.StatusForbidden { // the next request is the refreshed session
			t.Errorf("ID token in the refresh %v: status %d after the roles changed, want 403", withIDToken, rec.Code)
		}
		if got := b.session().Claims["roles"]; len(got.([]any)) != 1 || got.([]any)[0] != "viewer" {
			t.Errorf("ID token in the refresh %v: session roles %v, want [viewer]", withIDToken, got)
		}
	}
}

// Every claim a derive step keeps for headers, rules or step-up is one collectClaims looks for: deriveClaimSources
// must run after all of them.
func TestNeededCoversEveryKeptClaim(t *testing.T) {
	m := sessionMW(t, func(c *Config) {
		c.ForwardHeaders = map[string]string{"X-Email": "email", "X-Org": "org.id"}
		c.RequiredRoles = []string{"admin"}
		c.Tenant = "dct"
		c.ClaimRules = []ClaimRule{{Claim: "groups", Contains: []string{"g"}}}
		c.RequiredACR = []string{"urn:mfa"}
		c.RequiredAMR = []string{"otp"}
		c.MaxAuthAge = "5m"
		c.RequireStepUp = true
	})
	for name := range m.s.keepClaims {
		if name != "sub" && !contains(m.s.sources.needed, name) {
			t.Errorf("claim %q is kept but not collected (needed %v)", name, m.s.sources.needed)
		}
	}
	if len(m.s.sources.needed) < 10 {
		t.Errorf("needed %v: fewer claims than configured", m.s.sources.needed)
	}
}

// An access token signed with a key the provider does not publish grants nothing: its roles are not read.
func TestForgedAccessTokenIsNoSource(t *testing.T) {
	f := newFakeIdP(t)
	foreign := newTestKey(t, "RS256", "k1", 1) // same kid, another key
	f.set(func(f *fakeIdP) {
		f.tokenHook = func(w http.ResponseWriter, r *http.Request, form url.Values) bool {
			f.mu.Lock()
			defer f.mu.Unlock()
			c, ok := f.codes[form.Get("code")]
			if !ok {
				return false
			}
			delete(f.codes, form.Get("code"))
			at := f.idClaimsLocked("")
			at["roles"] = []string{"admin"}
			writeJSON(w, http.StatusOK, map[string]any{
				"access_token": signJWT(f.t, foreign, nil, at), "token_type": "Bearer", "expires_in": 300,
				"id_token": signJWT(f.t, f.signer, nil, f.idClaimsLocked(c.nonce)),
			})
			return true
		}
	})
	cfg := f.config()
	cfg.RequiredRoles = []string{"admin"}
	cfg.LogLevel = "info"
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	out := captureOutput(t, func() { b.login("/") })
	if rec := b.get("/"); rec.Code != http.StatusForbidden || up.count() != 0 {
		t.Errorf("status %d, upstream %d; want 403: a forged access token's roles are not used", rec.Code, up.count())
	}
	mustContain(t, "log", out, "access token not used as a claims source")
}
