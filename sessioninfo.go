package descopeoidc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The session endpoint for applications (sessionInfoPath, off by default): a single-page app asks GET
// <sessionInfoPath> who is signed in instead of parsing the identity headers. It answers 200 with the claims the
// plugin forwards (one per configured header, by claim path), when the session ends and, with maxAuthAge, when it
// must re-authenticate; or 401 with login_url; or 403 when the authorization rules refuse this user. It reads the
// session without changing it (no refresh, no cookie written): the next ordinary request does that.
//
// Same-origin only: a request a browser marks as coming from another origin is refused (403) before the session is
// read. Sec-Fetch-Site, when sent, must be same-origin or none (the user's own navigation); Origin, when sent, must be
// this origin (scheme://host as origin() sees it; "null" is not). A request with neither (curl, a server) is not a
// browser's cross-origin request and is answered. No CORS header is ever sent. Every answer is Cache-Control:
// no-store.

func deriveSessionInfo(c *Config, s *settings) error {
	if c.SessionInfoPath == "" {
		return nil
	}
	if err := validPath("sessionInfoPath", c.SessionInfoPath); err != nil {
		return err
	}
	if s.ownPaths[c.SessionInfoPath] {
		return fmt.Errorf("sessionInfoPath: %q must differ from callbackPath, logoutPath and loginPath", c.SessionInfoPath)
	}
	s.sessionInfoPath = c.SessionInfoPath
	s.ownPaths[c.SessionInfoPath] = true
	return nil
}

// handleSessionInfo answers GET <sessionInfoPath>.
func (m *Middleware) handleSessionInfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if !sameOrigin(r) {
		m.logf(levelInfo, "session endpoint: cross-origin request refused (Origin %q, Sec-Fetch-Site %q)",
			truncate(r.Header.Get("Origin"), 100), truncate(r.Header.Get("Sec-Fetch-Site"), 20))
		writeJSONError(w, http.StatusForbidden, "forbidden")
		return
	}
	now := m.now().Unix()
	e, key := m.currentSession(r, now)
	var d *sessionData
	if e != nil {
		d = m.sm.session(key, e) // the claims, from the cookie for a thin entry
	}
	if d == nil {
		writeJSONBody(w, http.StatusUnauthorized, map[string]any{"authenticated": false, "error": "unauthorized",
			"login_url": m.sessionLoginURL(r)})
		return
	}
	stepUp := strings.HasPrefix(e.denied, stepUpMark)
	if e.denied != "" && !stepUp {
		writeJSONError(w, http.StatusForbidden, "forbidden")
		return
	}
	body := map[string]any{"authenticated": true, "claims": m.forwardedClaims(d.Claims),
		"expires_at": e.endAt, "expires_in": e.endAt - now}
	if e.authDeadline != 0 {
		body["reauthenticate_at"] = e.authDeadline
	}
	if stepUp || (e.authDeadline != 0 && now >= e.authDeadline) {
		body["reauthenticate"] = true // the next page request starts a step-up login
		body["login_url"] = m.sessionLoginURL(r)
	}
	writeJSONBody(w, http.StatusOK, body)
}

// sameOrigin judges whether a browser sent r from this origin (see the comment at the top of this file).
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o, ok := r.Header["Origin"]; ok {
		return len(o) == 1 && o[0] == origin(r)
	}
	return true
}

// currentSession is the session r's cookie holds, as serveSession would judge it now, without changing anything:
// nil when there is none, it is unreadable, its chain refuses it (logged out, or replaced beyond refreshGrace), or
// it has ended. A cookie a refresh replaced within refreshGrace reports its newest successor. With the entry, its key.
func (m *Middleware) currentSession(r *http.Request, now int64) (*entry, string) {
	raw, err := m.sm.readSessionCookie(r)
	if err != nil {
		return nil, ""
	}
	key := m.sm.sessionKey(raw)
	e := m.sessions.get(key)
	if e == nil {
		d, err := m.sm.openSession(raw)
		if err != nil {
			return nil, ""
		}
		e = m.newSessionEntry(d, now)
	}
	if m.sm.reg.superseded(e.data, now) {
		return nil, ""
	}
	for i := 0; i < maxChainHops; i++ { // a refresh's successor, here or sealed by another instance (registry)
		next := e.next
		if next == nil {
			next = m.sm.reg.successorOf(e.data)
		}
		if next == nil {
			break
		}
		e, key = next.e, next.key
	}
	if now >= e.endAt {
		return nil, ""
	}
	return e, key
}

// forwardedClaims are the claims the identity headers carry, keyed by claim path ("a.b" for a nested claim).
func (m *Middleware) forwardedClaims(claims map[string]any) map[string]any {
	out := make(map[string]any, len(m.s.headers))
	for _, h := range m.s.headers {
		if v, ok := lookup(claims, h.path); ok {
			out[strings.Join(h.path, ".")] = v
		}
	}
	return out
}

// sessionLoginURL is the login entry returning to the page that asked (its Referer, when a path on this origin),
// else to "/": returning to the session endpoint itself would show the user JSON.
func (m *Middleware) sessionLoginURL(r *http.Request) string {
	here := origin(r)
	target := "/"
	if ref := r.Header.Get("Referer"); strings.HasPrefix(ref, here+"/") {
		if p, ok := safeRedirectPath(ref[len(here):]); ok {
			target = p
		}
	}
	return here + m.s.loginPath + "?rd=" + url.QueryEscape(target)
}

// writeJSONBody answers status with body (plain maps only: YAEGI.md), never cached.
func writeJSONBody(w http.ResponseWriter, status int, body map[string]any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
