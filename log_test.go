package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestLogsNeverContainSecrets(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) { logsNeverContainSecrets(t, format) })
	}
}

func logsNeverContainSecrets(t *testing.T, format string) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.rotateRefresh = true })
	cfg := f.config()
	cfg.LogLevel, cfg.LogFormat = "debug", format
	cfg.AllowBearerTokens = true
	m, _ := newMW(t, f, cfg)
	b := newBrowser(t, m)
	var secrets []string
	out := captureOutput(t, func() {
		b.login("/")
		d := b.session()
		secrets = append(secrets, d.IDToken, d.AccessToken, d.RefreshToken, b.cookie(m.s.cookieName).Value)
		// a failing refresh, a rejected bearer token, a replayed code and a broken cookie
		f.set(func(f *fakeIdP) { f.refreshError = "invalid_grant" })
		f.clock.Advance(250 * time.Second)
		b.get("/")
		settleRefreshes(t, m) // it runs in the background: its log lines belong to this capture
		expired := f.idClaims("")
		expired["exp"] = f.clock.Now().Unix() - 3600
		bad := f.mint(expired)
		secrets = append(secrets, bad)
		serve(m, bearerRequest(bad))
		b2 := newBrowser(t, m)
		cb := startLogin(t, b2, "/")
		u, _ := url.Parse(cb)
		secrets = append(secrets, u.Query().Get("code"))
		f.set(func(f *fakeIdP) {
			f.tokenHook = func(w http.ResponseWriter, r *http.Request, _ url.Values) bool {
				writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
				return true
			}
		})
		b2.get(cb)
		r := httptest.NewRequest(http.MethodGet, appOrigin+"/", nil)
		r.AddCookie(&http.Cookie{Name: m.s.cookieName, Value: "broken-cookie-value"})
		serve(m, r)
		secrets = append(secrets, "broken-cookie-value", testClientSecret, testSessionKey)
	})
	mark := map[string]string{"text": "descopeoidc[test] level=", "json": `"middleware":"test"`}[format]
	if !strings.Contains(out, mark) {
		t.Fatalf("nothing logged at debug level: %q", out)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("log output contains a secret (%.12s…)", s)
		}
	}
}

func TestLogLevelFilters(t *testing.T) {
	f := newFakeIdP(t)
	for _, tc := range []struct {
		level string
		want  bool
	}{{"error", false}, {"warn", true}} {
		cfg := f.config()
		cfg.LogLevel = tc.level
		m, _ := newMW(t, f, cfg)
		out := captureOutput(t, func() {
			newBrowser(t, m).get("/oauth2/callback?error=access_denied") // logged at warn
		})
		if got := strings.Contains(out, "level=warn"); got != tc.want {
			t.Errorf("logLevel %s: warning logged = %v (%q)", tc.level, got, out)
		}
	}
}
