package main

import (
	"fmt"
	"net/url"
	"strings"
)

// advice says, for a decoded token, which plugin keys its shape needs. An ID token is recognised by its nonce
// (or at_hash); anything else is taken as a session token (Descope's access token: bearer, DS cookie).
func advice(c map[string]any, d derived) []string {
	_, nonce := c["nonce"]
	_, atHash := c["at_hash"]
	idToken := nonce || atHash
	out := []string{}
	if idToken {
		out = append(out, "an ID token (it has nonce/at_hash): checked at login against issuer, clientID, azp")
	} else {
		out = append(out, "a session token (no nonce): what allowBearerTokens and descopeSessionCookie: DS check")
	}
	out = append(out, issuerAdvice(c, d, idToken)...)
	out = append(out, audienceAdvice(c, d, idToken)...)
	out = append(out, tenantAdvice(c)...)
	if _, ok := c["amr"]; ok && !idToken {
		out = append(out, "amr is on the session token: requiredAMR reads it there (claimsFrom must list accessToken, the default)")
	}
	if _, ok := c["auth_time"]; idToken && !ok {
		out = append(out, "no auth_time in the ID token: with maxAuthAge the plugin counts from the start of its own login (README, Step-up per route)")
	}
	return out
}

func issuerAdvice(c map[string]any, d derived, idToken bool) []string {
	iss, _ := c["iss"].(string)
	switch {
	case idToken && iss != d.issuer:
		return []string{fmt.Sprintf("iss %q differs from the issuer %q: set issuer: %s (ID tokens must carry exactly the issuer)", iss, d.issuer, iss)}
	case contains(d.issuers, iss):
		return []string{fmt.Sprintf("iss %q is one of the project's issuers: accepted with projectID, nothing to set", iss)}
	case strings.HasSuffix(iss, "/"+d.project):
		host := iss
		if u, err := url.Parse(iss); err == nil {
			host = u.Host
		}
		return []string{fmt.Sprintf("iss %q is on another host (%s): set issuer to your custom domain's issuer, or acceptedIssuers: [%s]", iss, host, iss)}
	}
	return []string{fmt.Sprintf("iss %q is not this project's: the plugin refuses it (wrong project ID?)", iss)}
}

func audienceAdvice(c map[string]any, d derived, idToken bool) []string {
	aud := audList(c["aud"])
	_, azp := c["azp"]
	switch {
	case len(aud) == 0 && idToken:
		return []string{"no aud in an ID token: no setting accepts it (OpenID Connect requires aud)"}
	case len(aud) == 0:
		return []string{"no aud: set allowMissingAudience: true (accepted only from the project's own issuers; any of the project's session tokens is then accepted by this service, whatever app it was issued for)"}
	case len(aud) == 2 && d.clientID == d.project && contains(aud, d.project):
		app := aud[0]
		if app == d.project {
			app = aud[1]
		}
		return []string{fmt.Sprintf("aud %v is a Descope app's [projectID, clientID]: set clientID: %s (and requireAZP: false when there is no azp)", aud, app)}
	case !contains(aud, d.clientID):
		return []string{fmt.Sprintf("aud %v lacks the clientID %q: set clientID to the app's client ID (an OIDC app) or bearerAudiences: %v", aud, d.clientID, aud)}
	case len(aud) > 1 && !azp && idToken:
		return []string{fmt.Sprintf("aud %v (an app's [projectID, clientID]) without azp: set requireAZP: false (the project is a trusted audience with projectID)", aud)}
	case !azp && idToken:
		return []string{"no azp in the ID token: set requireAZP: false, or add a JWT template claim azp = the project ID (and ask for descope.custom_claims, the default scopes with projectID)"}
	}
	return []string{fmt.Sprintf("aud %v contains the clientID: nothing to set", aud)}
}

func tenantAdvice(c map[string]any) []string {
	_, tenants := c["tenants"]
	dct, _ := c["dct"].(string)
	switch {
	case dct != "" && !tenants:
		return []string{fmt.Sprintf("tenantOnly JWT schema (dct %q, no tenants claim): use tenant: dct; the root roles/permissions are the current tenant's", dct)}
	case dct != "":
		return []string{fmt.Sprintf("current tenant dct %q with a tenants claim: tenant: dct or tenant: <ID> read tenants.<ID>", dct)}
	case tenants:
		return []string{"tenants claim without dct: tenant must name a tenant ID (tenant: dct needs the dct claim)"}
	}
	return nil
}

func audList(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}
