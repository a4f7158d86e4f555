package descopeoidc

import "fmt"

// Descope marks each of its JWTs with the cookie it belongs in: drn "DS" for the session JWT (its OAuth access
// token) and "DSR" for the refresh JWT, or the project's own cookie names when it renames them (Descope's SDKs set
// each cookie under its token's drn). A refresh JWT lives for weeks and stays valid at the gateway after the SDK's
// logout: it is never a session. So wherever a session or access token is expected (a bearer token, the DS cookie,
// the access token read as a claims source) a token whose drn is present must name the session cookie.

const descopeSessionDRN = "DS"

// sessionDRNs are the drn values of a session token: "DS", and the descopeSessionCookie name when that is another;
// never the descopeRefreshCookie name.
func sessionDRNs(ds descopeCookie) []string {
	out := []string{}
	for _, v := range []string{descopeSessionDRN, ds.name} {
		if v != "" && v != ds.refresh && !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// checkDRN refuses a token whose drn claim is present and not one of allowed (a Descope refresh JWT, or a token of
// another kind); a token without drn is not Descope's or predates it, and passes.
func checkDRN(c map[string]any, allowed []string) error {
	raw, present := c["drn"]
	if !present {
		return nil
	}
	if v, ok := raw.(string); ok && contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("drn %s is not a Descope session token's (expected %q): a refresh token is never a session",
		quoteAny(raw), allowed)
}
