package descopeoidc

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// sessionHit serves a request whose session is cached and needs nothing (no refresh, no re-issue, not ended, not
// denied): the hot path of browser traffic. Everything else goes to serveSession, which decides afresh.
func sessionHit(m *Middleware, w http.ResponseWriter, r *http.Request) {
	lines := r.Header["Cookie"]
	eq := m.own.nameEq
	raw, ours := "", false // ours: the Cookie header holds the session and nothing else, upstream gets none
	var cookies []*http.Cookie
	if len(lines) == 1 && strings.HasPrefix(lines[0], eq) && strings.IndexByte(lines[0], ';') < 0 {
		raw, ours = lines[0][len(eq):], true // only the session cookie: no parsing
	} else {
		cookies = r.Cookies() // parsed once: for the session here and in serveSession
		name := m.s.cookieName
		for _, c := range cookies {
			if c.Name == name { // the first one counts, as with r.Cookie
				raw = c.Value
				break
			}
		}
	}
	if len(raw) > 1 && raw[1] == '.' { // "<n>.": chunked; n has one digit (maxSessionChunks)
		if cookies == nil {
			cookies = r.Cookies()
		}
		n := int(raw[0] - '0')
		raw, _ = sessionValue(m, cookies)
		// sessionValue found the n chunk names among n cookies, in n pairs: nothing else is in the header
		ours = raw != "" && n == len(cookies) && len(lines) == 1 && strings.Count(lines[0], ";") == n-1
	}
	if raw != "" {
		now := m.now().Unix()
		sum := sha256.Sum256([]byte(raw)) // cacheKey and sessions.get, inlined
		cache := m.sessions
		cache.mu.RLock()
		e := cache.m[string(sum[:])]
		cache.mu.RUnlock()
		if e != nil && e.next == nil && now < e.refreshAt && now < e.endAt && now < e.seenAt && e.denied == "" {
			if ours {
				delete(r.Header, "Cookie")
			}
			forward(m, w, r, e, false)
			return
		}
	}
	if cookies == nil {
		cookies = r.Cookies()
	}
	m.serveSession(w, r, cookies)
}

// serveSession authenticates a browser request by its session cookie (cookies: the request's, parsed).
func (m *Middleware) serveSession(w http.ResponseWriter, r *http.Request, cookies []*http.Cookie) {
	raw, err := sessionValue(m, cookies)
	if err != nil {
		if err != errNoCookie {
			m.logf(levelInfo, "session cookie unusable: %v", err)
			m.clearSessionCookie(w, r)
		}
		m.unauthenticated(w, r)
		return
	}
	now := m.now().Unix()
	key := cacheKey(raw)
	e := m.sessions.get(key)
	if e == nil {
		d, err := m.openSession(raw)
		if err != nil {
			m.logf(levelInfo, "session cookie rejected: %v", err)
			m.clearSessionCookie(w, r)
			m.unauthenticated(w, r)
			return
		}
		e = m.newSessionEntry(d, now)
		m.sessions.put(key, e, now)
	}
	if e.next != nil {
		if err := m.writeSessionCookie(w, r, e.next.cookie); err != nil {
			m.logf(levelError, "re-issuing refreshed session: %v", err)
		}
		e = e.next.e
	}
	if now >= e.refreshAt && now < e.endAt { // a session past its max age or idle timeout is not refreshed
		e = m.refresh(w, r, key, e, now)
		if e == nil {
			return
		}
	}
	if now >= e.endAt {
		m.logf(levelInfo, "session ended (max age, idle timeout or token expiry)")
		m.sessions.remove(key)
		m.clearSessionCookie(w, r)
		m.unauthenticated(w, r)
		return
	}
	if e.denied != "" {
		m.forbidden(w, r, e.denied)
		return
	}
	if now >= e.seenAt {
		m.touch(w, r, e, now)
	}
	forward(m, w, r, e, false)
}

// newSessionEntry derives everything the hot path needs from a decrypted session, once.
func (m *Middleware) newSessionEntry(d *sessionData, now int64) *entry {
	e := &entry{data: d, headers: m.renderHeaders(d.Claims), refreshAt: never, seenAt: never}
	if err := m.s.authz.check(d.Claims); err != nil {
		e.denied = err.Error()
	}
	e.endAt = d.Created + int64(m.s.maxAge/time.Second)
	if m.s.idleTimeout > 0 {
		idle := int64(m.s.idleTimeout / time.Second)
		if end := d.Seen + idle; end < e.endAt {
			e.endAt = end
		}
		e.seenAt = d.Seen + idle/4
	}
	if d.RefreshToken != "" {
		e.refreshAt = d.Expiry - int64(m.s.refreshMargin/time.Second)
	} else if d.Expiry < e.endAt {
		e.endAt = d.Expiry // nothing to refresh with: the session ends with its tokens
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

// touch re-issues the cookie with a new activity time, for the idle timeout.
func (m *Middleware) touch(w http.ResponseWriter, r *http.Request, e *entry, now int64) {
	d := *e.data
	d.Seen = now
	cookie, err := m.sealSession(&d)
	if err == nil {
		err = m.writeSessionCookie(w, r, cookie)
	}
	if err != nil {
		m.logf(levelError, "re-issuing session for idle timeout: %v", err)
		return
	}
	m.sessions.put(cacheKey(cookie), m.newSessionEntry(&d, now), now)
}

// refresh renews the session's tokens inside the request, once per session however many requests wait for it.
// It returns the entry to continue with, or nil when it has already answered the request.
func (m *Middleware) refresh(w http.ResponseWriter, r *http.Request, key string, e *entry, now int64) *entry {
	f, leader := m.sessions.joinRefresh(key)
	if leader {
		if cur := m.sessions.get(key); cur != nil && cur.next != nil {
			// Another request finished refreshing this session after e was read: reuse its result rather than
			// spend the refresh token again (the provider may have rotated it away).
			f.rep = cur.next
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), httpTimeout) // shared by all waiters
			f.rep, f.err = m.doRefresh(ctx, e)
			cancel()
			m.settleRefresh(key, e, f, now)
		}
		m.sessions.finishRefresh(key, f)
	}
	<-f.done // not a select with r.Context().Done(): see provider.get (Yaegi); the refresh is bounded by httpTimeout
	if f.err == nil {
		if err := m.writeSessionCookie(w, r, f.rep.cookie); err != nil {
			m.logf(levelError, "writing refreshed session: %v", err)
		}
		return f.rep.e
	}
	if now < e.data.Expiry {
		if cur := m.sessions.get(key); cur != nil {
			return cur // tokens still valid: keep serving; settleRefresh decided when to retry, if ever
		}
		return e
	}
	if errors.Is(f.err, errProviderUnavailable) {
		m.unavailable(w)
		return nil
	}
	m.clearSessionCookie(w, r)
	m.unauthenticated(w, r)
	return nil
}

// settleRefresh records a refresh's outcome in the cache: the old cookie points to the new session, or, after a
// failure, the old session stops refreshing (invalid_grant: e.g. rotated by another replica) or retries later.
func (m *Middleware) settleRefresh(key string, e *entry, f *refreshFlight, now int64) {
	old := *e
	if f.err == nil {
		m.sessions.put(cacheKey(f.rep.cookie), f.rep.e, now)
		old.next = f.rep
	} else if errors.Is(f.err, errInvalidGrant) {
		m.logf(levelInfo, "refresh token rejected; session lasts until its tokens expire: %v", f.err)
		old.refreshAt = never
		if e.data.Expiry < old.endAt {
			old.endAt = e.data.Expiry
		}
	} else {
		m.logf(levelWarn, "token refresh failed, retrying in 10s: %v", f.err)
		old.refreshAt = now + 10
	}
	m.sessions.replaceIf(key, e, &old)
}

func (m *Middleware) doRefresh(ctx context.Context, e *entry) (*replacement, error) {
	md, err := m.p.metadata(ctx)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {e.data.RefreshToken}}
	tr, err := m.tokenRequest(ctx, md.TokenEndpoint, form)
	if err != nil {
		return nil, err
	}
	d := *e.data
	d.AccessToken = tr.AccessToken
	if tr.RefreshToken != "" {
		d.RefreshToken = tr.RefreshToken
	}
	claims := map[string]any{}
	if tr.IDToken != "" {
		if claims, err = m.verify(ctx, tr.IDToken, m.idTokenOpts("")); err != nil {
			return nil, err
		}
		if claims["sub"] != d.Claims["sub"] {
			return nil, errors.New("refreshed id token is for another subject")
		}
		d.IDToken = tr.IDToken
	}
	if d.Claims, err = m.refreshedClaims(ctx, &d, claims); err != nil { // re-read every source: claims.go
		return nil, err
	}
	now := m.now()
	d.Expiry = tokenExpiry(tr, claims, now)
	cookie, err := m.sealSession(&d)
	if err != nil {
		return nil, err
	}
	return &replacement{cookie: cookie, e: m.newSessionEntry(&d, now.Unix())}, nil
}

// tokenExpiry is when the session's tokens expire: expires_in of the access token, else the ID token's exp.
func tokenExpiry(tr *tokenResponse, idClaims map[string]any, now time.Time) int64 {
	if tr.ExpiresIn > 0 {
		return now.Unix() + tr.ExpiresIn
	}
	if exp, ok := numericDate(idClaims["exp"]); ok {
		return exp.Unix()
	}
	return now.Add(5 * time.Minute).Unix()
}

func (m *Middleware) idTokenOpts(nonce string) verifyOpts {
	return verifyOpts{issuers: []string{m.s.issuer}, audiences: []string{m.s.clientID}, nonce: nonce, kind: "id token"}
}

func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// bearerHit serves a request whose bearer token is cached, unexpired and allowed: the hot path of API traffic.
// Everything else goes to serveBearer.
func bearerHit(m *Middleware, w http.ResponseWriter, r *http.Request, tok string) {
	now := m.now().Unix()
	sum := sha256.Sum256([]byte(tok)) // cacheKey and bearers.get, inlined
	cache := m.bearers
	cache.mu.RLock()
	e := cache.m[string(sum[:])]
	cache.mu.RUnlock()
	if e != nil && now < e.endAt && e.denied == "" {
		forward(m, w, r, e, true)
		return
	}
	m.serveBearer(w, r, tok)
}

// serveBearer authenticates an API request by its bearer JWT, verified once and cached until it expires.
func (m *Middleware) serveBearer(w http.ResponseWriter, r *http.Request, tok string) {
	now := m.now().Unix()
	key := cacheKey(tok)
	e := m.bearers.get(key)
	if e == nil {
		o := verifyOpts{issuers: m.s.bearerIssuers, audiences: m.s.bearerAudiences, kind: "access token"}
		claims, err := m.verify(r.Context(), tok, o)
		if err != nil {
			m.logf(levelInfo, "bearer token rejected: %v", err)
			if errors.Is(err, errProviderUnavailable) {
				m.unavailable(w)
				return
			}
			m.invalidToken(w)
			return
		}
		m.checkVerifiedEmail(claims) // email.go
		e = &entry{headers: m.renderHeaders(claims), refreshAt: never, seenAt: never}
		if err := m.s.authz.check(claims); err != nil {
			e.denied = err.Error()
		}
		exp, _ := numericDate(claims["exp"])
		e.endAt = exp.Add(m.s.leeway).Unix()
		m.bearers.put(key, e, now)
	}
	if now >= e.endAt {
		m.bearers.remove(key)
		m.invalidToken(w)
		return
	}
	if e.denied != "" {
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
	if m.s.unauthMode == mode401 || (m.s.unauthMode == modeAuto && wantsAPIResponse(r)) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+m.name+`"`)
		m.writeUnauthorized(w, r) // with login_url: loginentry.go
		return
	}
	m.startLogin(w, r)
}

func (m *Middleware) invalidToken(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+m.name+`", error="invalid_token"`)
	writeJSONError(w, http.StatusUnauthorized, "invalid_token")
}

func (m *Middleware) forbidden(w http.ResponseWriter, r *http.Request, reason string) {
	m.logf(levelInfo, "access denied: %s", reason)
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
