package descopeoidc

// Shared test helpers: a controllable clock, keys generated in the test, a hand-rolled fake OpenID provider on
// httptest (discovery, JWKS, authorize, token, revocation and end-session endpoints, with request counters, recorded
// token requests and switchable misbehaviour), a token minter, and a tiny browser that keeps cookies.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testClientID     = "P2testclient"
	testClientSecret = "client-secret"
	testSessionKey   = "0123456789abcdef0123456789abcdef-session"
	testSub          = "U2user"
	appOrigin        = "https://app.example"
)

// ---------------------------------------------------------------------------------------------------------------
// clock

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Since is time.Since on the fake clock (the middleware's fast paths read it).
func (c *fakeClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ---------------------------------------------------------------------------------------------------------------
// keys

// testKey is a signing key generated in the test and the JWK the fake provider publishes for it.
type testKey struct {
	kid       string
	alg       string
	priv      any
	pub       any
	omitAlg   bool   // publish the JWK without "alg"
	use       string // JWK "use"; empty omits it
	jwkMutate func(map[string]any)
}

var rsaPool struct {
	sync.Mutex
	keys []*rsa.PrivateKey
}

// testRSAKey returns the i-th 2048-bit RSA key of a pool generated once per test binary (RSA generation is slow).
func testRSAKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaPool.Lock()
	defer rsaPool.Unlock()
	for len(rsaPool.keys) <= i {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaPool.keys = append(rsaPool.keys, k)
	}
	return rsaPool.keys[i]
}

// newTestKey makes a key for alg. RSA algorithms use pool key idx, the others a fresh key.
func newTestKey(t testing.TB, alg, kid string, idx int) *testKey {
	t.Helper()
	k := &testKey{kid: kid, alg: alg, use: "sig"}
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		r := testRSAKey(t, idx)
		k.priv, k.pub = r, &r.PublicKey
	case "ES256", "ES384", "ES512":
		curve := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		e, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.priv, k.pub = e, &e.PublicKey
	case "EdDSA", "Ed25519":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.priv, k.pub = priv, pub
	default:
		t.Fatalf("newTestKey: unsupported alg %s", alg)
	}
	return k
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk renders the public key as a JWK map.
func (k *testKey) jwk() map[string]any {
	m := map[string]any{"kid": k.kid}
	if !k.omitAlg {
		m["alg"] = k.alg
	}
	if k.use != "" {
		m["use"] = k.use
	}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64u(pub.N.Bytes())
		m["e"] = b64u(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		m["kty"] = "EC"
		m["crv"] = pub.Curve.Params().Name
		size := (pub.Curve.Params().BitSize + 7) / 8
		m["x"] = b64u(pub.X.FillBytes(make([]byte, size)))
		m["y"] = b64u(pub.Y.FillBytes(make([]byte, size)))
	case ed25519.PublicKey:
		m["kty"] = "OKP"
		m["crv"] = "Ed25519"
		m["x"] = b64u(pub)
	}
	if k.jwkMutate != nil {
		k.jwkMutate(m)
	}
	return m
}

func jwksJSON(t testing.TB, keys ...*testKey) []byte {
	t.Helper()
	list := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		list = append(list, k.jwk())
	}
	b, err := json.Marshal(map[string]any{"keys": list})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signJWT builds a compact JWS. header entries override the defaults (alg and kid of the key); a nil value removes
// the entry. The signature is made with the key's own algorithm unless signAlg says otherwise.
func signJWT(t testing.TB, k *testKey, header, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": k.alg, "kid": k.kid, "typ": "JWT"}
	for name, v := range header {
		if v == nil {
			delete(h, name)
		} else {
			h[name] = v
		}
	}
	hb, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64u(hb) + "." + b64u(cb)
	method := k.alg
	if method == "Ed25519" {
		method = "EdDSA" // golang-jwt's name for it
	}
	sig, err := jwt.GetSigningMethod(method).Sign(input, k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64u(sig)
}

// ---------------------------------------------------------------------------------------------------------------
// fake OpenID provider

// recordedRequest is what the fake token or revocation endpoint received.
type recordedRequest struct {
	Method      string
	ContentType string
	Header      http.Header
	Form        url.Values
	BasicOK     bool
	BasicUser   string // exactly as sent (still form-urlencoded, RFC 6749 2.3.1)
	BasicPass   string
}

type authCode struct {
	nonce, challenge, redirectURI string
}

type fakeIdP struct {
	t      testing.TB
	srv    *httptest.Server
	issuer string
	clock  *fakeClock

	discoveryHits, jwksHits, tokenHits, authorizeHits atomic.Int64

	mu            sync.Mutex
	keys          []*testKey // published
	signer        *testKey   // signs minted ID tokens
	algs          []string   // id_token_signing_alg_values_supported; nil omits the field
	mutateDisc    func(map[string]any)
	down          bool // every endpoint answers 503
	discStatus    int  // non-zero: discovery answers this status
	jwksStatus    int  // non-zero: JWKS answers this status
	discBody      []byte
	jwksBody      []byte
	redirectDisc  string // discovery answers 302 to this URL
	block         chan struct{}
	blocked       chan struct{} // receives a value when a request starts waiting on block
	tokenHook     func(w http.ResponseWriter, r *http.Request, form url.Values) bool
	codes         map[string]authCode
	refresh       map[string]bool // valid refresh tokens
	rotateRefresh bool
	refreshError  string // e.g. "invalid_grant": the refresh grant fails with it
	expiresIn     int
	sub           string
	extraClaims   map[string]any   // added to every minted ID token
	atClaims      map[string]any   // non-nil: access tokens are JWTs with iss, sub, iat, exp and these claims
	userinfo      http.HandlerFunc // non-nil: discovery publishes /userinfo, served by it
	omitAZP       bool
	noIDToken     bool
	tokenReqs     []recordedRequest
	revocations   []recordedRequest
	seq           int
}

var idpSeq atomic.Int64

// newFakeIdP starts a fake provider signing with a 2048-bit RSA key (kid "k1", RS256). Its issuer has a unique path,
// and the package-level provider cache is cleared of it at start and end, so tests never share cached documents.
func newFakeIdP(t testing.TB) *fakeIdP {
	t.Helper()
	f := &fakeIdP{
		t:         t,
		clock:     newClock(),
		codes:     map[string]authCode{},
		refresh:   map[string]bool{},
		expiresIn: 300,
		sub:       testSub,
		algs:      []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"},
	}
	k := newTestKey(t, "RS256", "k1", 0)
	f.keys, f.signer = []*testKey{k}, k
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.issuer = fmt.Sprintf("%s/idp%d", f.srv.URL, idpSeq.Add(1))
	forgetProvider(f.issuer)
	t.Cleanup(func() {
		f.mu.Lock()
		if f.block != nil {
			close(f.block)
			f.block = nil
		}
		f.mu.Unlock()
		f.srv.Close()
		forgetProvider(f.issuer)
	})
	return f
}

func forgetProvider(issuer string) {
	providers.Lock()
	for k := range providers.m {
		if strings.HasPrefix(k, issuer+"|") {
			delete(providers.m, k)
		}
	}
	providers.Unlock()
}

func (f *fakeIdP) set(fn func(f *fakeIdP)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

func (f *fakeIdP) url(p string) string { return f.issuer + p }

// hold makes discovery, JWKS and token requests wait until the returned release function is called.
func (f *fakeIdP) hold() (release func()) {
	ch := make(chan struct{})
	f.set(func(f *fakeIdP) { f.block, f.blocked = ch, make(chan struct{}, 100) })
	var once sync.Once
	return func() {
		once.Do(func() {
			f.set(func(f *fakeIdP) {
				if f.block == ch {
					f.block = nil
				}
			})
			close(ch)
		})
	}
}

func (f *fakeIdP) wait() {
	f.mu.Lock()
	ch, blocked := f.block, f.blocked
	f.mu.Unlock()
	if ch != nil {
		blocked <- struct{}{}
		<-ch
	}
}

func (f *fakeIdP) serve(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, strings.TrimPrefix(f.issuer, f.srv.URL))
	switch p {
	case "/.well-known/openid-configuration":
		f.discoveryHits.Add(1)
		f.wait()
		f.serveDiscovery(w, r)
	case "/jwks":
		f.jwksHits.Add(1)
		f.wait()
		f.serveJWKS(w)
	case "/authorize":
		f.authorizeHits.Add(1)
		f.serveAuthorize(w, r)
	case "/token":
		f.tokenHits.Add(1)
		f.wait()
		f.serveToken(w, r)
	case "/revoke":
		rec := record(r)
		f.set(func(f *fakeIdP) { f.revocations = append(f.revocations, rec) })
		w.WriteHeader(http.StatusOK)
	case "/userinfo":
		f.mu.Lock()
		h := f.userinfo
		f.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	case "/elsewhere":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.discoveryJSON())
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeIdP) discoveryJSON() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := map[string]any{
		"issuer":                 f.issuer,
		"authorization_endpoint": f.url("/authorize"),
		"token_endpoint":         f.url("/token"),
		"jwks_uri":               f.url("/jwks"),
		"end_session_endpoint":   f.url("/logout"),
		"revocation_endpoint":    f.url("/revoke"),
	}
	if f.userinfo != nil {
		d["userinfo_endpoint"] = f.url("/userinfo")
	}
	if f.algs != nil {
		d["id_token_signing_alg_values_supported"] = f.algs
	}
	if f.mutateDisc != nil {
		f.mutateDisc(d)
	}
	b, _ := json.Marshal(d)
	return b
}

func (f *fakeIdP) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	down, status, body, redirect := f.down, f.discStatus, f.discBody, f.redirectDisc
	f.mu.Unlock()
	switch {
	case down:
		http.Error(w, "down", http.StatusServiceUnavailable)
	case redirect != "":
		http.Redirect(w, r, redirect, http.StatusFound)
	case status != 0:
		w.WriteHeader(status)
		_, _ = w.Write(f.discoveryJSON())
	case body != nil:
		_, _ = w.Write(body)
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.discoveryJSON())
	}
}

func (f *fakeIdP) serveJWKS(w http.ResponseWriter) {
	f.mu.Lock()
	down, status, body, keys := f.down, f.jwksStatus, f.jwksBody, append([]*testKey(nil), f.keys...)
	f.mu.Unlock()
	switch {
	case down:
		http.Error(w, "down", http.StatusServiceUnavailable)
	case status != 0:
		w.WriteHeader(status)
	case body != nil:
		_, _ = w.Write(body)
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwksJSON(f.t, keys...))
	}
}

// serveAuthorize checks the authorization request and answers like a provider whose user is already signed in:
// a redirect to redirect_uri with a fresh code bound to the nonce, PKCE challenge and redirect_uri.
func (f *fakeIdP) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") != testClientID || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("redirect_uri") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.seq++
	code := fmt.Sprintf("code-%d", f.seq)
	f.codes[code] = authCode{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri")}
	f.mu.Unlock()
	target, _ := url.Parse(q.Get("redirect_uri"))
	tq := target.Query()
	tq.Set("code", code)
	tq.Set("state", q.Get("state"))
	target.RawQuery = tq.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

func record(r *http.Request) recordedRequest {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	rec := recordedRequest{Method: r.Method, ContentType: r.Header.Get("Content-Type"), Header: r.Header.Clone(), Form: form}
	rec.BasicUser, rec.BasicPass, rec.BasicOK = r.BasicAuth()
	return rec
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeIdP) serveToken(w http.ResponseWriter, r *http.Request) {
	rec := record(r)
	f.mu.Lock()
	f.tokenReqs = append(f.tokenReqs, rec)
	hook, down := f.tokenHook, f.down
	f.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if hook != nil && hook(w, r, rec.Form) {
		return
	}
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "invalid_request"})
		return
	}
	clientOK := (rec.BasicOK && rec.BasicUser == url.QueryEscape(testClientID) && rec.BasicPass == url.QueryEscape(testClientSecret)) ||
		(rec.Form.Get("client_id") == testClientID && rec.Form.Get("client_secret") == testClientSecret) ||
		(rec.Form.Get("client_id") == testClientID && rec.Form.Get("client_assertion") != "")
	if !clientOK {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	nonce := ""
	switch rec.Form.Get("grant_type") {
	case "authorization_code":
		c, ok := f.codes[rec.Form.Get("code")]
		delete(f.codes, rec.Form.Get("code"))
		sum := sha256.Sum256([]byte(rec.Form.Get("code_verifier")))
		if !ok || c.redirectURI != rec.Form.Get("redirect_uri") || b64u(sum[:]) != c.challenge {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "bad code"})
			return
		}
		nonce = c.nonce
	case "refresh_token":
		rt := rec.Form.Get("refresh_token")
		if f.refreshError != "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": f.refreshError})
			return
		}
		if !f.refresh[rt] {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "unknown refresh token"})
			return
		}
		if f.rotateRefresh {
			delete(f.refresh, rt)
		}
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	f.seq++
	resp := map[string]any{
		"access_token": fmt.Sprintf("at-%d", f.seq),
		"token_type":   "Bearer",
		"expires_in":   f.expiresIn,
	}
	if f.atClaims != nil {
		now := f.clock.Now().Unix()
		c := map[string]any{"iss": f.issuer, "sub": f.sub, "iat": now, "exp": now + int64(f.expiresIn)}
		for k, v := range f.atClaims {
			c[k] = v
		}
		resp["access_token"] = signJWT(f.t, f.signer, nil, c)
	}
	if rec.Form.Get("grant_type") == "authorization_code" || f.rotateRefresh {
		rt := fmt.Sprintf("rt-%d", f.seq)
		f.refresh[rt] = true
		resp["refresh_token"] = rt
	}
	if !f.noIDToken {
		resp["id_token"] = signJWT(f.t, f.signer, nil, f.idClaimsLocked(nonce))
	}
	writeJSON(w, http.StatusOK, resp)
}

// idClaims are the claims of an ID token the fake would issue now (aud and azp = client, iat now, exp +expiresIn).
func (f *fakeIdP) idClaims(nonce string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.idClaimsLocked(nonce)
}

func (f *fakeIdP) idClaimsLocked(nonce string) map[string]any {
	now := f.clock.Now().Unix()
	c := map[string]any{
		"iss": f.issuer, "aud": testClientID, "azp": testClientID, "sub": f.sub,
		"iat": now, "exp": now + int64(f.expiresIn),
	}
	if f.omitAZP {
		delete(c, "azp")
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	for k, v := range f.extraClaims {
		c[k] = v
	}
	return c
}

// mint signs claims with the fake's current signing key.
func (f *fakeIdP) mint(claims map[string]any) string {
	f.mu.Lock()
	k := f.signer
	f.mu.Unlock()
	return signJWT(f.t, k, nil, claims)
}

func (f *fakeIdP) tokenRequests() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedRequest(nil), f.tokenReqs...)
}

// ---------------------------------------------------------------------------------------------------------------
// middleware

// upstream is the `next` handler: it records what it received.
type upstream struct {
	mu     sync.Mutex
	calls  int
	header http.Header
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.calls++
	u.header = r.Header.Clone()
	u.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "upstream:"+r.URL.RequestURI())
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls
}

func (u *upstream) last() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.header
}

// config is a valid configuration for this provider.
func (f *fakeIdP) config() *Config {
	c := CreateConfig()
	c.Issuer = f.issuer
	c.ClientID = testClientID
	c.ClientSecret = testClientSecret
	c.SessionSecret = testSessionKey
	c.LogLevel = "error"
	return c
}

// newMW builds the middleware through New, with both clocks (middleware and shared provider) set to the fake's.
func newMW(t testing.TB, f *fakeIdP, cfg *Config) (*Middleware, *upstream) {
	t.Helper()
	up := &upstream{}
	h, err := New(context.Background(), up, cfg, "test")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	m := h.(*Middleware)
	m.now, m.since = f.clock.Now, f.clock.Since
	m.p.mu.Lock()
	m.p.now = f.clock.Now
	m.p.mu.Unlock()
	return m, up
}

// ---------------------------------------------------------------------------------------------------------------
// browser

// browser sends requests through the middleware with a cookie jar, like a browser on https://app.example.
type browser struct {
	t   testing.TB
	m   *Middleware
	jar *cookiejar.Jar
}

func newBrowser(t testing.TB, m *Middleware) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, m: m, jar: jar}
}

func absURL(target string) string {
	if strings.HasPrefix(target, "/") {
		return appOrigin + target
	}
	return target
}

// request builds a browser navigation with the jar's cookies.
func (b *browser) request(method, target string) *http.Request {
	r := httptest.NewRequest(method, absURL(target), nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml")
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	for _, c := range b.jar.Cookies(r.URL) {
		r.AddCookie(c)
	}
	return r
}

// do runs r through the middleware and stores the cookies it sets.
func (b *browser) do(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	b.m.ServeHTTP(rec, r)
	b.jar.SetCookies(r.URL, rec.Result().Cookies())
	return rec
}

func (b *browser) get(target string) *httptest.ResponseRecorder {
	return b.do(b.request(http.MethodGet, target))
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(appOrigin + "/")
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// noRedirect is an HTTP client that reports redirects instead of following them.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// authorize follows the middleware's redirect to the fake provider and returns the callback URL it redirects back to.
func (b *browser) authorize(loc string) string {
	b.t.Helper()
	resp, err := noRedirect.Get(loc)
	if err != nil {
		b.t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		b.t.Fatalf("authorize: status %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// login opens target, signs in at the fake provider and returns the callback's response.
func (b *browser) login(target string) *httptest.ResponseRecorder {
	b.t.Helper()
	rec := b.get(target)
	if rec.Code != http.StatusFound {
		b.t.Fatalf("login: GET %s: status %d, want 302: %s", target, rec.Code, rec.Body.String())
	}
	cb := b.get(b.authorize(rec.Header().Get("Location")))
	if cb.Code != http.StatusFound {
		b.t.Fatalf("login: callback: status %d, want 302: %s", cb.Code, cb.Body.String())
	}
	return cb
}

// setCookies returns the cookies a response sets, by name (the last one wins, as in a browser).
func setCookies(rec *httptest.ResponseRecorder) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range rec.Result().Cookies() {
		out[c.Name] = c
	}
	return out
}

// cookieHeader renders cookies for a Cookie request header.
func cookieHeader(cookies ...*http.Cookie) string {
	parts := make([]string, 0, len(cookies))
	for _, c := range cookies {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

func mustContain(t testing.TB, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s: %q does not contain %q", what, s, sub)
	}
}

// settingsWith derives settings from a minimal valid configuration changed by set. With wantErr set, New must fail
// with an error naming that key (nil is returned); without, it must succeed.
func settingsWith(t *testing.T, set func(*Config), wantErr string) *settings {
	t.Helper()
	c := CreateConfig()
	c.Issuer, c.ClientID, c.ClientSecret, c.SessionSecret = "https://idp.example", "client", "secret", testSessionKey
	set(c)
	s, err := newSettings(c)
	if wantErr != "" {
		if err == nil || !strings.HasPrefix(err.Error(), wantErr+":") {
			t.Fatalf("error %v, want one naming %s", err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("error %v, want none", err)
	}
	return s
}
