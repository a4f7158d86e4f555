package descopeoidc

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sessionHit serves a request without an Authorization header (ServeHTTP sends the others elsewhere) whose session
// is cached and needs nothing (no refresh, no re-issue, not ended, not denied: e.hitUntil): the hot path of browser
// traffic. Everything else goes to serveSession, which decides afresh.
//
// A Cookie header of one line is looked up as it is: the cache is keyed by the pair "<cookieName>=<value>"
// (sessionKey), which holds no ';', so a hit also says that the line holds the session and nothing else (upstream
// gets no Cookie header). No parsing, no slicing, no calls into compiled code but the lock and the clock. Anything
// else goes to sessionParsed. Under Yaegi each call allocates every local and temporary of the callee: this function
// holds only the fast path, and takes the request's header from ServeHTTP (h) rather than selecting it again.
func sessionHit(m *Middleware, w http.ResponseWriter, r *http.Request, h http.Header) {
	lines := h["Cookie"]
	if len(lines) == 1 {
		c := m.sessions
		c.mu.RLock()
		e := c.m[lines[0]]
		c.mu.RUnlock()
		if e != nil {
			if m.since(unixEpoch) < e.hitUntil {
				// forward(m, w, r, e, false), inlined: one interpreted call less (~17 allocations under Yaegi)
				delete(h, "Cookie")
				for i, name := range e.names {
					h[name] = []string{e.values[i]}
				}
				if e.auth != "" { // forwardAccessToken (the request has no Authorization header: ServeHTTP)
					h["Authorization"] = []string{e.auth}
				}
				m.next.ServeHTTP(w, r)
				return
			}
		}
	}
	sessionParsed(m, w, r, lines)
}

// sessionParsed is sessionHit for any other Cookie header: parsed once, for here and serveSession.
func sessionParsed(m *Middleware, w http.ResponseWriter, r *http.Request, lines []string) {
	cookies := r.Cookies()
	raw, ours := "", false // ours: the Cookie header holds the session and nothing else
	for _, c := range cookies {
		if c.Name == m.s.cookieName { // the first one counts, as with r.Cookie
			raw = c.Value
			break
		}
	}
	if len(raw) > 1 && raw[1] == '.' { // "<n>.": chunked; n has one digit (maxSessionChunks)
		n := int(raw[0] - '0')
		raw, _ = chunkedValueAt(cookies, m.chunkNames, 0) // sessionValue
		// chunkedValueAt found the n chunk names among n cookies, in n pairs: nothing else is in the header
		ours = raw != "" && n == len(cookies) && len(lines) == 1 && strings.Count(lines[0], ";") == n-1
	}
	if raw != "" {
		key := m.own.nameEq + raw // sessionKey and sessions.get, inlined
		if len(raw) > maxRawKey {
			sum := sha256.Sum256([]byte(raw))
			key = string(sum[:])
		}
		c := m.sessions
		c.mu.RLock()
		e := c.m[key]
		c.mu.RUnlock()
		if e != nil && m.since(unixEpoch) < e.hitUntil {
			if ours {
				delete(r.Header, "Cookie")
			}
			forward(m, w, r, e, false)
			return
		}
	}
	m.serveSession(w, r, cookies)
}

// serveSession authenticates a browser request by its session cookie (cookies: the request's, parsed).
func (m *Middleware) serveSession(w http.ResponseWriter, r *http.Request, cookies []*http.Cookie) {
	raw, err := m.sm.pickSession(cookies) // of several cookies with the session's name, a good one: sessioncookies.go
	if err != nil {
		if err != errNoCookie {
			m.logf(levelInfo, "session cookie unusable: %v", err)
			m.sm.clearSessionCookie(w, r)
		}
		m.unauthenticated(w, r)
		return
	}
	now := m.now().Unix()
	key := m.sm.sessionKey(raw)
	e := m.sessions.get(key)
	if e == nil {
		if e = m.admitSession(w, r, key, raw, now); e == nil {
			return
		}
	}
	if e.next == nil {
		e = m.linkSuccessor(key, e, now)
	}
	if e.next != nil || m.sm.reg.superseded(e.data, now) {
		if e, key = m.successor(w, r, e, now); e == nil {
			return
		}
	}
	due := now >= e.refreshAt && now < e.endAt // a session past its max age or idle timeout is not refreshed
	if due {
		if e = m.refresh(w, r, key, e, now); e == nil {
			return
		}
	}
	if now >= e.endAt {
		m.logf(levelInfo, "session ended (max age, idle timeout or token expiry)")
		m.sessions.remove(key)
		m.sm.clearSessionCookie(w, r)
		m.unauthenticated(w, r)
		return
	}
	if m.s.stepUp != nil && m.stepUpDue(w, r, e, now) { // authentication too old for maxAuthAge: stepup.go
		return
	}
	if e.denied != "" {
		m.eventRefused(r, e) // events.go
		m.forbidden(w, r, e.denied)
		return
	}
	if !due && now >= e.seenAt { // a refresh records the activity itself
		m.touch(w, r, key, e, now)
	}
	forward(m, w, r, e, false)
}

// admitSession decrypts a session cookie not in the cache and caches it, or answers the request (nil) when the
// cookie is bad or its chain refuses it (logged out, or replaced by a refresh more than refreshGrace ago).
func (m *Middleware) admitSession(w http.ResponseWriter, r *http.Request, key, raw string, now int64) *entry {
	m.sm.reg.startPolling(m.log) // with a shared store, before this process serves its first session: sharedsessions.go
	d, err := m.sm.openSession(raw)
	if err != nil {
		m.logf(levelInfo, "session cookie rejected: %v", err)
		m.refuseSession(w, r)
		return nil
	}
	e := m.newSessionEntry(d, now)
	m.sm.thinIfReopenable(key, e, d)
	if e = m.sm.admit(key, e, now); e == nil {
		m.logf(levelInfo, "session cookie refused: logged out, or replaced by a refresh more than %ds ago", refreshGrace)
		m.refuseSession(w, r)
		return nil
	}
	return e
}

func (m *Middleware) refuseSession(w http.ResponseWriter, r *http.Request) {
	m.sm.clearSessionCookie(w, r)
	m.unauthenticated(w, r)
}

// linkSuccessor points the cached entry e at the newest successor of its chain when another middleware instance (or
// another policy's cache) refreshed it, so that this cookie continues as that session instead of spending the
// refresh token again. It returns the entry to go on with.
func (m *Middleware) linkSuccessor(key string, e *entry, now int64) *entry {
	rep := m.sm.reg.successorOf(e.data)
	if rep == nil {
		return e
	}
	next := m.adopt(rep, now)
	if next == nil {
		return e
	}
	old := *e
	old.next = next
	m.sm.replaceIf(key, e, &old) // when another request linked it first, this request still continues as rep
	return &old
}

// successor continues a superseded session as its newest successor, and hands that cookie to the browser. It
// answers the request itself (nil) when the chain refuses the cookie.
func (m *Middleware) successor(w http.ResponseWriter, r *http.Request, e *entry, now int64) (*entry, string) {
	if m.sm.reg.superseded(e.data, now) || now >= e.endAt { // an old cookie lives no longer than its own limits
		m.logf(levelInfo, "session cookie refused: logged out, ended, or replaced by a refresh more than %ds ago", refreshGrace)
		m.refuseSession(w, r)
		return nil, ""
	}
	var rep *replacement
	for i := 0; e.next != nil && i < maxChainHops; i++ {
		rep = e.next
		if e = m.sessions.get(rep.key); e == nil { // evicted: the replacement as it was made
			e = rep.e
			m.sm.replaceIf(rep.key, nil, e)
		}
	}
	if rep == nil || !m.sm.handOut(e.data, now) {
		m.logf(levelInfo, "session cookie refused: logged out")
		m.refuseSession(w, r)
		return nil, ""
	}
	m.writeReplacement(w, r, rep)
	return e, rep.key
}

// newSessionEntry derives everything the hot path needs from a decrypted session, once.
func (m *Middleware) newSessionEntry(d *sessionData, now int64) *entry {
	claims := m.ownClaims(d.Claims) // this middleware's email policy (email.go), whoever sealed the session
	e := (&entry{data: d, refreshAt: never, seenAt: never}).withHeaders(m.renderHeaders(claims))
	if m.s.forwardAccessToken && d.AccessToken != "" {
		e.auth = "Bearer " + d.AccessToken
	}
	if err := m.s.authz.check(claims); err != nil {
		e.denied = err.Error()
	}
	e.endAt = m.sm.chainUntil(d)
	if m.s.idleTimeout > 0 {
		idle := int64(m.s.idleTimeout / time.Second)
		if end := d.Seen + idle; end < e.endAt {
			e.endAt = end
		}
		e.seenAt = d.Seen + idle/4
	}
	if d.RefreshToken != "" {
		e.refreshAt = refreshPoint(d.Issued, d.Expiry, int64(m.s.refreshMargin/time.Second))
	} else if d.Expiry < e.endAt {
		e.endAt = d.Expiry // nothing to refresh with: the session ends with its tokens
	}
	if !m.covers(d.Kept) { // made before this middleware was configured: its claims come from a refresh first
		e.claimsDue = true
		e.refreshAt = 0
	}
	if m.s.revalidate > 0 { // sessionRevalidate: back to the provider at least that often, or the session ends
		at := d.Issued + int64(m.s.revalidate/time.Second)
		if d.RefreshToken != "" && at < e.refreshAt {
			e.refreshAt = at
		} else if d.RefreshToken == "" && at < e.endAt {
			e.endAt = at
		}
	}
	if m.s.stepUp != nil {
		m.markStepUp(e, d.Claims, now, false) // stepup.go
	}
	return e
}

// renderHeaders computes the identity headers once per session. Values that are not valid header values (control
// characters, see validHeaderValue) are dropped with a log line: they would be a header injection or fail the hop.
func (m *Middleware) renderHeaders(claims map[string]any) []string {
	out := make([]string, 0, 2*len(m.s.headers))
	for _, h := range m.s.headers {
		v, ok := lookup(claims, h.path)
		if !ok {
			continue
		}
		s, ok := headerValue(v)
		if !ok || !validHeaderValue(s) {
			m.logf(levelWarn, "claim %q cannot be sent in header %s", strings.Join(h.path, "."), h.name)
			continue
		}
		out = append(out, h.name, s)
	}
	return out
}

// touch re-issues the cookie with a new activity time, for the idle timeout: once per interval (a quarter of the
// timeout) per session. The old cookie's entry points to the new one, so requests that still carry the old cookie
// are served as the new session and given its cookie, instead of re-issuing again and filling the cache.
func (m *Middleware) touch(w http.ResponseWriter, r *http.Request, key string, e *entry, now int64) {
	if m.sessions.get(key) != e {
		return // another request re-issued it already (or it is not cached: an old generation in its grace)
	}
	full := m.sm.session(key, e)
	if full == nil {
		return
	}
	d := *full
	d.Seen = now
	cookie, err := m.sm.sealSession(&d)
	if err != nil {
		m.logf(levelError, "re-issuing session for idle timeout: %v", err)
		return
	}
	rep := &replacement{key: m.sm.sessionKey(cookie), cookie: cookie, e: m.newSessionEntry(&d, now), cache: m.sessions}
	m.sm.thinIfReopenable(rep.key, rep.e, &d)
	old := *e
	old.next = rep
	if !m.sm.replaceIf(key, e, &old) {
		return // a concurrent request re-issued or refreshed it first: its cookie reaches the browser next time
	}
	m.sm.replaceIf(rep.key, nil, rep.e)
	if err := m.sm.writeSessionCookie(w, r, cookie); err != nil {
		m.logf(levelError, "re-issuing session for idle timeout: %v", err)
	}
}

func bearerToken(r *http.Request) (string, bool) {
	a := r.Header["Authorization"]
	if len(a) == 0 || len(a[0]) <= 7 {
		return "", false
	}
	h := a[0] // the first one, as Header.Get
	if h[:7] == "Bearer " && h[7] != ' ' && h[len(h)-1] != ' ' {
		return h[7:], true // the usual spelling: no calls into compiled code
	}
	if strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// bearerHit serves a request with an Authorization header (a: its lines) whose bearer token is cached, unexpired and
// allowed: the hot path of API traffic. The bearer cache is keyed by the header line itself, "Bearer <token>", or
// its digest when longer than maxRawKey (bearerKey), so a hit needs no parsing and no slicing. Everything else goes
// to bearerMiss.
func bearerHit(m *Middleware, w http.ResponseWriter, r *http.Request, a []string) {
	key := a[0] // the first line, as Header.Get and bearerToken
	if len(key) > maxRawKey {
		key = cacheKey(key) // bearerKey; a call, so that short tokens' frames hold no digest
	}
	c := m.bearers
	c.mu.RLock()
	e := c.m[key]
	c.mu.RUnlock()
	if e != nil && m.since(unixEpoch) < e.hitUntil {
		// forward(m, w, r, e, true), inlined as in sessionHit
		h := r.Header
		for i, name := range e.names {
			h[name] = []string{e.values[i]}
		}
		if len(a) > 1 {
			h["Authorization"] = a[:1]
		}
		if _, ok := h["Cookie"]; ok {
			stripCookies(m, r)
		}
		m.next.ServeHTTP(w, r)
		return
	}
	bearerMiss(m, w, r)
}

// bearerMiss serves what bearerHit does not: a bearer token in another spelling ("bearer", extra spaces) or one not
// cached or needing attention, both through serveBearer (which looks the normalized token up itself), or an
// Authorization header that holds no bearer token at all (Basic...), which leaves the decision to the session.
func bearerMiss(m *Middleware, w http.ResponseWriter, r *http.Request) {
	tok, ok := bearerToken(r)
	if !ok {
		sessionParsed(m, w, r, r.Header["Cookie"]) // forward decides on the client's Authorization header
		return
	}
	m.serveBearer(w, r, tok)
}

// serveBearer authenticates an API request by its bearer JWT, verified once and cached until it expires.
func (m *Middleware) serveBearer(w http.ResponseWriter, r *http.Request, tok string) {
	now := m.now().Unix()
	key := bearerKey(tok)
	e := m.bearers.get(key)
	if e != nil && now >= e.endAt && m.s.introspect.on && isOpaque(tok) {
		e = nil // an introspection answer past introspectionCacheTTL: ask again (introspect.go)
	}
	if e == nil {
		var claims map[string]any
		var err error
		if m.s.introspect.on && isOpaque(tok) {
			claims, err = m.introspect(r.Context(), tok) // RFC 7662: introspect.go
		} else {
			claims, err = m.bearerTokens.verify(r.Context(), tok)
		}
		if err != nil {
			if errors.Is(err, errProviderUnavailable) {
				m.logf(levelWarn, "bearer token not verifiable: %v", err)
				count(m.met, mBearerUnavailable)
				m.unavailable(w)
				return
			}
			m.event(r, evBearerRefused, nil, err.Error()) // events.go
			count(m.met, mBearerRejected)
			m.invalidToken(w)
			return
		}
		count(m.met, mBearerOK)
		m.checkVerifiedEmail(claims) // email.go
		e = (&entry{refreshAt: never, seenAt: never}).withHeaders(m.renderHeaders(claims))
		if err := m.s.authz.check(claims); err != nil {
			e.denied = err.Error()
		}
		exp, _ := numericDate(claims["exp"])
		e.endAt = exp.Add(m.s.leeway).Unix()
		if m.s.stepUp != nil {
			m.markStepUp(e, claims, now, true) // stepup.go
		}
		m.bearers.put(key, e, now)
	}
	if m.s.stepUp != nil && m.stepUpDue(w, r, e, now) {
		return
	}
	if now >= e.endAt {
		m.bearers.remove(key)
		m.event(r, evBearerRefused, nil, "token expired") // events.go
		m.invalidToken(w)
		return
	}
	if e.denied != "" {
		m.eventRefused(r, e) // events.go
		m.forbidden(w, r, e.denied)
		return
	}
	forward(m, w, r, e, true)
}

// wantsAPIResponse tells API-style requests (which get 401, not a redirect) from browser navigations.
func wantsAPIResponse(r *http.Request) bool {
	if r.Header.Get("X-Requested-With") == "XMLHttpRequest" {
		return true
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" && mode != "navigate" {
		return true
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

func (m *Middleware) unauthenticated(w http.ResponseWriter, r *http.Request) {
	if m.dsTokens != nil && m.serveDescopeCookie(w, r) { // descopeSessionCookie: descopecookie.go
		return
	}
	if m.s.unauthMode == mode401 || (m.s.unauthMode == modeAuto && wantsAPIResponse(r)) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+m.name+`"`)
		m.writeUnauthorized(w, r) // with login_url: loginentry.go
		return
	}
	if m.s.silentReauth && m.startSilent(w, r) { // silent.go
		return
	}
	m.startLogin(w, r)
}

func (m *Middleware) invalidToken(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+m.name+`", error="invalid_token"`)
	writeJSONError(w, http.StatusUnauthorized, "invalid_token")
}

func (m *Middleware) forbidden(w http.ResponseWriter, r *http.Request, reason string) {
	if strings.HasPrefix(reason, stepUpMark) { // not denied: a step-up is needed (stepup.go)
		m.stepUpChallenge(w, r, reason[len(stepUpMark):], false)
		return
	}
	count(m.met, denialRule(reason))
	if wantsAPIResponse(r) || r.Header.Get("Authorization") != "" {
		writeJSONError(w, http.StatusForbidden, "forbidden")
		return
	}
	writePage(w, http.StatusForbidden, "Access denied", "You are signed in, but your account may not use this page.",
		m.s.logoutPath, "Sign in as someone else")
}

// unavailable answers while the provider cannot be reached; the plugin retries by itself.
func (m *Middleware) unavailable(w http.ResponseWriter) {
	secs := int(m.p.retryAfter()/time.Second + 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSONError(w, http.StatusServiceUnavailable, "identity provider unavailable")
}

func writeJSONError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"error\":%q}\n", code)
}
