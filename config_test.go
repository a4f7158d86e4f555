package descopeoidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// baseConfig is a valid configuration that needs no provider.
func baseConfig() *Config {
	c := CreateConfig()
	c.Issuer = "https://idp.example/tenant"
	c.ClientID = "client"
	c.ClientSecret = "secret"
	c.SessionSecret = testSessionKey
	return c
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newSettingsFor(t *testing.T, mutate func(*Config)) (*settings, error) {
	t.Helper()
	c := baseConfig()
	mutate(c)
	return newSettings(c)
}

func TestConfigValidationErrorsNameTheKey(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "does-not-exist")
	notPEM := writeFile(t, "ca.pem", "not a certificate")
	short := strings.Repeat("s", 31)
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"missing sessionSecret", func(c *Config) { c.SessionSecret = "" }, "sessionSecret: required"},
		{"short sessionSecret", func(c *Config) { c.SessionSecret = short }, "sessionSecret: must be at least 32 bytes, got 31"},
		{"short previous secret", func(c *Config) { c.PreviousSessionSecrets = []string{testSessionKey + "x", short} }, "previousSessionSecrets[1]: must be at least 32 bytes"},
		{"sessionSecret and file", func(c *Config) { c.SessionSecretFile = missing }, "sessionSecret and sessionSecretFile: set only one"},
		{"unreadable sessionSecretFile", func(c *Config) { c.SessionSecret, c.SessionSecretFile = "", missing }, "sessionSecretFile: cannot read"},
		{"clientSecret and file", func(c *Config) { c.ClientSecretFile = missing }, "clientSecret and clientSecretFile: set only one"},
		{"unreadable clientSecretFile", func(c *Config) { c.ClientSecret, c.ClientSecretFile = "", missing }, "clientSecretFile: cannot read"},
		{"bad clientAuthMethod", func(c *Config) { c.ClientAuthMethod = "tls_client_auth" }, "clientAuthMethod:"},
		{"private_key_jwt without key", func(c *Config) { c.ClientAuthMethod = "private_key_jwt" }, "privateKeyFile: required"},
		{"unreadable privateKeyFile", func(c *Config) { c.ClientAuthMethod, c.PrivateKeyFile = "private_key_jwt", missing }, "privateKeyFile: cannot read"},
		{"privateKeyFile not PEM", func(c *Config) { c.ClientAuthMethod, c.PrivateKeyFile = "private_key_jwt", notPEM }, "privateKeyFile:"},
		{"unreadable caFile", func(c *Config) { c.CAFile = missing }, "caFile: cannot read"},
		{"caFile without certificate", func(c *Config) { c.CAFile = notPEM }, "caFile:"},
		{"no issuer", func(c *Config) { c.Issuer = "" }, "issuer: required"},
		{"no clientID", func(c *Config) { c.ClientID = "" }, "clientID: required"},
		{"issuer not a URL", func(c *Config) { c.Issuer = "idp.example" }, "issuer:"},
		{"issuer with query", func(c *Config) { c.Issuer = "https://idp.example/?x=1" }, "issuer:"},
		{"issuer with fragment", func(c *Config) { c.Issuer = "https://idp.example/#x" }, "issuer:"},
		{"issuer other scheme", func(c *Config) { c.Issuer = "ftp://idp.example" }, "issuer:"},
		{"http issuer not loopback", func(c *Config) { c.Issuer = "http://idp.example" }, "must use https"},
		{"bad projectID", func(c *Config) { c.ProjectID = "P2/../x" }, "projectID:"},
		{"bad unauthenticated", func(c *Config) { c.Unauthenticated = "deny" }, "unauthenticated:"},
		{"bad leeway", func(c *Config) { c.Leeway = "soon" }, "leeway:"},
		{"negative leeway", func(c *Config) { c.Leeway = "-5" }, "leeway:"},
		{"huge leeway", func(c *Config) { c.Leeway = "11m" }, "leeway:"},
		{"bad sessionMaxAge", func(c *Config) { c.SessionMaxAge = "1 day" }, "sessionMaxAge:"},
		{"short sessionMaxAge", func(c *Config) { c.SessionMaxAge = "30s" }, "sessionMaxAge:"},
		{"short sessionIdleTimeout", func(c *Config) { c.SessionIdleTimeout = "10" }, "sessionIdleTimeout:"},
		{"bad refreshMargin", func(c *Config) { c.RefreshMargin = "-1m" }, "refreshMargin:"},
		{"bad cookieSameSite", func(c *Config) { c.CookieSameSite = "sometimes" }, "cookieSameSite:"},
		{"sameSite none without secure", func(c *Config) { c.CookieSameSite, c.CookieSecure = "None", false }, "cookieSameSite: none requires cookieSecure"},
		{"bad cookieName", func(c *Config) { c.CookieName = "a b" }, "cookieName:"},
		{"bad cookieDomain", func(c *Config) { c.CookieDomain = "example.com/x" }, "cookieDomain:"},
		{"bad cookiePath", func(c *Config) { c.CookiePath = "app" }, "cookiePath:"},
		{"__Host- without cookieSecure", func(c *Config) { c.CookieName, c.CookieSecure = "__Host-sid", false }, "cookieName: \"__Host-sid\" (__Host-) requires cookieSecure"},
		{"__Host- with cookiePath", func(c *Config) { c.CookieName, c.CookiePath = "__host-sid", "/app" }, "cookieName: \"__host-sid\" (__Host-) requires"},
		{"__Host- with cookieDomain", func(c *Config) { c.CookieName, c.CookieDomain = "__Host-sid", "example.com" }, "cookieDomain \"example.com\""},
		{"__Secure- without cookieSecure", func(c *Config) { c.CookieName, c.CookieSecure = "__Secure-sid", false }, "cookieName: \"__Secure-sid\" (__Secure-) requires cookieSecure"},
		{"cookies too long for a browser", func(c *Config) { c.CookiePath = "/" + strings.Repeat("p", 600) }, "cookieName, cookiePath and cookieDomain: together too long"},
		{"login cookie too long for a browser", func(c *Config) { c.CallbackPath = "/" + strings.Repeat("c", 3000) }, "cookieName and callbackPath: together too long"},
		{"keepAuthorizationHeader with forwardAccessToken", func(c *Config) { c.KeepAuthorizationHeader, c.ForwardAccessToken = true, true }, "keepAuthorizationHeader: cannot be combined with forwardAccessToken"},
		{"relative callbackPath", func(c *Config) { c.CallbackPath = "oauth2/callback" }, "callbackPath:"},
		{"protocol-relative logoutPath", func(c *Config) { c.LogoutPath = "//evil/logout" }, "logoutPath:"},
		{"logoutPath equals callbackPath", func(c *Config) { c.LogoutPath = defaultCallbackPath }, "logoutPath: must differ"},
		{"bad postLogoutRedirectURL", func(c *Config) { c.PostLogoutRedirectURL = "javascript:alert(1)" }, "postLogoutRedirectURL:"},
		{"bad forwardHeaders name", func(c *Config) { c.ForwardHeaders = map[string]string{"X Bad": "sub"} }, "forwardHeaders: \"X Bad\""},
		{"reserved forwardHeaders name", func(c *Config) { c.ForwardHeaders = map[string]string{"cookie": "sub"} }, "forwardHeaders: \"cookie\""},
		{"reserved authParams", func(c *Config) { c.AuthParams = map[string]string{"state": "x"} }, "authParams: \"state\""},
		{"reserved authParams any case", func(c *Config) { c.AuthParams = map[string]string{"Redirect_URI": "x"} }, "authParams: \"Redirect_URI\""},
		{"bad excludedPaths regex", func(c *Config) { c.ExcludedPaths = []string{"^/(health"} }, "excludedPaths:"},
		{"relative excludedPaths", func(c *Config) { c.ExcludedPaths = []string{"health"} }, "excludedPaths:"},
		{"bad requiredMatch", func(c *Config) { c.RequiredMatch = "most" }, "requiredMatch:"},
		{"claimRule without claim", func(c *Config) { c.ClaimRules = []ClaimRule{{Equals: []string{"x"}}} }, "claimRules[0].claim: required"},
		{"claimRule without condition", func(c *Config) {
			c.ClaimRules = []ClaimRule{{Claim: "a", Equals: []string{"x"}}, {Claim: "email_verified"}}
		}, "claimRules[1]: set equals or contains"},
		{"bad logLevel", func(c *Config) { c.LogLevel = "loud" }, "logLevel:"},
		{"missing env var", func(c *Config) { c.ClientSecret = "${DESCOPEOIDC_TEST_UNSET_VAR}" }, "clientSecret: environment variable DESCOPEOIDC_TEST_UNSET_VAR is not set"},
		{"missing env var in authParams", func(c *Config) { c.AuthParams = map[string]string{"audience": "${DESCOPEOIDC_TEST_UNSET_VAR}"} }, "authParams.audience: environment variable"},
		{"missing env var in previous secrets", func(c *Config) { c.PreviousSessionSecrets = []string{"${DESCOPEOIDC_TEST_UNSET_VAR}"} }, "previousSessionSecrets: environment variable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := baseConfig()
			tc.mutate(c)
			h, err := New(context.Background(), http.NotFoundHandler(), c, "mw")
			if err == nil {
				t.Fatalf("New succeeded (%T), want error containing %q", h, tc.want)
			}
			mustContain(t, "error", err.Error(), tc.want)
			mustContain(t, "error", err.Error(), "descopeoidc mw: invalid configuration")
		})
	}
}

func TestConfigAcceptsValidVariants(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		check  func(t *testing.T, s *settings)
	}{
		{"defaults", func(*Config) {}, func(t *testing.T, s *settings) {
			if s.scope != "openid profile email" || s.callbackPath != defaultCallbackPath || s.logoutPath != defaultLogoutPath ||
				s.cookieName != defaultCookieName || !s.cookieSecure || s.sameSite != http.SameSiteLaxMode || !s.requireAZP ||
				s.leeway != time.Minute || s.maxAge != 24*time.Hour || s.refreshMargin != time.Minute ||
				s.authMethod != "client_secret_basic" || s.unauthMode != modeAuto {
				t.Errorf("unexpected defaults: %+v", s)
			}
			if len(s.headers) != 1 || s.headers[0].name != "X-Forwarded-User" || strings.Join(s.headers[0].path, ".") != "sub" {
				t.Errorf("default forwardHeaders: %+v", s.headers)
			}
		}},
		{"issuer trailing slash", func(c *Config) { c.Issuer = "https://idp.example/tenant/" }, func(t *testing.T, s *settings) {
			if s.issuer != "https://idp.example/tenant/" {
				t.Errorf("issuer = %q, want it exactly as configured", s.issuer)
			}
		}},
		{"http loopback issuers", func(c *Config) { c.Issuer = "http://127.0.0.1:9999/x" }, nil},
		{"http localhost issuer", func(c *Config) { c.Issuer = "http://localhost:8080" }, nil},
		{"http IPv6 loopback issuer", func(c *Config) { c.Issuer = "http://[::1]:8080" }, nil},
		{"allowInsecureIssuer", func(c *Config) { c.Issuer, c.AllowInsecureIssuer = "http://idp.internal", true }, func(t *testing.T, s *settings) {
			if s.issuer != "http://idp.internal" {
				t.Errorf("issuer = %q", s.issuer)
			}
		}},
		{"projectID shortcut", func(c *Config) { c.Issuer, c.ClientID, c.ProjectID = "", "", "P2abc" }, func(t *testing.T, s *settings) {
			if s.issuer != "https://api.descope.com/P2abc" || s.clientID != "P2abc" {
				t.Errorf("issuer %q clientID %q", s.issuer, s.clientID)
			}
			if s.bearerAudiences[0] != "P2abc" || s.bearerIssuers[0] != "https://api.descope.com/P2abc" {
				t.Errorf("bearer defaults: %v %v", s.bearerAudiences, s.bearerIssuers)
			}
		}},
		{"explicit issuer wins over projectID", func(c *Config) { c.ProjectID = "P2abc" }, func(t *testing.T, s *settings) {
			if s.issuer != "https://idp.example/tenant" || s.clientID != "client" {
				t.Errorf("issuer %q clientID %q", s.issuer, s.clientID)
			}
		}},
		{"scopes deduplicated", func(c *Config) { c.Scopes = []string{"email,openid", "email  offline_access"} }, func(t *testing.T, s *settings) {
			if s.scope != "openid email offline_access" {
				t.Errorf("scope = %q", s.scope)
			}
		}},
		{"durations as seconds", func(c *Config) { c.Leeway, c.SessionMaxAge, c.SessionIdleTimeout = "5", "3600", "600" }, func(t *testing.T, s *settings) {
			if s.leeway != 5*time.Second || s.maxAge != time.Hour || s.idleTimeout != 10*time.Minute {
				t.Errorf("durations %v %v %v", s.leeway, s.maxAge, s.idleTimeout)
			}
		}},
		{"__Host- session name, __Secure- login cookies", func(c *Config) { c.CookieName = "__Host-sid" }, func(t *testing.T, s *settings) {
			if s.cookieName != "__Host-sid" || s.statePrefix != "__Secure-sid_state_" {
				t.Errorf("cookieName %q statePrefix %q", s.cookieName, s.statePrefix)
			}
		}},
		{"__Secure- name keeps its prefix", func(c *Config) { c.CookieName, c.CookiePath, c.CookieDomain = "__Secure-sid", "/app", "example.com" }, func(t *testing.T, s *settings) {
			if s.statePrefix != "__Secure-sid_state_" {
				t.Errorf("statePrefix %q", s.statePrefix)
			}
		}},
		{"sameSite none with secure", func(c *Config) { c.CookieSameSite = "NONE" }, func(t *testing.T, s *settings) {
			if s.sameSite != http.SameSiteNoneMode {
				t.Errorf("sameSite = %v", s.sameSite)
			}
		}},
		{"excludedPaths prefixes and regexps", func(c *Config) { c.ExcludedPaths = []string{"/health", "^/public/.*\\.css$", " "} }, func(t *testing.T, s *settings) {
			x := s.excluded
			if !x.any || len(x.exact) != 1 || len(x.prefixes) != 1 || x.prefixes[0] != "/health/" || len(x.regexps) != 1 {
				t.Errorf("exact %v prefixes %v regexps %v", x.exact, x.prefixes, x.regexps)
			}
		}},
		{"forwardHeaders canonical, sorted, empty claim strips only", func(c *Config) {
			c.ForwardHeaders = map[string]string{"x-user": "sub", "X-Email": "email", "X-Legacy": "", "X-Tenant-Roles": "tenants.T1.roles"}
		}, func(t *testing.T, s *settings) {
			var names []string
			for _, h := range s.headers {
				names = append(names, h.name)
			}
			if strings.Join(names, ",") != "X-Email,X-Tenant-Roles,X-User" {
				t.Errorf("header rules %v", names)
			}
			// each name and its '_' spellings as Go's server stores them: 2 + 2 + 2 + 4
			if len(s.stripHeaders) != 10 || !contains(s.stripHeaders, "X_tenant_roles") || !contains(s.stripHeaders, "X-Tenant_roles") {
				t.Errorf("stripHeaders %v", s.stripHeaders)
			}
			for _, claim := range []string{"sub", "email", "tenants"} {
				if !s.keepClaims[claim] {
					t.Errorf("claim %q not kept", claim)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newSettingsFor(t, tc.mutate)
			if err != nil {
				t.Fatalf("newSettings: %v", err)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func TestConfigEnvExpansion(t *testing.T) {
	secret := strings.Repeat("e", 40)
	t.Setenv("DESCOPEOIDC_TEST_HOST", "idp.example")
	t.Setenv("DESCOPEOIDC_TEST_SECRET", secret)
	t.Setenv("DESCOPEOIDC_TEST_CLIENT", "from-env")
	t.Setenv("DESCOPEOIDC_TEST_MARGIN", "7s")
	s, err := newSettingsFor(t, func(c *Config) {
		c.Issuer = "https://${DESCOPEOIDC_TEST_HOST}/t1"
		c.ClientSecret = "${DESCOPEOIDC_TEST_CLIENT}-secret"
		c.SessionSecret = "${DESCOPEOIDC_TEST_SECRET}"
		c.AuthParams = map[string]string{"audience": "api://${DESCOPEOIDC_TEST_CLIENT}"}
		c.RefreshMargin = "${DESCOPEOIDC_TEST_MARGIN}"
		c.RequiredRoles = []string{"${DESCOPEOIDC_TEST_CLIENT}-role"}
		c.ForwardHeaders = map[string]string{"X-User": "${DESCOPEOIDC_TEST_CLIENT}"}
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.issuer != "https://idp.example/t1" || s.clientSecret != "from-env-secret" || s.authParams.Get("audience") != "api://from-env" {
		t.Errorf("issuer %q clientSecret %q audience %q", s.issuer, s.clientSecret, s.authParams.Get("audience"))
	}
	if s.refreshMargin != 7*time.Second || s.authz.roles[0] != "from-env-role" || s.headers[0].path[0] != "from-env" {
		t.Errorf("refreshMargin %s roles %v header claim %v: durations, lists and maps are expanded too", s.refreshMargin, s.authz.roles, s.headers[0].path)
	}
	// The session key must be derived from the expanded value: the literal secret opens what it seals.
	literal, err := newSettingsFor(t, func(c *Config) { c.SessionSecret = secret })
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := seal(s.sessionAEADs[0], "session", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open(literal.sessionAEADs, "session", sealed); err != nil {
		t.Errorf("session secret from ${ENV} differs from the literal value: %v", err)
	}
}

func TestConfigSecretFiles(t *testing.T) {
	secret := strings.Repeat("f", 48)
	sessionFile := writeFile(t, "session", secret+"\n")
	clientFile := writeFile(t, "client", "file-secret\r\n")
	s, err := newSettingsFor(t, func(c *Config) {
		c.ClientSecret, c.ClientSecretFile = "", clientFile
		c.SessionSecret, c.SessionSecretFile = "", sessionFile
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.clientSecret != "file-secret" {
		t.Errorf("clientSecret from file = %q (trailing newline must be trimmed)", s.clientSecret)
	}
	literal, err := newSettingsFor(t, func(c *Config) { c.SessionSecret = secret })
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := seal(s.sessionAEADs[0], "session", []byte("x"))
	if _, err := open(literal.sessionAEADs, "session", sealed); err != nil {
		t.Errorf("sessionSecretFile content (newline trimmed) should equal the literal secret: %v", err)
	}

	short := writeFile(t, "short", "too-short\n")
	if _, err := newSettingsFor(t, func(c *Config) { c.SessionSecret, c.SessionSecretFile = "", short }); err == nil ||
		!strings.Contains(err.Error(), "sessionSecret: must be at least 32 bytes") {
		t.Errorf("short sessionSecretFile: err = %v", err)
	}
}

func pemFile(t *testing.T, typ string, der []byte) string {
	t.Helper()
	return writeFile(t, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})))
}

func TestConfigPrivateKeyFile(t *testing.T) {
	rsaKey := testRSAKey(t, 0)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sec1 := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name, file, wantAlg, wantErr string
	}{
		{"RSA PKCS#1", pemFile(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), "RS256", ""},
		{"RSA PKCS#8", pemFile(t, "PRIVATE KEY", pkcs8(rsaKey)), "RS256", ""},
		{"P-256 SEC 1", pemFile(t, "EC PRIVATE KEY", sec1(p256)), "ES256", ""},
		{"P-384 PKCS#8", pemFile(t, "PRIVATE KEY", pkcs8(p384)), "ES384", ""},
		{"Ed25519 PKCS#8", pemFile(t, "PRIVATE KEY", pkcs8(edKey)), "EdDSA", ""},
		{"P-521 unsupported", pemFile(t, "EC PRIVATE KEY", sec1(p521)), "", "unsupported EC curve"},
		{"garbage DER", pemFile(t, "PRIVATE KEY", []byte("nope")), "", "privateKeyFile:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newSettingsFor(t, func(c *Config) {
				c.ClientAuthMethod, c.PrivateKeyFile, c.PrivateKeyID, c.ClientSecret = "private_key_jwt", tc.file, "kid-1", ""
			})
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("want error containing %q", tc.wantErr)
				}
				mustContain(t, "error", err.Error(), tc.wantErr)
				mustContain(t, "error", err.Error(), "privateKeyFile")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.assertionAlg != tc.wantAlg || s.assertionKID != "kid-1" || s.assertionKey == nil {
				t.Errorf("alg %q kid %q key %T", s.assertionAlg, s.assertionKID, s.assertionKey)
			}
		})
	}
}

// New is called by Traefik for every router and reload, and by the plugin catalog with testData: it must not touch
// the network.
func TestNewDoesNoNetworkIO(t *testing.T) {
	t.Run("closed port", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		c := baseConfig()
		c.Issuer = "http://" + addr
		start := time.Now()
		if _, err := New(context.Background(), http.NotFoundHandler(), c, "closed"); err != nil {
			t.Fatalf("New: %v", err)
		}
		forgetProvider(c.Issuer)
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("New took %v", d)
		}
	})
	t.Run("no connection attempted", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		var accepted atomic.Int64
		go func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				conn.Close()
			}
		}()
		c := baseConfig()
		c.Issuer = "http://" + l.Addr().String()
		for i := 0; i < 3; i++ { // as for three routers
			if _, err := New(context.Background(), http.NotFoundHandler(), c, "r"); err != nil {
				t.Fatalf("New: %v", err)
			}
		}
		time.Sleep(100 * time.Millisecond) // a background fetch started by New would connect by now
		if n := accepted.Load(); n != 0 {
			t.Errorf("New opened %d connection(s) to the issuer", n)
		}
		forgetProvider(c.Issuer)
	})
	t.Run("manifest testData", func(t *testing.T) {
		c := CreateConfig()
		c.ProjectID = "P2testProject0000000000000000"
		c.ClientSecret = "test-access-key"
		c.SessionSecret = "test-session-secret-of-at-least-32-bytes"
		c.ForwardHeaders = map[string]string{"X-Forwarded-User": "sub", "X-Forwarded-Email": "email"}
		if _, err := New(context.Background(), http.NotFoundHandler(), c, "catalog"); err != nil {
			t.Fatalf("New with the manifest's testData: %v", err)
		}
	})
}
