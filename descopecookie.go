package descopeoidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Descope's own session cookie (descopeSessionCookie). An app built with Descope's web SDK on a custom domain keeps
// the user's session JWT in a cookie (DS by default; the flow's End action can rename it) and the refresh JWT in
// another (DSR, HttpOnly). With descopeSessionCookie set, a request without a usable plugin session is accepted when
// that cookie holds a valid session JWT: verified exactly as a bearer access token (the same issuers, audiences,
// clients and typ rules; Descope's session JWT is its OAuth access token) and then the same rules and headers as a
// session. The plugin's own session always wins when there is one; without either, the normal login starts.
//
// Upstream never sees the DS and DSR cookies unless forwardDescopeCookies is true: the identity headers say who the
// user is (and forwardAccessToken sends the session JWT as Authorization), so the refresh token stays between the
// browser and Descope.

const defaultDescopeRefreshCookie = "DSR"

// descopeCookie is what New derives from descopeSessionCookie, descopeRefreshCookie and forwardDescopeCookies.
type descopeCookie struct {
	name    string // "" when off
	refresh string
	forward bool
}

func deriveDescopeCookie(c *Config, s *settings) error {
	if c.DescopeSessionCookie == "" {
		if c.DescopeRefreshCookie != "" {
			return errors.New("descopeRefreshCookie: only with descopeSessionCookie")
		}
		if c.ForwardDescopeCookies {
			return errors.New("forwardDescopeCookies: only with descopeSessionCookie")
		}
		return nil
	}
	d := descopeCookie{name: c.DescopeSessionCookie, refresh: orDefault(c.DescopeRefreshCookie, defaultDescopeRefreshCookie),
		forward: c.ForwardDescopeCookies}
	own := newOwnCookies(s.cookieName, s.statePrefix, hintCookieNames(s.cookieName)[0])
	names := []struct{ key, v string }{{"descopeSessionCookie", d.name}, {"descopeRefreshCookie", d.refresh}}
	for _, n := range names {
		if !cookieNameRe.MatchString(n.v) {
			return fmt.Errorf("%s: %q contains characters not allowed in a cookie name", n.key, n.v)
		}
		if own.isOwn(n.v) {
			return fmt.Errorf("%s: %q is one of the plugin's own cookie names (cookieName %q)", n.key, n.v, s.cookieName)
		}
	}
	if d.name == d.refresh {
		return fmt.Errorf("descopeRefreshCookie: %q must differ from descopeSessionCookie", d.refresh)
	}
	s.ds = d
	return nil
}

// setupDescopeCookie gives the middleware its cache of verified Descope session JWTs (its configuration's) and, unless they are to be
// forwarded, makes the DS and DSR cookies the plugin's own for the Cookie header upstream. Called by New.
func setupDescopeCookie(m *Middleware, cache *entryCache) {
	if m.s.ds.name == "" {
		return
	}
	m.dsTokens = cache
	if !m.s.ds.forward {
		m.own.extra = []string{m.s.ds.name, m.s.ds.refresh}
	}
}

// serveDescopeCookie serves r by its Descope session cookie when it holds a valid session JWT and reports whether
// it answered; false means no usable cookie (the caller goes on with the login).
func (m *Middleware) serveDescopeCookie(w http.ResponseWriter, r *http.Request) bool {
	c, err := r.Cookie(m.s.ds.name)
	if err != nil || c.Value == "" {
		return false
	}
	if !laxAllowed(r) {
		m.logf(levelInfo, "%s cookie ignored: cross-site %s (SameSite=Lax semantics)", m.s.ds.name, r.Method)
		return false
	}
	tok := c.Value
	now := m.now().Unix()
	key := cacheKey(tok)
	e := m.dsTokens.get(key)
	if e == nil {
		if e, err = m.descopeEntry(r.Context(), tok); err != nil {
			if errors.Is(err, errProviderUnavailable) {
				m.logf(levelWarn, "%s cookie not verifiable: %v", m.s.ds.name, err)
				count(m.met, mDSUnavailable)
				m.providerUnavailable(w, r, r.URL.RequestURI())
				return true
			}
			m.logf(levelInfo, "%s cookie rejected: %v", m.s.ds.name, err)
			count(m.met, mDSRejected)
			return false
		}
		count(m.met, mDSOK)
		m.dsTokens.put(key, e, now)
	}
	if m.s.stepUp != nil && m.stepUpDue(w, r, e, now) {
		return true
	}
	if now >= e.endAt {
		m.dsTokens.remove(key)
		return false
	}
	if e.denied != "" {
		m.eventRefused(r, e) // events.go
		m.forbidden(w, r, e.denied)
		return true
	}
	forward(m, w, r, e, false)
	return true
}

// descopeEntry verifies a Descope session JWT as an access token and derives its cache entry.
func (m *Middleware) descopeEntry(ctx context.Context, tok string) (*entry, error) {
	claims, err := m.verifyDescopeSession(ctx, tok)
	if err != nil {
		return nil, err
	}
	m.checkVerifiedEmail(claims) // email.go
	e := (&entry{refreshAt: never, seenAt: never}).withHeaders(m.renderHeaders(claims))
	if m.s.forwardAccessToken {
		e.auth = "Bearer " + tok // forward sends it upstream as Authorization (e.data is for plugin sessions only)
	}
	if err := m.s.authz.check(claims); err != nil {
		e.denied = err.Error()
	}
	exp, _ := numericDate(claims["exp"])
	e.endAt = exp.Unix()
	if m.s.stepUp != nil {
		m.markStepUp(e, claims, m.now().Unix(), true) // stepup.go
	}
	return e, nil
}

// verifyDescopeSession checks a session JWT with the access-token policy of bearer tokens.
func (m *Middleware) verifyDescopeSession(ctx context.Context, tok string) (map[string]any, error) {
	return m.bearerTokens.verify(ctx, tok)
}

// laxAllowed applies SameSite=Lax semantics to the DS cookie, whatever attributes the project gave it (Descope lets a
// project make it SameSite=None): a safe method always may use it, an unsafe one (POST, PUT, DELETE...) only when
// the browser says it is not cross-site: Sec-Fetch-Site same-origin, same-site or none, else an Origin equal to this
// origin. A request with neither header is not a browser's cross-site request (browsers send Origin on every
// cross-origin request with an unsafe method) and may use it.
func laxAllowed(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "same-site" || site == "none"
	}
	if o := r.Header.Get("Origin"); o != "" {
		return o == origin(r)
	}
	return true
}
