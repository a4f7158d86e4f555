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
