package descopeoidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Refreshing a session: the tokens are renewed with the refresh token from the session's refresh point on (see
// refreshPoint), once per session however many requests need it.
//
// While the tokens are still valid nobody waits: the first request past the refresh point starts the refresh in a
// goroutine of its own (bounded by httpTimeout, at most maxRefreshes at once) and every request is served at once
// with the current tokens; the next request after the refresh is given the new cookie (successor). Only a session
// whose tokens have expired waits for the refresh, and fails with it: 503 with Retry-After while the provider cannot
// be reached or refuses the client, a new login when the refresh token is refused.

const (
	refreshRetry = 10  // seconds between refresh attempts of a session after a failure
	maxRefreshes = 256 // refreshes in flight per middleware
)

var (
	// errRefreshedToken marks a refresh whose new ID token or claims are not acceptable (bad, for another subject,
	// userinfo refused): the session cannot continue with it.
	errRefreshedToken = errors.New("refreshed id token rejected")
	// errSessionEnded marks a refresh that finished after its session was logged out.
	errSessionEnded = errors.New("session logged out during its refresh")
)

// refreshPoint is when a session obtained at issued, whose tokens expire at expiry, is refreshed: margin seconds
// before the expiry, but never earlier than half-way through the tokens' lifetime, so that a margin longer than the
// lifetime (5-minute tokens, a 10-minute margin) does not refresh on every request.
func refreshPoint(issued, expiry, margin int64) int64 {
	half := (expiry - issued) / 2
	if half < 0 {
		half = 0
	}
	if half < margin {
		margin = half
	}
	return expiry - margin
}

// refresh renews the session's tokens. It returns the entry to continue with, or nil when it has already answered
// the request.
func (m *Middleware) refresh(w http.ResponseWriter, r *http.Request, key string, e *entry, now int64) *entry {
	valid := now < e.data.Expiry
	if now < e.retryAt { // the last attempt failed moments ago (with valid tokens the fast path would still serve)
		if valid {
			return e
		}
		m.unavailableSession(w, r, e.retryAt-now)
		return nil
	}
	f, leader := m.sessions.joinRefresh(key, maxRefreshes)
	if f == nil {
		if valid {
			return e
		}
		m.unavailableSession(w, r, 1)
		return nil
	}
	if leader {
		go m.runRefresh(key, e, m.pendingRefresh(key, e, now), f)
	}
	if valid {
		return e
	}
	<-f.done // not a select with r.Context().Done(): see provider.get (Yaegi); the refresh is bounded by httpTimeout
	return m.refreshed(w, r, f)
}

// refreshed answers a request whose tokens had expired with the outcome of the refresh it waited for.
func (m *Middleware) refreshed(w http.ResponseWriter, r *http.Request, f *refreshFlight) *entry {
	if f.err == nil && m.sessions.handOut(f.rep.e.data, m.chainUntil(f.rep.e.data), m.now().Unix()) {
		m.writeReplacement(w, r, f.rep)
		return f.rep.e
	}
	if f.err == nil || errors.Is(f.err, errInvalidGrant) || errors.Is(f.err, errRefreshedToken) || errors.Is(f.err, errSessionEnded) {
		m.refuseSession(w, r)
		return nil
	}
	m.unavailableSession(w, r, refreshRetry)
	return nil
}

// pendingRefresh puts the session back on the fast path while its refresh runs (until the refresh is bounded to end,
// never past the tokens' expiry), without idle re-issues meanwhile: the refresh records the activity itself. It
// returns the entry now cached for key, which settleRefresh replaces.
func (m *Middleware) pendingRefresh(key string, e *entry, now int64) *entry {
	p := *e
	p.refreshAt = now + int64(httpTimeout/time.Second) + 1
	if e.data.Expiry < p.refreshAt {
		p.refreshAt = e.data.Expiry
	}
	p.seenAt = never
	if !m.sessions.replaceIf(key, e, &p) {
		return e
	}
	return &p
}

// runRefresh is the leader of a refresh of e (cached as pending meanwhile), in a goroutine of its own: it refreshes,
// records the outcome and releases the requests waiting for it. A panic is contained (a goroutine's panic would stop
// Traefik).
func (m *Middleware) runRefresh(key string, e, pending *entry, f *refreshFlight) {
	defer m.sessions.finishRefresh(key, f)
	defer func() {
		if p := recover(); p != nil {
			// Two assignments, not a tuple: Yaegi v0.16.1 panics on a tuple assignment with an untyped nil on the right
			// (reflect: New(nil)), see settleRefresh.
			f.rep = nil
			f.err = fmt.Errorf("token refresh panicked: %v", p)
			m.logf(levelError, "%v", f.err)
		}
	}()
	if cur := m.sessions.get(key); cur != nil && cur != pending && cur.next != nil {
		// Another request finished refreshing this session after e was read: reuse its result rather than spend the
		// refresh token again (the provider may have rotated it away).
		f.rep = cur.next
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	rep, err := m.doRefresh(ctx, e)
	cancel()
	f.rep, f.err = rep, err
	m.settleRefresh(key, e, pending, f, m.now().Unix())
}

// settleRefresh records a refresh's outcome in the cache, in place of pending: the old cookie points to the new
// session, or, after a failure, the old session stops refreshing (its refresh token or new ID token was refused: it
// lasts until its tokens expire) or retries after refreshRetry, never serving past the tokens' expiry on the fast
// path.
func (m *Middleware) settleRefresh(key string, e, pending *entry, f *refreshFlight, now int64) {
	old := *e
	switch {
	case f.err == nil:
		if m.sessions.admit(f.rep.key, f.rep.e, now) != f.rep.e {
			// Two assignments, not `f.rep, f.err = nil, errSessionEnded`: Yaegi v0.16.1 gives the untyped nil of a tuple
			// assignment no type and panics (reflect: New(nil)). This branch runs only when the session was logged out
			// while its refresh was in flight, which is how a logout during a refresh panicked under Traefik.
			f.rep = nil
			f.err = errSessionEnded
			return
		}
		old.next = f.rep
	case errors.Is(f.err, errInvalidGrant) || errors.Is(f.err, errRefreshedToken):
		m.logf(levelInfo, "refresh refused; session lasts until its tokens expire: %v", f.err)
		old.refreshAt = never
		if e.data.Expiry < old.endAt {
			old.endAt = e.data.Expiry
		}
	default:
		m.logf(levelWarn, "token refresh failed, retrying in %ds: %v", refreshRetry, f.err)
		old.retryAt = now + refreshRetry
		old.refreshAt = old.retryAt
		if e.data.Expiry < old.refreshAt {
			old.refreshAt = e.data.Expiry
		}
	}
	m.sessions.replaceIf(key, pending, &old)
}

func (m *Middleware) doRefresh(ctx context.Context, e *entry) (*replacement, error) {
	tr, err := m.tc.refreshTokens(ctx, e.data.RefreshToken)
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
		if claims, err = m.idTokens.verify(ctx, tr.IDToken, ""); err != nil {
			if errors.Is(err, errProviderUnavailable) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errRefreshedToken, err)
		}
		if claims["sub"] != d.Claims["sub"] {
			return nil, fmt.Errorf("%w: it is for another subject", errRefreshedToken)
		}
		d.IDToken = tr.IDToken // for the logout cookie below; sealSession leaves it out of the session
	}
	if d.Claims, err = m.refreshedClaims(ctx, &d, claims); err != nil { // re-read every source: claims.go
		if errors.Is(err, errProviderUnavailable) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errRefreshedToken, err)
	}
	keepAuthClaims(d.Claims, e.data.Claims) // acr, amr, auth_time of the login: stepup.go
	now := m.now()
	d.Expiry = tokenExpiry(tr, claims, now)
	d.Issued, d.Seen = now.Unix(), now.Unix()
	d.Gen++
	hint, err := m.sealHint(d.ID, d.IDToken) // "" when the refresh brought no new ID token
	if err != nil {
		return nil, err
	}
	cookie, err := m.sealSession(&d)
	if err != nil {
		return nil, err
	}
	return &replacement{key: m.sessionKey(cookie), cookie: cookie, hint: hint, e: m.newSessionEntry(&d, now.Unix())}, nil
}

// writeReplacement hands a refreshed or re-issued session to the browser: its cookie, and its logout cookie when
// the refresh brought a new ID token.
func (m *Middleware) writeReplacement(w http.ResponseWriter, r *http.Request, rep *replacement) {
	if err := m.writeSessionCookie(w, r, rep.cookie); err != nil {
		m.logf(levelError, "writing the replaced session: %v", err)
	}
	m.writeHint(w, r, rep.hint)
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

// unavailableSession answers a request whose session needs the provider (its tokens have expired) while the provider
// cannot be reached: 503 with Retry-After, as JSON for APIs and as a page for browsers. The cookie is kept: once the
// provider is back, the next request refreshes the session, or asks for a login if the refresh token was refused.
func (m *Middleware) unavailableSession(w http.ResponseWriter, r *http.Request, secs int64) {
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	if m.s.unauthMode == mode401 || wantsAPIResponse(r) {
		writeJSONError(w, http.StatusServiceUnavailable, "identity provider unavailable")
		return
	}
	back, ok := safeRedirectPath(r.URL.RequestURI())
	if !ok {
		back = "/"
	}
	writePage(w, http.StatusServiceUnavailable, "Sign-in service unavailable",
		"Your session has to be renewed, but the sign-in service cannot be reached right now. Please try again in a moment.",
		back, "Try again")
}
