package scenarios

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// Descope as it really is (issue 19): each case starts devidp in the Descope mode that reproduces one behaviour and
// configures the plugin with projectID (issuer set too: devidp's issuer stands for a custom domain). Every case
// failed before the plugin's fix for it.

// descopeConfig is the plugin configuration for a Descope project served by idp, with extra on top.
func descopeConfig(idp *devidp.Server, extra map[string]any) map[string]any {
	cfg := merge(baseConfig(idp), map[string]any{"projectID": idp.ProjectID(), "requireAZP": "false"})
	return merge(cfg, extra)
}

// sessionToken logs in through a plugin that forwards the access token and returns it (Descope's session token).
func sessionToken(t *testing.T, tg harness.Target, idp *devidp.Server) string {
	t.Helper()
	e := newEnv(t, tg, idp, descopeConfig(idp, map[string]any{"forwardAccessToken": "true"}))
	er := e.browser().mustLogin("/token")
	tok, ok := strings.CutPrefix(er.Headers["Authorization"], "Bearer ")
	if !ok {
		t.Fatalf("no access token forwarded upstream: %q", er.Headers["Authorization"])
	}
	return tok
}

func bearerStatus(t *testing.T, e *env, token string) int {
	t.Helper()
	b := e.browser()
	r := b.Do(http.MethodGet, "/api", map[string]string{"Authorization": "Bearer " + token, "Accept": "application/json"})
	return r.Status
}

// Item 2: session tokens whose iss is the bare project ID or <host>/v1/apps/<ProjectID>: bearer, DS cookie and
// claims source (roles only on the access token) all accept them.
func TestDescopeIssuerForms(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		for _, form := range []string{"bare", "apps"} {
			idp := startIDP(t, devidp.Options{AuthzInAccessTokenOnly: true, Descope: devidp.Descope{SessionIssuer: form}})
			e := newEnv(t, tg, idp, descopeConfig(idp, map[string]any{
				"allowBearerTokens": "true", "descopeSessionCookie": "DS", "requiredRoles": "editor",
			}))
			if er := e.browser().mustLogin("/app"); er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
				t.Errorf("%s: login with roles on the access token only: user %q", form, er.Headers["X-Forwarded-User"])
			}
			if st := bearerStatus(t, e, sessionToken(t, tg, idp)); st != http.StatusOK {
				t.Errorf("%s: bearer session token: status %d, want 200", form, st)
			}
			ds, err := idp.SessionJWT(devidp.DemoSubject, 5*time.Minute, true)
			if err != nil {
				t.Fatal(err)
			}
			b := e.browser()
			b.SetCookie("DS", ds)
			if r := b.Get("/app"); r.Status != http.StatusOK {
				t.Errorf("%s: DS cookie: status %d, want 200", form, r.Status)
			}
		}
	})
}

// Item 3: session tokens without aud are refused unless allowMissingAudience is set.
func TestDescopeMissingAudience(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{Descope: devidp.Descope{SessionIssuer: "bare", NoSessionAudience: true}})
		tok := sessionToken(t, tg, idp)
		strict := newEnv(t, tg, idp, descopeConfig(idp, map[string]any{"allowBearerTokens": "true"}))
		if st := bearerStatus(t, strict, tok); st != http.StatusUnauthorized {
			t.Errorf("no aud, no opt-in: status %d, want 401", st)
		}
		optIn := newEnv(t, tg, idp, descopeConfig(idp, map[string]any{"allowBearerTokens": "true", "allowMissingAudience": "true"}))
		if st := bearerStatus(t, optIn, tok); st != http.StatusOK {
			t.Errorf("no aud, allowMissingAudience: status %d, want 200", st)
		}
	})
}

// Item 4: the tenantOnly JWT schema with tenant: dct reads the root roles.
func TestDescopeTenantOnly(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{Descope: devidp.Descope{TenantOnly: true}})
		e := newEnv(t, tg, idp, descopeConfig(idp, map[string]any{"tenant": "dct", "requiredRoles": "admin"}))
		b := e.browser()
		if cb := b.login("/t"); cb.Status != http.StatusFound || b.Echo("/t", nil).Path != "/t" {
			t.Errorf("tenantOnly, tenant dct, role admin at the root: callback %d", cb.Status)
		}
	})
}

// Item 5: amr on the session token only, no auth_time in the ID token, acr_values and max_age ignored:
// requiredAMR and maxAuthAge still let the user in.
func TestDescopeStepUp(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{Descope: devidp.Descope{AuthOnSessionToken: true, IgnoreStepUpParams: true}})
		for _, rule := range []map[string]any{{"requiredAMR": "pwd"}, {"maxAuthAge": "5m"}} {
			e := newEnv(t, tg, idp, descopeConfig(idp, rule))
			b := e.browser()
			if cb := b.login("/pay"); cb.Status != http.StatusFound || cb.Location() != "/pay" {
				t.Errorf("%v: callback %d to %q (body %.80q), want 302 back to /pay", rule, cb.Status, cb.Location(), cb.Body)
				continue
			}
			if r := b.Get("/pay"); r.Status != http.StatusOK {
				t.Errorf("%v: after login: status %d", rule, r.Status)
			}
		}
	})
}

// Item 7: an OIDC app with its own client ID: ID tokens with aud [projectID, clientID] and no azp.
func TestDescopeAppTwoAudiences(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{ClientID: "oidc-app", Descope: devidp.Descope{AppsIssuer: true}})
		e := newEnv(t, tg, idp, descopeConfig(idp, map[string]any{"clientID": "oidc-app"}))
		if er := e.browser().mustLogin("/app"); er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
			t.Errorf("two audiences: user %q", er.Headers["X-Forwarded-User"])
		}
	})
}

// Item 6: the JWT template's azp reaches the ID token only with descope.custom_claims; with projectID and no
// scopes the plugin asks for it, so the quick start (azp template, requireAZP on) signs in.
func TestDescopeDefaultScopes(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true, Descope: devidp.Descope{TemplateClaimsNeedScope: true}})
		cfg := descopeConfig(idp, map[string]any{"requireAZP": "true"})
		delete(cfg, "scopes")
		e := newEnv(t, tg, idp, cfg)
		if er := e.browser().mustLogin("/app"); er.Headers["X-Forwarded-User"] != devidp.DemoSubject {
			t.Errorf("default scopes: user %q", er.Headers["X-Forwarded-User"])
		}
		cfg["scopes"] = "openid,profile,email"
		narrow := newEnv(t, tg, idp, cfg)
		if cb := narrow.browser().login("/app"); cb.Status != http.StatusUnauthorized {
			t.Errorf("scopes without descope.custom_claims: callback %d, want 401 (azp missing)", cb.Status)
		}
	})
}
