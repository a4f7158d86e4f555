package descopeoidc

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// startLogin redirects the browser to the provider (authorization code flow with PKCE, state and nonce), after
// binding the attempt to this browser with a short-lived encrypted cookie.
func (m *Middleware) startLogin(w http.ResponseWriter, r *http.Request) {
	target, ok := safeRedirectPath(r.URL.RequestURI())
	if !ok {
		target = "/"
	}
	m.startLoginTo(w, r, target, "")
}

// startLoginTo starts a login that returns to target (a path on this site, checked by safeRedirectPath); prompt,
// when not "", is sent as the prompt parameter.
func (m *Middleware) startLoginTo(w http.ResponseWriter, r *http.Request, target, prompt string) {
	m.startLoginWith(w, r, target, prompt, m.s.stepUp)
}

// startLoginWith is startLoginTo with the step-up rule rule (nil: none) instead of this middleware's: a login
// restarted at the callback keeps the rule of the middleware that started it (silent.go).
func (m *Middleware) startLoginWith(w http.ResponseWriter, r *http.Request, target, prompt string, rule *stepUpRule) {
	md, err := m.p.metadata(r.Context())
	if err != nil {
		m.logf(levelWarn, "cannot start login: %v", err)
		m.providerUnavailable(w, r, target) // the plugin's page for browsers: outage.go
		return
	}
	state, err1 := randomString(24)
	nonce, err2 := randomString(24)
	verifier, err3 := randomString(32)
	if err1 != nil || err2 != nil || err3 != nil {
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	now := m.now()
	sd := &stateData{State: state, Nonce: nonce, Verifier: verifier, Target: target, Expiry: now.Add(stateTTL).Unix()}
	extra := url.Values{}
	addStepUpParams(rule, extra, sd) // stepup.go
	if prompt != "" {
		extra.Set("prompt", prompt)
	}
	sd.Silent = prompt == "none"          // silentReauth: silent.go
	sd.AuthMaxAge = int64(m.s.authMaxAge) // authParams.max_age, checked at the callback: maxage.go
	if err := m.sm.writeStateCookie(w, sd); err != nil {
		m.logf(levelError, "writing login cookie: %v", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	authURL, err := url.Parse(md.AuthorizationEndpoint)
	if err != nil {
		m.logf(levelError, "authorization_endpoint unusable: %v", err)
		http.Error(w, "Bad Gateway", http.StatusBadGateway)
		return
	}
	q := authURL.Query()
	for k, v := range m.s.authParams {
		q[k] = v
	}
	for k, v := range extra {
		q[k] = v
	}
	challenge := sha256.Sum256([]byte(verifier))
	q.Set("response_type", "code")
	q.Set("client_id", m.s.clientID)
	q.Set("redirect_uri", m.redirectURI(r))
	q.Set("scope", m.s.scope)
	q.Set("state", state)
	q.Set("nonce", nonce)
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(challenge[:]))
	q.Set("code_challenge_method", "S256")
	authURL.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, authURL.String(), http.StatusFound)
	count(m.met, mSigninStarted)
}

// origin is scheme://host of the request as the browser sees it (Traefik sets X-Forwarded-Proto).
func origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		if i := strings.IndexByte(p, ','); i >= 0 {
			p = p[:i]
		}
		if p = strings.ToLower(strings.TrimSpace(p)); p == "http" || p == "https" {
			scheme = p
		}
	}
	return scheme + "://" + r.Host
}

func (m *Middleware) redirectURI(r *http.Request) string {
	return origin(r) + m.s.callbackPath
}

// handleCallback finishes a login: state check first, then the code exchange, ID token verification and the session.
func (m *Middleware) handleCallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	q := r.URL.Query()
	state := q.Get("state")
	if err := m.checkCallbackIssuer(r.Context(), q); err != nil {
		if state != "" {
			m.sm.clearStateCookie(w, state)
		}
		m.loginFailed(w, r, http.StatusBadRequest, mSigninFailedBadCallback, err)
		return
	}
	if e := q.Get("error"); e != "" {
		m.callbackError(w, r, e, state)
		return
	}
	if state == "" || q.Get("code") == "" {
		m.loginFailed(w, r, http.StatusBadRequest, mSigninFailedBadCallback, errors.New("callback without state or code"))
		return
	}
	now := m.now()
	sd, err := m.sm.readStateCookie(r, state, now)
	if err != nil {
		m.loginFailed(w, r, http.StatusBadRequest, mSigninFailedState, err)
		return
	}
	m.sm.clearStateCookie(w, state)
	if !m.sm.states.use(state, sd.Expiry, now.Unix()) || !m.sm.reg.spendShared(r.Context(), "state:"+state, stateTTL, m.log) {
		m.loginFailed(w, r, http.StatusBadRequest, mSigninFailedReplay, errors.New("replayed callback: state already used"))
		return
	}
	cookie, hint, err := m.exchange(r, sd, q.Get("code"))
	if err != nil {
		m.exchangeFailed(w, r, sd.Target, err)
		return
	}
	if err := m.sm.writeSessionCookie(w, r, cookie); err != nil {
		m.logf(levelError, "login: %v", err)
		count(m.met, mSigninFailedInternal)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	count(m.met, mSigninCompleted)
	m.sm.writeHint(w, r, hint)
	m.event(r, evSignIn, m.sealedSession(cookie), "")  // events.go
	if sd.StepUp && m.finishStepUp(w, r, sd, cookie) { // stepup.go
		return
	}
	if m.s.sameSite == http.SameSiteStrictMode {
		// The browser came from the provider: a cross-site navigation, and a redirect would continue it, so the
		// new Strict cookie would not be sent and the login would start again. A page on this site that moves on
		// by itself makes the next request same-site.
		writeContinuePage(w, sd.Target)
		return
	}
	http.Redirect(w, r, sd.Target, http.StatusFound)
}

// callbackError answers a callback that carries the provider's error: a silent attempt's fallback to the
// interactive login (silent.go), else a failed sign-in.
func (m *Middleware) callbackError(w http.ResponseWriter, r *http.Request, e, state string) {
	if m.silentFallback(w, r, e, state) { // prompt=none answered "log in first": silent.go
		return
	}
	m.event(r, evSignInFailed, nil, "provider returned error "+strconv.Quote(truncate(e, 64))) // events.go
	count(m.met, mSigninFailedProviderError)
	if state != "" {
		m.sm.clearStateCookie(w, state)
	}
	writePage(w, http.StatusUnauthorized, "Sign-in did not complete",
		"The identity provider did not sign you in. You can try again.", "/", "Try again")
}

// exchange redeems the code (with the PKCE verifier), verifies the ID token and returns the sealed session and the
// sealed logout cookie (hint.go).
func (m *Middleware) exchange(r *http.Request, sd *stateData, code string) (string, string, error) {
	ctx := r.Context()
	tr, err := m.tc.exchangeCode(ctx, code, m.redirectURI(r), sd.Verifier)
	if err != nil {
		return "", "", err
	}
	if tr.IDToken == "" {
		return "", "", errors.New("token response has no id_token (is the openid scope allowed for this client?)")
	}
	claims, err := loginIDTokens(m.idTokens, sd).verify(ctx, tr.IDToken, sd.Nonce) // maxage.go
	if err != nil {
		return "", "", err
	}
	if err := m.checkStepUpIDToken(sd, claims); err != nil { // stepup.go
		return "", "", err
	}
	kept, err := m.collectClaims(ctx, claims, tr.AccessToken) // ID token, access token, userinfo: claims.go
	if err != nil {
		return "", "", err
	}
	m.addStepUpClaims(ctx, sd, kept, claims, tr.AccessToken) // stepup.go
	id, err := randomString(16)
	if err != nil {
		return "", "", err
	}
	now := m.now()
	d := &sessionData{
		Claims: kept, AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken,
		Expiry: tokenExpiry(tr, claims, now), Issued: now.Unix(), Created: now.Unix(), Seen: now.Unix(), ID: id,
		Kept: m.keptNames(),
	}
	hint, err := m.sm.sealHint(id, tr.IDToken)
	if err != nil {
		return "", "", err
	}
	cookie, err := m.sm.sealSession(d)
	return cookie, hint, err
}

func (m *Middleware) exchangeFailed(w http.ResponseWriter, r *http.Request, target string, err error) {
	if errors.Is(err, errProviderUnavailable) {
		m.logf(levelWarn, "login: %v", err)
		count(m.met, mSigninFailedUnavailable)
		m.providerUnavailable(w, r, target) // "Try again" starts a new login to the same page
		return
	}
	reason := mSigninFailedRejected
	if refusedGrant(err) { // the code was refused (invalid_grant): tokenerrors.go
		reason = mSigninFailedCodeRefused
	}
	m.loginFailed(w, r, http.StatusUnauthorized, reason, err)
}

// loginFailed answers a failed callback, reports why and counts it under reason (an mSigninFailed counter:
// metrics.go).
func (m *Middleware) loginFailed(w http.ResponseWriter, r *http.Request, status, reason int, err error) {
	count(m.met, reason)
	m.event(r, evSignInFailed, nil, err.Error()) // events.go
	writePage(w, status, "Sign-in failed", "Your sign-in could not be completed. Please try again.", "/", "Try again")
}

// handleLogout ends the session. A POST must come from this site (judged by logoutAllowed); a GET works only when
// the browser says it is not cross-site (Sec-Fetch-Site same-origin or none), else it shows a confirmation button:
// no logout CSRF.
func (m *Middleware) handleLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodPost:
		if !logoutAllowed(r) {
			m.logf(levelWarn, "logout refused: POST not from this site")
			writeLogoutConfirm(w, http.StatusForbidden, m.s.logoutPath)
			return
		}
	case http.MethodGet, http.MethodHead:
		if site := r.Header.Get("Sec-Fetch-Site"); site != "same-origin" && site != "none" {
			writeLogoutConfirm(w, http.StatusOK, m.s.logoutPath)
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	d := m.sm.endSession(r)
	m.event(r, evLogout, d, "") // events.go
	if d != nil {
		count(m.met, mLogoutLocal) // a session ended (not a logout without one)
	}
	m.sm.clearSessionCookie(w, r)
	target := m.logoutTarget(r, d)
	m.sm.clearHint(w, r)
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// logoutAllowed judges a logout POST by what the browser says about where it comes from: Origin when sent (it must
// be this origin; "null" is not), else Sec-Fetch-Site (same-origin, or none: the user's own action), else Referer
// (on this origin). A POST with none of them is refused too; the confirmation page it gets posts from this origin.
func logoutAllowed(r *http.Request) bool {
	here := origin(r)
	if o := r.Header.Get("Origin"); o != "" {
		return o == here
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	ref := r.Header.Get("Referer")
	return ref == here || strings.HasPrefix(ref, here+"/")
}

// logoutTarget is the provider's end_session_endpoint when it has one, else the post-logout URL.
func (m *Middleware) logoutTarget(r *http.Request, d *sessionData) string {
	after := m.s.postLogoutURL
	if strings.HasPrefix(after, "/") {
		after = origin(r) + after
	}
	md, err := m.p.metadata(r.Context())
	if err != nil {
		m.logf(levelWarn, "logout without provider: %v", err)
		return after
	}
	if d != nil && m.s.revokeOnLogout && md.RevocationEndpoint != "" && d.RefreshToken != "" {
		if err := m.tc.revoke(r.Context(), md.RevocationEndpoint, d.RefreshToken, "refresh_token"); err != nil {
			m.logf(levelWarn, "revoking refresh token: %v", err)
		}
	}
	if md.EndSessionEndpoint == "" {
		return after
	}
	u, err := url.Parse(md.EndSessionEndpoint)
	if err != nil {
		return after
	}
	q := u.Query()
	if hint := m.sm.hintFor(r, d); hint != "" { // the logout cookie's ID token: hint.go
		q.Set("id_token_hint", hint)
	}
	q.Set("client_id", m.s.clientID)
	q.Set("post_logout_redirect_uri", after)
	u.RawQuery = q.Encode()
	return u.String()
}

// pageHeaders are the headers of every page the plugin writes: no caching, no framing (clickjacking of the logout
// button), no content of any kind but the page's own markup, no MIME sniffing. Referrer-Policy same-origin keeps the
// Origin of the logout form's POST (no-referrer would make it "null").
func pageHeaders(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Referrer-Policy") == "" {
		h.Set("Referrer-Policy", "same-origin")
	}
	w.WriteHeader(status)
}

// writeLogoutConfirm asks the user to confirm the logout with a button that posts from this page.
func writeLogoutConfirm(w http.ResponseWriter, status int, logoutPath string) {
	pageHeaders(w, status)
	_, _ = w.Write([]byte(`<!doctype html><html><head><meta charset="utf-8"><title>Sign out</title></head><body>` +
		`<form method="post" action="` + html.EscapeString(logoutPath) + `"><p>Sign out of this site?</p>` +
		`<button type="submit" id="logout">Sign out</button></form></body></html>`))
}

// writeContinuePage sends the browser on to target (a path on this site, checked by safeRedirectPath) from a page
// of this site, without a Referer (the callback URL holds the spent code).
func writeContinuePage(w http.ResponseWriter, target string) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	pageHeaders(w, http.StatusOK)
	t := html.EscapeString(target)
	_, _ = w.Write([]byte(`<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=` +
		t + `"><title>Signed in</title></head><body><p>Signed in. <a id="continue" href="` + t +
		`">Continue</a></p></body></html>`))
}

// writePage answers a browser with a small HTML page; every dynamic part is escaped.
func writePage(w http.ResponseWriter, status int, title, msg, link, linkText string) {
	pageHeaders(w, status)
	_, _ = w.Write([]byte(`<!doctype html><html><head><meta charset="utf-8"><title>` + html.EscapeString(title) +
		`</title></head><body><h1>` + html.EscapeString(title) + `</h1><p>` + html.EscapeString(msg) +
		`</p><p><a id="retry" href="` + html.EscapeString(link) + `">` + html.EscapeString(linkText) + `</a></p></body></html>`))
}
