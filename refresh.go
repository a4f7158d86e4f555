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
	if e.claimsDue { // claims missing and nothing to refresh with: a new sign-in
		if d := m.sm.session(key, e); d == nil || d.RefreshToken == "" {
			m.unauthenticated(w, r)
			return nil
		}
	}
	// claimsDue: claims this middleware reads are missing; the request waits for them as for expired tokens
	valid := now < e.data.Expiry && !e.claimsDue
	if now < e.retryAt { // the last attempt failed moments ago (with valid tokens the fast path would still serve)
		if valid {
			return e
		}
		if !m.outageOutlasted(w, r, e, now) { // refreshoutage.go
			m.unavailableSession(w, r, e.retryAt-now)
		}
		return nil
	}
	f := m.sm.beginRefresh(key, e, now)
	if f == nil {
		if valid {
			return e
		}
		m.unavailableSession(w, r, 1)
		return nil
	}
	if valid {
		return e
	}
	<-f.done // not a select with r.Context().Done(): see provider.get (Yaegi); the refresh is bounded by httpTimeout
	return m.refreshed(w, r, f, e)
}

// refreshed answers a request whose tokens (those of e) had expired with the outcome of the refresh it waited for,
// which another middleware instance may have led (adopt).
func (m *Middleware) refreshed(w http.ResponseWriter, r *http.Request, f *refreshFlight, e *entry) *entry {
	now := m.now().Unix()
	if f.err == nil && m.sm.handOut(f.rep.e.data, now) {
		if rep := m.adopt(f.rep, now); rep != nil {
			m.writeReplacement(w, r, rep)
			return rep.e
		}
	}
	if f.err == nil || refusedGrant(f.err) || errors.Is(f.err, errRefreshedToken) || errors.Is(f.err, errSessionEnded) {
		m.refuseSession(w, r)
		return nil
	}
	if m.outageOutlasted(w, r, e, now) { // refreshoutage.go
		return nil
	}
	m.unavailableSession(w, r, refreshRetry)
	return nil
}

// adopt returns rep as this middleware serves it: rep itself when this middleware's policy derived it, else the same
// cookie with the entry this policy derives from its session (headers, rules, step-up of its own), cached here. nil
// when the session cannot be read whole (never expected: see sessionManager.session).
func (m *Middleware) adopt(rep *replacement, now int64) *replacement {
	if rep.cache == m.sessions {
		return rep
	}
	if e := m.sessions.get(rep.key); e != nil {
		return &replacement{key: rep.key, cookie: rep.cookie, hint: rep.hint, e: e, cache: m.sessions}
	}
	d := m.sm.session(rep.key, rep.e) // whole: this policy derives its entry from the claims
	if d == nil {
		return nil
	}
	own := &replacement{key: rep.key, cookie: rep.cookie, hint: rep.hint, e: m.newSessionEntry(d, now), cache: m.sessions}
	m.sm.thinIfReopenable(rep.key, own.e, d)
	if e := m.sm.admit(rep.key, own.e, now); e != nil {
		own.e = e
	}
	return own
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
	d.Kept = m.keptNames()
	now := m.now()
	prev := int64(0) // the lifetime the tokens had: refreshExpiry (tokenlifetime.go)
	if e.data.Issued > 0 {
		prev = e.data.Expiry - e.data.Issued
	}
	d.Expiry = refreshExpiry(tr, claims, now, prev)
	d.Issued, d.Seen = now.Unix(), now.Unix()
	d.Gen++
	hint, err := m.sm.sealHint(d.ID, d.IDToken) // "" when the refresh brought no new ID token
	if err != nil {
		return nil, err
	}
	cookie, err := m.sm.sealSession(&d)
	if err != nil {
		return nil, err
	}
	rep := &replacement{key: m.sm.sessionKey(cookie), cookie: cookie, hint: hint, e: m.newSessionEntry(&d, now.Unix()), cache: m.sessions}
	m.sm.thinIfReopenable(rep.key, rep.e, &d) // cached and kept by the registry: the cookie holds the rest
	return rep, nil
}

// writeReplacement hands a refreshed or re-issued session to the browser: its cookie, and its logout cookie when
// the refresh brought a new ID token.
func (m *Middleware) writeReplacement(w http.ResponseWriter, r *http.Request, rep *replacement) {
	if err := m.sm.writeSessionCookie(w, r, rep.cookie); err != nil {
		m.logf(levelError, "writing the replaced session: %v", err)
	}
	m.sm.writeHint(w, r, rep.hint)
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
