package descopeoidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Logout initiated by the provider. Back-channel (OpenID Connect Back-Channel Logout 1.0): the provider POSTs a
// signed logout_token to backchannelLogoutPath, server to server; front-channel (OpenID Connect Front-Channel Logout
// 1.0): the provider's logout page loads frontchannelLogoutPath?iss=…&sid=… in the user's browser. Either ends the
// matching sessions in this process, at every router and middleware serving them (the session registry): by sid (the
// provider's session, kept from the ID token), or, with sub alone, every session of that user made before the
// logout. Other replicas learn of it only through their own back-channel call, sessionRevalidate or a shared store.

const (
	backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"
	// maxLogoutTokenAge: a logout token issued longer ago (iat) is refused, so a captured one cannot be replayed
	// after its jti has been forgotten.
	maxLogoutTokenAge = 5 * time.Minute
	maxLogoutBody     = 64 << 10
)

var errLogoutToken = errors.New("logout token")

// logoutTokenVerifier checks a logout token in the order of Back-Channel Logout 1.0 2.6, cheap checks first and the
// signature last: typ, iss, aud, iat/exp, events, sub or sid, no nonce, jti. Built in New, immutable.
type logoutTokenVerifier struct {
	keys     *provider
	issuer   string
	clientID string
	leeway   time.Duration
	now      func() time.Time
}

func (v *logoutTokenVerifier) verify(ctx context.Context, raw string) (map[string]any, error) {
	t, err := parseJWS(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errLogoutToken, err)
	}
	if err := v.checkClaims(t); err != nil {
		return nil, fmt.Errorf("%w: %v", errLogoutToken, err)
	}
	if err := checkSignature(ctx, v.keys, t); err != nil {
		return nil, fmt.Errorf("logout token: %w", err) // a JWKS outage stays errProviderUnavailable
	}
	return t.claims, nil
}

func (v *logoutTokenVerifier) checkClaims(t *jws) error {
	// 2.4: explicitly typed logout+jwt; untyped and plain JWT tokens are accepted for older providers, any other
	// type (an access token's at+jwt, say) is not a logout token.
	switch strings.ToLower(t.typ) {
	case "", "jwt", "logout+jwt", "application/logout+jwt":
	default:
		return fmt.Errorf("typ %s is not logout+jwt", shown(t.typ))
	}
	c := t.claims
	if err := checkIssuer(c, []string{v.issuer}); err != nil {
		return err
	}
	if _, err := checkAudience(c, []string{v.clientID}); err != nil {
		return err
	}
	now := v.now()
	if err := checkTimes(c, now, v.leeway, true); err != nil {
		return err
	}
	if iat, _ := numericDate(c["iat"]); now.Sub(iat) > maxLogoutTokenAge+v.leeway {
		return fmt.Errorf("issued at %s, more than %s ago", iat.UTC().Format(time.RFC3339), maxLogoutTokenAge)
	}
	events, _ := c["events"].(map[string]any)
	if _, ok := events[backchannelEvent].(map[string]any); !ok {
		return fmt.Errorf("events claim has no %s object", backchannelEvent)
	}
	sub, _ := c["sub"].(string)
	sid, _ := c["sid"].(string)
	if sub == "" && sid == "" {
		return errors.New("neither sub nor sid")
	}
	if _, ok := c["nonce"]; ok {
		return errors.New("nonce present: an ID token, not a logout token")
	}
	if jti, _ := c["jti"].(string); jti == "" {
		return errors.New("jti missing")
	}
	return nil
}

// handleBackchannelLogout answers the provider's POST: 200 once the sessions are ended, 400 with an RFC 6749 error
// for a request or token that is not acceptable (Back-Channel Logout 1.0 2.8), 503 while the provider's keys cannot
// be fetched (the provider retries).
func (m *Middleware) handleBackchannelLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLogoutBody)
	tok := ""
	if err := r.ParseForm(); err == nil {
		tok = r.PostForm.Get("logout_token")
	}
	if tok == "" {
		m.logf(levelWarn, "back-channel logout refused: no logout_token in the form")
		writeJSONError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	c, err := m.logoutTokens.verify(r.Context(), tok)
	if err != nil {
		m.logf(levelWarn, "back-channel logout refused: %v", err)
		if errors.Is(err, errProviderUnavailable) {
			m.unavailable(w)
			return
		}
		writeJSONError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	now := m.now().Unix()
	jti, _ := c["jti"].(string)
	exp, _ := numericDate(c["exp"])
	if !m.sm.states.use("logout|"+jti, exp.Unix()+int64(m.s.leeway/time.Second), now) ||
		!m.sm.reg.spendShared(r.Context(), "jti:"+jti, maxLogoutTokenAge+2*m.s.leeway, m.log) {
		m.logf(levelWarn, "back-channel logout refused: logout token replayed (jti seen before)")
		writeJSONError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	sid, _ := c["sid"].(string)
	sub, _ := c["sub"].(string)
	n := m.sm.reg.revoke(sid, sub, now, now+int64(m.s.maxAge/time.Second))
	if sid != "" {
		m.sm.reg.share(r.Context(), revSID+sid, m.log) // every replica, with a shared store
	} else {
		m.sm.reg.share(r.Context(), revSub+sub+"@"+strconv.FormatInt(now, 10), m.log)
	}
	m.event(r, evBackchannelLogout, nil, fmt.Sprintf("%d cached session(s) ended; by sid %t, by sub %t", n, sid != "", sub != ""))
	count(m.met, mLogoutBackchannel) // metrics.go
	w.WriteHeader(http.StatusOK)
}

// handleFrontchannelLogout ends the provider session sid named by the provider's logout page (iss must be the
// issuer), and the browser's own session cookie, and answers an empty page the provider can frame.
func (m *Middleware) handleFrontchannelLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	q := r.URL.Query()
	sid := q.Get("sid")
	if q.Get("iss") != m.s.issuer || sid == "" {
		m.logf(levelWarn, "front-channel logout refused: iss and sid required, iss must be the issuer")
		writeJSONError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	now := m.now().Unix()
	n := m.sm.reg.revoke(sid, "", now, now+int64(m.s.maxAge/time.Second))
	m.sm.reg.share(r.Context(), revSID+sid, m.log)
	m.sm.endSession(r) // the framing browser's own session, when it sent the cookie
	m.sm.clearSessionCookie(w, r)
	m.event(r, evBackchannelLogout, nil, fmt.Sprintf("front-channel: %d cached session(s) ended", n))
	count(m.met, mLogoutFrontchannel)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
}

// deriveLogoutChannels derives backchannelLogoutPath and frontchannelLogoutPath; sessions then keep sid. It runs
// before deriveClaimSources (which reads keepClaims) and after derivePaths.
func deriveLogoutChannels(c *Config, s *settings) error {
	for _, p := range []struct {
		key, value string
		dst        *string
	}{
		{"backchannelLogoutPath", c.BackchannelLogoutPath, &s.backchannelPath},
		{"frontchannelLogoutPath", c.FrontchannelLogoutPath, &s.frontchannelPath},
	} {
		if p.value == "" {
			continue
		}
		if err := validPath(p.key, p.value); err != nil {
			return err
		}
		if p.value == s.callbackPath || p.value == s.logoutPath {
			return fmt.Errorf("%s: %q must differ from callbackPath and logoutPath", p.key, p.value)
		}
		*p.dst = p.value
		s.keepClaims["sid"] = true
	}
	if s.backchannelPath != "" && s.backchannelPath == s.frontchannelPath {
		return fmt.Errorf("frontchannelLogoutPath: %q must differ from backchannelLogoutPath", s.frontchannelPath)
	}
	return nil
}
