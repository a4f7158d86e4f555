// Package benchmarks measures the plugin's per-request hot paths through the handler built by both harness targets
// (Traefik's Yaegi loader and the Go compiler), with sessions and tokens obtained once from the Descope-like
// provider:
//
//	go test -run '^$' -bench . -benchmem ./benchmarks/
//	go test -run '^$' -bench 'Cookie/yaegi' -cpuprofile cpu.prof ./benchmarks/   # where interpreted time goes
//
// `go test ./benchmarks/` without -bench runs TestSetup, which checks that every benchmark request is authenticated.
package benchmarks

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

const sessionSecret = "benchmarks-session-secret-0123456789abcdef"

// Name lengths of the benchmark users: ~0.3 KB and ~8 KB session cookies (the session holds the claims the headers
// forward, here the name, and the refresh token; README "Cookie budget"), ~1.1 KB and ~8 KB access tokens (which
// carry the name; see bench/dynamic.yml for the load rows).
const (
	smallNameLen    = 8
	cookie8kNameLen = 5800
	bearer8kNameLen = 5350
)

// credential is what one request of a benchmark carries.
type credential struct {
	label   string // size class: "1KB", "8KB", ...
	size    int    // bytes of cookie values or token
	header  string // "Cookie" or "Authorization"
	value   string
	subject string
}

// fixture is the provider, the users' credentials and the middleware configurations, shared by all benchmarks.
type fixture struct {
	idp     *devidp.Server
	cookies []credential // small, 8 KB
	tokens  []credential // small, 8 KB
	targets []harness.Target
}

var (
	fxOnce sync.Once
	fx     *fixture
	fxErr  error
)

func getFixture() (*fixture, error) {
	fxOnce.Do(func() { fx, fxErr = newFixture() })
	return fx, fxErr
}

func user(id string, nameLen int) devidp.User {
	u := devidp.DemoUser()
	u.Username, u.Password, u.Subject, u.Email = id+"@example.com", "bench-password", "U2bench"+id, id+"@example.com"
	u.Name = strings.Repeat("n", nameLen)
	return u
}

func newFixture() (*fixture, error) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))) // devidp's route log
	targets, err := harness.Targets()
	if err != nil {
		return nil, err
	}
	if src := os.Getenv("BENCH_PLUGIN_SRC"); src != "" {
		alt, err := loadAlt(src)
		if err != nil {
			return nil, err
		}
		targets = append(targets, alt)
	}
	small, c8k, b8k := user("small", smallNameLen), user("cookie8k", cookie8kNameLen), user("bearer8k", bearer8kNameLen)
	idp, err := devidp.Start(devidp.Options{
		AllowLoopbackRedirects: true, AZPClaim: true, Users: []devidp.User{small, c8k, b8k},
		IDTokenLifetime: 12 * time.Hour, AccessTokenLifetime: 12 * time.Hour,
	})
	if err != nil {
		return nil, err
	}
	f := &fixture{idp: idp, targets: targets}
	// Log in through the compiled middleware (sessions are portable: same secret, same kept claims). Cookies come
	// from a login with the benchmarks' configuration (no forwardAccessToken: the session holds no access token),
	// tokens from one with forwardAccessToken, which hands the access token to the next handler.
	for _, u := range []devidp.User{small, c8k} {
		cookie, _, err := f.login(u, true, false)
		if err != nil {
			return nil, fmt.Errorf("login %s: %v", u.Username, err)
		}
		f.cookies = append(f.cookies, credential{label: sizeLabel(cookieSize(cookie)), size: cookieSize(cookie), header: "Cookie", value: cookie, subject: u.Subject})
	}
	for _, u := range []devidp.User{small, b8k} {
		_, token, err := f.login(u, u.Subject != b8k.Subject, true)
		if err != nil {
			return nil, fmt.Errorf("login %s: %v", u.Username, err)
		}
		f.tokens = append(f.tokens, credential{label: sizeLabel(len(token)), size: len(token), header: "Authorization", value: "Bearer " + token, subject: u.Subject})
	}
	return f, nil
}

func cookieSize(header string) int {
	n := 0
	for _, c := range strings.Split(header, "; ") {
		if _, v, ok := strings.Cut(c, "="); ok {
			n += len(v)
		}
	}
	return n
}

func sizeLabel(n int) string { return fmt.Sprintf("%.1fKB", float64(n)/1024) }

// config is the middleware configuration of the benchmarks: like the load rows cookie-1k/8k and bearer-1k/8k.
func (f *fixture) config(extra map[string]any) map[string]any {
	c := map[string]any{
		"issuer":         f.idp.Issuer(),
		"clientID":       f.idp.ClientID(),
		"clientSecret":   f.idp.ClientSecret(),
		"sessionSecret":  sessionSecret,
		"scopes":         "openid,profile,email,offline_access",
		"cookieSecure":   false,
		"forwardHeaders": map[string]any{"X-Forwarded-User": "sub", "X-Forwarded-Name": "name"},
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// login runs the browser flow against the compiled middleware and returns the Cookie header and, with forward
// (forwardAccessToken), the access token. Without named, the session keeps only sub (the 8 KB token's user has a
// name too large for a session with it).
func (f *fixture) login(u devidp.User, named, forward bool) (string, string, error) {
	var mu sync.Mutex
	var token string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	extra := map[string]any{"forwardAccessToken": forward}
	if !named {
		extra["forwardHeaders"] = map[string]any{"X-Forwarded-User": "sub"}
	}
	h, err := harness.Compiled{}.Build(f.config(extra), next, "login")
	if err != nil {
		return "", "", err
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(srv.URL + "/app")
	if err != nil {
		return "", "", err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", "", fmt.Errorf("GET /app: status %d, want 302", resp.StatusCode)
	}
	cb, err := f.idp.Login(c, resp.Header.Get("Location"), u.Username, u.Password)
	if err != nil {
		return "", "", err
	}
	if resp, err = c.Get(cb); err != nil {
		return "", "", err
	}
	_ = resp.Body.Close()
	if resp, err = c.Get(srv.URL + "/app"); err != nil {
		return "", "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || (forward && token == "") {
		return "", "", fmt.Errorf("GET /app after login: status %d, token %d bytes", resp.StatusCode, len(token))
	}
	su, _ := url.Parse(srv.URL)
	var parts []string
	for _, ck := range jar.Cookies(su) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; "), token, nil
}

// request returns a fresh request carrying cred (the middleware rewrites headers, so each call gets its own).
func request(base *http.Request, hdr http.Header) *http.Request {
	r := *base
	r.Header = hdr.Clone()
	return &r
}

func baseRequest(cred credential) (*http.Request, http.Header) {
	r := httptest.NewRequest(http.MethodGet, "http://app.example/app", nil)
	hdr := http.Header{}
	hdr.Set("Accept", "text/html")
	hdr.Set("User-Agent", "bench")
	hdr.Set(cred.header, cred.value)
	// What Traefik's entrypoint adds before any middleware runs (the plugin's header checks loop over all headers).
	hdr.Set("X-Forwarded-For", "127.0.0.1")
	hdr.Set("X-Forwarded-Host", "app.example")
	hdr.Set("X-Forwarded-Port", "443")
	hdr.Set("X-Forwarded-Proto", "https")
	hdr.Set("X-Forwarded-Server", "traefik")
	hdr.Set("X-Real-Ip", "127.0.0.1")
	return r, hdr
}

// upstreamCheck is a next handler that records whether the request arrived authenticated as want.
type upstreamCheck struct {
	want string
	ok   int
	bad  int
}

func (u *upstreamCheck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Forwarded-User") == u.want && !strings.Contains(r.Header.Get("Cookie"), "_descopeoidc") {
		u.ok++
	} else {
		u.bad++
	}
}
