package devidp

import (
	"encoding/json"
	"time"
)

// SessionJWT returns what Descope's web SDK keeps in the DS cookie on a custom domain: the user's session JWT
// (Descope's access token), typ JWT, iss the bare project ID (as Descope issues it unless a JWT template makes it
// the URL; with urlIssuer the issuer URL), aud the project ID, drn "DS", the user's roles, permissions, tenants and
// dct, amr ["pwd"], signed with the provider's current key. It lives for lifetime from now (negative: expired).
func (s *Server) SessionJWT(sub string, lifetime time.Duration, urlIssuer bool) (string, error) {
	return s.descopeJWT(sub, "DS", lifetime, urlIssuer)
}

// RefreshJWT is SessionJWT's sibling in the DSR cookie: Descope's refresh JWT, the same claims but drn "DSR" (and a
// lifetime of weeks in Descope). It is what a session must never be made of.
func (s *Server) RefreshJWT(sub string, lifetime time.Duration, urlIssuer bool) (string, error) {
	return s.descopeJWT(sub, "DSR", lifetime, urlIssuer)
}

func (s *Server) descopeJWT(sub, drn string, lifetime time.Duration, urlIssuer bool) (string, error) {
	u, err := s.storage.userBySubject(sub)
	if err != nil {
		return "", err
	}
	c := authzClaims(u)
	now := time.Now()
	c["iss"] = s.opts.ProjectID
	if urlIssuer {
		c["iss"] = s.issuer
	}
	c["sub"], c["aud"], c["drn"], c["amr"] = u.Subject, []string{s.opts.ProjectID}, drn, []string{"pwd"}
	c["iat"], c["exp"] = now.Unix(), now.Add(lifetime).Unix()
	if s.opts.AZPClaim {
		c["azp"] = s.opts.ProjectID
	}
	switch s.opts.Descope.SessionIssuer { // the Descope mode decides the issuer form (descope.go)
	case "bare":
		c["iss"] = s.opts.ProjectID
	case "apps":
		c["iss"] = s.base + "/v1/apps/" + s.opts.ProjectID
	}
	if s.opts.Descope.TenantOnly {
		tenantOnly(c)
	}
	if s.opts.Descope.NoSessionAudience {
		delete(c, "aud")
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return sign(s.storage.keys.signing(), payload)
}
