package descopeoidc

import "fmt"

// checkVerifiedEmail removes email when email_verified is present and not true, or, with requireVerifiedEmail,
// missing: headers then do not carry it and rules on it fail as for a missing claim.
func (m *Middleware) checkVerifiedEmail(claims map[string]any) {
	if _, ok := claims["email"]; !ok {
		return
	}
	v, present := claims["email_verified"]
	if emailVerified(v) || (!present && !m.s.sources.requireVerifiedEmail) {
		return
	}
	delete(claims, "email")
	if present {
		m.logf(levelInfo, "email not used: email_verified is %q", fmt.Sprint(v))
	} else {
		m.logf(levelInfo, "email not used: email_verified is missing and requireVerifiedEmail is true")
	}
}

// emailVerified accepts true and, as some providers send it, the string "true".
func emailVerified(v any) bool {
	b, isBool := v.(bool)
	s, _ := v.(string)
	return (isBool && b) || s == "true"
}

// ownClaims is a session's claims as this middleware serves them: a session is sealed with email and email_verified
// whichever middleware did the login (the registry's claims to keep), and each middleware applies its own
// requireVerifiedEmail when it derives its entry. claims itself is never changed (the session is shared).
func (m *Middleware) ownClaims(claims map[string]any) map[string]any {
	if _, ok := claims["email"]; !ok || emailVerified(claims["email_verified"]) {
		return claims
	}
	own := make(map[string]any, len(claims))
	for k, v := range claims {
		own[k] = v
	}
	m.checkVerifiedEmail(own)
	return own
}
