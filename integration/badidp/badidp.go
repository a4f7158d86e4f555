// Package badidp is a hand-written OpenID Connect provider for attack tests. It serves discovery, JWKS, an authorize
// endpoint that redirects straight back with a code (no login page), a token endpoint and end_session on a loopback
// httptest server, and can be told to misbehave in exactly one way at a time (Mode), switchable at runtime.
//
// The token endpoint is strict, like a real provider: a code is single-use and redeemable only by the client and
// redirect_uri it was issued for, with the PKCE verifier matching its S256 challenge; anything else is invalid_grant.
package badidp

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Credentials of the one registered client.
const (
	ClientID     = "badidp-client"
	ClientSecret = "badidp-client-secret"
	// DefaultSub is the subject of every login without a login_hint.
	DefaultSub = "user-1"
	// OtherClientID is the client a ForeignCode code is issued to.
	OtherClientID = "other-client"
	// ForeignRedirectURI is the redirect_uri a ForeignCode code is issued for.
	ForeignRedirectURI = "https://evil.example/callback"
	// ErrorDetail is the error_description of ErrorBody200; it must never reach a browser.
	ErrorDetail = "IDP-INTERNAL-DETAIL db=prod-7 trace=4f1c"
	// DefaultSlowDelay is how long SlowToken stalls: just over the plugin's 10s HTTP timeout.
	DefaultSlowDelay = 10*time.Second + 500*time.Millisecond
	// HugeBodySize is the size of the HugeBody token response.
	HugeBodySize = 10 << 20
)

// Mode is the one way the provider misbehaves.
type Mode int

// Misbehaviours. Normal and NormalES256 behave; everything else is an attack or a fault.
const (
	Normal             Mode = iota // RS256 ID token, everything right
	NormalES256                    // ES256 ID token, everything right
	AlgNone                        // alg "none", empty signature (and discovery advertises "none")
	HS256WithPublicKey             // HS256 keyed with the RSA public key's PEM: algorithm confusion (discovery advertises HS256)
	BadRS256Signature              // RS256 with a corrupted signature
	BadES256Signature              // ES256 with a corrupted signature
	UnknownKid                     // valid RS256 signature, kid names no key (a new random kid per token)
	KeyRotation                    // signs with a new key and kid, published from the next JWKS fetch on
	NoKidOneKey                    // no kid in the header; the JWKS holds exactly one key
	NoKidSeveralKeys               // no kid in the header; the JWKS holds several keys
	WrongIssuer                    // iss is another issuer
	AudMissingClient               // aud does not contain the client
	MultiAudNoAZP                  // aud is [client, other], no azp
	AZPMissing                     // no azp
	AZPWrong                       // azp is another client
	SubMissing                     // no sub
	ExpPast                        // exp an hour ago
	IatFuture                      // iat an hour ahead
	NonceMissing                   // no nonce
	NonceWrong                     // another nonce
	NoIDToken                      // token response without id_token
	ErrorBody200                   // RFC 6749 error body with status 200
	HugeBody                       // 10 MB token response
	SlowToken                      // token endpoint answers after SlowDelay
	ForeignCode                    // authorize issues the code to another client and redirect_uri
	TokenUnavailable               // token endpoint answers 503 temporarily_unavailable (an outage behind a live front)
	RejectClient                   // token endpoint answers 401 invalid_client (client deleted or secret rotated away)
	NormalEd25519                  // alg "Ed25519" (RFC 9864), an OKP Ed25519 key whose JWK says alg "EdDSA"
	NormalEdDSA                    // alg "EdDSA", the same Ed25519 key
	CritHeader                     // valid RS256, but the header has crit naming an extension
	AlgMigration                   // from now on PS256 with a new key; discovery advertises only PS256 (sticky)
	IssParam                       // RFC 9207: discovery advertises the iss parameter, authorize sends the right one
	IssParamWrong                  // authorize sends iss = another issuer (not advertised)
	IssParamMissing                // discovery advertises the iss parameter, authorize sends none
	modeCount
)

var modeNames = [...]string{
	"Normal", "NormalES256", "AlgNone", "HS256WithPublicKey", "BadRS256Signature", "BadES256Signature", "UnknownKid",
	"KeyRotation", "NoKidOneKey", "NoKidSeveralKeys", "WrongIssuer", "AudMissingClient", "MultiAudNoAZP", "AZPMissing",
	"AZPWrong", "SubMissing", "ExpPast", "IatFuture", "NonceMissing", "NonceWrong", "NoIDToken", "ErrorBody200",
	"HugeBody", "SlowToken", "ForeignCode", "TokenUnavailable", "RejectClient", "NormalEd25519", "NormalEdDSA",
	"CritHeader", "AlgMigration", "IssParam", "IssParamWrong", "IssParamMissing",
}

func (m Mode) String() string {
	if m >= 0 && m < modeCount {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// TokenRequest is what the token endpoint last received.
type TokenRequest struct {
	GrantType    string
	ClientID     string // from Basic auth or the form
	AuthMethod   string // client_secret_basic, client_secret_post or none
	Code         string
	RedirectURI  string
	CodeVerifier string
	Outcome      string // "ok" or the OAuth error code answered
}

// Issued is what the token endpoint last handed out; tests check none of it leaks into a page.
type Issued struct {
	IDToken     string
	AccessToken string
}

type grant struct {
	clientID, redirectURI string
	challenge, method     string
	nonce, sub            string
	expires               time.Time
}

type signer struct {
	kid string
	rsa *rsa.PrivateKey
	pss bool // RSA-PSS (PS256) instead of PKCS #1 v1.5
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}

// Server is a misbehaving OpenID provider. All methods are safe for concurrent use.
type Server struct {
	addr   string
	prefix string // a random path under which everything is served: issuers never repeat, even on a reused port
	issuer string

	rsaKey, rotKey signer
	ecKey, edKey   signer
	psKey          signer // published once AlgMigration was set

	mu          sync.Mutex
	srv         *httptest.Server
	quit        chan struct{}
	mode        Mode
	rotated     bool
	migrated    bool
	codes       map[string]*grant
	extraClaims map[string]any
	expiresIn   int
	slowDelay   time.Duration
	jwksDelay   time.Duration
	redirects   []string
	lastToken   TokenRequest
	lastIssued  Issued
	refreshOn   bool              // issue refresh tokens and accept the refresh_token grant
	refreshes   map[string]string // valid refresh token -> subject; each works once (rotation)
	tokenHold   chan struct{}     // non-nil: token requests wait until it is closed
	refreshAns  refreshAnswer     // how refresh grants are answered instead of normally (answers.go)

	discoveryFetches  atomic.Int64
	jwksFetches       atomic.Int64
	tokenRequests     atomic.Int64
	refreshGrants     atomic.Int64
	heldTokens        atomic.Int64
	authorizeRequests atomic.Int64
	endSessions       atomic.Int64
}

// New starts a provider on a fresh loopback port with freshly generated keys (two RSA 2048, one P-256).
func New() (*Server, error) {
	s := &Server{codes: map[string]*grant{}, refreshes: map[string]string{}, expiresIn: 3600, slowDelay: DefaultSlowDelay}
	var err error
	if s.rsaKey.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if s.rotKey.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if s.psKey.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if s.ecKey.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if _, s.edKey.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	s.rsaKey.kid, s.rotKey.kid, s.ecKey.kid = "rsa-"+randHex(4), "rotated-"+randHex(4), "ec-"+randHex(4)
	s.edKey.kid, s.psKey.kid, s.psKey.pss = "ed-"+randHex(4), "ps-"+randHex(4), true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = l.Addr().String()
	s.prefix = "/idp-" + randHex(6)
	s.issuer = "http://" + s.addr + s.prefix
	s.startOn(l)
	return s, nil
}

// Issuer is the provider's issuer URL (http on loopback: the plugin allows it without allowInsecureIssuer).
func (s *Server) Issuer() string { return s.issuer }

// Addr is host:port of the listener; it survives Stop and Start.
func (s *Server) Addr() string { return s.addr }

func (s *Server) startOn(l net.Listener) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	_ = ts.Listener.Close()
	ts.Listener = l
	quit := make(chan struct{})
	s.mu.Lock()
	s.srv, s.quit = ts, quit
	s.mu.Unlock()
	ts.Start()
}

// Stop closes the listener and every connection: the provider is down (connection refused) until Start.
func (s *Server) Stop() {
	s.mu.Lock()
	ts, quit := s.srv, s.quit
	s.srv, s.quit = nil, nil
	s.mu.Unlock()
	if ts == nil {
		return
	}
	close(quit) // release stalled handlers, so that Close does not wait for them
	ts.CloseClientConnections()
	ts.Close()
}

// Start brings a stopped provider back on the same address, with the same keys, codes and mode.
func (s *Server) Start() error {
	s.mu.Lock()
	running := s.srv != nil
	s.mu.Unlock()
	if running {
		return nil
	}
	var (
		l   net.Listener
		err error
	)
	for i := 0; i < 100; i++ {
		if l, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("badidp: restarting on %s: %w", s.addr, err)
	}
	s.startOn(l)
	return nil
}

// DropConnections closes every open connection (clients reconnect on their next request), e.g. to count
// goroutines without keep-alive connections in the way.
func (s *Server) DropConnections() {
	s.mu.Lock()
	ts := s.srv
	s.mu.Unlock()
	if ts != nil {
		ts.CloseClientConnections()
	}
}

// Close stops the provider for good.
func (s *Server) Close() { s.Stop() }

// Running reports whether the provider is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv != nil
}

// SetMode switches the misbehaviour; it applies to the next request. KeyRotation is sticky for the JWKS: once
// rotated, the new key stays published.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	s.mode = m
	if m == KeyRotation {
		s.rotated = true
	}
	if m == AlgMigration {
		s.migrated = true
	}
	s.mu.Unlock()
}

// Mode returns the current misbehaviour.
func (s *Server) Mode() Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode
}

// SetExtraClaims adds claims to every ID token (e.g. a 6 KB claim to force chunked session cookies).
func (s *Server) SetExtraClaims(c map[string]any) {
	s.mu.Lock()
	s.extraClaims = c
	s.mu.Unlock()
}

// SetExpiresIn sets the token response's expires_in (seconds; the session ends then when there is no refresh token).
func (s *Server) SetExpiresIn(sec int) {
	s.mu.Lock()
	s.expiresIn = sec
	s.mu.Unlock()
}

// SetRefreshTokens makes the token endpoint issue a refresh token with every code and refresh, and accept the
// refresh_token grant. Refresh tokens rotate: each works once, then it is invalid_grant.
func (s *Server) SetRefreshTokens(on bool) {
	s.mu.Lock()
	s.refreshOn = on
	s.mu.Unlock()
}

// HoldTokens makes every token request wait (whatever the mode) until release is called, the client gives up or the
// provider stops: a token endpoint that hangs.
func (s *Server) HoldTokens() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.tokenHold = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.tokenHold == ch {
				s.tokenHold = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// HeldTokenRequests counts token requests that waited in HoldTokens.
func (s *Server) HeldTokenRequests() int64 { return s.heldTokens.Load() }

// RefreshGrants counts refresh_token grants received (whatever the outcome).
func (s *Server) RefreshGrants() int64 { return s.refreshGrants.Load() }

// SetSlowDelay sets how long SlowToken stalls.
func (s *Server) SetSlowDelay(d time.Duration) {
	s.mu.Lock()
	s.slowDelay = d
	s.mu.Unlock()
}

// SetJWKSDelay makes the JWKS endpoint answer after d (0: at once), whatever the mode.
func (s *Server) SetJWKSDelay(d time.Duration) {
	s.mu.Lock()
	s.jwksDelay = d
	s.mu.Unlock()
}

// SetRedirectURIs registers the client's redirect URIs: authorize then refuses (400, no redirect) any other, as a
// real provider does. Empty (the default) accepts any absolute URI.
func (s *Server) SetRedirectURIs(uris ...string) {
	s.mu.Lock()
	s.redirects = append([]string(nil), uris...)
	s.mu.Unlock()
}

// DiscoveryFetches counts GETs of the discovery document.
func (s *Server) DiscoveryFetches() int64 { return s.discoveryFetches.Load() }

// JWKSFetches counts GETs of the JWKS.
func (s *Server) JWKSFetches() int64 { return s.jwksFetches.Load() }

// TokenRequests counts POSTs to the token endpoint.
func (s *Server) TokenRequests() int64 { return s.tokenRequests.Load() }

// AuthorizeRequests counts authorize requests.
func (s *Server) AuthorizeRequests() int64 { return s.authorizeRequests.Load() }

// EndSessionRequests counts end_session requests.
func (s *Server) EndSessionRequests() int64 { return s.endSessions.Load() }

// LastTokenRequest returns the last token request received.
func (s *Server) LastTokenRequest() TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastToken
}

// LastIssued returns the last tokens the token endpoint handed out (or tried to).
func (s *Server) LastIssued() Issued {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastIssued
}

// PublicKeyPEM is the PEM of the main RSA public key, the HMAC secret of HS256WithPublicKey.
func (s *Server) PublicKeyPEM() []byte { return rsaPublicPEM(&s.rsaKey.rsa.PublicKey) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, s.prefix+"/") {
		http.NotFound(w, r)
		return
	}
	switch strings.TrimPrefix(r.URL.Path, s.prefix) {
	case "/.well-known/openid-configuration":
		s.serveDiscovery(w)
	case "/jwks":
		s.serveJWKS(w, r)
	case "/authorize":
		s.serveAuthorize(w, r)
	case "/token":
		s.serveToken(w, r)
	case "/end_session":
		s.serveEndSession(w, r)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serveDiscovery(w http.ResponseWriter) {
	s.discoveryFetches.Add(1)
	algs := []string{"RS256", "ES256", "EdDSA", "Ed25519"}
	s.mu.Lock()
	mode, migrated := s.mode, s.migrated
	s.mu.Unlock()
	switch mode {
	case AlgNone:
		algs = append(algs, "none") // a provider that lies cannot talk the plugin into "none"
	case HS256WithPublicKey:
		algs = append(algs, "HS256")
	}
	if migrated {
		algs = []string{"PS256"}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"authorization_response_iss_parameter_supported": mode == IssParam || mode == IssParamMissing,
		"issuer":                                s.issuer,
		"authorization_endpoint":                s.issuer + "/authorize",
		"token_endpoint":                        s.issuer + "/token",
		"jwks_uri":                              s.issuer + "/jwks",
		"end_session_endpoint":                  s.issuer + "/end_session",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": algs,
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	})
}

// wait stalls for d, returning early when the server stops or the client goes away.
func (s *Server) wait(r *http.Request, d time.Duration) {
	s.mu.Lock()
	quit := s.quit
	s.mu.Unlock()
	if quit == nil {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-quit:
	case <-r.Context().Done():
	}
}

func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) {
	s.jwksFetches.Add(1)
	s.mu.Lock()
	mode, rotated, delay := s.mode, s.rotated, s.jwksDelay
	s.mu.Unlock()
	if delay > 0 {
		s.wait(r, delay)
	}
	keys := []map[string]any{rsaJWK(s.rsaKey)}
	if mode != NoKidOneKey {
		keys = append(keys, ecJWK(s.ecKey), edJWK(s.edKey))
		if rotated {
			keys = append(keys, rsaJWK(s.rotKey))
		}
		if s.migratedNow() {
			keys = append(keys, rsaJWK(s.psKey))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	s.authorizeRequests.Add(1)
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Scheme == "" || redirect.Host == "" {
		http.Error(w, "invalid redirect_uri", http.StatusBadRequest)
		return
	}
	if q.Get("response_type") != "code" || q.Get("client_id") == "" {
		http.Error(w, "invalid authorization request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	allowed := len(s.redirects) == 0
	for _, u := range s.redirects {
		allowed = allowed || u == q.Get("redirect_uri")
	}
	s.mu.Unlock()
	if !allowed {
		http.Error(w, "redirect_uri is not registered for this client", http.StatusBadRequest)
		return
	}
	sub := q.Get("login_hint")
	if sub == "" {
		sub = DefaultSub
	}
	g := &grant{
		clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), method: q.Get("code_challenge_method"),
		nonce: q.Get("nonce"), sub: sub, expires: time.Now().Add(time.Minute),
	}
	code := "code-" + randHex(16)
	s.mu.Lock()
	if s.mode == ForeignCode {
		g.clientID, g.redirectURI = OtherClientID, ForeignRedirectURI
	}
	s.codes[code] = g
	mode := s.mode
	s.mu.Unlock()
	rq := redirect.Query()
	rq.Set("code", code)
	rq.Set("state", q.Get("state"))
	switch mode {
	case IssParam:
		rq.Set("iss", s.issuer)
	case IssParamWrong:
		rq.Set("iss", "https://attacker.example")
	}
	redirect.RawQuery = rq.Encode()
	w.Header().Set("Location", redirect.String())
	w.WriteHeader(http.StatusFound)
}

func (s *Server) serveEndSession(w http.ResponseWriter, r *http.Request) {
	s.endSessions.Add(1)
	if u := r.URL.Query().Get("post_logout_redirect_uri"); u != "" {
		w.Header().Set("Location", u)
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("signed out\n"))
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.tokenRequests.Add(1)
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	tr := TokenRequest{
		GrantType: r.PostForm.Get("grant_type"), Code: r.PostForm.Get("code"),
		RedirectURI: r.PostForm.Get("redirect_uri"), CodeVerifier: r.PostForm.Get("code_verifier"),
	}
	clientID, secret, basic := r.BasicAuth()
	switch {
	case basic:
		clientID, _ = url.QueryUnescape(clientID)
		secret, _ = url.QueryUnescape(secret)
		tr.AuthMethod = "client_secret_basic"
	case r.PostForm.Get("client_secret") != "":
		clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		tr.AuthMethod = "client_secret_post"
	default:
		clientID = r.PostForm.Get("client_id")
		tr.AuthMethod = "none"
	}
	tr.ClientID = clientID
	if tr.GrantType == "refresh_token" {
		s.refreshGrants.Add(1)
	}
	s.mu.Lock()
	hold, quit := s.tokenHold, s.quit
	s.mu.Unlock()
	if hold != nil {
		s.heldTokens.Add(1)
		select {
		case <-hold:
		case <-quit:
		case <-r.Context().Done():
		}
	}
	outcome, write := s.token(r, tr, clientID, secret, r.PostForm.Get("refresh_token"))
	tr.Outcome = outcome
	s.mu.Lock()
	s.lastToken = tr // before answering: a test may look as soon as the plugin has read what it wanted
	s.mu.Unlock()
	write(w)
}

// token decides the answer to a token request: the outcome ("ok" or an OAuth error code) and how to write it.
func (s *Server) token(r *http.Request, tr TokenRequest, clientID, secret, refresh string) (string, func(http.ResponseWriter)) {
	s.mu.Lock()
	mode, slow, expiresIn, refreshOn := s.mode, s.slowDelay, s.expiresIn, s.refreshOn
	s.mu.Unlock()
	fail := func(status int, code, desc string) (string, func(http.ResponseWriter)) {
		return code, func(w http.ResponseWriter) { oauthError(w, status, code, desc) }
	}
	switch mode {
	case SlowToken:
		s.wait(r, slow)
	case ErrorBody200:
		return fail(http.StatusOK, "invalid_request", ErrorDetail)
	case HugeBody:
		return "huge", writeHuge
	case TokenUnavailable:
		return fail(http.StatusServiceUnavailable, "temporarily_unavailable", "token service down")
	case RejectClient:
		return fail(http.StatusUnauthorized, "invalid_client", "client unknown")
	}
	if clientID != ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(ClientSecret)) != 1 {
		return fail(http.StatusUnauthorized, "invalid_client", "client authentication failed")
	}
	if tr.GrantType == "refresh_token" && refreshOn {
		if outcome, write, ok := s.refreshOverride(); ok { // answers.go
			return outcome, write
		}
		return s.refreshGrant(refresh, expiresIn)
	}
	if tr.GrantType != "authorization_code" {
		return fail(http.StatusBadRequest, "unsupported_grant_type", "authorization_code only")
	}
	s.mu.Lock()
	g := s.codes[tr.Code]
	delete(s.codes, tr.Code) // single use, whatever happens next
	s.mu.Unlock()
	if g == nil || time.Now().After(g.expires) || g.clientID != clientID || g.redirectURI != tr.RedirectURI || !pkceOK(g, tr.CodeVerifier) {
		return fail(http.StatusBadRequest, "invalid_grant", "code unknown, used, expired, or issued to another client, redirect_uri or verifier")
	}
	resp := map[string]any{
		"access_token": "at-" + randHex(24),
		"token_type":   "Bearer",
		"expires_in":   expiresIn,
	}
	iss := Issued{AccessToken: resp["access_token"].(string)}
	if refreshOn {
		resp["refresh_token"] = s.newRefreshToken(g.sub)
	}
	if mode != NoIDToken {
		tok, err := s.mint(mode, g)
		if err != nil {
			return fail(http.StatusInternalServerError, "server_error", err.Error())
		}
		resp["id_token"] = tok
		iss.IDToken = tok
	}
	s.mu.Lock()
	s.lastIssued = iss
	s.mu.Unlock()
	return "ok", func(w http.ResponseWriter) { writeJSON(w, http.StatusOK, resp) }
}

// newRefreshToken issues a refresh token for sub.
func (s *Server) newRefreshToken(sub string) string {
	rt := "rt-" + randHex(16)
	s.mu.Lock()
	s.refreshes[rt] = sub
	s.mu.Unlock()
	return rt
}

// refreshGrant redeems a refresh token once: new access and refresh tokens, no ID token.
func (s *Server) refreshGrant(rt string, expiresIn int) (string, func(http.ResponseWriter)) {
	s.mu.Lock()
	sub, ok := s.refreshes[rt]
	delete(s.refreshes, rt)
	s.mu.Unlock()
	if !ok {
		return "invalid_grant", func(w http.ResponseWriter) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token unknown or used")
		}
	}
	resp := map[string]any{
		"access_token": "at-" + randHex(24), "token_type": "Bearer", "expires_in": expiresIn,
		"refresh_token": s.newRefreshToken(sub),
	}
	if s.bareRefreshes() { // answers.go
		delete(resp, "expires_in")
	}
	return "ok", func(w http.ResponseWriter) { writeJSON(w, http.StatusOK, resp) }
}

func pkceOK(g *grant, verifier string) bool {
	if g.challenge == "" {
		return verifier == ""
	}
	if g.method != "S256" || verifier == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.challenge)) == 1
}

// writeHuge streams a syntactically valid 10 MB token response without holding it in memory.
func writeHuge(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte(`{"token_type":"Bearer","access_token":"`)); err != nil {
		return
	}
	chunk := []byte(strings.Repeat("A", 64<<10))
	for n := 0; n < HugeBodySize; n += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			return // the plugin stopped reading: good
		}
	}
	_, _ = w.Write([]byte(`"}`))
}

// mint builds the ID token for a grant, misbehaving as mode says.
func (s *Server) mint(mode Mode, g *grant) (string, error) {
	now := time.Now()
	claims := map[string]any{
		"iss": s.issuer, "sub": g.sub, "aud": ClientID, "azp": ClientID,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nonce": g.nonce,
		"email": g.sub + "@example.com",
	}
	s.mu.Lock()
	for k, v := range s.extraClaims {
		claims[k] = v
	}
	s.mu.Unlock()
	header := map[string]any{"typ": "JWT", "alg": "RS256", "kid": s.rsaKey.kid}
	key := s.rsaKey
	switch mode {
	case NormalES256, BadES256Signature:
		header["alg"], header["kid"], key = "ES256", s.ecKey.kid, s.ecKey
	case NormalEd25519, NormalEdDSA:
		header["alg"], header["kid"], key = "Ed25519", s.edKey.kid, s.edKey
		if mode == NormalEdDSA {
			header["alg"] = "EdDSA"
		}
	case AlgMigration:
		header["alg"], header["kid"], key = "PS256", s.psKey.kid, s.psKey
	case CritHeader:
		header["crit"], header["urn:example:ext"] = []string{"urn:example:ext"}, true
	case UnknownKid:
		header["kid"] = "ghost-" + randHex(8)
	case KeyRotation:
		header["kid"], key = s.rotKey.kid, s.rotKey
	case NoKidOneKey, NoKidSeveralKeys:
		delete(header, "kid")
	case WrongIssuer:
		claims["iss"] = "https://attacker.example"
	case AudMissingClient:
		claims["aud"] = []string{OtherClientID}
		delete(claims, "azp")
	case MultiAudNoAZP:
		claims["aud"] = []string{ClientID, OtherClientID}
		delete(claims, "azp")
	case AZPMissing:
		delete(claims, "azp")
	case AZPWrong:
		claims["azp"] = OtherClientID
	case SubMissing:
		delete(claims, "sub")
	case ExpPast:
		claims["exp"] = now.Add(-time.Hour).Unix()
		claims["iat"] = now.Add(-2 * time.Hour).Unix()
	case IatFuture:
		claims["iat"] = now.Add(time.Hour).Unix()
		claims["exp"] = now.Add(2 * time.Hour).Unix()
	case NonceMissing:
		delete(claims, "nonce")
	case NonceWrong:
		claims["nonce"] = "not-" + g.nonce
	case AlgNone:
		header = map[string]any{"typ": "JWT", "alg": "none"}
		input, err := signingInput(header, claims)
		return input + ".", err
	case HS256WithPublicKey:
		header["alg"] = "HS256"
		input, err := signingInput(header, claims)
		if err != nil {
			return "", err
		}
		return input + "." + b64(hs256(s.PublicKeyPEM(), input)), nil
	}
	input, err := signingInput(header, claims)
	if err != nil {
		return "", err
	}
	sig, err := sign(key, input)
	if err != nil {
		return "", err
	}
	if mode == BadRS256Signature || mode == BadES256Signature {
		sig[len(sig)/2] ^= 0x01
	}
	return input + "." + b64(sig), nil
}

func signingInput(header, claims map[string]any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return b64(h) + "." + b64(c), nil
}

func sign(k signer, input string) ([]byte, error) {
	sum := sha256.Sum256([]byte(input))
	switch {
	case k.ed != nil:
		return ed25519.Sign(k.ed, []byte(input)), nil
	case k.rsa != nil && k.pss:
		return rsa.SignPSS(rand.Reader, k.rsa, cryptoSHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case k.rsa != nil:
		return rsa.SignPKCS1v15(rand.Reader, k.rsa, cryptoSHA256, sum[:])
	}
	r, sv, err := ecdsa.Sign(rand.Reader, k.ec, sum[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	sv.FillBytes(out[32:])
	return out, nil
}

// migratedNow reports whether AlgMigration was set (the PS256 key is published from then on).
func (s *Server) migratedNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.migrated
}

func edJWK(k signer) map[string]any {
	pub := k.ed.Public().(ed25519.PublicKey)
	return map[string]any{"kty": "OKP", "use": "sig", "alg": "EdDSA", "kid": k.kid, "crv": "Ed25519", "x": b64(pub)}
}

func rsaJWK(k signer) map[string]any {
	pub := &k.rsa.PublicKey
	alg := "RS256"
	if k.pss {
		alg = "PS256"
	}
	return map[string]any{
		"kty": "RSA", "use": "sig", "alg": alg, "kid": k.kid,
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}
}

func ecJWK(k signer) map[string]any {
	x := make([]byte, 32)
	y := make([]byte, 32)
	k.ec.PublicKey.X.FillBytes(x)
	k.ec.PublicKey.Y.FillBytes(y)
	return map[string]any{"kty": "EC", "use": "sig", "alg": "ES256", "kid": k.kid, "crv": "P-256", "x": b64(x), "y": b64(y)}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
