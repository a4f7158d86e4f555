package descopeoidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// A login entry for single-page apps: loginPath starts a login for ?rd=<path on this site> (a link or
// window.location, no request to a protected URL needed), the JSON body of a 401 tells API clients where that is
// (login_url), and allowPreflight lets CORS preflights through unauthenticated (browsers never send credentials on
// them, so they would otherwise always fail).

// handleLoginEntry starts a login that returns to rd: a path (with query) on this site, or an absolute URL of this
// origin, under the same rules as every other return URL (safeRedirectPath). Anything else returns to "/".
func (m *Middleware) handleLoginEntry(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	target, err := loginEntryTarget(r)
	if err != nil {
		m.logf(levelInfo, "login entry: %v; returning to /", err)
		target = "/"
	}
	m.startLoginTo(w, r, target, "")
}

// loginEntryTarget reads rd from the login entry's query.
func loginEntryTarget(r *http.Request) (string, error) {
	rd := r.URL.Query().Get("rd")
	if rd == "" {
		return "/", nil
	}
	if here := origin(r); strings.HasPrefix(rd, here+"/") {
		rd = rd[len(here):]
	}
	p, ok := safeRedirectPath(rd)
	if !ok {
		return "", errors.New("rd is not a path on this site")
	}
	return p, nil
}

// loginURL is the login entry that returns to the request's own URL (or "/" when that is not a safe return URL).
func (m *Middleware) loginURL(r *http.Request) string {
	target, ok := safeRedirectPath(r.URL.RequestURI())
	if !ok {
		target = "/"
	}
	return origin(r) + m.s.loginPath + "?rd=" + url.QueryEscape(target)
}

// writeUnauthorized is the 401 of an unauthenticated API-style request: {"error":"unauthorized","login_url":...}.
func (m *Middleware) writeUnauthorized(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // a URL stays readable: & not \u0026
	if err := enc.Encode(map[string]string{"error": "unauthorized", "login_url": m.loginURL(r)}); err != nil {
		writeJSONError(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write(body.Bytes())
}

// isPreflight is a CORS preflight (Fetch standard 4.8): OPTIONS with Origin and Access-Control-Request-Method.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// servePreflight sends a preflight upstream like a request to an excluded path: without the plugin's cookies and
// without an Authorization header (a preflight carries neither from a browser; anything else sent is not ours to
// vouch for), and without identity headers (stripped in ServeHTTP); also without a body or method-override headers,
// and only the status and CORS headers of the answer come back (preflight.go).
func (m *Middleware) servePreflight(w http.ResponseWriter, r *http.Request) {
	if !m.s.keepAuthorization {
		delete(r.Header, "Authorization")
	}
	stripCookies(m, r)
	preflightRequest(r)
	pw := &preflightWriter{w: w, header: http.Header{}}
	m.next.ServeHTTP(pw, r)
	pw.WriteHeader(http.StatusOK) // the upstream wrote nothing: net/http's default
}
