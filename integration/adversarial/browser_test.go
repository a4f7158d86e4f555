// Package adversarial attacks the descopeoidc middleware, built both compiled and through Traefik's Yaegi loader,
// with a misbehaving provider (badidp) and a hostile browser. Every scenario runs against both targets, and the
// outcomes are compared: the interpreter must not change a security decision.
package adversarial

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/badidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik-descope/descopeoidc/integration/sessionseal"
)

const (
	appHost       = "app.example"
	appOrigin     = "https://" + appHost
	callbackURI   = appOrigin + "/oauth2/callback"
	sessionSecret = "adversarial-session-secret-0123456789abcdef"
	otherSecret   = "another-session-secret-for-a-foreign-key-0001"
	cookieName    = "_descopeoidc"
)

var targets []harness.Target

func TestMain(m *testing.M) {
	var err error
	if targets, err = harness.Targets(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// forEachTarget runs fn as one subtest per target (compiled, yaegi).
func forEachTarget(t *testing.T, fn func(t *testing.T, tg harness.Target)) {
	t.Helper()
	for _, tg := range targets {
		warmInterpreter(t, tg)
	}
	for _, tg := range targets {
		tg := tg
		t.Run(tg.Name(), func(t *testing.T) { fn(t, tg) })
	}
}

// forEachTargetConcurrently runs the target subtests at the same time, for scenarios that mostly wait (timeouts,
// backoff, expiry); they do not take -parallel slots.
func forEachTargetConcurrently(t *testing.T, fn func(t *testing.T, tg harness.Target)) {
	t.Helper()
	for _, tg := range targets {
		warmInterpreter(t, tg)
	}
	names := make([]string, len(targets))
	byName := make(map[string]harness.Target, len(targets))
	for i, tg := range targets {
		names[i], byName[tg.Name()] = tg.Name(), tg
	}
	each(t, names, func(t *testing.T, name string) { fn(t, byName[name]) })
}

// each runs fn for every name as concurrent subtests: these scenarios mostly wait for tokens to expire.
func each(t *testing.T, names []string, fn func(t *testing.T, name string)) {
	t.Helper()
	var wg sync.WaitGroup
	for _, n := range names {
		n := n
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(n, func(t *testing.T) { fn(t, n) })
		}()
	}
	wg.Wait()
}

var warmed sync.Map // target name -> *sync.Once

// warmInterpreter runs each code path of a login once, sequentially (successes and the provider-error paths),
// before a test starts concurrent clients. Yaegi builds some reflect types lazily, the first time a call site runs
// (itype.refType under getMethod), and caches them without a lock: the first concurrent runs of a call site race on
// that cache. Each computes the same type, so it is harmless, but the race detector rightly reports it. Traefik's
// first burst of requests can do the same; these tests want the race detector to speak about the plugin's code.
func warmInterpreter(t *testing.T, tg harness.Target) {
	t.Helper()
	once, _ := warmed.LoadOrStore(tg.Name(), &sync.Once{})
	once.(*sync.Once).Do(func() { warm(t, tg) }) // a barrier: concurrent tests wait until the target is warm
}

// warm runs the paths of the plugin once, alone (see warmInterpreter).
func warm(t *testing.T, tg harness.Target) {
	idp := newIdP(t)
	h, _ := build(t, tg, baseConfig(idp, nil))
	b := newBrowser(t, h)
	b.mustLogin(idp, "/warm")
	b.get("/warm")
	for _, mode := range []badidp.Mode{badidp.NormalES256, badidp.UnknownKid, badidp.KeyRotation, badidp.ErrorBody200, badidp.NoIDToken, badidp.BadRS256Signature} {
		idp.SetMode(mode)
		_, _, _ = newBrowser(t, h).login(idp, "/warm")
	}
	// the error paths: provider down at the callback, then when starting a login, and an API request
	idp.SetMode(badidp.Normal)
	pending := newBrowser(t, h)
	if au, err := pending.startLogin(idp, "/warm"); err == nil {
		if cb, err := pending.authorize(au); err == nil {
			idp.Stop()
			pending.callback(cb)
		}
	}
	idp.Stop()
	h2, _ := build(t, tg, baseConfig(idp, nil))
	newBrowser(t, h2).get("/warm")
	serve(t, h2, appRequest(http.MethodGet, "/warm", http.Header{"Accept": {"application/json"}}))
	if err := idp.Start(); err != nil {
		t.Fatal(err)
	}
	warmRefresh(t, tg)
}

// warmRefresh runs a session once, alone, through its background refresh, the hand-out of the refreshed cookie, a
// request after its tokens expired and the logout: Yaegi builds the reflect types of these paths (the refresh
// goroutine, the flight, the successor) lazily, and their first use by many goroutines at once races in the
// interpreter (YAEGI.md).
func warmRefresh(t *testing.T, tg harness.Target) {
	t.Helper()
	idp := refreshingIdP(t, 2)
	h, _ := build(t, tg, baseConfig(idp, map[string]any{"refreshMargin": "1s"}))
	b := newBrowser(t, h)
	b.mustLogin(idp, "/warm")
	time.Sleep(1100 * time.Millisecond) // due: the next request starts the refresh in the background
	b.get("/warm")
	for deadline := time.Now().Add(3 * time.Second); idp.RefreshGrants() < 1 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	b.get("/warm")                      // given the refreshed cookie
	time.Sleep(2100 * time.Millisecond) // expired: the next request waits for its refresh
	b.get("/warm")
	cookie := b.cookieHeader("/warm")
	serve(t, h, logoutRequest(cookie))
	serve(t, h, withCookie(navigation(), cookie))
}

// outcomes collects one line per (case, target) and fails the test when the targets disagree.
type outcomes struct {
	mu sync.Mutex
	m  map[string]map[string]string
}

func newOutcomes(t *testing.T) *outcomes {
	o := &outcomes{m: map[string]map[string]string{}}
	t.Cleanup(func() { o.check(t) })
	return o
}

func (o *outcomes) record(target, name, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m[name] == nil {
		o.m[name] = map[string]string{}
	}
	o.m[name][target] = outcome
}

func (o *outcomes) check(t *testing.T) {
	o.mu.Lock()
	defer o.mu.Unlock()
	names := make([]string, 0, len(o.m))
	for n := range o.m {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		byTarget := o.m[n]
		var ref, refTarget string
		for _, tg := range targets {
			got, ok := byTarget[tg.Name()]
			if !ok {
				continue
			}
			t.Logf("%-40s %-8s %s", n, tg.Name(), got)
			if refTarget == "" {
				ref, refTarget = got, tg.Name()
			} else if got != ref {
				t.Errorf("%s: %s gives %q but %s gives %q", n, tg.Name(), got, refTarget, ref)
			}
		}
	}
}

// upstream is the protected service: it counts what reaches it.
type upstream struct {
	n    atomic.Int64
	mu   sync.Mutex
	last http.Header
	uri  string // of the last request
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.n.Add(1)
	u.mu.Lock()
	u.last = r.Header.Clone()
	u.uri = r.URL.RequestURI()
	u.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "upstream ok "+r.Header.Get("X-Forwarded-User"))
}

func (u *upstream) count() int64 { return u.n.Load() }

func (u *upstream) lastURI() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.uri
}

func (u *upstream) lastHeader() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

func newIdP(t testing.TB) *badidp.Server {
	t.Helper()
	s, err := badidp.New()
	if err != nil {
		t.Fatal(err)
	}
	s.SetRedirectURIs(callbackURI)
	t.Cleanup(s.Close)
	return s
}

// baseConfig is a plain configuration for idp; extra entries override.
func baseConfig(idp *badidp.Server, extra map[string]any) map[string]any {
	c := map[string]any{
		"issuer":        idp.Issuer(),
		"clientID":      badidp.ClientID,
		"clientSecret":  badidp.ClientSecret,
		"sessionSecret": sessionSecret,
		"logLevel":      "error",
		"forwardHeaders": map[string]any{
			"X-Forwarded-User":  "sub",
			"X-Forwarded-Email": "email",
		},
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func build(t testing.TB, tg harness.Target, cfg map[string]any) (http.Handler, *upstream) {
	t.Helper()
	up := &upstream{}
	h, err := tg.Build(cfg, up, "adversarial")
	if err != nil {
		t.Fatalf("%s: Build: %v", tg.Name(), err)
	}
	return h, up
}

// response is what the middleware answered.
type response struct {
	Status  int
	Header  http.Header
	Body    string
	Cookies []*http.Cookie // Set-Cookie
}

func (r response) location() string { return r.Header.Get("Location") }

func (r response) String() string {
	return fmt.Sprintf("%d %s", r.Status, strings.TrimSpace(truncate(r.Body, 120)))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

var chunkNameRe = regexp.MustCompile(`^` + cookieName + `(_[0-9]+)?$`)

// sessionSet reports whether the response sets a session cookie (or chunk) to a non-empty value.
func (r response) sessionSet() bool {
	for _, c := range r.Cookies {
		if chunkNameRe.MatchString(c.Name) && c.Value != "" && c.MaxAge >= 0 {
			return true
		}
	}
	return false
}

// sessionCleared reports whether the response deletes the main session cookie.
func (r response) sessionCleared() bool {
	for _, c := range r.Cookies {
		if c.Name == cookieName && (c.MaxAge < 0 || c.Value == "") {
			return true
		}
	}
	return false
}

// appRequest parses a request from the wire, as Traefik's HTTP server would, and marks it as received over TLS.
func appRequest(method, requestURI string, header http.Header) *http.Request {
	var b strings.Builder
	b.WriteString(method + " " + requestURI + " HTTP/1.1\r\nHost: " + appHost + "\r\n")
	for k, vs := range header {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		panic(fmt.Sprintf("appRequest %q: %v", requestURI, err))
	}
	r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true}
	r.RemoteAddr = "198.51.100.7:40000"
	return r
}

// statusPanic marks a response whose handler panicked (the test has already failed).
const statusPanic = 599

// serve runs the handler, turning a panic into a test failure with the request named. It never calls FailNow, so
// that load goroutines may use it.
func serve(t testing.TB, h http.Handler, r *http.Request) (resp response) {
	t.Helper()
	rec := httptest.NewRecorder()
	panicked := false
	func() {
		defer func() {
			if p := recover(); p != nil {
				panicked = true
				t.Errorf("PANIC serving %s %s: %v", r.Method, truncate(r.URL.String(), 100), p)
			}
		}()
		h.ServeHTTP(rec, r)
	}()
	if panicked {
		return response{Status: statusPanic, Header: http.Header{}}
	}
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: string(body), Cookies: res.Cookies()}
}

// navigation is what a browser sends on a top-level GET.
func navigation() http.Header {
	return http.Header{
		"Accept":         {"text/html,application/xhtml+xml"},
		"Sec-Fetch-Mode": {"navigate"},
		"Sec-Fetch-Site": {"none"},
	}
}

// idpClient is the browsers' HTTP client to the provider: it never follows redirects.
var idpTransport = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 5 * time.Second}

var idpClient = &http.Client{
	Transport:     idpTransport,
	Timeout:       15 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// browser keeps cookies for the app origin and talks to the provider over HTTP.
type browser struct {
	t    testing.TB
	h    http.Handler
	jar  *cookiejar.Jar
	hint string // login_hint added at the provider: which user logs in
}

func newBrowser(t testing.TB, h http.Handler) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, h: h, jar: jar}
}

func jarURL(r *http.Request) *url.URL {
	return &url.URL{Scheme: "https", Host: appHost, Path: r.URL.Path}
}

// send serves r with the jar's cookies (unless r already has a Cookie header) and stores the cookies set.
func (b *browser) send(r *http.Request) response {
	b.t.Helper()
	if r.Header.Get("Cookie") == "" {
		for _, c := range b.jar.Cookies(jarURL(r)) {
			r.AddCookie(c)
		}
	}
	resp := serve(b.t, b.h, r)
	b.jar.SetCookies(jarURL(r), resp.Cookies)
	return resp
}

func (b *browser) get(requestURI string) response {
	b.t.Helper()
	return b.send(appRequest(http.MethodGet, requestURI, navigation()))
}

// cookieHeader is the Cookie header the browser would send to path.
func (b *browser) cookieHeader(path string) string {
	var parts []string
	for _, c := range b.jar.Cookies(&url.URL{Scheme: "https", Host: appHost, Path: path}) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

func (b *browser) cookie(name string) string {
	for _, c := range b.jar.Cookies(&url.URL{Scheme: "https", Host: appHost, Path: "/oauth2/callback"}) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// startLogin requests target and expects the redirect to the provider's authorize endpoint.
func (b *browser) startLogin(idp *badidp.Server, target string) (*url.URL, error) {
	resp := b.get(target)
	if resp.Status != http.StatusFound || !strings.HasPrefix(resp.location(), idp.Issuer()+"/authorize?") {
		return nil, fmt.Errorf("GET %s: want 302 to the provider, got %s Location %q", target, resp, resp.location())
	}
	return url.Parse(resp.location())
}

// authorize follows the authorize URL at the provider and returns where it sends the browser back to.
func (b *browser) authorize(u *url.URL) (*url.URL, error) {
	if b.hint != "" {
		q := u.Query()
		q.Set("login_hint", b.hint)
		u.RawQuery = q.Encode()
	}
	resp, err := idpClient.Get(u.String())
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("authorize: status %d", resp.StatusCode)
	}
	return url.Parse(resp.Header.Get("Location"))
}

// callback delivers the provider's redirect to the app.
func (b *browser) callback(cb *url.URL) response {
	b.t.Helper()
	if cb.Host != appHost {
		b.t.Errorf("provider redirected to %s, not the app", cb)
		return response{Status: statusPanic, Header: http.Header{}}
	}
	return b.send(appRequest(http.MethodGet, cb.RequestURI(), navigation()))
}

// login runs the whole flow for target and returns the callback's response.
func (b *browser) login(idp *badidp.Server, target string) (response, *url.URL, error) {
	au, err := b.startLogin(idp, target)
	if err != nil {
		return response{}, nil, err
	}
	cb, err := b.authorize(au)
	if err != nil {
		return response{}, nil, err
	}
	return b.callback(cb), cb, nil
}

// mustReachCallback starts a login for target and returns the provider's redirect back to the app, not yet delivered.
func (b *browser) mustReachCallback(idp *badidp.Server, target string) *url.URL {
	b.t.Helper()
	au, err := b.startLogin(idp, target)
	if err != nil {
		b.t.Fatal(err)
	}
	cb, err := b.authorize(au)
	if err != nil {
		b.t.Fatal(err)
	}
	return cb
}

// mustLogin logs in and checks that a session was set and the browser is sent to target.
func (b *browser) mustLogin(idp *badidp.Server, target string) response {
	b.t.Helper()
	resp, _, err := b.login(idp, target)
	if err != nil {
		b.t.Fatal(err)
	}
	if resp.Status != http.StatusFound || !resp.sessionSet() {
		b.t.Fatalf("login: want 302 with a session cookie, got %s", resp)
	}
	return resp
}

// leakWords must never appear in a page answering a failed login: they would reveal why (to an attacker).
var leakWords = []string{
	"nonce", "azp", "audience", "issuer", "signature", "kid", "expired", "invalid_grant", "invalid_request",
	"jwks", "alg", "claim", "token", "verifier", "hs256", "rs256", "es256", "panic", "goroutine",
}

// checkGeneric fails when body reveals a secret or a reason.
func checkGeneric(t testing.TB, body string, secrets ...string) {
	t.Helper()
	low := strings.ToLower(body)
	for _, w := range leakWords {
		if strings.Contains(low, w) {
			t.Errorf("body reveals %q: %s", w, truncate(body, 300))
		}
	}
	for _, s := range secrets {
		if len(s) >= 8 && strings.Contains(body, s) {
			t.Errorf("body contains a secret (%s): %s", truncate(s, 20), truncate(body, 300))
		}
	}
}

// idTokenParts are the pieces of a JWT, each a secret in itself.
func idTokenParts(tok string) []string {
	if tok == "" {
		return nil
	}
	return append(strings.Split(tok, "."), tok)
}

// --- the state cookie format, with the test's knowledge of the session secret (sessionseal) ---

func stateSealer(idp *badidp.Server) *sessionseal.Sealer {
	return sessionseal.New(sessionSecret, "state", idp.Issuer(), badidp.ClientID)
}

func openState(idp *badidp.Server, value string) ([]byte, error) {
	return stateSealer(idp).Open(value)
}

func sealState(idp *badidp.Server, plaintext []byte) string {
	return stateSealer(idp).Seal(plaintext)
}

func stateCookieName(state string) string {
	if len(state) > 16 {
		state = state[:16]
	}
	return cookieName + "_state_" + state
}
