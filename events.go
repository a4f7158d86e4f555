package descopeoidc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Security events (README "Monitoring", "Security event log"): one info line per sign-in, sign-out and refusal,
// with the fields a SIEM correlates on and never a token, code, cookie value or secret. Every event site is one
// call of m.event. With logFormat json each event is one JSON object (logger.go says where it goes).

// Event names: the "event" field. They are a public interface: rename none.
const (
	evSignIn            = "signin"             // a login completed: a new session
	evSignInFailed      = "signin_failed"      // a callback that did not end in a session (reason says why)
	evLogout            = "logout"             // the user signed out (the session's chain is ended in this process)
	evRefreshRefused    = "refresh_refused"    // the provider refused a refresh: the session ends with its tokens
	evDenied            = "access_denied"      // authenticated, but the authorization rules refuse (403)
	evStepUpRequired    = "stepup_required"    // the session must re-authenticate (acr, amr or maxAuthAge)
	evStepUpAchieved    = "stepup_achieved"    // a step-up login met the requirement
	evBearerRefused     = "bearer_refused"     // a bearer token (or DS cookie) failed verification (401)
	evBackchannelLogout = "backchannel_logout" // a provider-initiated logout: back-channel logout token or front-channel request
)

// eventMessages is the human summary of each event (the log line's message).
var eventMessages = map[string]string{
	evSignIn: "sign-in completed", evSignInFailed: "sign-in failed", evLogout: "signed out",
	evRefreshRefused: "refresh refused", evDenied: "access denied", evStepUpRequired: "step-up required",
	evStepUpAchieved: "step-up achieved", evBearerRefused: "bearer token refused",
	evBackchannelLogout: "back-channel logout received",
}

// maxReasonLen bounds the reason field (an error text may quote a provider's error_description).
const maxReasonLen = 200

// event logs security event name for request r (may be nil) at info level (signin_failed at warn: most often a
// configuration or provider problem). d, when not nil, is the session the event is about: its subject and a digest
// of its chain ID (the chain ID itself never leaves the cookie). reason is why (a refusal's cause), "" when there is
// none; it must not carry a token, code, cookie value or secret.
func (l *logger) event(r *http.Request, name string, d *sessionData, reason string) {
	level := levelInfo
	if name == evSignInFailed {
		level = levelWarn
	}
	if level > l.level {
		return
	}
	fields := []string{"event", name}
	if d != nil {
		fields = append(fields, "sub", sessionClaim(d, "sub")) // thin or whole (session.go)
		if d.ID != "" {
			fields = append(fields, "session", chainDigest(d.ID))
		}
	}
	if r != nil {
		fields = append(fields, "client_ip", clientIP(r), "host", r.Host, "path", r.URL.Path)
	}
	if reason != "" {
		fields = append(fields, "reason", truncate(reason, maxReasonLen))
	}
	l.emit(level, eventMessages[name], fields)
}

// event is the middleware's logger's event (the session manager calls sm.log.event).
func (m *Middleware) event(r *http.Request, name string, d *sessionData, reason string) {
	m.log.event(r, name, d, reason)
}

// eventRefused logs why the identity of e may not pass: stepup_required when it needs a step-up (entry.denied
// carries stepUpMark), else access_denied.
func (m *Middleware) eventRefused(r *http.Request, e *entry) {
	if strings.HasPrefix(e.denied, stepUpMark) {
		m.event(r, evStepUpRequired, e.data, stepUpReason(e.denied[len(stepUpMark):]))
		return
	}
	m.event(r, evDenied, e.data, e.denied)
}

// sealedSession is the session in a sealed cookie value the plugin has just made, for the event of a login (nil if
// it cannot be opened, which cannot happen for a cookie sealed with the current secret).
func (m *Middleware) sealedSession(cookie string) *sessionData {
	d, err := m.sm.openSession(cookie)
	if err != nil {
		return nil
	}
	return d
}

// chainDigest names a session chain in the log: the first 16 hex digits of the SHA-256 of its ID, "" for none.
func chainDigest(id string) string {
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}

// clientIP is the address of the peer Traefik accepted the request from (its RemoteAddr, what Traefik's access log
// calls ClientHost), not a forwarded header a client could forge.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// deriveLogFormat reads logFormat: text (the default) or json.
func deriveLogFormat(c *Config, s *settings) error {
	switch strings.ToLower(c.LogFormat) {
	case "", "text":
	case "json":
		s.logJSON = true
	default:
		return fmt.Errorf("logFormat: %q is not one of text, json", c.LogFormat)
	}
	return nil
}
