// Package descopeoidc is a Traefik middleware plugin that puts OpenID Connect login (Descope or any standard
// provider) in front of a service. Traefik runs it under the Yaegi interpreter: see YAEGI.md in the project's
// shared notes for the language subset this package sticks to.
package descopeoidc

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Middleware is the http.Handler Traefik calls. Everything in it is derived in New and never changes, except the
// caches, which have their own locks.
type Middleware struct {
	next http.Handler
	name string
	log  *logger
	s    *settings
	p    *provider
	tc   *tokenClient    // every call to the provider with the client's credentials or a user's token
	sm   *sessionManager // the session's life: cookies, chains, refresh flights, logout (sessionmanager.go)
	// sessions is sm.cache: the hot path (sessionHit, sessionParsed) reads it without a selector more.
	sessions *entryCache
	bearers  *entryCache
	now      func() time.Time
	// since is the same clock as now for the fast paths: since(unixEpoch) is one call into compiled code where
	// now().Unix() is two (half the allocations under Yaegi, BenchmarkYaegiOps Now vs SinceField).
	since func(time.Time) time.Duration
	own   *ownCookies // the plugin's cookie names, for the Cookie header upstream
	// chunkNames is sm.chunkNames, for the hot path: it reads chunked sessions without building names.
	chunkNames []string
	dsTokens   *entryCache // verified Descope session JWTs (descopeSessionCookie), nil when off: descopecookie.go
	inactive   *entryCache // opaque bearer tokens introspection refused, nil when off: introspect.go
	// The token verifiers, each with its own policy (idtoken.go, accesstoken.go). Their clock is m.now.
	idTokens     *idTokenVerifier
	bearerTokens *accessTokenVerifier
	claimsSource *claimsSourceVerifier
	logoutTokens *logoutTokenVerifier // backchannel.go
	met          *metricSet           // the counters of this middleware's name, shared by its instances: metrics.go
}

// New validates the configuration and builds the middleware. It does no network I/O and starts no goroutine:
// Traefik calls it for every router and on every configuration reload.
func New(_ context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	warmMethods() // once per process, before any request: warm.go
	s, err := newSettings(config)
	if err != nil {
		return nil, fmt.Errorf("descopeoidc %s: invalid configuration: %w", name, err)
	}
	m := &Middleware{
		next:  next,
		name:  name,
		s:     s,
		p:     getProvider(s.issuer, s.transportKey, s.caFingerprint, s.client, config.AllowInsecureIssuer),
		log:   &logger{name: name, level: s.logLevel, json: s.logJSON},
		now:   time.Now,
		since: time.Since,
	}
	reg := registryFor(s)
	pc := reg.policyFor(policyKey(config), s.sources.needed, s.cacheBytes) // shared by this configuration's instances
	m.sm = newSessionManager(s, m.log, reg, pc.cache)
	m.bearers = pc.bearers
	m.sessions, m.chunkNames = m.sm.cache, m.sm.chunkNames
	m.sm.mw = m
	m.own = newOwnCookies(s.cookieName, s.statePrefix, m.sm.hintNames[0])
	m.buildVerifiers()
	m.tc = newTokenClient(s, m.p)
	m.tc.now = func() time.Time { return m.now() } // the middleware's clock, as tests set it
	setupDescopeCookie(m, pc.ds)
	if s.introspect.on {
		m.inactive = newEntryCache(maxInactiveCached, s.cacheBytes/8) // refused opaque tokens, briefly: introspect.go
	}
	reportVersion(m.log)     // once per process: version.go
	m.met = metricsFor(name) // metrics.go
	m.sm.met = m.met
	watchCaches(m.met, m)
	return m, nil
}

// buildVerifiers derives the three token verifiers from the settings; they read the time through m.now.
func (m *Middleware) buildVerifiers() {
	s := m.s
	now := func() time.Time { return m.now() }
	drns := sessionDRNs(s.ds) // drn.go
	m.idTokens = &idTokenVerifier{keys: m.p, issuer: s.issuer, clientID: s.clientID, requireAZP: s.requireAZP,
		leeway: s.leeway, maxAge: s.authMaxAge, now: now}
	m.bearerTokens = &accessTokenVerifier{keys: m.p, issuers: s.bearerIssuers, audiences: s.bearerAudiences,
		clients: s.bearerClients, requireClient: s.requireBearerClient, idTokenShaped: s.bearerIDTokenShaped,
		drns: drns, leeway: s.leeway, now: now}
	if s.allowMissingAud {
		m.bearerTokens.noAudIssuers = s.projectIssuers
	}
	if s.projectID != "" && s.projectID != s.clientID {
		m.idTokens.trustedAud = []string{s.projectID} // Descope's OIDC apps: aud [projectID, clientID]
	}
	m.claimsSource = &claimsSourceVerifier{keys: m.p, issuers: s.bearerIssuers, drns: drns, leeway: s.leeway, now: now}
	m.logoutTokens = &logoutTokenVerifier{keys: m.p, issuer: s.issuer, clientID: s.clientID, leeway: s.leeway, now: now}
}

// verifyClaimsSource returns the claims of the OAuth access token from the plugin's own token response (a login or
// a refresh), for reading claims such as Descope's roles, permissions, tenants and dct (claims.go). The token must be
// a JWT signed with the provider's keys, from an accepted issuer (the issuer, acceptedIssuers, the bare projectID),
// unexpired; its audience and client are not checked, because it came from the token endpoint to us. An opaque
// access token returns errNotJWT (no claims to read, not a failure). Never use this for tokens a client sent: those
// go through m.bearerTokens.
func (m *Middleware) verifyClaimsSource(ctx context.Context, raw string) (map[string]any, error) {
	return m.claimsSource.verify(ctx, raw)
}

// ServeHTTP routes the plugin's own paths and authenticates everything else.
//
// ServeHTTP and what a request with a cached session or token runs (sessionHit, bearerHit, forward, stripCookies)
// are the hot path, and under Yaegi its cost is mostly calls: each call allocates a frame with every local variable
// of the callee, a method call costs several times a function call, and each call into compiled code goes through
// reflect. So these are plain functions with few locals, and whatever is rare (a new, refreshed, ending or denied
// session, an unknown token, errors) is in the methods they hand the request to. bench/ and integration/benchmarks
// measure it.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := m.s
	path := r.URL.Path
	if s.ownPaths[path] {
		m.serveOwnPath(w, r, path)
		return
	}
	h := r.Header
	for _, name := range s.stripHeaders {
		// canonical names, plus their '_' spellings (X-Forwarded_User): CGI/WSGI/Rack-style upstreams read '_' as
		// '-'. Precomputed in New: no loop over the request's headers here.
		delete(h, name)
	}
	if s.screen && m.screened(w, r, path) {
		return
	}
	if a := h["Authorization"]; len(a) != 0 {
		if s.bearer {
			bearerHit(m, w, r, a)
			return
		}
		sessionParsed(m, w, r, h["Cookie"]) // forward decides on the client's Authorization header
		return
	}
	sessionHit(m, w, r, h) // a request without an Authorization header
}

// serveOwnPath serves the plugin's own paths: the callback, logout, the login entry and the session endpoint (out of
// ServeHTTP, whose every local each request allocates under Yaegi).
func (m *Middleware) serveOwnPath(w http.ResponseWriter, r *http.Request, path string) {
	m.sm.reg.startPolling(m.log) // with a shared store: once per registry (sharedsessions.go)
	switch path {
	case m.s.callbackPath:
		m.handleCallback(w, r)
	case m.s.logoutPath:
		m.handleLogout(w, r)
	case m.s.backchannelPath:
		m.handleBackchannelLogout(w, r) // backchannel.go
	case m.s.frontchannelPath:
		m.handleFrontchannelLogout(w, r)
	case m.s.sessionInfoPath:
		m.handleSessionInfo(w, r) // sessioninfo.go
	case m.s.metricsPath:
		m.serveMetrics(w, r) // metrics.go
	default:
		m.handleLoginEntry(w, r) // loginentry.go
	}
}

// screened serves a CORS preflight (allowPreflight: loginentry.go) or a request for an excluded path, and reports
// whether it did. Out of ServeHTTP, whose every local and temporary each request allocates under Yaegi, and called
// only when either is configured.
func (m *Middleware) screened(w http.ResponseWriter, r *http.Request, path string) bool {
	if m.s.allowPreflight && isPreflight(r) {
		m.servePreflight(w, r)
		return true
	}
	if m.s.excluded.any && m.s.excluded.match(path) {
		m.serveExcluded(w, r)
		return true
	}
	return false
}

// serveExcluded passes a request for an excluded path upstream, without the plugin's cookies and, unless
// keepAuthorizationHeader, without Authorization.
func (m *Middleware) serveExcluded(w http.ResponseWriter, r *http.Request) {
	if !m.s.keepAuthorization {
		delete(r.Header, "Authorization") // upstream sees an Authorization header only when the plugin verified or set it
	}
	stripCookies(m, r) // public paths never see the session either
	m.next.ServeHTTP(w, r)
}

// forward sends an authenticated request upstream with the identity headers of e, never with the plugin's cookies,
// and with an Authorization header only when the plugin verified it (bearer: the first one, which bearerToken
// read), set it (forwardAccessToken) or was told to keep the client's (keepAuthorizationHeader). Hot path: a
// function, not a method; sessionHit and bearerHit inline it (TestFastPathsForwardLikeForward keeps them alike).
func forward(m *Middleware, w http.ResponseWriter, r *http.Request, e *entry, bearer bool) {
	h := r.Header
	for i, name := range e.names {
		h[name] = []string{e.values[i]}
	}
	if e.auth != "" {
		h["Authorization"] = []string{e.auth}
	} else if bearer {
		if a := h["Authorization"]; len(a) > 1 {
			h["Authorization"] = a[:1]
		}
	} else if !m.s.keepAuthorization {
		delete(h, "Authorization")
	}
	if _, ok := h["Cookie"]; ok {
		stripCookies(m, r)
	}
	m.next.ServeHTTP(w, r)
}
