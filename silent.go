package descopeoidc

import (
	"errors"
	"net/http"
)

// Silent re-authentication (silentReauth, OpenID Connect Core 3.1.2.1 prompt=none). When a browser's session has
// ended (max age, idle timeout, tokens expired without a refresh, a refused refresh) and it navigates to a protected
// page, the middleware first asks the provider with prompt=none: a user whose provider session lives gets a new
// session without seeing a page. When the provider answers that it needs the user (login_required,
// interaction_required, consent_required, account_selection_required), the callback starts the interactive login
// at once, without an error page; that login is not silent, so an attempt goes through the provider at most twice.

// silentErrors are the prompt=none answers after which the interactive login starts (OpenID Connect Core 3.1.2.6).
var silentErrors = map[string]bool{
	"login_required": true, "interaction_required": true, "consent_required": true, "account_selection_required": true,
}

// startSilent starts a prompt=none login for a navigation that brought a session cookie the middleware could not
// use (the session ended), and reports whether it did. A first visit (no cookie) and API-style requests are left to
// the normal path.
func (m *Middleware) startSilent(w http.ResponseWriter, r *http.Request) bool {
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || wantsAPIResponse(r) {
		return false
	}
	if _, err := r.Cookie(m.s.cookieName); err != nil {
		return false
	}
	target, ok := safeRedirectPath(r.URL.RequestURI())
	if !ok {
		target = "/"
	}
	m.logf(levelDebug, "session ended: trying a silent re-authentication (prompt=none)")
	m.startLoginTo(w, r, target, "none")
	return true
}

// silentFallback handles the callback of a prompt=none login that the provider answered with code: for one of
// silentErrors it spends the login state and starts the interactive login to the same target (with the step-up
// rule of the first attempt), and reports that it answered. Any other callback is left to handleCallback. It does
// not depend on this middleware's silentReauth: another middleware of the host may have started the attempt.
func (m *Middleware) silentFallback(w http.ResponseWriter, r *http.Request, code, state string) bool {
	if !silentErrors[code] || state == "" {
		return false
	}
	now := m.now()
	sd, err := m.sm.readStateCookie(r, state, now)
	if err != nil || !sd.Silent {
		return false
	}
	m.sm.clearStateCookie(w, state)
	if !m.sm.states.use(state, sd.Expiry, now.Unix()) || !m.sm.reg.spendShared(r.Context(), "state:"+state, stateTTL, m.log) {
		m.loginFailed(w, r, http.StatusBadRequest, mSigninFailedReplay, errors.New("replayed callback: state already used"))
		return true
	}
	m.logf(levelInfo, "silent re-authentication: the provider answered %s; starting the interactive login", code)
	var rule *stepUpRule
	if sd.StepUp {
		rule = stateRule(sd)
	}
	m.startLoginWith(w, r, sd.Target, "", rule)
	return true
}
